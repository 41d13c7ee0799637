#!/usr/bin/env python3
"""test_watch.py - `dmarcd lmtp --maildir`: a Maildir followed with inotify.

A message dropped into new/ is stored and then moved to cur/ with the S flag;
a non-report is quarantined and moved too; while the database is down new
messages stay in new/, and are stored exactly once when it is back.  The
rule is `dmarcd ingest`'s: a message over max_message_size and one the
database refuses for good get a quarantine row and leave new/; one the
daemon cannot read stays, logged once, and is stored once it can be read.  Uses the
project's own sample reports (scripts/sample-reports), so it needs no shared
corpus."""
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, skip_all, dmarcd  # noqa: E402
import pglib  # noqa: E402
import dbfix  # noqa: E402

if pglib.find_bindir() is None:
    skip_all("PostgreSQL not installed")
exe = dmarcd()
top = os.path.dirname(os.environ.get("TESTS_SRCDIR",
                                     os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def wait_for(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


cl = pglib.Cluster()
url = cl.createdb("watch")
tmp = tempfile.mkdtemp(prefix="dmarcd-watch-")
os.chmod(tmp, 0o755)
samples = os.path.join(tmp, "samples")
subprocess.run([sys.executable, os.path.join(top, "scripts", "sample-reports"),
                samples, "--days", "1", "--seed", "3"], check=True,
               stdout=subprocess.DEVNULL)
msgs = sorted(os.listdir(os.path.join(samples, "new")))
maildir = os.path.join(tmp, "Maildir")
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(maildir, sub))
user = []
if os.geteuid() == 0:
    pw = pwd.getpwnam(pglib.UNPRIVILEGED)
    for d in [maildir] + [os.path.join(maildir, s) for s in ("new", "cur", "tmp")]:
        os.chown(d, pw.pw_uid, pw.pw_gid)
    user = ["--user", pglib.UNPRIVILEGED]


def deliver(name, data=None, mode=None):
    """Like an MDA: write into tmp/, rename into new/ (with mode, if given,
    set before the rename, so the watcher never sees it otherwise)."""
    t = os.path.join(maildir, "tmp", name)
    if data is None:
        shutil.copyfile(os.path.join(samples, "new", name), t)
    else:
        with open(t, "wb") as f:
            f.write(data)
    if os.geteuid() == 0:
        os.chown(t, pw.pw_uid, pw.pw_gid)
    if mode is not None:
        os.chmod(t, mode)
    os.rename(t, os.path.join(maildir, "new", name))


def count(sql):
    return int(cl.psql("watch", sql).strip() or 0)


def in_new():
    return len(os.listdir(os.path.join(maildir, "new")))


def seen():
    return sorted(f for f in os.listdir(os.path.join(maildir, "cur"))
                  if f.endswith(":2,S"))


log = os.path.join(tmp, "dmarcd.log")
sock = os.path.join(tmp, "lmtp.sock")
conf = os.path.join(tmp, "dmarcd.conf")
with open(conf, "w") as f:
    f.write("max_message_size = 64K\n")
os.chmod(conf, 0o600)
d = subprocess.Popen([exe, "lmtp", "--foreground", "-f", conf, "--db", url,
                      "--listen", "unix:" + sock, "--maildir", maildir] + user,
                     stdout=subprocess.DEVNULL, stderr=open(log, "w"))
try:
    ok(wait_for(lambda: os.path.exists(sock), 15), "dmarcd lmtp --maildir starts",
       open(log).read()[-1000:])
    for name in msgs[:3]:
        deliver(name)
    ok(wait_for(lambda: in_new() == 0 and len(seen()) == 3),
       "three messages leave new/ for cur/ with the S flag", os.listdir(maildir + "/cur"))
    ok(count("SELECT count(*) FROM report") == 3, "their three reports are stored")

    deliver("not-a-report", b"From: a@example.net\r\nSubject: hi\r\n\r\nhello\r\n")
    ok(wait_for(lambda: in_new() == 0 and len(seen()) == 4),
       "a non-report leaves new/ too")
    ok(count("SELECT count(*) FROM quarantine") == 1, "and is kept in the quarantine")

    cl.stop()
    for name in msgs[3:5]:
        deliver(name)
    time.sleep(3)
    ok(in_new() == 2, "database down: new messages stay in new/", in_new())
    ok(d.poll() is None, "the daemon keeps running while the database is down")
    cl.start()
    ok(wait_for(lambda: in_new() == 0 and len(seen()) == 6, 30),
       "database back: they are stored and leave new/", open(log).read()[-800:])
    ok(count("SELECT count(*) FROM report") == 5, "each report stored exactly once",
       count("SELECT count(*) FROM report"))

    # over max_message_size: a row with its size and reason, bytes not
    # kept, and done, as `dmarcd ingest` does (not read again each pass)
    deliver("too-large", b"From: a@example.net\r\n\r\n" + b"x" * 100000)
    ok(wait_for(lambda: in_new() == 0 and len(seen()) == 7),
       "too large: leaves new/", os.listdir(maildir + "/new"),
       open(log).read()[-800:])
    ok(cl.psql("watch", "SELECT size, length(bytes) FROM quarantine WHERE"
               " reason LIKE '%larger than max_message_size (65536);"
               " bytes not kept'").strip() == "100023|0",
       "too large: a quarantine row with its size, bytes not kept",
       cl.psql("watch", "SELECT size, reason FROM quarantine"))

    # refused by the database for good, at COMMIT (dbfix.REFUSE_AT_COMMIT):
    # kept in the quarantine with the reason, and done
    cl.psql("watch", dbfix.REFUSE_AT_COMMIT)
    refused = dbfix.report_xml(report_id="refused-1", records=[
        dict(ip="192.0.2.%d" % i, count=6) for i in (1, 2)])
    deliver("refused", refused)
    ok(wait_for(lambda: in_new() == 0 and len(seen()) == 8),
       "permanent store error: leaves new/", os.listdir(maildir + "/new"),
       open(log).read()[-800:])
    ok(count("SELECT count(*) FROM quarantine WHERE reason LIKE"
             " 'not stored:%%out of range%%' AND length(bytes) = %d"
             % len(refused)) == 1,
       "permanent store error: its bytes kept in the quarantine with the"
       " reason", cl.psql("watch", "SELECT size, reason FROM quarantine"))

    # unreadable: stays in new/ like `dmarcd ingest` leaves it, logged once
    # however many passes see it, and stored once it can be read
    deliver("unreadable", open(os.path.join(samples, "new", msgs[5]),
                               "rb").read(), mode=0)
    deliver(msgs[6])
    ok(wait_for(lambda: len(seen()) == 9), "a pass after the unreadable one",
       open(log).read()[-800:])
    deliver(msgs[7])
    ok(wait_for(lambda: len(seen()) == 10), "and another",
       open(log).read()[-800:])
    ok(os.listdir(os.path.join(maildir, "new")) == ["unreadable"],
       "unreadable: stays in new/", os.listdir(maildir + "/new"))
    ok(open(log).read().count("new/unreadable: cannot open") == 1,
       "unreadable: logged once, not on every pass", open(log).read()[-1500:])
    os.chmod(os.path.join(maildir, "new", "unreadable"), 0o644)
    deliver(msgs[8])
    ok(wait_for(lambda: in_new() == 0 and len(seen()) == 12),
       "readable again: stored, leaves new/", os.listdir(maildir + "/new"))
    ok(count("SELECT count(*) FROM report") == 9, "every report stored once",
       count("SELECT count(*) FROM report"))
finally:
    if d.poll() is None:
        d.send_signal(signal.SIGTERM)
        d.wait(20)
ok(d.returncode == 0, "SIGTERM: clean exit", d.returncode)
done()
