#!/usr/bin/env python3
"""test_db_cluster.py - the embedded default database: with no database
configured, dmarcd creates and starts a private cluster in its state
directory, stores into it, and `db stop` stops it."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, skip_all, done, dmarcd  # noqa: E402
import pglib  # noqa: E402
import dbfix  # noqa: E402
from dbfix import run, write, json_lines  # noqa: E402

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
D = dmarcd()
tmp = tempfile.mkdtemp(prefix="dmarcd-test-cluster-")
os.chmod(tmp, 0o755)
state = os.path.join(tmp, "state")
conf = os.path.join(tmp, "dmarcd.conf")
# as root the cluster runs as an unprivileged user; use one that exists
# rather than creating the "dmarcd" system user on the test machine
write(conf, ("cluster_user = %s\n" % pglib.UNPRIVILEGED).encode()
      if os.geteuid() == 0 else b"")
ENV = {"DMARCD_CONF": conf, "DMARCD_DB": "", "DMARCD_STATE_DIR": state}


def cleanup():
    run([D, "db", "stop"], env=ENV)
    shutil.rmtree(tmp, ignore_errors=True)


import atexit  # noqa: E402
atexit.register(cleanup)

inp = os.path.join(tmp, "in")
write(os.path.join(inp, "r.xml"), dbfix.report_xml(report_id="emb-1"))
r = run([D, "db", "status"], env=ENV)
ok(r.returncode == 0 and b"state: not created" in r.stdout and
   not os.path.exists(state + "/pgdata"),
   "db status before anything: not created (and not created by looking)",
   r.stdout, r.stderr)
r = run([D, "ingest", inp], env=ENV)
ok(r.returncode == 0 and b"1 reports" in r.stdout,
   "ingest with no database configured creates and starts a cluster",
   r.stdout, r.stderr)
ok(os.path.exists(os.path.join(state, "pgdata", "PG_VERSION")) and
   os.path.exists(os.path.join(state, "run", ".s.PGSQL.5432")),
   "cluster in the state directory, socket in state/run")
conf_text = open(os.path.join(state, "pgdata", "postgresql.conf")).read()
ok("listen_addresses = ''" in conf_text and "fsync = on" in conf_text,
   "unix socket only, fsync on")
if os.geteuid() == 0:
    st = os.stat(os.path.join(state, "pgdata"))
    ok(st.st_uid != 0, "as root: the cluster belongs to an unprivileged user")
r = run([D, "export"], env=ENV)
ok(r.returncode == 0 and [o["report_id"] for o in
                          json_lines(r.stdout.decode())] == ["emb-1"],
   "export reads it back (the cluster was left running)", r.stderr)
r = run([D, "db", "status"], env=ENV)
ok(r.returncode == 0 and b"state: running" in r.stdout and
   b"reports: 1" in r.stdout, "db status: running, 1 report", r.stdout)
r = run([D, "db", "stop"], env=ENV)
ok(r.returncode == 0, "db stop", r.stderr)
r = run([D, "db", "status"], env=ENV)
ok(r.returncode == 0 and b"state: stopped" in r.stdout, "status: stopped",
   r.stdout)
ok(not os.path.exists(os.path.join(state, "pgdata", "postmaster.pid")),
   "postmaster gone")
r = run([D, "ingest", inp], env=ENV)
ok(r.returncode == 0 and b"1 duplicates" in r.stdout,
   "next command starts it again; data kept", r.stdout, r.stderr)
r = run([D, "db", "stop"], env=ENV)
ok(r.returncode == 0, "db stop again")

# scripts/demo (with this dmarcd: nothing installed or built) says where
# the database lives, the dashboard's address, and commands to stop and
# restart that work as printed.
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402


def get(url):
    for _ in range(150):
        try:
            return urllib.request.urlopen(url, timeout=2).read()
        except OSError:
            time.sleep(0.2)
    return b""


with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
state2 = os.path.join(tmp, "demo-state")
DEMO_ENV = dict(ENV, DMARCD=D, DMARCD_STATE_DIR=state2,
                DMARCD_LISTEN="127.0.0.1:%d" % port,
                DMARCD_DEMO_DIR=os.path.join(tmp, "demo"))
atexit.register(lambda: run([D, "db", "stop"], env=DEMO_ENV))
demo = os.path.join(os.environ.get("TESTS_SRCDIR", "tests"), "..", "scripts",
                    "demo")
e = dict(os.environ, **DEMO_ENV)
proc = subprocess.Popen(["sh", demo], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, env=e)
out = b""
while b"== dmarcd serve" not in out:
    line = proc.stdout.readline()
    if not line:
        break
    out += line
text = out.decode(errors="replace")
index = get("http://127.0.0.1:%d/" % port)
proc.terminate()
proc.wait(timeout=20)
lines = text.splitlines()
data = [l.split(":", 1)[1].strip() for l in lines
        if l.strip().startswith("data directory:")]
ok(data == [os.path.join(state2, "pgdata")] and
   os.path.exists(os.path.join(state2, "pgdata", "PG_VERSION")),
   "demo: prints the data directory", text[-1500:], proc.stderr.read()[-500:])
ok(("dashboard:      http://127.0.0.1:%d/" % port) in text and
   b"<!doctype html>" in index.lower(),
   "demo: prints the dashboard's URL, which answers", index[:200])
stop = [l.strip() for l in lines if l.strip().endswith(" db stop")]
restart = [l.split("restart:", 1)[1].strip() for l in lines
           if "restart:" in l]
ok(len(stop) == 1 and len(restart) == 1, "demo: prints stop and restart",
   text[-1000:])
if len(stop) == 1 and len(restart) == 1:
    env0 = dict(os.environ, DMARCD_STATE_DIR="", DMARCD_CONF="")
    r = subprocess.run(["sh", "-c", stop[0]], env=env0, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    st = run([D, "db", "status"], env=DEMO_ENV)
    ok(r.returncode == 0 and b"state: stopped" in st.stdout,
       "demo: its stop command stops the database", stop[0], r.stderr,
       st.stdout)
    srv = subprocess.Popen(["sh", "-c", restart[0]], env=env0,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
    meta = get("http://127.0.0.1:%d/api/meta" % port)
    os.killpg(srv.pid, 15)
    srv.wait(timeout=20)
    ok(meta.startswith(b"{"), "demo: its restart command brings it all back",
       restart[0], meta[:200], srv.stderr.read()[-500:])
done()
