"""mtalib.py - a private OpenSMTPD for the tests that mail (summary,
alerts): sendmail interface, Maildir delivery, in a private mount namespace
so the test's smtpd has its own control socket and spool and never meets a
system one.  Commands that mail run through Smtpd.prefix (nsenter into that
namespace), so /usr/sbin/sendmail reaches this smtpd."""
import os
import shutil
import subprocess
import time

import pglib

SMTPD = "/usr/sbin/smtpd"
SENDMAIL = "/usr/sbin/sendmail"


def unavailable():
    """Why a private smtpd cannot run here, or None."""
    if not os.access(SMTPD, os.X_OK) or not os.access(SENDMAIL, os.X_OK):
        return "OpenSMTPD is not installed"
    if os.geteuid() != 0 or shutil.which("unshare") is None or \
            shutil.which("nsenter") is None:
        return "needs root and unshare/nsenter for a private smtpd"
    return None


class Smtpd:
    """An smtpd delivering every local message to one Maildir."""

    def __init__(self, root):
        self.root = root
        self.rundir = os.path.join(root, "run")
        self.maildir = os.path.join(root, "Maildir")
        os.makedirs(self.rundir)
        os.makedirs(self.maildir)
        os.chmod(root, 0o755)
        pglib.chown_unprivileged(self.maildir)
        conf = os.path.join(root, "smtpd.conf")
        with open(conf, "w") as f:
            f.write('table vusers { "@" = "%s" }\n'
                    'action "local" maildir "%s" virtual <vusers>\n'
                    'match from local for any action "local"\n'
                    % (pglib.UNPRIVILEGED, self.maildir))
        # smtpd's control socket (/var/run) and spool (/var/spool) are
        # fixed paths: the private namespace gives this smtpd its own
        self.logpath = os.path.join(root, "smtpd.log")
        self._log = open(self.logpath, "w")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
             "mount -t tmpfs tmpfs /var/spool && mount --bind \"$0\" /run && "
             "exec %s -d -f \"$1\"" % SMTPD, self.rundir, conf],
            stdout=self._log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.rundir, "smtpd.sock")
        for _ in range(100):
            if os.path.exists(sock) or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.started = os.path.exists(sock)
        self.prefix = ["nsenter", "-t", str(self.proc.pid), "-m", "--"]

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def messages(self):
        """The delivered messages' bytes, oldest first."""
        new = os.path.join(self.maildir, "new")
        if not os.path.isdir(new):
            return []
        out = []
        for name in sorted(os.listdir(new),
                           key=lambda n: os.stat(os.path.join(new, n))
                           .st_mtime):
            with open(os.path.join(new, name), "rb") as f:
                out.append(f.read())
        return out

    def wait(self, count, timeout=20):
        """The messages once there are count of them (or after timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.messages()
            if len(got) >= count:
                return got
            time.sleep(0.1)
        return self.messages()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
