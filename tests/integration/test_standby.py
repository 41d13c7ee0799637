#!/usr/bin/env python3
"""test_standby.py - dmarcd beyond one database server, with PostgreSQL's
own replication and roles: `dmarcd db grant` roles (a read-only one for a
dashboard, an ingesting one that cannot change the schema), and `dmarcd
serve` on a hot standby made by pg_basebackup -R from a primary that
dmarcd ingests into.

Both clusters are real PostgreSQL servers started here (pglib, run as an
unprivileged user, unix sockets in their own directories only); the
dashboard is read by HTTP.
"""
import atexit
import json
import os
import shutil
import smtplib
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
import httpdlib  # noqa: E402
from dbfix import report_xml, write, run, eml, gz  # noqa: E402
from testlib import ok, skip_all, done, dmarcd  # noqa: E402

D = dmarcd()
if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")
BIN = pglib.find_bindir()

primary = pglib.Cluster()
url = primary.createdb("dmarcd")
CONF = os.path.join(primary.dir, "empty.conf")
open(CONF, "w").close()
ENV = {"DMARCD_CONF": CONF, "DMARCD_DB": ""}
TMP = os.path.join(primary.dir, "in")


def role_url(cluster, role):
    return "postgresql:///dmarcd?host=%s&user=%s" % (cluster.dir, role)


def ingest(db, name, n, first=0):
    """n one-record reports of example.org, report ids name-first.."""
    d = os.path.join(TMP, name)
    for i in range(first, first + n):
        write(os.path.join(d, "%03d.xml" % i), report_xml(
            org="Rcv", report_id="%s-%d" % (name, i),
            begin=1700006400 + i * 86400, end=1700092799 + i * 86400,
            records=[dict(ip="192.0.2.%d" % (1 + i % 200), count=10 + i)]))
    r = run([D, "ingest", "-q", "--db", db, d], env=ENV)
    shutil.rmtree(d)
    return r


def dm(*args, db=url):
    return run([D] + list(args[:1]) + ["--db", db] + list(args[1:]),
               env=ENV)


def reports(cluster):
    return int(cluster.psql("dmarcd", "SELECT count(*) FROM report").strip())


# --- roles -----------------------------------------------------------------
r = ingest(url, "base", 5)
ok(r.returncode == 0, "five reports ingested by the owner", r.stderr)
r = dm("db", "grant", "reader", "--read-only")
ok(r.returncode == 0 and b"role reader (created" in r.stdout and
   b"write nothing" in r.stdout, "db grant reader --read-only", r.stdout,
   r.stderr)
r = dm("db", "grant", "writer", "--ingest")
ok(r.returncode == 0 and b"role writer (created" in r.stdout,
   "db grant writer --ingest", r.stdout, r.stderr)
r = dm("db", "grant", "writer", "--ingest")
ok(r.returncode == 0 and b"created" not in r.stdout,
   "granting again: the role kept, not created twice", r.stdout, r.stderr)
for bad in (["grant", "x"], ["grant", "x", "--read-only", "--ingest"],
            ["grant", "--ingest"], ["migrate", "--ingest"]):
    r = dm("db", *bad)
    ok(r.returncode == 64, "db %s: usage" % " ".join(bad), r.returncode,
       r.stderr)
r = dm("db", "grant", 'odd"name; DROP TABLE report; --', "--read-only")
ok(r.returncode == 0 and reports(primary) == 5 and primary.psql(
    "dmarcd", "SELECT count(*) FROM pg_roles WHERE rolname ="
    " 'odd\"name; DROP TABLE report; --'").strip() == "1",
   "a role name is an identifier, quoted: made as named, nothing run",
   r.stdout, r.stderr)

r = ingest(role_url(primary, "writer"), "writer", 3, first=10)
ok(r.returncode == 0 and reports(primary) == 8,
   "the ingest role stores reports (rollups and all)", r.stderr)


def as_role(role, sql):
    r = subprocess.run([os.path.join(BIN, "psql"), "-X", "-q", "-At", "-h",
                        primary.dir, "-U", role, "-d", "dmarcd", "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stderr.decode(errors="replace")


rc, e = as_role("writer", "CREATE TABLE evil (a int)")
ok(rc != 0 and "permission denied" in e,
   "the ingest role cannot create a table", e)
rc, e = as_role("writer", "DROP TABLE record")
ok(rc != 0 and "must be owner" in e, "nor drop one", e)
rc, e = as_role("reader", "DELETE FROM report")
ok(rc != 0 and "permission denied" in e, "the read-only role cannot delete",
   e)
rc, e = as_role("reader", "SELECT count(*) FROM record")
ok(rc == 0, "and reads", e)
r = dm("senders", "add", "example.org", "cidr", "192.0.2.0/24",
       db=role_url(primary, "reader"))
ok(r.returncode != 0 and b"permission denied" in r.stderr,
   "senders add as the read-only role: refused, saying why", r.stderr)
# tables a later migration creates: covered by the default privileges
primary.psql("dmarcd", "CREATE TABLE later_t (a int); INSERT INTO later_t"
             " VALUES (1)")
rc, e = as_role("reader", "SELECT a FROM later_t")
ok(rc == 0, "a table made after the grant is readable by the reader", e)
rc, e = as_role("writer", "INSERT INTO later_t VALUES (2)")
ok(rc == 0, "and writable by the ingest role", e)
primary.psql("dmarcd", "DROP TABLE later_t")

# --- two LMTP nodes, one server ---------------------------------------------
# both deliver the same 20 reports at once, as the ingest role: every
# delivery is accepted, every report stored once
nodes, logs = [], []
for n in range(2):
    port = httpdlib.free_port()
    argv = [D, "lmtp", "--foreground", "--db", role_url(primary, "writer"),
            "--listen", "127.0.0.1:%d" % port]
    if os.geteuid() == 0:
        argv += ["--user", pglib.UNPRIVILEGED]
    log = os.path.join(primary.dir, "lmtp-%d.log" % n)
    logs.append(log)
    nodes.append((port, subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
        env=dict(os.environ, **ENV))))
MAILS = [eml(gz(report_xml(
    org="Twice", report_id="twice-%d" % i, begin=1710000000 + i * 86400,
    end=1710086399 + i * 86400, records=[dict(ip="198.51.100.%d" % i,
                                              count=7)])),
    "twice!example.org!%d.xml.gz" % i) for i in range(20)]
answers = [[], []]


def deliver(n):
    port = nodes[n][0]
    client, end = None, time.time() + 15
    while client is None and time.time() < end:
        try:
            client = smtplib.LMTP("127.0.0.1", port, timeout=30)
        except OSError:
            time.sleep(0.1)
    if client is None:
        return
    for m in MAILS:
        try:
            answers[n].append(client.sendmail(
                "dmarc@receiver.example", ["dmarc@example.org"], m))
        except smtplib.SMTPException as e:
            answers[n].append(str(e))
    client.quit()


before = reports(primary)
threads = [threading.Thread(target=deliver, args=(n,)) for n in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
for _, p in nodes:
    p.terminate()
    p.wait(20)
ok(answers[0] == [{}] * 20 and answers[1] == [{}] * 20,
   "two lmtp nodes: each of the 40 deliveries accepted (250)",
   answers, open(logs[0]).read()[-1500:], open(logs[1]).read()[-1500:])
ok(reports(primary) == before + 20 and primary.psql(
    "dmarcd", "SELECT count(*) FROM report WHERE org_name = 'Twice'"
    " GROUP BY report_id HAVING count(*) > 1").strip() == "" and
   primary.psql("dmarcd", "SELECT count(*) FROM rollup_queue").strip() ==
   "0" and primary.psql("dmarcd", "SELECT sum(messages) FROM dash_day WHERE"
                        " day >= '2024-03-01'").strip() == "140",
   "each report stored once, rolled up once (20 x 7 messages)",
   reports(primary) - before)

# --- the dashboard on a hot standby ----------------------------------------
sdir = os.path.join(primary.dir, "standby")
os.makedirs(sdir)
os.chmod(sdir, 0o755)
pglib.chown_unprivileged(sdir)
r = subprocess.run(pglib.as_user_prefix() + [
    os.path.join(BIN, "pg_basebackup"), "-h", primary.dir, "-U", "postgres",
    "-D", os.path.join(sdir, "data"), "-R", "-X", "stream", "-c", "fast"],
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=sdir)
ok(r.returncode == 0, "pg_basebackup -R of the primary", r.stdout)
with open(os.path.join(sdir, "data", "postgresql.conf"), "a") as f:
    f.write("\nunix_socket_directories = '%s'\nhot_standby = on\n" % sdir)
subprocess.run(pglib.as_user_prefix() + [
    os.path.join(BIN, "pg_ctl"), "-D", os.path.join(sdir, "data"), "-l",
    os.path.join(sdir, "log"), "-w", "start"], stdout=subprocess.PIPE,
    stderr=subprocess.STDOUT, cwd=sdir, check=True)
standby = pglib.Cluster.__new__(pglib.Cluster)
standby.bindir, standby.dir, standby.data = BIN, sdir, os.path.join(sdir,
                                                                    "data")
standby.keep, standby.running = None, True


def stop_standby():
    subprocess.run(pglib.as_user_prefix() + [
        os.path.join(BIN, "pg_ctl"), "-D", standby.data, "-m", "immediate",
        "-w", "stop"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


atexit.register(stop_standby)     # before the primary's removal (LIFO)


ok(standby.psql("postgres", "SELECT pg_is_in_recovery()").strip() == "t",
   "the standby is in recovery (a hot standby)")


def caught_up():
    """Waits until the standby has replayed all the primary has written."""
    lsn = primary.psql("postgres", "SELECT pg_current_wal_lsn()").strip()
    for _ in range(200):
        if standby.psql("postgres", "SELECT pg_last_wal_replay_lsn() >= "
                        "'%s'::pg_lsn" % lsn).strip() == "t":
            return True
        time.sleep(0.05)
    return False


ok(caught_up() and reports(standby) == reports(primary) == 28,
   "the standby holds the reports")

sport = httpdlib.free_port()
env = dict(os.environ, **ENV)
serve = subprocess.Popen([D, "serve", "--db", role_url(standby, "reader"),
                          "--listen", "127.0.0.1:%d" % sport,
                          "--static-dir", httpdlib.static_dir()],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
line = serve.stdout.readline().decode()
ok("dashboard at" in line, "serve starts on the standby, as the read-only "
   "role", line, serve.stderr.read1(4000) if "dashboard" not in line else "")
BASE = "http://127.0.0.1:%d" % sport
ALL = "from=1970-01-01&to=2069-12-31"


def api(path):
    with urllib.request.urlopen(BASE + path, timeout=30) as resp:
        return json.loads(resp.read())


def overview():
    return {d["domain"]: (d["reports"], d["messages"])
            for d in api("/api/overview?" + ALL)["domains"]}


want = primary.psql("dmarcd", "SELECT count(*), sum(messages) FROM report")
want = tuple(int(x) for x in want.strip().split("|"))
ok(overview() == {"example.org": want},
   "the standby's dashboard shows what the primary stored", overview(), want)
sim = api("/api/simulate?p=reject&" + ALL)["domains"]
ok(len(sim) == 1 and sim[0]["messages"] == want[1],
   "and simulates it (the simulator's rollup replicated too)", sim)

r = ingest(url, "later", 4, first=20)
ok(r.returncode == 0 and caught_up(), "four more on the primary, replayed",
   r.stderr)
want = primary.psql("dmarcd", "SELECT count(*), sum(messages) FROM report")
want = tuple(int(x) for x in want.strip().split("|"))
ok(want[0] == 32 and overview() == {"example.org": want},
   "the standby's dashboard shows them", overview(), want)
serve.terminate()
serve.wait(10)

# a dmarcd that would migrate cannot on a standby: it says so and where
primary.psql("dmarcd", "UPDATE dmarcd_functions SET sha256 = 'older'")
caught_up()
r = run([D, "serve", "--db", role_url(standby, "postgres"), "--listen",
         "127.0.0.1:%d" % httpdlib.free_port(), "--static-dir",
         httpdlib.static_dir()], env=ENV, timeout=30)
ok(r.returncode != 0 and b"hot standby" in r.stderr and
   b"against the primary" in r.stderr,
   "serve on a standby whose schema needs this dmarcd's functions: refused,"
   " pointing at the primary", r.returncode, r.stderr)
r = dm("db", "migrate")
ok(r.returncode == 0 and caught_up() and standby.psql(
    "dmarcd", "SELECT sha256 <> 'older' FROM dmarcd_functions").strip() ==
   "t", "migrating the primary reaches the standby", r.stdout, r.stderr)
done()
