"""httpdlib.py - a dashboard under test: a throwaway PostgreSQL (pglib, run
unprivileged), the shared corpus and the hostile fixture ingested, and
`dmarcd serve` on a free loopback port.  Used by test_api.py,
test_browser.py and bench/bench_api.py.
"""
import glob
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
HOSTILE = os.path.join(TESTS, "data", "httpd", "hostile.xml")


def static_dir():
    return os.path.join(os.path.dirname(TESTS), "static")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def corpus_files(shared, kinds=("aggregate",)):
    files = []
    for kind in kinds:
        files += sorted(glob.glob(os.path.join(shared, "corpus", kind, "*")))
    return files


class Dashboard:
    """A database loaded with files, and a server on it."""

    def __init__(self, dmarcd, files, dbname="dmarcd", keep=None):
        """keep=DIR: see pglib.Cluster; a kept database is reused as is."""
        self.dmarcd = dmarcd
        self.pg = pglib.Cluster(keep=keep)
        if self.pg.reused:
            self.url = self.pg.url(dbname)
            files = []
        else:
            self.url = self.pg.createdb(dbname)
        self.proc = None
        conf = os.path.join(self.pg.dir, "empty.conf")
        open(conf, "w").close()
        env = dict(os.environ, DMARCD_CONF=conf, DMARCD_DB="")
        self.env = env
        if files:
            r = subprocess.run([dmarcd, "ingest", "-q", "--db", self.url] +
                               files, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
            self.ingest_rc = r.returncode
            self.ingest_err = r.stderr.decode(errors="replace")

    def serve(self, extra=(), port=None, wait=True):
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        argv = [self.dmarcd, "serve", "--db", self.url, "--listen",
                "127.0.0.1:%d" % self.port, "--static-dir",
                static_dir()] + list(extra)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=self.env)
        if not wait:
            return self.proc
        line = self.proc.stdout.readline().decode()
        if "dashboard at" not in line:
            err = self.proc.stderr.read().decode(errors="replace")
            raise RuntimeError("serve did not start: %s %s" % (line, err))
        return self.proc

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def close(self):
        self.stop()
        self.pg.cleanup()


def curl(url, *args, data_file=None):
    """(status, headers dict lower-case, body bytes) of one request."""
    argv = ["curl", "-sS", "-g", "--path-as-is", "-D", "-", "--max-time",
            "20"] + list(args) + [url]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = r.stdout
    if r.returncode != 0:
        return (0, {}, r.stderr)
    # skip 100-continue and similar interim blocks
    while True:
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status >= 200 or not body:
            break
        out = body
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return (status, headers, body)
