#!/usr/bin/env python3
"""test_retention.py - retention by partition (sql/017_partitions.sql,
db/prune.c): record and the record-sized rollups by month, made when a
month's first report is stored; `dmarcd db prune [--dry-run]` dropping
whole months older than retention and the per-day rollups older than
rollup_retention; and the migration of a populated version-16 database,
which keeps every row.

A real PostgreSQL server started here (pglib, as an unprivileged user);
reports ingested by `dmarcd ingest`, dated relative to today so that the
months are this month, last month, a year ago and older.
"""
import calendar
import datetime
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpdlib  # noqa: E402
import pglib  # noqa: E402
from dbfix import report_xml, write, run  # noqa: E402
from testlib import ok, skip_all, done, dmarcd  # noqa: E402

D = dmarcd()
if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")
BIN = pglib.find_bindir()

pg = pglib.Cluster()
TMP = os.path.join(pg.dir, "in")
CONF = os.path.join(pg.dir, "dmarcd.conf")
with open(CONF, "w") as f:
    f.write("retention = 13mo\nrollup_retention = 3y\n")
ENV = {"DMARCD_CONF": CONF, "DMARCD_DB": ""}
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def month_start(offset):
    """The first day of the month offset months from this one."""
    m = TODAY.year * 12 + TODAY.month - 1 + offset
    return datetime.date(m // 12, m % 12 + 1, 1)


def mid_month(offset):
    """A report day in that month (the 10th), as epoch seconds of begin."""
    d = month_start(offset).replace(day=10)
    return calendar.timegm(d.timetuple())


def part(table, offset):
    return "%s_y%04dm%02d" % (table, month_start(offset).year,
                              month_start(offset).month)


def dm(*args, db=None, env=ENV):
    argv = [D, args[0]] + (["--db", db] if db else []) + list(args[1:])
    return run(argv, env=env)


def ingest(db, name, dated, nrec=3, role_db=None):
    """One report per (label, begin epoch) of dated, nrec records each."""
    d = os.path.join(TMP, name)
    for label, begin in dated:
        write(os.path.join(d, "%s.xml" % label), report_xml(
            org="Rcv", report_id="%s-%s" % (name, label), begin=begin,
            end=begin + 86399, records=[
                dict(ip="192.0.2.%d" % (1 + i), count=10 + i)
                for i in range(nrec)]))
    r = run([D, "ingest", "-q", "--db", role_db or db, d], env=ENV)
    shutil.rmtree(d)
    return r


def q(dbname, sql):
    return pg.psql(dbname, sql).strip()


def partitions(dbname, table):
    return set(q(dbname, "SELECT c.relname FROM pg_inherits i JOIN pg_class"
                 " c ON c.oid = i.inhrelid WHERE i.inhparent = '%s'::regclass"
                 % table).split())


# partitioned by month; every table the migration copies
PARTED = ("record", "sim_day")
TABLES = ("record", "dash_ip", "dash_ip_all", "sim_day")

# --- partitions made by the store --------------------------------------------
url = pg.createdb("ret")
OFFSETS = (0, -1, -12, -13, -14, -20, -40)
dated = [("m%d" % -o, mid_month(o)) for o in OFFSETS]
# a report of 1979 (the IETF's sample is dated so) and one of 2099: rows of
# months that get no partition of their own
dated += [("y1979", 302832000), ("y2099", 4084473600)]
r = ingest(url, "a", dated)
ok(r.returncode == 0 and q("ret", "SELECT count(*) FROM report") == "9" and
   q("ret", "SELECT count(*) FROM record") == "27",
   "nine reports of nine months stored, 27 records", r.stderr)
have = partitions("ret", "record")
want = {part("record", o) for o in OFFSETS + (1,)} | {"record_default"}
ok(have == want, "record: a partition for each month stored and the next"
   " one, and the default", sorted(have), sorted(want))
ok(partitions("ret", "sim_day") == {part("sim_day", o) for o in OFFSETS +
                                    (1,)} | {"sim_day_default"},
   "sim_day: the same months", sorted(partitions("ret", "sim_day")))
where = q("ret", "SELECT string_agg(p || ' ' || n, ',' ORDER BY p) FROM"
          " (SELECT tableoid::regclass::text p, count(*) n FROM record"
          " GROUP BY 1) s")
want = ",".join(sorted(["%s 3" % part("record", o) for o in OFFSETS] +
                       ["record_default 6"]))
ok(where == want, "each report's records in its month's partition, 1979's"
   " and 2099's in the default one", where, want)
ok(q("ret", "SELECT count(*) FROM sim_day_default") == "6" and
   q("ret", "SELECT count(*) FROM %s" % part("sim_day", -1)) == "3",
   "and their rollups likewise")

# a stranger's dates cannot make tables: twelve months of 2099 and 1971
far = [("f%02d" % i, 4070908800 + i * 31 * 86400) for i in range(12)]
far += [("o%02d" % i, 31536000 + i * 31 * 86400) for i in range(12)]
n_tables = q("ret", "SELECT count(*) FROM pg_class WHERE relkind = 'r'")
r = ingest(url, "far", far, nrec=1)
ok(r.returncode == 0 and q("ret", "SELECT count(*) FROM pg_class WHERE"
                           " relkind = 'r'") == n_tables and
   q("ret", "SELECT count(*) FROM record_default") == "30",
   "24 reports of 24 far months: stored, in the default partitions, not one"
   " table more", r.stderr, n_tables)

# a month's rows already in the default partition (written around the
# store) move into its partition when it is made
q("ret", "INSERT INTO record (domain, report, ordinal, source_ip, count,"
  " month) SELECT domain, id, 99, '198.51.100.1', 1, '%s' FROM report WHERE"
  " report_id = 'a-m1'" % month_start(-6))
ok(q("ret", "SELECT tableoid::regclass FROM record WHERE ordinal = 99") ==
   "record_default", "a row of a month without a partition: in the default"
   " one")
ok(q("ret", "SELECT dmarcd_partition('%s')" % month_start(-6)) ==
   str(month_start(-6)) and
   q("ret", "SELECT tableoid::regclass FROM record WHERE ordinal = 99") ==
   part("record", -6) and
   q("ret", "SELECT count(*) FROM record_default WHERE ordinal = 99") == "0",
   "dmarcd_partition() of that month: made, the row moved into it")
q("ret", "DELETE FROM record WHERE ordinal = 99")

# two ingests of one new month at once: both stored, one partition
procs = []
for n in range(2):
    d = os.path.join(TMP, "c%d" % n)
    for i in range(20):
        write(os.path.join(d, "%02d.xml" % i), report_xml(
            org="Rcv", report_id="c%d-%d" % (n, i),
            begin=mid_month(-7) + i * 3600, end=mid_month(-7) + 86399,
            records=[dict(ip="192.0.2.9", count=1)]))
    procs.append(subprocess.Popen([D, "ingest", "-q", "--db", url, d],
                                  env=dict(os.environ, **ENV),
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE))
outs = [p.communicate(timeout=120) for p in procs]
ok(all(p.returncode == 0 for p in procs) and
   q("ret", "SELECT count(*) FROM %s" % part("record", -7)) == "40",
   "two concurrent ingests of a new month: every report stored in its one"
   " partition", *[o[1] for o in outs])

# the ingest role (dmarcd db grant --ingest) owns no table, yet a new
# month's partitions are made (dmarcd_partition is SECURITY DEFINER)
r = dm("db", "grant", "writer", "--ingest", db=url)
r2 = ingest(url, "w", [("m8", mid_month(-8))],
            role_db="postgresql:///ret?host=%s&user=writer" % pg.dir)
ok(r.returncode == 0 and r2.returncode == 0 and
   part("record", -8) in partitions("ret", "record"),
   "a report of a new month stored by the ingest role: its partitions made",
   r.stderr, r2.stderr)

# the rollup folder (dmarcd ingest's, dmarcd lmtp's) makes next month's
# partitions ahead, as the ingest role too: next month's first report then
# does not make them inside its transaction
for t in PARTED:
    q("ret", "DROP TABLE IF EXISTS %s" % part(t, 1))
gone_before = [part(t, 1) in partitions("ret", t) for t in PARTED]
r = ingest(url, "w", [("m8b", mid_month(-8))],
           role_db="postgresql:///ret?host=%s&user=writer" % pg.dir)
ok(r.returncode == 0 and gone_before == [False, False] and
   all(part(t, 1) in partitions("ret", t) for t in PARTED),
   "the rollup folder makes next month's partitions ahead", gone_before,
   r.stderr)

# and when a reader holds the default partition (ATTACH waits for it), the
# folder gives up after its lock timeout: the ingest stores its report all
# the same, and the partitions wait for the next try
for t in PARTED:
    q("ret", "DROP TABLE %s" % part(t, 1))
reader = subprocess.Popen([os.path.join(BIN, "psql"), "-X", "-q", "-At",
                           "-h", pg.dir, "-U", "postgres", "-d", "ret"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
reader.stdin.write(b"BEGIN;\nSELECT 'held', count(*) FROM record_default;\n")
reader.stdin.flush()
held = reader.stdout.readline()
n_before = q("ret", "SELECT count(*) FROM %s" % part("record", -8))
r = ingest(url, "w", [("m8c", mid_month(-8))],
           role_db="postgresql:///ret?host=%s&user=writer" % pg.dir)
reader.stdin.write(b"COMMIT;\n")
reader.stdin.close()
reader.wait(timeout=30)
ok(held.startswith(b"held|") and r.returncode == 0 and
   q("ret", "SELECT count(*) FROM %s" % part("record", -8)) ==
   str(int(n_before) + 3) and b"partitions ahead" in r.stderr and
   not any(part(t, 1) in partitions("ret", t) for t in PARTED),
   "the default partition held by a reader: the folder's partitions wait"
   " (a warning), the report is stored", held, r.returncode, r.stderr)
q("ret", "SELECT dmarcd_partitions_ahead()")     # as the next try would

# --- prune -------------------------------------------------------------------
# the settings: months or years, never a bare number; the rollups outlive
# the records
for text, err in (("retention = 13\n", b"not a duration (13mo, 2y or off)"),
                  ("retention = 13d\n", b"not a duration"),
                  ("retention = 101y\n", b"1212 months, more than 1200"),
                  ("retention = 2y\nrollup_retention = 13mo\n",
                   b"rollup_retention (13mo) is shorter than retention"
                   b" (24mo)"),
                  ("rollup_retention = 5y\n", b"rollup_retention needs"
                   b" retention")):
    bad = os.path.join(pg.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write(text)
    r = run([D, "check-config", "-f", bad], env=ENV)
    ok(r.returncode != 0 and err in r.stderr, "check-config refuses %r"
       % text, r.stderr)
r = run([D, "check-config", "-v", "-f", CONF], env=ENV)
ok(r.returncode == 0 and b"retention = 13mo" in r.stdout and
   b"rollup_retention = 36mo" in r.stdout, "and takes 13mo and 3y",
   r.stdout, r.stderr)
# without retention, prune drops nothing but still does the housekeeping:
# next month's partitions ahead, and the statistics of the partitioned
# tables themselves (pg_statistic rows of the parent: stainherit), which
# autovacuum never makes
STATS = ("SELECT count(*) FROM pg_statistic WHERE stainherit AND starelid ="
         " '%s'::regclass")
n_kept = q("ret", "SELECT count(*) FROM record")
# the migration made next month's partitions: gone (empty), prune's to make
for t in PARTED:
    q("ret", "DROP TABLE %s" % part(t, 1))
ahead = [part(t, 1) in partitions("ret", t) for t in PARTED]
stats = [q("ret", STATS % t) for t in PARTED]
r = dm("db", "prune", db=url, env=dict(ENV, DMARCD_CONF=os.devnull))
ok(r.returncode == 0 and b"retention is off" in r.stdout and
   b"nothing dropped" in r.stdout and
   q("ret", "SELECT count(*) FROM record") == n_kept,
   "db prune without retention: says so, drops nothing", r.stdout, r.stderr)
ok(ahead == [False, False] and
   all(part(t, 1) in partitions("ret", t) for t in PARTED) and
   b"made this and next month's partitions" in r.stdout,
   "and makes next month's partitions ahead", ahead, r.stdout)
ok(stats == ["0", "0"] and all(int(q("ret", STATS % t)) > 0
                                for t in PARTED),
   "and analyses record and sim_day themselves", stats,
   [q("ret", STATS % t) for t in PARTED])


def state():
    return (q("ret", "SELECT count(*) FROM record"),
            q("ret", "SELECT count(*) FROM report"),
            q("ret", "SELECT count(*) FROM report_document"),
            q("ret", "SELECT count(*) FROM dash_day"),
            q("ret", "SELECT count(*) FROM dash_ip"),
            sorted(partitions("ret", "record")))


before = state()
r = dm("db", "prune", "--dry-run", db=url)
out = r.stdout.decode()
gone = [o for o in OFFSETS if o < -13]
ok(r.returncode == 0 and all("would drop %s: 3 rows, " % part(t, o) in out
                             for t in PARTED for o in gone) and
   all(part(t, o) not in out for t in PARTED for o in (0, -1, -12, -13)) and
   "would delete from dash_ip: 24 rows" in out and
   "would delete from dash_ip_all: 24 rows" in out and
   "would delete from record_default: 15 rows" in out and
   "would delete from report_document: 16 rows" in out and
   "dry run: nothing dropped" in out,
   "--dry-run: the months older than 13 (whole partitions), the default"
   " partitions' rows of older months, the sources' rollups of those days,"
   " those reports' documents", out,
   r.stderr)
ok("records before %s:" % month_start(-13) in out and
   "rollups and reports before %s:" % month_start(-36) in out and
   "would delete from report: 14 rows" in out and
   "would delete from dash_day: 14 rows" in out,
   "and the per-day rollups and headers older than 3 years", out)
ok(state() == before, "--dry-run dropped nothing", state(), before)

# what the dashboard's per-day figures say of -14 and -20, kept
day_sql = ("SELECT coalesce(sum(messages), 0) FROM dash_day WHERE day"
           " BETWEEN '%s' AND '%s'" % (month_start(-20), month_start(-13)))
kept_days = q("ret", day_sql)
r = dm("db", "prune", db=url)
out = r.stdout.decode()
ok(r.returncode == 0 and all("dropped %s: 3 rows, " % part(t, o) in out
                             for t in PARTED for o in gone) and
   q("ret", "SELECT count(*) FROM dash_ip WHERE day < '%s'" %
     month_start(-13)) == "0" and
   q("ret", "SELECT count(*) FROM dash_ip_all WHERE day >= '%s'" %
     month_start(-13)) != "0",
   "db prune: drops the partitions, deletes the sources' rollups of those"
   " days", out, r.stderr)
have = partitions("ret", "record")
ok(not any(part(t, o) in partitions("ret", t) for t in PARTED
           for o in gone) and
   all(part(t, o) in partitions("ret", t) for t in PARTED
       for o in (0, -1, -12, -13, 1)),
   "the old months' partitions are gone from both tables, the others"
   " kept", sorted(have))
ok(q("ret", "SELECT count(*) FROM record") == str(int(before[0]) - 3 * 3 - 15)
   and q("ret", "SELECT count(*) FROM record r JOIN report p ON"
         " p.domain = r.domain AND p.id = r.report WHERE p.report_id IN"
         " ('a-m0', 'a-m1', 'a-m12', 'a-m13', 'a-y2099')") == "15",
   "record: every row of the kept months still there, those of the dropped"
   " ones and of 1971 and 1979 gone",
   q("ret", "SELECT count(*) FROM record"), before[0])
ok(q("ret", day_sql) == kept_days != "0" and
   q("ret", "SELECT count(*) FROM report WHERE report_id IN ('a-m14',"
     " 'a-m20')") == "2" and
   q("ret", "SELECT count(*) FROM report WHERE report_id IN ('a-m40',"
     " 'a-y1979')") == "0",
   "the per-day rollups and headers of -14 and -20 months kept"
   " (rollup_retention 3y), those older gone", kept_days)
ok(q("ret", "SELECT count(*) FROM report_document d JOIN report r ON"
     " r.domain = d.domain AND r.id = d.report WHERE r.report_id IN"
     " ('a-m14', 'a-m20')") == "0" and
   q("ret", "SELECT count(*) FROM report_document d JOIN report r ON"
     " r.domain = d.domain AND r.id = d.report WHERE r.report_id IN"
     " ('a-m0', 'a-m1')") == "2",
   "the documents of the pruned months gone, the others kept")

# the dashboard's report page of a pruned report says so (its header kept
# by rollup_retention, its records gone); a kept one shows its records
sport = httpdlib.free_port()
serve = subprocess.Popen([D, "serve", "--db", url, "--listen",
                          "127.0.0.1:%d" % sport, "--static-dir",
                          httpdlib.static_dir()], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, **ENV))
line = serve.stdout.readline().decode()


def report_api(report_id):
    domain, rid = q("ret", "SELECT domain || ' ' || id FROM report WHERE"
                    " report_id = '%s'" % report_id).split()
    with urllib.request.urlopen(
            "http://127.0.0.1:%d/api/report?%s" % (sport, urllib.parse.
            urlencode({"domain": domain, "id": rid})), timeout=30) as resp:
        return json.loads(resp.read())


try:
    old, new = report_api("a-m14"), report_api("a-m0")
finally:
    serve.terminate()
    serve.wait(timeout=30)
ok("dashboard at" in line and old["report"]["records_pruned"] is True and
   old["report"]["records"] == 3 and old["records"] == [] and
   old["document"] is None,
   "/api/report of a pruned report: records_pruned, no records, no"
   " document, its count kept", line, old)
ok(new["report"]["records_pruned"] is False and len(new["records"]) == 3 and
   new["document"] is not None,
   "and of a kept one: not pruned, its records and document", new)
r = dm("db", "prune", db=url)
ok(r.returncode == 0 and b"nothing dropped" in r.stdout,
   "db prune again: nothing more", r.stdout, r.stderr)
months = sorted(p[len("record_y"):].replace("m", "-") for p in
                partitions("ret", "record") if p != "record_default")
r = dm("db", "status", db=url)
ok(r.returncode == 0 and ("record months: %d, %s to %s\n" % (
    len(months), months[0], months[-1])).encode() in r.stdout,
   "db status: how many months of records, from when to when", r.stdout,
   months)
# a report sent again whose header was kept is still a duplicate
d = os.path.join(TMP, "again")
write(os.path.join(d, "m14.xml"), report_xml(
    org="Rcv", report_id="a-m14", begin=mid_month(-14),
    end=mid_month(-14) + 86399, records=[
        dict(ip="192.0.2.%d" % (1 + i), count=10 + i) for i in range(3)]))
r = run([D, "ingest", "--db", url, d], env=ENV)
ok(r.returncode == 0 and b"1 duplicates" in r.stdout + r.stderr and
   q("ret", day_sql) == kept_days,
   "a pruned report sent again: a duplicate, not counted twice",
   r.stdout, r.stderr)
shutil.rmtree(d)

# --- migration of a populated version-16 database -----------------------------
mig = pg.createdb("mig")
r = dm("db", "migrate", "--to", "16", db=mig)
ok(r.returncode == 0, "a database at version 16", r.stderr)
months = [month_start(o) for o in (0, -1, -5, -30)]
values = ",".join(
    "('m.example', 'o', 'm%d', timestamptz '%s 00:00+00', timestamptz '%s"
    " 23:59+00')" % (i, m.replace(day=3), m.replace(day=3))
    for i, m in enumerate(months))
values += (",('m.example', 'o', 'old', '1979-08-06 00:00+00',"
           " '1979-08-06 23:59+00')")
q("mig", "INSERT INTO report (domain, org_name, report_id, begin_time,"
  " end_time) VALUES " + values)
q("mig", "INSERT INTO record (domain, report, ordinal, source_ip, count,"
  " disposition, dkim, spf, header_from, dkim_domain, dkim_result)"
  " SELECT r.domain, r.id, o, ('192.0.2.' || o)::inet, o * 7, 'none',"
  " 'pass', 'fail', 'm.example', '{m.example}', '{pass}' FROM report r,"
  " generate_series(1, 25) o;"
  # a record whose report is missing, which the store never writes: kept
  " INSERT INTO record (domain, report, ordinal, source_ip, count) VALUES"
  " ('m.example', 999999, 1, '203.0.113.1', 5)")
q("mig", "INSERT INTO dash_ip SELECT 'm.example', d, '192.0.2.1', 5, 5, 0,"
  " 0, 1, '{m.example}', '{}' FROM unnest(ARRAY['%s', '%s', '1979-08-06']"
  "::date[]) d" % (months[0].replace(day=3), months[3].replace(day=3)))
q("mig", "INSERT INTO dash_ip_all SELECT day, source_ip, messages, pass,"
  " fail_quarantine, fail_reject, records, header_from, fail_header_from,"
  " '{m.example}' FROM dash_ip")
q("mig", "INSERT INTO auth_profile (domain, digest, hash, header_from,"
  " dkim_domain, dkim_result, spf_domain, spf_scope, spf_result,"
  " reason_type) VALUES ('m.example', '\\x01', 1, 'm.example', '{}', '{}',"
  " '{}', '{}', '{}', '{}'); INSERT INTO sim_day"
  " SELECT 'm.example', day, source_ip, p.id, 5 FROM dash_ip, auth_profile p")
COLS = q("mig", "SELECT string_agg(column_name, ', ' ORDER BY"
         " ordinal_position) FROM information_schema.columns WHERE"
         " table_name = 'record'")
SUMS = {t: ("SELECT count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY"
            " t::text)) FROM (SELECT %s FROM %s) t" %
            (COLS if t == "record" else "*", t)) for t in TABLES}
pre = {t: q("mig", SUMS[t]) for t in TABLES}
r = dm("db", "migrate", db=mig)
ok(r.returncode == 0 and b"from version 16 to 17" in r.stdout,
   "016 to 017 on a populated database", r.stdout, r.stderr)
post = {t: q("mig", SUMS[t]) for t in TABLES}
ok(pre == post and pre["record"].startswith("126 "),
   "every row of record, dash_ip, dash_ip_all and sim_day kept, unchanged"
   " (count and checksum of every column)", pre, post)
ok(q("mig", "SELECT count(*) FROM record WHERE month <>"
     " dmarcd_report_month((SELECT begin_time FROM report WHERE id ="
     " record.report), (SELECT end_time FROM report WHERE id ="
     " record.report))") == "0" and
   q("mig", "SELECT count(*) FROM record_default") == "26" and
   all(q("mig", "SELECT count(*) FROM %s" % ("record_y%04dm%02d" % (
       m.year, m.month))) == "25" for m in months),
   "each record in its report's month's partition; 1979's and the orphan in"
   " the default one")
ok(partitions("mig", "sim_day") >= {"sim_day_y%04dm%02d" % (m.year, m.month)
                                    for m in months},
   "sim_day's months partitioned likewise",
   sorted(partitions("mig", "sim_day")))
r = ingest(mig, "after", [("n", mid_month(-1))])
ok(r.returncode == 0 and q("mig", "SELECT count(*) FROM %s" %
                           part("record", -1)) == "28",
   "and the migrated database stores the next report", r.stderr)
done()
