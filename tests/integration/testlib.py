"""testlib.py - TAP output and helpers for dmarcd's Python tests.

Tests print TAP (automake's tap-driver counts every line), find the built
binary in $DMARCD and the shared corpus in $DMARCD_SHARED (skipping cleanly
when it is absent), and run dmarcd with its peak RSS measured.
"""
import json
import os
import subprocess
import sys
import time

_n = 0
_failed = 0


def ok(cond, name, *diag):
    """One TAP test line; extra lines are printed as diagnostics."""
    global _n, _failed
    _n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", _n, name))
    if not cond:
        _failed += 1
        for d in diag:
            for line in str(d).splitlines()[:40]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line)


def skip_all(reason):
    print("1..0 # SKIP " + reason)
    sys.exit(0)


def done():
    print("1..%d" % _n)
    sys.exit(0)


def dmarcd():
    path = os.environ.get("DMARCD")
    if not path or not os.access(path, os.X_OK):
        print("Bail out! $DMARCD is not set to the built binary")
        sys.exit(1)
    return path


def shared_dir():
    """The shared corpus folder, or None when it is absent."""
    d = os.environ.get("DMARCD_SHARED")
    if d and os.path.isdir(os.path.join(d, "corpus")):
        return os.path.realpath(d)
    return None


def under_asan():
    return os.environ.get("DMARCD_ASAN") == "1"


class Run:
    """Result of one process: exit code (negative: signal), output, RSS."""

    def __init__(self, rc, out, err, maxrss_kb, seconds, timed_out):
        self.rc, self.out, self.err = rc, out, err
        self.maxrss_kb, self.seconds, self.timed_out = maxrss_kb, seconds, timed_out

    def json_lines(self):
        """Every stdout line parsed as JSON; raises on a line that is not."""
        return [json.loads(l) for l in self.out.decode("utf-8").splitlines() if l]


def run(args, stdin=None, timeout=60, env=None):
    """Runs a command, feeding it stdin bytes; no RSS figure (see run_rss)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(args, input=stdin, capture_output=True,
                           timeout=timeout, env=env)
        return Run(p.returncode, p.stdout, p.stderr, None,
                   time.monotonic() - t0, False)
    except subprocess.TimeoutExpired as e:
        return Run(None, e.stdout or b"", e.stderr or b"", None,
                   time.monotonic() - t0, True)


def run_rss(args, timeout=60, stdin_path=None):
    """Runs a command with stdout to a pipe and returns Run with the child's
    exact peak RSS (os.wait4 on this one process)."""
    t0 = time.monotonic()
    r, w = os.pipe()
    er, ew = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.close(er)
        os.dup2(w, 1)
        os.dup2(ew, 2)
        fd = os.open(stdin_path or os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        try:
            os.execv(args[0], args)
        finally:
            os._exit(127)
    os.close(w)
    os.close(ew)
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(r, selectors.EVENT_READ)
    sel.register(er, selectors.EVENT_READ)
    chunks = {r: [], er: []}
    open_fds = 2
    timed_out = False
    deadline = t0 + timeout
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            os.kill(pid, 9)
            break
        for key, _ in sel.select(min(left, 1.0)):
            data = os.read(key.fd, 65536)
            if not data:
                sel.unregister(key.fd)
                open_fds -= 1
            else:
                chunks[key.fd].append(data)
    _, status, ru = os.wait4(pid, 0)
    os.close(r)
    os.close(er)
    rc = os.waitstatus_to_exitcode(status)
    return Run(rc, b"".join(chunks[r]), b"".join(chunks[er]), ru.ru_maxrss,
               time.monotonic() - t0, timed_out)
