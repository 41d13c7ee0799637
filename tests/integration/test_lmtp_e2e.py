"""test_lmtp_e2e.py - `dmarcd lmtp` against a real PostgreSQL, a real
OpenSMTPD and swaks, failure paths included.

A throwaway cluster (tests/integration/pglib.py), dmarcd on a unix socket and a
loopback port, and OpenSMTPD (smtpd -d) in a private mount namespace so its
spool (/var/spool/smtpd) and control socket (/run/smtpd.sock) are its own:
`action "dmarc" lmtp "<socket>" rcpt-to virtual <vusers>`.  Reports are
made by scripts/sample-reports, sent by swaks, and counted in the
database.  Skips when smtpd, swaks, unshare, PostgreSQL or root are missing.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
import dbfix  # noqa: E402
from testlib import ok, skip_all, done, dmarcd  # noqa: E402

RCPTS = ["dmarc@example.org", "rua@example.org"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout=20.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


class Client:
    """A raw LMTP client: sends bytes, reads whole replies."""

    def __init__(self, where, timeout=20):
        if isinstance(where, str):
            self.s = socket.socket(socket.AF_UNIX)
        else:
            self.s = socket.socket()
        self.s.settimeout(timeout)
        self.s.connect(where)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One reply (multi-line joined); '' when the server closed."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    return ""
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.decode(errors="replace").rstrip("\r")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.s.close()


class Daemon:
    def __init__(self, binary, url, sock, port, log):
        self.argv = [binary, "lmtp", "--foreground", "--db", url,
                     "--listen", "unix:" + sock,
                     "--listen", "127.0.0.1:%d" % port,
                     "--socket-mode", "0660", "--max-sessions", "6",
                     "--command-timeout", "2", "--data-timeout", "30",
                     "--idle-timeout", "30", "--shutdown-timeout", "10"]
        for r in RCPTS:
            self.argv += ["--recipient", r]
        if os.geteuid() == 0:
            self.argv += ["--user", pglib.UNPRIVILEGED]
        self.sock, self.port, self.log = sock, port, log
        self.p = None

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.p = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                  stderr=open(self.log, "a"))
        if not wait_for(lambda: os.path.exists(self.sock), 15):
            raise RuntimeError("dmarcd lmtp did not start: " +
                               open(self.log).read()[-2000:])

    def stop(self, sig=signal.SIGTERM):
        if self.p and self.p.poll() is None:
            self.p.send_signal(sig)
            self.p.wait(20)
        return self.p.returncode


class Smtpd:
    """OpenSMTPD in its own mount namespace, in the foreground."""

    def __init__(self, tmp, sock, port):
        self.dir = os.path.join(tmp, "smtpd")
        os.makedirs(os.path.join(self.dir, "spool", "smtpd"))
        os.chmod(os.path.join(self.dir, "spool", "smtpd"), 0o711)
        os.makedirs(os.path.join(self.dir, "run"))
        self.conf = os.path.join(self.dir, "smtpd.conf")
        self.log = os.path.join(self.dir, "smtpd.log")
        self.port = port
        with open(self.conf, "w") as f:
            f.write('table vusers { %s }\n' % ", ".join(
                '"%s" = "%s"' % (r, pglib.UNPRIVILEGED) for r in RCPTS))
            f.write("listen on 127.0.0.1 port %d\n" % port)
            f.write('action "dmarc" lmtp "%s" rcpt-to virtual <vusers>\n'
                    % sock)
            f.write('match from any for domain "example.org" '
                    'action "dmarc"\n')
        self.p = None

    def start(self):
        script = ("mount --bind {d}/spool /var/spool && "
                  "mount --bind {d}/run /run && "
                  "exec smtpd -d -v -f {c}").format(d=self.dir, c=self.conf)
        self.p = subprocess.Popen(["unshare", "-m", "sh", "-c", script],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(self.log, "a"))

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return True
            except OSError:
                return False
        if not wait_for(up, 15):
            raise RuntimeError("smtpd did not start: " +
                               open(self.log).read()[-2000:])

    def ctl(self, *args):
        """smtpctl inside smtpd's namespace (its /run/smtpd.sock)."""
        return subprocess.run(["nsenter", "-t", str(self.p.pid), "-m",
                               "smtpctl"] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()


def swaks(*args):
    return subprocess.run(["swaks", "--from", "noreply-dmarc@google.com",
                           "--timeout", "30"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=60).stdout.decode(errors="replace")


def lmtp_message(c, path, rcpts=RCPTS, sender="r@google.com"):
    """One transaction with the file's bytes, dot-stuffed; its replies."""
    data = open(path, "rb").read().replace(b"\r\n", b"\n")
    lines = [(b"." + l if l.startswith(b".") else l)
             for l in data.split(b"\n")]
    c.send(b"MAIL FROM:<%s>\r\n" % sender.encode() +
           b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) +
           b"DATA\r\n")
    head = c.replies(1 + len(rcpts) + 1)
    c.send(b"\r\n".join(lines) + b"\r\n.\r\n")
    return head + c.replies(len(rcpts))


def main():
    if os.geteuid() != 0:
        skip_all("needs root (OpenSMTPD in a private mount namespace)")
    for tool in ("smtpd", "swaks", "unshare", "nsenter"):
        if shutil.which(tool) is None and \
                not os.path.exists("/usr/sbin/" + tool):
            skip_all("%s not installed" % tool)
    if pglib.find_bindir() is None:
        skip_all("PostgreSQL not installed")
    binary = dmarcd()

    cl = pglib.Cluster()
    url = cl.createdb("dmarcd")
    tmp = tempfile.mkdtemp(prefix="dmarcd-lmtp-")
    os.chmod(tmp, 0o755)
    corpus = os.path.join(tmp, "corpus")
    # The project's own sample reports: receivers' emails with zip and gzip
    # attachments (scripts/sample-reports), so no shared corpus is needed.
    top = os.path.dirname(os.environ.get(
        "TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    subprocess.run([sys.executable, os.path.join(top, "scripts",
                    "sample-reports"), os.path.join(corpus, "maildir"),
                    "--days", "1", "--seed", "7"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    msgs = sorted(os.path.join(corpus, "maildir", "new", f)
                  for f in os.listdir(os.path.join(corpus, "maildir", "new")))
    sock = os.path.join(tmp, "lmtp.sock")
    port = free_port()
    dlog = os.path.join(tmp, "dmarcd.log")
    d = Daemon(binary, url, sock, port, dlog)
    smtpd = Smtpd(tmp, sock, free_port())

    def reports():
        return int(cl.psql("dmarcd", "SELECT count(*) FROM report").strip())

    def quarantined():
        return int(cl.psql("dmarcd",
                           "SELECT count(*) FROM quarantine").strip())

    try:
        d.start()
        smtpd.start()

        # 1. swaks straight at the socket, two recipients
        out = swaks("--protocol", "LMTP", "--socket", sock, "--to",
                    ",".join(RCPTS), "--data", "@" + msgs[0])
        ok(out.count("250 2.0.0 <") == 2,
           "swaks LMTP on the socket: one 250 per recipient", out[-800:])
        ok(reports() == 1, "the report is in the database")

        # 2. pipelined transactions over TCP, several recipients each
        c = Client(("127.0.0.1", port))
        c.reply()
        b1 = open(msgs[1], "rb").read().replace(b"\r\n", b"\n")
        b2 = open(msgs[2], "rb").read().replace(b"\r\n", b"\n")
        stuff = lambda b: b"\n".join(b"." + l if l.startswith(b".") else l
                                     for l in b.split(b"\n"))
        c.send(b"LHLO test\r\nMAIL FROM:<a@b>\r\n"
               b"RCPT TO:<dmarc@example.org>\r\nRCPT TO:<nobody@else>\r\n"
               b"RCPT TO:<rua@example.org>\r\nDATA\r\n" + stuff(b1) +
               b"\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<rua@example.org>\r\n"
               b"RCPT TO:<DMARC@example.org>\r\nDATA\r\n" + stuff(b2) +
               b"\r\n.\r\nQUIT\r\n")
        got = c.replies(15)
        codes = [r.split("\n")[-1][:9] for r in got]
        want = ["250 SIZE ", "250 2.1.0", "250 2.1.5", "550 5.1.1",
                "250 2.1.5", "354 End d", "250 2.0.0", "250 2.0.0",
                "250 2.1.0", "250 2.1.5", "250 2.1.5", "354 End d",
                "250 2.0.0", "250 2.0.0", "221 2.0.0"]
        ok([w[:9] for w in codes] == want,
           "pipelined: one reply per accepted recipient after each DATA",
           "\n".join(got))
        c.close()
        ok(reports() == 3, "both pipelined reports stored")

        # 3. not a report: accepted, kept in quarantine
        junk = os.path.join(tmp, "junk.eml")
        with open(junk, "w") as f:
            f.write("From: a@b\nSubject: hello\n\nnot a report\n")
        out = swaks("--protocol", "LMTP", "--socket", sock, "--to", RCPTS[0],
                    "--data", "@" + junk)
        ok("250 2.0.0" in out and quarantined() == 1,
           "not a report: 250 and one quarantine row", out[-500:])

        # 3b. a report the database refuses for good, at COMMIT (a
        # deferred trigger says "bigint out of range", as PostgreSQL says
        # of a sum too large: dbfix.REFUSE_AT_COMMIT).  250, and the bytes
        # kept in the quarantine with that reason, as the batch path keeps
        # them; not 451 until the MTA gives up and drops the report.
        cl.psql("dmarcd", dbfix.REFUSE_AT_COMMIT)
        refused = os.path.join(tmp, "refused.eml")
        with open(refused, "wb") as f:
            f.write(dbfix.eml(dbfix.gz(dbfix.report_xml(
                report_id="refused-1", records=[
                    dict(ip="192.0.2.%d" % i, count=6)
                    for i in (1, 2)])), "refused.xml.gz"))
        before = reports()
        c = Client(sock)
        c.reply()
        c.send(b"LHLO t\r\n")
        c.reply()
        r = lmtp_message(c, refused, rcpts=[RCPTS[0]])
        c.close()
        ok(r[-1].startswith("250 2.0.0") and "quarantine" in r[-1],
           "permanent store error: 250, kept in quarantine", r)
        q = cl.psql("dmarcd", "SELECT length(bytes) >= %d, reason FROM"
                    " quarantine WHERE reason LIKE 'not stored:%%'"
                    % os.path.getsize(refused))
        ok(q.startswith("t|not stored:") and "out of range" in q and
           reports() == before,
           "its bytes are in the quarantine, the reason names the error", q)

        # 4. a slow client, one byte a second, is cut
        c = Client(sock)
        c.reply()
        t0 = time.time()
        r = ""
        for ch in b"LHLO slow.example\r\n":
            try:
                c.send(bytes([ch]))
            except OSError:
                # the server cut us between two reads: its 421 is
                # waiting in the socket
                c.s.settimeout(5)
                try:
                    r = c.reply()
                except OSError:
                    pass
                break
            c.s.settimeout(1.0)
            try:
                r = c.reply()
                break
            except socket.timeout:
                continue
        c.s.settimeout(5)
        ok(r.startswith("421 4.4.2") and time.time() - t0 < 6,
           "one byte a second: 421 4.4.2 after the command timeout", r)
        c.close()

        # 5. 60 MB: SIZE refused at MAIL; without SIZE read, then 552
        c = Client(sock)
        c.reply()
        c.send(b"LHLO t\r\nMAIL FROM:<a@b> SIZE=62914560\r\n")
        r = c.replies(2)
        ok(r[1].startswith("552 5.3.4"), "MAIL SIZE=60MB: 552 5.3.4", r)
        c.send(b"MAIL FROM:<a@b>\r\nRCPT TO:<dmarc@example.org>\r\n"
               b"RCPT TO:<rua@example.org>\r\nDATA\r\n")
        c.replies(4)
        line = b"x" * 998 + b"\r\n"
        block = line * 1024
        t0 = time.time()
        for _ in range(60):
            c.send(block)
        c.send(b".\r\n")
        r = c.replies(2)
        ok(all(x.startswith("552 5.3.4") for x in r),
           "60 MB DATA: read to the end, then 552 5.3.4 per recipient "
           "(%.1f s)" % (time.time() - t0), r)
        c.send(b"NOOP\r\n")
        ok(c.reply().startswith("250"), "the session goes on after 552")
        c.close()

        # 6. through OpenSMTPD: swaks SMTP -> smtpd -> LMTP -> database
        before = reports()
        for m in msgs[3:5]:
            out = swaks("--server", "127.0.0.1:%d" % smtpd.port,
                        "--to", RCPTS[0], "--data", "@" + m)
            ok("Message accepted" in out,
               "smtpd accepts " + os.path.basename(m), out[-600:])
        ok(wait_for(lambda: reports() == before + 2, 20),
           "OpenSMTPD delivered both over LMTP", open(smtpd.log).read()[-1500:])

        # 7. PostgreSQL down during delivery: 451, smtpd keeps the
        # messages, retries after the restart; stored once
        before = reports()
        cl.stop()
        for m in msgs[5:7]:
            swaks("--server", "127.0.0.1:%d" % smtpd.port, "--to",
                  ",".join(RCPTS), "--data", "@" + m)
        ok(wait_for(lambda: open(smtpd.log).read().count("TempFail") >= 2,
                    20), "database down: smtpd got a temporary failure",
           open(smtpd.log).read()[-1500:])
        ok("Database unavailable" in open(smtpd.log).read() or
           "451" in open(smtpd.log).read(), "the 451 text reached smtpd")
        cl.start()
        time.sleep(0.5)

        def retried():
            smtpd.ctl("schedule", "all")
            return reports() == before + 2
        ok(wait_for(retried, 30, 1.0),
           "after the restart smtpd retried and both reports are stored",
           open(dlog).read()[-1500:])
        time.sleep(1.5)
        smtpd.ctl("schedule", "all")
        time.sleep(1.0)
        ok(reports() == before + 2, "stored exactly once")

        # 8. SIGKILL in the middle of DATA; then the MTA's retry
        before = reports()
        c = Client(sock)
        c.reply()
        c.send(b"LHLO t\r\nMAIL FROM:<a@b>\r\nRCPT TO:<dmarc@example.org>"
               b"\r\nDATA\r\n")
        c.replies(4)
        half = open(msgs[7], "rb").read()
        c.send(half[:len(half) // 2])
        time.sleep(0.3)
        d.stop(signal.SIGKILL)
        ok(c.closed(), "SIGKILL mid-DATA: the client sees the connection end")
        c.close()
        ok(reports() == before, "nothing half-stored")
        # while dmarcd is down, smtpd queues
        swaks("--server", "127.0.0.1:%d" % smtpd.port, "--to", RCPTS[0],
              "--data", "@" + msgs[7])
        time.sleep(1.0)
        d.start()

        def retried2():
            smtpd.ctl("schedule", "all")
            return reports() == before + 1
        ok(wait_for(retried2, 30, 1.0),
           "after the restart the MTA's retry stored it",
           open(smtpd.log).read()[-1500:])
        out = swaks("--protocol", "LMTP", "--socket", sock, "--to", RCPTS[0],
                    "--data", "@" + msgs[7])
        ok("250 2.0.0" in out and reports() == before + 1,
           "delivered again: 250, still stored once (dedup)")

        # 9. over the bound of sessions: 421 4.3.2
        held = [Client(sock) for _ in range(6)]
        for h in held:
            h.reply()
        extra = Client(sock)
        r = extra.reply()
        ok(r.startswith("421 4.3.2"), "session 7 of 6: 421 4.3.2", r)
        for h in held + [extra]:
            h.close()

        # 10. SIGTERM: the transaction in flight finishes, then exit 0
        time.sleep(0.5)
        before = reports()
        c = Client(sock)
        c.reply()
        c.send(b"LHLO t\r\nMAIL FROM:<a@b>\r\nRCPT TO:<rua@example.org>"
               b"\r\nDATA\r\n")
        c.replies(4)
        body = open(msgs[8], "rb").read()
        c.send(body[:100])
        d.p.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        c.send(body[100:] + b"\r\n.\r\n")
        r = c.reply()
        ok(r.startswith("250 2.0.0"), "SIGTERM: the transaction in flight "
           "is answered 250", r)
        r2 = c.reply()
        ok(r2.startswith("421 4.3.2"), "then the session ends with 421", r2)
        c.close()
        rc = d.p.wait(15)
        ok(rc == 0, "dmarcd exits 0 after SIGTERM")
        ok(reports() == before + 1, "and the report is stored")
        log = open(dlog).read()
        ok("\x1b" not in log, "the log has no raw escape bytes")

        # Deliveries queue their rollups (rollup_queue); the daemon folds them,
        # the last time at shutdown: nothing left queued, and the rollups
        # add up to the stored reports.
        q = cl.psql("dmarcd", "SELECT (SELECT count(*) FROM rollup_queue),"
                    " (SELECT coalesce(sum(messages), 0) FROM report),"
                    " (SELECT coalesce(sum(messages), 0) FROM dash_day),"
                    " (SELECT count(*) FROM report),"
                    " (SELECT coalesce(sum(reports), 0) FROM dash_reporter)"
                    ).strip().split("|")
        ok(q[0] == "0", "rollups: nothing left queued after shutdown", q)
        ok(q[1] == q[2] and q[3] == q[4],
           "rollups: messages and reports add up to the stored reports", q)
    finally:
        d.stop(signal.SIGKILL)
        smtpd.stop()
        cl.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
