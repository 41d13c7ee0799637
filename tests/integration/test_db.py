#!/usr/bin/env python3
"""test_db.py - the store against a real PostgreSQL (tests/integration/pglib.py):
migrations, ingest/export round trip, dedup, quarantine, Maildir, the
database going away, SIGKILL and resume, concurrent ingests, CSV."""
import base64
import csv
import gzip
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, diag, skip_all, done, dmarcd  # noqa: E402
import pglib  # noqa: E402
import dbfix  # noqa: E402
from dbfix import run, write, json_lines  # noqa: E402

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
D = dmarcd()
pg = pglib.Cluster()
tmp = tempfile.mkdtemp(prefix="dmarcd-test-db-")
# no dmarcd.conf from the machine, no DMARCD_DB from the caller
ENV = {"DMARCD_CONF": os.path.join(tmp, "none.conf"), "DMARCD_DB": ""}
write(ENV["DMARCD_CONF"], b"")


def dm(url, *args, **kw):
    return run([D] + list(args[:1]) + ["--db", url] + list(args[1:]),
               env=ENV, **kw)


def poll(fn, tries=100, step=0.1):
    """fn()'s first value other than "0" or "" within tries * step
    seconds, else its last."""
    v = fn()
    for _ in range(tries):
        if v not in ("0", ""):
            break
        time.sleep(step)
        v = fn()
    return v


def counts(db):
    return pg.psql(db, "SELECT (SELECT count(*) FROM report),"
                   " (SELECT count(*) FROM record),"
                   " (SELECT coalesce(sum(count), 0) FROM record),"
                   " (SELECT coalesce(sum(messages), 0) FROM daily),"
                   " (SELECT count(*) FROM quarantine)").strip()


def strip_source(objs):
    for o in objs:
        o.pop("source", None)
    return objs


# --- migrations -------------------------------------------------------------
# sql/010_schema.sql is 001..010 squashed: a database those left at
# version 10 takes 011 (source_host), 012 (classifier), 013 (senders),
# 014 (alerts), 015 (the simulator's rollup) and 016 (its profiles'
# hash) on its data;
# the functions (sql/functions.sql) are applied at the latest version,
# whenever the database's copy differs from the binary's.
FUNCS = "SELECT count(*) FROM dmarcd_functions"
url = pg.createdb("mig")
r = dm(url, "db", "status")
ok(r.returncode == 0 and b"schema: version 0 of 17" in r.stdout
   and b"pending: 010_schema" in r.stdout and
   b"pending: 011_source_host" in r.stdout and
   b"pending: 012_classifier" in r.stdout and
   b"pending: 013_senders" in r.stdout and
   b"pending: 014_alerts" in r.stdout and
   b"pending: 015_simulator" in r.stdout and
   b"pending: 016_profile_hash" in r.stdout and
   b"pending: 017_partitions" in r.stdout, "db status on an empty database",
   r.stdout, r.stderr)
r = dm(url, "db", "migrate", "--to", "10")
ok(r.returncode == 0 and b"from version 0 to 10" in r.stdout,
   "migrate an empty database to version 10", r.stdout, r.stderr)
ok(pg.psql("mig", "SELECT string_agg(version::text, ',') FROM dmarcd_schema")
   .strip() == "10" and pg.psql(
       "mig", "SELECT count(*) FROM pg_tables WHERE tablename ="
       " 'source_host'").strip() == "0",
   "version table holds 10, no source_host yet")
pg.psql("mig", "INSERT INTO report (domain, org_name, report_id, begin_time,"
        " end_time) VALUES ('old.example', 'o', 'x', now(), now());"
        " INSERT INTO dash_ip_all VALUES ('2024-01-01', '192.0.2.7', 1, 1,"
        " 0, 0, 1, '{a.example}', '{}', '{old.example}'), ('2024-01-02',"
        " '192.0.2.7', 1, 1, 0, 0, 1, '{a.example}', '{}', '{old.example}'),"
        " ('2024-01-02', '2001:db8::1', 1, 1, 0, 0, 1, '{a.example}', '{}',"
        " '{old.example}')")
# records of that report and of a second one still queued for its rollup:
# 015 adds the first to sim_day, under two profiles (the first two records
# share one), and leaves the queued one to the folder
pg.psql("mig", "INSERT INTO report (domain, org_name, report_id,"
        " begin_time, end_time) VALUES ('old.example', 'o', 'queued',"
        " '2024-01-02 00:00+00', '2024-01-02 23:59+00');"
        " INSERT INTO rollup_queue SELECT domain, id FROM report"
        " WHERE report_id = 'queued';"
        " INSERT INTO record (domain, report, ordinal, source_ip, count,"
        " header_from, dkim_domain, dkim_result, spf_domain, spf_result)"
        " SELECT 'old.example', r.id, o, '192.0.2.7', o * 10,"
        " 'old.example', CASE WHEN o = 3 THEN '{other.example}'::text[]"
        " ELSE '{old.example}' END, '{pass}', '{old.example}', '{fail}'"
        " FROM report r, generate_series(1, 3) o WHERE r.domain ="
        " 'old.example'")
r = dm(url, "db", "migrate")
ok(r.returncode == 0 and b"from version 10 to 17" in r.stdout and
   pg.psql("mig", "SELECT string_agg(version::text, ',' ORDER BY version)"
           " FROM dmarcd_schema").strip() == "10,11,12,13,14,15,16,17" and
   pg.psql("mig", "SELECT count(*) FROM pg_tables WHERE tablename IN"
           " ('sender_rule', 'alert_episode', 'alert_mark')").strip() == "3" and
   pg.psql("mig", FUNCS).strip() == "1" and
   pg.psql("mig", "SELECT count(*) FROM pg_views WHERE viewname = 'daily'")
   .strip() == "1", "011 to 017 on a version-10 database, then the functions",
   r.stdout, r.stderr)
ok(pg.psql("mig", "SELECT string_agg(p.dkim_domain[1] || ' ' || s.messages,"
           " ',' ORDER BY s.messages) FROM sim_day s JOIN auth_profile p"
           " ON p.domain = s.domain AND p.id = s.profile").strip() ==
   "old.example 30,other.example 30" and
   pg.psql("mig", "SELECT count(*) FROM auth_profile").strip() == "2",
   "015: the rolled-up report's records in sim_day by profile, the queued"
   " report's left to its fold")
ok(pg.psql("mig", "SELECT count(*) FROM auth_profile WHERE hash ="
           " dmarcd_auth_hash(header_from, dkim_domain, dkim_result,"
           " spf_domain, spf_scope, spf_result, reason_type)").strip() ==
   "2", "016: every stored profile has its hash")
pg.psql("mig", "SELECT dmarcd_rollup_queued(10)")
ok(pg.psql("mig", "SELECT string_agg(p.dkim_domain[1] || ' ' || s.day || ' '"
           " || s.messages, ',' ORDER BY s.day, s.messages) FROM sim_day s"
           " JOIN auth_profile p ON p.domain = s.domain AND p.id = s.profile"
           " WHERE s.day = '2024-01-02'").strip() ==
   "old.example 2024-01-02 30,other.example 2024-01-02 30" and
   pg.psql("mig", "SELECT count(*) FROM auth_profile").strip() == "2",
   "the fold adds the queued report under the profiles already stored")
ok(pg.psql("mig", "SELECT string_agg(host(ip) || ' ' || state, ',' ORDER BY"
           " ip) FROM source_host").strip() ==
   "192.0.2.7 pending,2001:db8::1 pending",
   "011: every address already rolled up waits for its lookup, once")
r = dm(url, "db", "migrate")
ok(r.returncode == 0 and b"nothing to do" in r.stdout, "migrate again: no-op")
# functions replaced whenever the recorded copy differs, keeping the data
daily_rows = pg.psql("mig", "SELECT count(*) FROM daily").strip()
pg.psql("mig", "DROP VIEW daily; DROP FUNCTION dmarcd_rollup_queued(int)")
r = dm(url, "export")
ok(r.returncode == 0 and pg.psql("mig", "SELECT count(*) FROM pg_views"
                                 " WHERE viewname = 'daily'").strip() == "0",
   "the same functions digest: nothing re-applied on open", r.stderr)
pg.psql("mig", "UPDATE dmarcd_functions SET sha256 = 'stale'")
r = dm(url, "export")
ok(r.returncode == 0 and pg.psql(
   "mig", "SELECT count(*) FROM daily").strip() == daily_rows != "0" and
   pg.psql("mig", "SELECT dmarcd_rollup_queued(10)").strip() == "0" and
   pg.psql("mig", "SELECT count(*) FROM report").strip() == "2",
   "another digest: the functions are re-applied on open, the data kept",
   r.stderr)
pg.psql("mig", "UPDATE dmarcd_functions SET sha256 = 'stale'")
r = dm(url, "export")
ok(r.returncode == 0 and pg.psql("mig", FUNCS).strip() == "1" and
   pg.psql("mig", "SELECT sha256 FROM dmarcd_functions").strip() != "stale",
   "re-applying over themselves: idempotent, one digest row", r.stderr)
pg.psql("mig", "INSERT INTO dmarcd_schema (version, name) VALUES (999, 'x')")
r = dm(url, "export")
ok(r.returncode != 0 and b"newer" in r.stderr,
   "a schema newer than the binary is refused", r.stderr)
pg.psql("mig", "DELETE FROM dmarcd_schema; INSERT INTO dmarcd_schema"
        " (version, name) VALUES (5, '005_failure_tls')")
r = dm(url, "export")
ok(r.returncode != 0 and b"older than this dmarcd can migrate" in r.stderr,
   "a schema from before the squash (version 5) is refused", r.stderr)

# The mechanism with a next migration (tests/integration/migrate_fixture: 010 and 011
# of its own): applied once, under the lock when processes race, and the
# functions after it.
FIX = os.path.join(os.path.dirname(os.path.abspath(D)), "tests", "integration",
                   "migrate_fixture")
url = pg.createdb("mignext")
r = run([FIX, url, "10"])
ok(r.returncode == 0 and r.stdout.strip() == b"0 10" and
   pg.psql("mignext", "SELECT count(*) FROM pg_proc WHERE proname ="
           " 'fixture_f'").strip() == "0",
   "fixture: to version 10, no functions below the latest", r.stdout,
   r.stderr)
pg.psql("mignext", "INSERT INTO fixture_t VALUES (1)")
r = run([FIX, url, "0"])
ok(r.returncode == 0 and r.stdout.strip() == b"10 11" and
   pg.psql("mignext", "SELECT f FROM fixture_v").strip() == "11",
   "fixture: the next migration applies on data, then the functions",
   r.stdout, r.stderr)
r = run([FIX, url, "0"])
ok(r.returncode == 0 and r.stdout.strip() == b"11 11" and
   pg.psql("mignext", "SELECT count(*) FROM fixture_t").strip() == "2",
   "fixture: run again, the migration is not applied twice", r.stdout)
url = pg.createdb("migrace")
procs = [subprocess.Popen([FIX, url, "0"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) for _ in range(4)]
outs = [p.communicate() + (p.returncode,) for p in procs]
ok(all(o[2] == 0 for o in outs) and
   sorted(o[0].strip() for o in outs) == [b"0 11"] + [b"11 11"] * 3 and
   pg.psql("migrace", "SELECT count(*) FROM fixture_t").strip() == "1" and
   pg.psql("migrace", FUNCS).strip() == "1",
   "fixture: four racing processes, each migration applied once", *outs)

# --- ingest, export = parse, dedup -------------------------------------------
url = pg.createdb("rt")
inp = os.path.join(tmp, "in")
hostile = dbfix.report_xml(org="Hostile, \"Org\"", report_id="h\t1\\",
                           records=dbfix.hostile_records())
write(os.path.join(inp, "a-hostile.xml"), hostile)
write(os.path.join(inp, "b-plain.xml.gz"), dbfix.gz(dbfix.report_xml(
    report_id="r-2", domain="example.net",
    records=[dict(ip="203.0.113.%d" % i, count=i + 1) for i in range(50)])))
many = [dict(ip="10.0.%d.%d" % (i // 250, i % 250), count=1,
             dkim_eval="fail" if i % 3 else "pass") for i in range(3000)]
write(os.path.join(inp, "c-many.eml"), dbfix.eml(
    dbfix.report_xml(report_id="r-3", records=many),
    "receiver.example!example.org!1700006400!1700092799.xml",
    ctype="text/xml"))
r = dm(url, "ingest", inp)
ok(r.returncode == 0 and b"3 messages, 3 reports, 3053 records, "
   b"0 duplicates, 0 quarantined" in r.stdout, "ingest 3 reports",
   r.stdout, r.stderr)
parsed = strip_source(json_lines(run([D, "parse"] + sorted(
    os.path.join(inp, f) for f in os.listdir(inp))).stdout.decode()))
r = dm(url, "export")
exported = json_lines(r.stdout.decode())
ok(r.returncode == 0 and len(exported) == 3, "export gives 3 reports",
   r.stderr)
ok(all(e.get("source", "").startswith(inp) for e in exported),
   "export's source is where it came from")
HOST = ["ptr", "ptr_verified", "service", "service_type", "asn", "as_org",
        "country"]
recs = [x for e in exported for x in e["records"]]
ok(recs and all(list(x.keys())[-7:] == HOST and x["ptr_verified"] is False
                and all(x[k] is None for k in HOST if k != "ptr_verified")
                for x in recs),
   "export: each record ends with the source fields, unknown before "
   "enrichment", recs[:1])
for x in recs:
    for k in HOST:
        x.pop(k, None)
key = lambda o: (o["policy"]["domain"], o["report_id"])  # noqa: E731
same = sorted(strip_source(exported), key=key) == sorted(parsed, key=key)
ok(same, "export equals parse field for field (hostile strings, IPv6,"
   " record order)", *([] if same else [exported[0], parsed[0]]))
before = counts("rt")
r = dm(url, "ingest", inp)
ok(r.returncode == 0 and b"0 reports, 0 records, 3 duplicates" in r.stdout,
   "second ingest: all duplicates", r.stdout)
ok(counts("rt") == before, "second ingest changes no count", before)
# the same report in another wrapper, inside another email
write(os.path.join(tmp, "again", "x.eml"), dbfix.eml(
    dbfix.gz(hostile), "other!example.org!1!2.xml.gz",
    subject="Fwd: report"))
r = dm(url, "ingest", os.path.join(tmp, "again"))
ok(b"1 duplicates" in r.stdout and counts("rt") == before,
   "the same report re-sent in another email is a duplicate", r.stdout)
rows = pg.psql("rt", "SELECT sum(messages) FROM daily WHERE domain ="
               " 'example.org'").strip()
ok(rows == str(5 + 7 + 1 + 3000), "daily rollups sum the messages", rows)
aligned = pg.psql("rt", "SELECT sum(messages) FROM daily WHERE domain ="
                  " 'example.org' AND dkim_aligned").strip()
ok(aligned == str(5 + 1 + 1000), "daily: dkim aligned messages", aligned)
ok(pg.psql("rt", "SELECT count(*) FROM report WHERE sha256 IS NOT NULL AND"
           " message_id = '<receiver.example.example.org.1700006400."
           "1700092799.xml@receiver.example>'").strip() == "1",
   "report keeps the document's sha256 and the email's Message-ID")

# --- the report documents (sql/010) ------------------------------------------


def documents(db):
    """{report_id: (size, document bytes or None)}"""
    out = {}
    for line in pg.psql(db, "SELECT r.report_id, d.size, encode(d.gz, 'hex')"
                        " FROM report_document d JOIN report r ON r.domain"
                        " = d.domain AND r.id = d.report").splitlines():
        rid, size, hx = line.rsplit("|", 2)
        out[rid] = (int(size), gzip.decompress(bytes.fromhex(hx))
                    if hx else None)
    return out


plain = dbfix.report_xml(report_id="r-2", domain="example.net",
                         records=[dict(ip="203.0.113.%d" % i, count=i + 1)
                                  for i in range(50)])
many_xml = dbfix.report_xml(report_id="r-3", records=many)
docs = documents("rt")
ok(docs == {"h\t1\\": (len(hostile), hostile),
            "r-2": (len(plain), plain), "r-3": (len(many_xml), many_xml)},
   "each report's document kept byte for byte (bare, gzip, email)",
   {k: (v[0], (v[1] or b"")[:80]) for k, v in docs.items()})
ok(pg.psql("rt", "SELECT count(*) FROM report_document").strip() == "3",
   "duplicates add no document")
url_d = pg.createdb("docs")
cap = os.path.join(tmp, "doccap.conf")
write(cap, b"max_stored_document = 2K\n")
os.chmod(cap, 0o600)
broken = dbfix.report_xml(report_id="r-broken", records=many)
write(os.path.join(tmp, "docs", "bad.xml"), broken[:len(broken) // 2])
r = run([D, "ingest", "-f", cap, "--db", url_d, inp,
         os.path.join(tmp, "docs")], env=ENV)
docs = documents("docs")
ok(r.returncode == 0 and b"1 quarantined" in r.stdout and
   docs == {"h\t1\\": (len(hostile), hostile),
            "r-2": (len(plain), plain), "r-3": (len(many_xml), None)},
   "max_stored_document: a larger document keeps its size only; a report"
   " that fails keeps none", r.stdout, r.stderr,
   {k: (v[0], (v[1] or b"")[:80]) for k, v in docs.items()})
# a document too large to wait for the end of the transaction (over the
# 8 MiB of documents store.c queues) goes in on its own, beside queued ones
big = dbfix.report_xml(report_id="r-big", records=[
    dict(ip="10.1.%d.%d" % (i // 250, i % 250), count=1,
         reasons=[("other", base64.b64encode(os.urandom(750)).decode())])
    for i in range(12000)])
write(os.path.join(tmp, "docsbig", "big.xml"), big)
write(os.path.join(tmp, "docsbig", "small.xml"), plain)
write(cap, b"max_stored_document = 32M\n")
url_d = pg.createdb("docsbig")
r = run([D, "ingest", "-f", cap, "--db", url_d,
         os.path.join(tmp, "docsbig")], env=ENV)
docs = documents("docsbig")
ok(r.returncode == 0 and len(gzip.compress(big, 1)) > 8 << 20 and
   docs == {"r-big": (len(big), big), "r-2": (len(plain), plain)},
   "a document over the queue's 8 MiB is stored on its own, beside a"
   " queued one", r.stdout, r.stderr,
   {k: (v[0], (v[1] or b"")[:80]) for k, v in docs.items()})
url_d = pg.createdb("docs0")
write(cap, b"max_stored_document = 0\n")
r = run([D, "ingest", "-f", cap, "--db", url_d, inp], env=ENV)
ok(r.returncode == 0 and set(documents("docs0").values()) ==
   {(len(hostile), None), (len(plain), None), (len(many_xml), None)},
   "max_stored_document = 0 keeps none", r.stdout, r.stderr)

# --- filters and CSV ---------------------------------------------------------
r = dm(url, "export", "--domain", "example.net")
ok([o["report_id"] for o in json_lines(r.stdout.decode())] == ["r-2"],
   "export --domain")
r1 = dm(url, "export", "--since", "1700092799")
r2 = dm(url, "export", "--until", "2023-11-15T00:00:00Z")
ok(len(json_lines(r1.stdout.decode())) == 3 and r2.stdout == b"",
   "export --since/--until", r1.stderr, r2.stderr)
r = dm(url, "export", "--format", "csv", "--domain", "example.org")
rows = list(csv.reader(io.StringIO(r.stdout.decode(), newline="")))
hdr = rows[0]
ok(len(rows) == 1 + 3 + 3000 and hdr[0] == "org_name",
   "CSV: a header and one row per record", len(rows))
hrows = [dict(zip(hdr, x)) for x in rows[1:] if x[3] == "h\t1\\"]
ok(len(hrows) == 3 and hrows[0]["org_name"] == "Hostile, \"Org\"" and
   "nl\nthere" in hrows[0]["reasons"] and hrows[1]["source_ip"] ==
   "2001:db8::1", "CSV quoting round-trips hostile strings", hrows[:1])

# --- quarantine -----------------------------------------------------------------
junk = b"Subject: hello\r\n\r\nnot a report \x00\xff\r\n"
write(os.path.join(tmp, "junk", "j.eml"), junk)
write(os.path.join(tmp, "junk", "k.bin"), bytes(range(256)) * 3)
r = dm(url, "ingest", os.path.join(tmp, "junk"))
ok(r.returncode == 0 and b"2 quarantined" in r.stdout,
   "non-reports are quarantined (exit 0: kept)", r.stdout, r.stderr)
r = dm(url, "quarantine", "list")
lines = r.stdout.decode().splitlines()
ok(len(lines) == 2 and "j.eml" in r.stdout.decode(), "quarantine list",
   r.stdout)
qid = [l.split("\t")[0] for l in lines if "j.eml" in l][0]
r = dm(url, "quarantine", "show", qid)
ok(r.stdout == junk, "quarantine show gives the bytes back, byte for byte")
r = dm(url, "ingest", os.path.join(tmp, "junk", "j.eml"))
seen = pg.psql("rt", "SELECT times_seen FROM quarantine WHERE id = %s" % qid)
ok(seen.strip() == "2", "same bytes again: times_seen bumped", seen)
# a message an older dmarcd could not parse: retry stores it
good = dbfix.report_xml(report_id="late-1", domain="late.example")
pg.psql("rt", "INSERT INTO quarantine (sha256, bytes, size, reason, source)"
        " VALUES (sha256('\\x%s'), '\\x%s', %d, 'old version failed',"
        " 'old.xml')" % (good.hex(), good.hex(), len(good)))
r = dm(url, "quarantine", "retry", "--all")
ok(r.returncode == 0 and b"1 resolved" in r.stdout and
   b"2 still quarantined" in r.stdout, "quarantine retry --all",
   r.stdout, r.stderr)
ok(pg.psql("rt", "SELECT count(*) FROM report WHERE domain ="
           " 'late.example'").strip() == "1" and
   pg.psql("rt", "SELECT count(*) FROM quarantine WHERE resolved IS NOT NULL"
           " AND length(bytes) > 0").strip() == "1",
   "retry stored the report and kept the row, resolved, with its bytes")
r = dm(url, "quarantine", "list")
ok(len(r.stdout.decode().splitlines()) == 2, "list hides resolved rows")

# --- Maildir: new -> cur only after commit -------------------------------------
url = pg.createdb("md")
md = dbfix.maildir(os.path.join(tmp, "Maildir"))
for i in range(6):
    write(os.path.join(md, "new", "170000000%d.M%d.host" % (i, i)),
          dbfix.eml(dbfix.gz(dbfix.report_xml(report_id="m-%d" % i)),
                    "r!example.org!%d!%d.xml.gz" % (i, i)))
write(os.path.join(md, "new", "1700000009.M9.host"), junk)
r = dm(url, "ingest", md)
cur = sorted(os.listdir(os.path.join(md, "cur")))
ok(r.returncode == 0 and os.listdir(os.path.join(md, "new")) == [] and
   len(cur) == 7 and all(c.endswith(":2,S") for c in cur),
   "Maildir: every committed message moved to cur/ with S", cur, r.stderr)

# --- the database stops mid-run: exit 75, nothing lost -------------------------
url = pg.createdb("down")
md = dbfix.maildir(os.path.join(tmp, "Maildir2"))


def add_messages(lo, hi):
    for i in range(lo, hi):
        write(os.path.join(md, "new", "17000%05d.M%d.host" % (i, i)),
              dbfix.eml(dbfix.gz(dbfix.report_xml(report_id="d-%d" % i)),
                        "r!example.org!%d!%d.xml.gz" % (i, i)))


add_messages(0, 5)
r = dm(url, "ingest", md)
ok(r.returncode == 0 and len(os.listdir(os.path.join(md, "cur"))) == 5,
   "first 5 stored")
add_messages(5, 15)
# hold the report table so the next ingest waits inside its transaction
locker = subprocess.Popen(
    [os.path.join(pg.bindir, "psql"), "-X", "-q", "-h", pg.dir, "-U",
     "postgres", "-d", "down"], stdin=subprocess.PIPE,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
locker.stdin.write(b"BEGIN;\nLOCK TABLE report IN ACCESS EXCLUSIVE MODE;\n"
                   b"SELECT pg_sleep(600);\n")
locker.stdin.flush()
time.sleep(0.5)
e = dict(os.environ)
e.update(ENV)
ing = subprocess.Popen([D, "ingest", "--db", url, md], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
waiting = poll(lambda: pg.psql("postgres", "SELECT count(*) FROM"
                              " pg_stat_activity WHERE wait_event_type ="
                              " 'Lock'").strip())
ok(waiting != "0", "ingest is waiting inside its transaction")
pg.kill()
out, err = ing.communicate(timeout=60)
locker.kill()
locker.wait()
ok(ing.returncode == 75, "database gone mid-run: exit 75 (EX_TEMPFAIL)",
   ing.returncode, out, err)
ok(len(os.listdir(os.path.join(md, "new"))) == 10 and
   len(os.listdir(os.path.join(md, "cur"))) == 5,
   "nothing lost: the uncommitted messages are still in new/")
pg.start()
r = dm(url, "ingest", md)
ok(r.returncode == 0 and b"10 reports" in r.stdout and
   pg.psql("down", "SELECT count(*), count(DISTINCT report_id) FROM report")
   .strip() == "15|15", "after restart: every message stored once",
   r.stdout, r.stderr)
r = run([D, "ingest", "--db", "postgresql:///nothere?host=/nonexistent",
         md], env=ENV)
ok(r.returncode == 75, "database unreachable from the start: exit 75",
   r.returncode, r.stderr)

# --- SIGKILL half-way, then resume ------------------------------------------------
url = pg.createdb("kill")
md = dbfix.maildir(os.path.join(tmp, "Maildir3"))
N = 300
for i in range(N):
    write(os.path.join(md, "new", "17100%05d.M%d.host" % (i, i)),
          dbfix.eml(dbfix.gz(dbfix.report_xml(
              report_id="k-%d" % i, records=[
                  dict(ip="192.0.2.%d" % (j % 250), count=j + 1)
                  for j in range(40)])),
              "r!example.org!%d!%d.xml.gz" % (i, i)))
ing = subprocess.Popen([D, "ingest", "--db", url, md], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
for _ in range(200):
    if len(os.listdir(os.path.join(md, "cur"))) >= 20:
        break
    time.sleep(0.02)
ing.send_signal(signal.SIGKILL)
ing.wait()
moved = len(os.listdir(os.path.join(md, "cur")))
stored = int(pg.psql("kill", "SELECT count(*) FROM report").strip())
diag("killed after %d moved, %d stored" % (moved, stored))
ok(moved <= stored, "after SIGKILL: no message left new/ uncommitted")
r = dm(url, "ingest", md)
ok(r.returncode == 0 and os.listdir(os.path.join(md, "new")) == [] and
   pg.psql("kill", "SELECT count(*), count(DISTINCT report_id), sum(n_records)"
           " FROM report").strip() == "%d|%d|%d" % (N, N, N * 40),
   "resumed: every message stored exactly once", r.stdout, r.stderr)

# --- group commit: a batch killed before its COMMIT ----------------------------
url = pg.createdb("batch")
r = dm(url, "db", "migrate")
md = dbfix.maildir(os.path.join(tmp, "Maildir4"))
N = 30
for i in range(N):
    write(os.path.join(md, "new", "17200%05d.M%d.host" % (i, i)),
          dbfix.eml(dbfix.gz(dbfix.report_xml(report_id="b-%d" % i)),
                    "r!example.org!%d!%d.xml.gz" % (i, i)))
# an uncommitted row with message 20's dedup key: the ingest stores 0..19
# in its open batch, then waits on 20 until this transaction ends
locker = subprocess.Popen(
    [os.path.join(pg.bindir, "psql"), "-X", "-q", "-h", pg.dir, "-U",
     "postgres", "-d", "batch"], stdin=subprocess.PIPE,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
locker.stdin.write(b"BEGIN;\nINSERT INTO report (domain, org_name, report_id,"
                   b" begin_time, end_time) VALUES ('example.org', 'Example "
                   b"Receiver', 'b-20', to_timestamp(1700006400), "
                   b"to_timestamp(1700092799));\nSELECT pg_sleep(600);\n")
locker.stdin.flush()
time.sleep(0.5)
ing = subprocess.Popen([D, "ingest", "--db", url, md], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
waiting = poll(lambda: pg.psql("postgres", "SELECT count(*) FROM"
                              " pg_stat_activity WHERE wait_event_type ="
                              " 'Lock'").strip())
ok(waiting != "0", "batch: ingest waits on message 20 inside its batch")
ing.send_signal(signal.SIGKILL)
ing.wait()
# end the locker's transaction and the killed ingest's session (a backend
# asleep or waiting does not notice its client is gone)
pg.psql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM"
        " pg_stat_activity WHERE datname = 'batch'")
locker.kill()
locker.wait()
ok(len(os.listdir(os.path.join(md, "new"))) == N and
   os.listdir(os.path.join(md, "cur")) == [] and
   pg.psql("batch", "SELECT count(*) FROM report").strip() == "0",
   "batch killed before COMMIT: every message of it still in new/, "
   "nothing stored")
r = dm(url, "ingest", md)
ok(r.returncode == 0 and os.listdir(os.path.join(md, "new")) == [] and
   len(os.listdir(os.path.join(md, "cur"))) == N and
   pg.psql("batch", "SELECT count(*), count(DISTINCT report_id) FROM report")
   .strip() == "%d|%d" % (N, N) and
   pg.psql("batch", "SELECT sum(messages) FROM daily").strip() == str(3 * N),
   "batch resumed: every message stored exactly once, rollups once",
   r.stdout, r.stderr)

# --- nothing is dropped: empty and oversize inputs get a quarantine row ----------
md = dbfix.maildir(os.path.join(tmp, "Maildir5"))
write(os.path.join(md, "new", "1.empty.host"), b"")
write(os.path.join(md, "new", "2.big.host"), b"x" * 5000)
write(os.path.join(md, "new", "3.ok.host"), dbfix.report_xml(report_id="ok-1"))
edir = os.path.join(tmp, "empties")
write(os.path.join(edir, "zero.xml"), b"")
conf = os.path.join(tmp, "small.conf")
write(conf, b"max_message_size = 1K\n")
os.chmod(conf, 0o600)
r = run([D, "ingest", "-f", conf, "--db", url, md, edir], env=ENV)
ok(r.returncode == 0 and b"3 quarantined" in r.stdout and
   b"1 reports" in r.stdout, "empty and oversize inputs: kept, exit 0",
   r.stdout, r.stderr)
ok(os.listdir(os.path.join(md, "new")) == [] and
   sorted(os.listdir(os.path.join(md, "cur"))) ==
   ["1.empty.host:2,S", "2.big.host:2,S", "3.ok.host:2,S"],
   "empty and oversize Maildir messages done (not left in new/ forever)",
   os.listdir(os.path.join(md, "cur")))
q = pg.psql("batch", "SELECT size, length(bytes), source, reason"
            " FROM quarantine ORDER BY source")
# the two empty inputs have the same (no) bytes: one row, seen twice
ok("0|0|%s/new/1.empty.host|input is empty" % md in q and
   pg.psql("batch", "SELECT times_seen FROM quarantine WHERE size = 0 AND"
           " reason = 'input is empty'").strip() == "2",
   "empty: quarantined, 'input is empty'", q)
ok("5000|0|%s/new/2.big.host|message of 5000 bytes is larger than "
   "max_message_size (1024); bytes not kept" % md in q,
   "oversize: a row with its size and reason, bytes not kept", q)
r = run([D, "ingest", "-f", conf, "--db", url, edir], env=ENV)
ok(r.returncode == 0 and
   pg.psql("batch", "SELECT count(*), sum(times_seen) FROM quarantine WHERE"
           " size = 0 AND reason = 'input is empty'").strip() == "1|3",
   "empty again: same row, times_seen bumped", r.stdout, r.stderr)

# --- two ingests racing over overlapping inputs --------------------------------
url = pg.createdb("race")
rdir = os.path.join(tmp, "race")
for i in range(200):
    data = dbfix.report_xml(report_id="c-%d" % i, records=[
        dict(ip="198.51.100.%d" % (j % 200), count=1) for j in range(10)])
    write(os.path.join(rdir, "a", "%03d.xml" % i), data)
    if i % 2 == 0:  # half the reports also arrive in another wrapper
        write(os.path.join(rdir, "b", "%03d.eml" % (199 - i)), dbfix.eml(
            dbfix.gz(data), "r!example.org!%d!%d.xml.gz" % (i, i)))
procs = [subprocess.Popen([D, "ingest", "-q", "--db", url, p], env=e,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
         for p in (rdir, os.path.join(rdir, "b"), os.path.join(rdir, "a"))]
outs = [p.communicate(timeout=300) for p in procs]
ok(all(p.returncode == 0 for p in procs), "three racing ingests succeed",
   *[o[1] for o in outs])
ok(pg.psql("race", "SELECT count(*), count(DISTINCT report_id),"
           " sum(n_records) FROM report").strip() == "200|200|2000",
   "each report stored once")
ok(pg.psql("race", "SELECT sum(messages), sum(records) FROM daily").strip()
   == "2000|2000", "rollups counted once")
total = sum(int(o[0].split(b" reports,")[0].split(b", ")[-1]) for o in outs)
dups = sum(int(o[0].split(b" duplicates")[0].split(b", ")[-1]) for o in outs)
ok(total == 200 and dups == (300 + 100 + 200) - 200,
   "the losers saw duplicates", total, dups)

# --- rollups per batch equal rollups from scratch -------------------------------
# The store rolls a transaction's reports up once, at its end (dmarcd_store_reports).
# Whatever happened inside the batch (duplicates, a report rolled back to
# its SAVEPOINT, a whole message rolled back to its own), every rollup must
# equal the same rollup recomputed from report and record.
ALIGNED = "coalesce(c.dkim = 'pass' OR c.spf = 'pass', false)"
ROLLUP_CHECK = {
    "dash_summary": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), coalesce(r.org_name, ''), coalesce(c.dkim = 'pass', false),"
    " coalesce(c.spf = 'pass', false), coalesce(c.disposition, ''),"
    " sum(c.count), count(*) FROM report r JOIN record c ON c.domain ="
    " r.domain AND c.report = r.id GROUP BY 1, 2, 3, 4, 5, 6",
    "dash_day": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), coalesce(c.dkim = 'pass', false),"
    " coalesce(c.spf = 'pass', false), coalesce(c.disposition, ''),"
    " sum(c.count), count(*) FROM report r JOIN record c ON c.domain ="
    " r.domain AND c.report = r.id GROUP BY 1, 2, 3, 4, 5",
    "dash_ip": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), c.source_ip, sum(c.count), coalesce(sum(c.count) FILTER"
    " (WHERE " + ALIGNED + "), 0), coalesce(sum(c.count) FILTER (WHERE NOT"
    " " + ALIGNED + " AND c.disposition = 'quarantine'), 0),"
    " coalesce(sum(c.count) FILTER (WHERE NOT " + ALIGNED + " AND"
    " c.disposition = 'reject'), 0), count(*), array_agg(DISTINCT"
    " coalesce(c.header_from, '') ORDER BY coalesce(c.header_from, '')),"
    " coalesce(array_agg(DISTINCT coalesce(c.header_from, '') ORDER BY"
    " coalesce(c.header_from, '')) FILTER (WHERE NOT " + ALIGNED + "),"
    " '{}') FROM report r JOIN record c ON c.domain = r.domain AND"
    " c.report = r.id GROUP BY 1, 2, 3",
    "dash_ip_all": "SELECT dmarcd_report_day(r.begin_time, r.end_time),"
    " c.source_ip, sum(c.count), coalesce(sum(c.count) FILTER"
    " (WHERE " + ALIGNED + "), 0), coalesce(sum(c.count) FILTER (WHERE NOT"
    " " + ALIGNED + " AND c.disposition = 'quarantine'), 0),"
    " coalesce(sum(c.count) FILTER (WHERE NOT " + ALIGNED + " AND"
    " c.disposition = 'reject'), 0), count(*), array_agg(DISTINCT"
    " coalesce(c.header_from, '') ORDER BY coalesce(c.header_from, '')),"
    " coalesce(array_agg(DISTINCT coalesce(c.header_from, '') ORDER BY"
    " coalesce(c.header_from, '')) FILTER (WHERE NOT " + ALIGNED + "),"
    " '{}'), array_agg(DISTINCT r.domain ORDER BY r.domain)"
    " FROM report r JOIN record c ON c.domain = r.domain AND"
    " c.report = r.id GROUP BY 1, 2",
    "daily": "SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time),"
    " c.source_ip, coalesce(c.header_from, ''), coalesce(c.dkim = 'pass',"
    " false), coalesce(c.spf = 'pass', false), coalesce(c.disposition, ''),"
    " sum(c.count), count(*) FROM report r JOIN record c ON c.domain ="
    " r.domain AND c.report = r.id GROUP BY 1, 2, 3, 4, 5, 6, 7",
    "dash_auth": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), coalesce(r.org_name, ''), a.method, coalesce(a.d, ''),"
    " coalesce(a.s, ''), coalesce(lower(a.res), ''), sum(c.count)"
    " FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id"
    " CROSS JOIN LATERAL (SELECT 'dkim' AS method, d, s, res FROM"
    " unnest(c.dkim_domain, c.dkim_selector, c.dkim_result) AS k(d, s, res)"
    " UNION ALL SELECT 'spf', d, s, res FROM unnest(c.spf_domain,"
    " c.spf_scope, c.spf_result) AS f(d, s, res)) a"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7",
    "dash_reason": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), coalesce(r.org_name, ''), coalesce(lower(t.reason), ''),"
    " coalesce(c.dkim = 'pass' OR c.spf = 'pass', false),"
    " coalesce(c.disposition, ''), sum(c.count) FROM report r JOIN record c"
    " ON c.domain = r.domain AND c.report = r.id CROSS JOIN LATERAL"
    " unnest(CASE WHEN cardinality(c.reason_type) = 0 THEN ARRAY[NULL::text]"
    " ELSE c.reason_type END) AS t(reason) GROUP BY 1, 2, 3, 4, 5, 6",
    "dash_auth_day": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), a.method, coalesce(a.d, ''), coalesce(a.s, ''),"
    " coalesce(lower(a.res), ''), sum(c.count)"
    " FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id"
    " CROSS JOIN LATERAL (SELECT 'dkim' AS method, d, s, res FROM"
    " unnest(c.dkim_domain, c.dkim_selector, c.dkim_result) AS k(d, s, res)"
    " UNION ALL SELECT 'spf', d, s, res FROM unnest(c.spf_domain,"
    " c.spf_scope, c.spf_result) AS f(d, s, res)) a"
    " GROUP BY 1, 2, 3, 4, 5, 6",
    "dash_reason_day": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), coalesce(lower(t.reason), ''),"
    " coalesce(c.dkim = 'pass' OR c.spf = 'pass', false),"
    " coalesce(c.disposition, ''), sum(c.count) FROM report r JOIN record c"
    " ON c.domain = r.domain AND c.report = r.id CROSS JOIN LATERAL"
    " unnest(CASE WHEN cardinality(c.reason_type) = 0 THEN ARRAY[NULL::text]"
    " ELSE c.reason_type END) AS t(reason) GROUP BY 1, 2, 3, 4, 5",
    "dash_reporter": "SELECT r.domain, dmarcd_report_day(r.begin_time,"
    " r.end_time), coalesce(r.org_name, ''), count(*), sum(r.messages),"
    " sum(r.n_records), max(r.received) FROM report r GROUP BY 1, 2, 3",
}


def rollups_differ(db):
    """Rollup tables whose content differs from a recomputation."""
    bad = []
    for table, sql in sorted(ROLLUP_CHECK.items()):
        n = pg.psql(db, "SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s))"
                    " UNION ALL ((%s) EXCEPT ALL TABLE %s)) d" % (
                        table, sql, sql, table)).strip()
        if n != "0":
            bad.append("%s: %s rows differ" % (table, n))
    return bad


url = pg.createdb("rollup")
# the rollups in each batch's own transaction (ingest_fold_rollups = 0);
# the folded default is the section after this one
sync = os.path.join(tmp, "sync.conf")
write(sync, b"ingest_fold_rollups = 0\n")
os.chmod(sync, 0o600)
md = dbfix.maildir(os.path.join(tmp, "MaildirR"))
orgs = ["Example Receiver", "Other <b>Org</b>", None]
for i in range(60):
    recs = [dict(ip="203.0.113.%d" % ((i * 7 + j) % 40), count=1 + j,
                 disposition=("none", "quarantine", "reject")[j % 3],
                 dkim_eval=("pass", "fail")[(i + j) % 2],
                 spf_eval=("pass", "fail")[j % 2],
                 header_from=("example.org", "mail.example.org")[j % 2],
                 reasons=[("forwarded", "x"), ("Mailing_List", "")][:j % 3],
                 dkim=[("example.org", "s%d" % (j % 2), "pass"),
                       ("esp.example", "k", ("fail", "PASS")[j % 2])][:1 + j % 2],
                 spf=("pass", "softfail")[j % 2]) for j in range(1 + i % 5)]
    xml = dbfix.report_xml(org=orgs[i % 3] or "", report_id="rb-%d" % i,
                           domain=("example.org", "example.net")[i % 2],
                           begin=1700006400 + 86400 * (i % 4),
                           end=1700092799 + 86400 * (i % 4), records=recs)
    if orgs[i % 3] is None:
        xml = xml.replace(b"<org_name></org_name>", b"")
    write(os.path.join(md, "new", "%03d.m.host" % i), dbfix.eml(
        dbfix.gz(xml), "r!x!%d!%d.xml.gz" % (i, i)))
    if i % 10 == 0:  # the same report again in the same batch
        write(os.path.join(md, "new", "%03d.dup.host" % i), xml)


def zipped(entries):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        for name, data in entries:
            z.writestr(name, data)
    return bio.getvalue()


# a message with a good report and a truncated one: the second is rolled
# back to its report SAVEPOINT, the first stays
good = dbfix.report_xml(report_id="part-ok", records=[
    dict(ip="198.51.100.9", count=11)])
cut = dbfix.report_xml(report_id="part-cut", records=[
    dict(ip="198.51.100.10", count=13) for _ in range(50)])[:-300]
write(os.path.join(md, "new", "100.partial.host"), dbfix.eml(
    zipped([("a.xml", good), ("b.xml", cut)]), "p.zip",
    ctype="application/zip"))
# a message whose quarantine row the database refuses: the whole message is
# rolled back to its SAVEPOINT, its stored report with it
gone = dbfix.report_xml(report_id="gone-1", records=[
    dict(ip="198.51.100.77", count=1000)])
write(os.path.join(md, "new", "101.refuse.host"), dbfix.eml(
    zipped([("a.xml", gone), ("b.xml", cut)]), "g.zip",
    ctype="application/zip"))
md_fold = os.path.join(tmp, "MaildirF")
shutil.copytree(md, md_fold)
r = dm(url, "db", "migrate")
pg.psql("rollup", "ALTER TABLE quarantine ADD CONSTRAINT test_refuse"
        " CHECK (source NOT LIKE '%refuse%')")
r = dm(url, "ingest", "-f", sync, md)
ok(pg.psql("rollup", "SELECT count(*) FILTER (WHERE report_id = 'part-ok'),"
           " count(*) FILTER (WHERE report_id IN ('part-cut', 'gone-1'))"
           " FROM report").strip() == "1|0" and
   pg.psql("rollup", "SELECT count(*) FROM record WHERE source_ip IN"
           " ('198.51.100.10', '198.51.100.77')").strip() == "0",
   "batch with rolled-back report and message: only what committed",
   r.stdout, r.stderr)
ok(os.path.exists(os.path.join(md, "new", "101.refuse.host")),
   "the refused message stays in new/")
bad = rollups_differ("rollup")
ok(bad == [], "rollups after a batched ingest equal rollups from record",
   *bad)
ok(pg.psql("rollup", "SELECT count(*) FROM daily WHERE source_ip ="
           " '198.51.100.77'").strip() == "0",
   "a message rolled back inside the batch is not in the rollups")
pg.psql("rollup", "ALTER TABLE quarantine DROP CONSTRAINT test_refuse")
before = pg.psql("rollup", "SELECT sum(messages) FROM dash_summary").strip()
r = dm(url, "ingest", "-f", sync, md)
ok(r.returncode == 0 and rollups_differ("rollup") == [] and
   pg.psql("rollup", "SELECT count(*) FROM report WHERE report_id ="
           " 'gone-1'").strip() == "1",
   "second ingest: the refused message now stored, rollups still equal",
   r.stdout, r.stderr)
ok(pg.psql("rollup", "SELECT sum(messages) FROM dash_summary").strip() ==
   str(int(before) + 1000), "second ingest: duplicates add nothing",
   before)
# ingest_fold_rollups = 1 (the default, written out here): the same
# batches, their rollups folded on a second connection meanwhile; when
# ingest returns they are all there
url_f = pg.createdb("rollupf")
dm(url_f, "db", "migrate")
pg.psql("rollupf", "ALTER TABLE quarantine ADD CONSTRAINT test_refuse"
        " CHECK (source NOT LIKE '%refuse%')")
fold = os.path.join(tmp, "fold.conf")
write(fold, b"ingest_fold_rollups = 1\n")
os.chmod(fold, 0o600)
r = run([D, "ingest", "-f", fold, "--db", url_f, md_fold], env=ENV)
bad = rollups_differ("rollupf")
# (exit 1: the refused message failed, as in the ingest above)
ok(b"61 reports" in r.stdout and bad == [] and
   pg.psql("rollupf", "SELECT count(*) FROM rollup_queue").strip() == "0"
   and pg.psql("rollupf", "SELECT count(*) FROM report").strip() ==
   pg.psql("rollup", "SELECT count(*) FROM report WHERE report_id <>"
           " 'gone-1'").strip(),
   "ingest_fold_rollups: the same reports, the queue empty, rollups equal"
   " to rollups from record", r.stdout, r.stderr, *bad)
# the statistics arrive a moment after the backends end
queued = poll(lambda: pg.psql("rollupf", "SELECT n_tup_ins FROM"
                              " pg_stat_user_tables WHERE relname ="
                              " 'rollup_queue'").strip(), tries=50)
ok(queued not in ("", "0"), "ingest_fold_rollups: the reports went through"
   " the queue", queued)

# one more transaction on top of existing rollups
one = os.path.join(tmp, "one.xml")
write(one, dbfix.report_xml(report_id="alone-1", org="Solo", records=[
    dict(ip="192.0.2.55", count=4, reasons=[("local_policy", "")])]))
r = dm(url, "ingest", one)
ok(r.returncode == 0 and rollups_differ("rollup") == [],
   "a single-file ingest keeps the rollups equal", r.stdout, r.stderr)

# a report the database refuses only at COMMIT among good ones: the batch
# is stored again one message a transaction, the refused one quarantined
# with its bytes and the reason, the others stored; no run is blocked by
# it.  Counts cannot make that happen any more (the parser caps a count at
# 2^40, so a report's total fits a bigint): a deferred constraint trigger
# of the database refuses that report at COMMIT, as PostgreSQL would a sum
# out of range.
url = pg.createdb("refusedbatch")
dm(url, "db", "migrate")
pg.psql("refusedbatch", dbfix.REFUSE_AT_COMMIT)
md = dbfix.maildir(os.path.join(tmp, "MaildirRefused"))
refused = dbfix.report_xml(report_id="refused-1", records=[
    dict(ip="192.0.2.%d" % i, count=6) for i in (1, 2)])
for i in range(3):
    write(os.path.join(md, "new", "%d.good.host" % i), dbfix.report_xml(
        report_id="fine-%d" % i, records=[dict(ip="192.0.2.9", count=i + 1)]))
write(os.path.join(md, "new", "1.refused.host"), refused)
r = dm(url, "ingest", md)
ok(r.returncode == 0 and b"3 reports" in r.stdout and
   b"1 quarantined" in r.stdout and os.listdir(os.path.join(md, "new")) == [],
   "a batch refused at COMMIT: stored again one by one, every message done",
   r.returncode, r.stdout, r.stderr[-600:])
ok(pg.psql("refusedbatch", "SELECT count(*) FROM quarantine WHERE reason"
           " LIKE 'not stored:%%out of range%%' AND length(bytes) = %d"
           % len(refused)).strip() == "1" and
   pg.psql("refusedbatch", "SELECT string_agg(report_id, ',' ORDER BY"
           " report_id) FROM report").strip() == "fine-0,fine-1,fine-2",
   "the refused report quarantined with its bytes, the others stored",
   pg.psql("refusedbatch", "SELECT reason FROM quarantine"))
ok(rollups_differ("refusedbatch") == [],
   "rollups equal rollups from record after the redo",
   *rollups_differ("refusedbatch"))
pg.psql("refusedbatch", "DROP TRIGGER refuse ON report")
md = dbfix.maildir(os.path.join(tmp, "MaildirHuge"))
write(os.path.join(md, "new", "1.huge.host"), dbfix.report_xml(
    report_id="huge-1", records=[dict(ip="192.0.2.1", count=6 * 10 ** 18)]))
r = dm(url, "ingest", md)
ok(r.returncode == 0 and b"1 quarantined" in r.stdout and pg.psql(
    "refusedbatch", "SELECT count(*) FROM quarantine WHERE reason LIKE"
    " '%<count> 6000000000000000000 is more than%'").strip() == "1",
   "a count over 2^40 is refused by the parser: quarantined, saying why",
   r.stdout, pg.psql("refusedbatch", "SELECT reason FROM quarantine"))

# dmarcd_rollup_set over generated records (every combination of NULL,
# pass and fail results, dispositions, overrides) equals a recomputation
# from record.
url = pg.createdb("rollup5")
r = dm(url, "db", "migrate")
pg.psql("rollup5", "INSERT INTO report (domain, org_name, report_id,"
        " begin_time, end_time) SELECT 'd' || (g % 3) || '.example',"
        " nullif('org' || (g % 4), 'org0'), 'm' || g, timestamptz"
        " '2024-03-01' + g * interval '7 hours', timestamptz '2024-03-01'"
        " + g * interval '7 hours' + interval '1 day' FROM"
        " generate_series(1, 40) g")
pg.psql("rollup5", "INSERT INTO record (domain, report, ordinal, source_ip,"
        " count, disposition, dkim, spf, reason_type, header_from,"
        " dkim_domain, dkim_selector, dkim_result, spf_domain, spf_scope,"
        " spf_result, month) SELECT r.domain, r.id, o, ('192.0.2.' || ((r.id + o)"
        " % 7))::inet, 1 + o, (ARRAY['none', 'quarantine', 'reject',"
        " NULL])[1 + o % 4], (ARRAY['pass', 'fail'])[1 + (r.id + o) % 2],"
        " (ARRAY['pass', 'fail', NULL])[1 + o % 3], CASE WHEN o % 3 = 0"
        " THEN '{forwarded}'::text[] ELSE '{}' END, CASE WHEN o % 5 > 0"
        " THEN (ARRAY['a.example', 'b.example'])[1 + o % 2] END,"
        " ARRAY[r.domain], ARRAY['s' || o % 2], ARRAY['pass'],"
        " ARRAY[r.domain], '{mfrom}', ARRAY['softfail'],"
        " dmarcd_report_month(r.begin_time, r.end_time) FROM report r,"
        " generate_series(1, 6) o")
pg.psql("rollup5", "UPDATE report r SET n_records = 6, messages = 27,"
        " sha256 = '\\x00'")
pg.psql("rollup5", "SELECT dmarcd_rollup_set(array_agg(domain),"
        " array_agg(id)) FROM report")
bad = rollups_differ("rollup5")
ok(r.returncode == 0 and bad == [] and pg.psql(
   "rollup5", "SELECT count(*) FROM dash_ip").strip() != "0",
   "rollups of generated records equal rollups from record",
   r.stdout, r.stderr, *bad)

# --- failure and TLS reports, from the project's own fixtures ----------------------
# parsed once by the pipeline: stored as `parse` prints them, and the same report
# read under other privacy settings is still a duplicate (its identity is the
# report as read with keep_body and redact off)
fdata = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(
    os.path.abspath(__file__))), "data")
arfs = [os.path.join(fdata, "forensic", n) for n in ("auth-failure.eml", "exim-text.eml")]
url_f = pg.createdb("failure")
r = dm(url_f, "ingest", "-q", *arfs)
ok(r.returncode == 0 and b"2 failure reports" in r.stdout,
   "ingest: the two failure report fixtures are stored", r.stdout, r.stderr)
r2 = dm(url_f, "export", "--type", "forensic")
p = run([D, "parse"] + arfs, env=ENV)
ok(strip_source(json_lines(r2.stdout)) == strip_source(json_lines(p.stdout)),
   "failure reports: export prints what parse prints", r2.stdout, p.stdout)
privacy = os.path.join(tmp, "privacy.conf")
write(privacy, b"forensic_redact = 1\nforensic_keep_body = 1\n")
os.chmod(privacy, 0o600)
r = run([D, "ingest", "-q", "-f", privacy, "--db", url_f] + arfs, env=ENV)
ok(r.returncode == 0 and pg.psql("failure", "SELECT count(*) FROM forensic")
   .strip() == "2" and b"2 duplicates" in r.stdout,
   "the same failure reports under redact and keep_body: duplicates",
   r.stdout, r.stderr)

# --- configuration ----------------------------------------------------------------
conf = os.path.join(tmp, "dmarcd.conf")
write(conf, b"# test\ndatabase = postgresql://u:secret@h/d\nmax_text = 1\n"
      b"bogus = 1\nmax_ratio = lots\nmax_ratio = 3\nnovalue\n")
os.chmod(conf, 0o644)
r = run([D, "check-config", "-f", conf])
errs = r.stderr.decode()
ok(r.returncode == 78 and conf + ":2:" in errs and "world-readable" in errs
   and conf + ":3:" in errs and conf + ":4: unknown setting" in errs and
   conf + ":5:" in errs and conf + ":7:" in errs,
   "check-config: every error as file:line, all at once", errs)
write(conf, b"database = postgresql://u:secret@h/d\nmax_message_size = 10M\n")
os.chmod(conf, 0o600)
r = run([D, "check-config", "-v", "-f", conf])
ok(r.returncode == 0 and b"max_message_size = 10485760" in r.stdout and
   b"secret" not in r.stdout, "check-config -v: sizes, password hidden",
   r.stdout, r.stderr)
r = run([D, "check-config", "-f", os.path.join(tmp, "missing.conf")])
ok(r.returncode == 78, "an explicit missing file is an error")
# --- a queued report whose counts overflow a rollup ------------------------
# two reports of one domain and day, 2^62 messages each (past the parser's
# cap: written here directly), and a normal one: the fold adds what it can,
# leaves the one that would overflow out, and the queue drains
url_o = pg.createdb("overflow")
dm(url_o, "db", "migrate")
pg.psql("overflow", "INSERT INTO report (domain, org_name, report_id,"
        " begin_time, end_time) VALUES ('big.example', 'o', 'b1',"
        " '2024-05-01', '2024-05-01 23:59'), ('big.example', 'o', 'b2',"
        " '2024-05-01', '2024-05-01 23:59'), ('small.example', 'o', 's1',"
        " '2024-05-01', '2024-05-01 23:59');"
        " INSERT INTO record (domain, report, ordinal, source_ip, count,"
        " month) SELECT domain, id, 1, '192.0.2.1', CASE WHEN domain ="
        " 'big.example' THEN 4611686018427387904 ELSE 5 END,"
        " dmarcd_report_month(begin_time, end_time) FROM report;"
        " INSERT INTO rollup_queue SELECT domain, id FROM report")
ok(pg.psql("overflow", "SELECT dmarcd_rollup_queued(100)").strip() == "3" and
   pg.psql("overflow", "SELECT count(*) FROM rollup_queue").strip() == "0" and
   pg.psql("overflow", "SELECT string_agg(domain || ' ' || messages, ','"
           " ORDER BY domain) FROM dash_day").strip() ==
   "big.example 4611686018427387904,small.example 5" and
   pg.psql("overflow", "SELECT count(*) FROM report").strip() == "3",
   "a report that would overflow a rollup is left out of the rollups, the"
   " rest folded, the queue drained, every report kept")
pg.psql("overflow", "INSERT INTO report (domain, org_name, report_id,"
        " begin_time, end_time) VALUES ('small.example', 'o', 's2',"
        " '2024-05-02', '2024-05-02 23:59'); INSERT INTO record (domain,"
        " report, ordinal, source_ip, count, month) SELECT domain, id, 1,"
        " '192.0.2.1', 6, dmarcd_report_month(begin_time, end_time) FROM"
        " report WHERE report_id = 's2';"
        " INSERT INTO rollup_queue SELECT domain, id FROM report"
        " WHERE report_id = 's2'")
ok(pg.psql("overflow", "SELECT dmarcd_rollup_queued(100)").strip() == "1" and
   pg.psql("overflow", "SELECT sum(messages) FROM dash_day WHERE domain ="
           " 'small.example'").strip() == "11",
   "and the next fold is not stopped by it")

write(conf, ("database = %s\n" % pg.url("rt")).encode())
r = run([D, "export", "--domain", "example.net", "-f", conf],
        env={"DMARCD_DB": ""})
ok(r.returncode == 0 and b"r-2" in r.stdout, "database from dmarcd.conf",
   r.stderr)
done()
