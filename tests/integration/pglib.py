"""pglib.py - a throwaway PostgreSQL cluster for dmarcd's database tests.

Cluster() makes one in a temporary directory: initdb, pg_ctl start on a unix
socket in that directory only (no TCP), stopped and removed at exit.  As
root, the cluster runs as "nobody" (PostgreSQL refuses root), through
runuser, with the directory handed to that user.  find_bindir() returning
None means the tests should skip: PostgreSQL is not installed.
"""
import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile

UNPRIVILEGED = "nobody"


def find_bindir():
    """The newest /usr/lib/postgresql/N/bin with initdb and pg_ctl."""
    best = None
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        try:
            v = int(d.split("/")[-2])
        except ValueError:
            continue
        if os.access(os.path.join(d, "initdb"), os.X_OK) and \
                os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            if best is None or v > best[0]:
                best = (v, d)
    return best[1] if best else None


def as_user_prefix():
    """argv prefix running a command unprivileged when we are root."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", UNPRIVILEGED, "--"]


def chown_unprivileged(path):
    if os.geteuid() == 0:
        pw = pwd.getpwnam(UNPRIVILEGED)
        os.chown(path, pw.pw_uid, pw.pw_gid)


class Cluster:
    """keep=DIR: the cluster lives in DIR and outlives the process (stopped,
    not removed); a cluster already there is started instead of made, and
    self.reused says so."""

    def __init__(self, bindir=None, keep=None):
        self.bindir = bindir or find_bindir()
        self.keep = keep
        self.reused = False
        if keep:
            self.dir = os.path.abspath(keep)
            os.makedirs(self.dir, exist_ok=True)
        else:
            self.dir = tempfile.mkdtemp(prefix="dmarcd-pg-")
        os.chmod(self.dir, 0o755)
        chown_unprivileged(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log")
        self.running = False
        atexit.register(self.cleanup)
        if keep and os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self.reused = True
            self.start()
            return
        self._run(["initdb", "-D", self.data, "-U", "postgres", "-A",
                   "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nlisten_addresses = ''\nunix_socket_directories = '%s'\n"
                    "fsync = off\nmax_connections = 50\n" % self.dir)
        self.start()

    def _run(self, argv, check=True):
        argv = as_user_prefix() + [os.path.join(self.bindir, argv[0])] + \
            argv[1:]
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, cwd=self.dir)
        if check and r.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(argv),
                                           r.stdout.decode(errors="replace")))
        return r

    def start(self):
        self._run(["pg_ctl", "-D", self.data, "-l", self.log, "-w", "start"])
        self.running = True

    def stop(self, mode="fast"):
        if self.running:
            self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"],
                      check=False)
            self.running = False

    def kill(self):
        """Stops the server the hard way (immediate shutdown)."""
        self.stop("immediate")

    def url(self, dbname):
        return "postgresql:///%s?host=%s&user=postgres" % (dbname, self.dir)

    def psql(self, dbname, sql):
        """Runs sql, returns the unaligned output (rows '|'-separated)."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q",
                            "-At", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                            "-U", "postgres", "-d", dbname, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def createdb(self, name):
        self.psql("postgres", "CREATE DATABASE %s" % name)
        return self.url(name)

    def cleanup(self):
        if self.keep:
            self.stop()
            return
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
