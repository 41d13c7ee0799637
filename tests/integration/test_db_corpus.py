#!/usr/bin/env python3
"""test_db_corpus.py - the shared corpus through the store: every aggregate
report stored, export's per-report sums equal EXPECTED-aggregate.jsonl and
export equals parse; a second ingest changes nothing; every malformed file
ends as a report or in quarantine.  Reads ../shared/corpus in place."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, diag, skip_all, done, dmarcd, shared_dir  # noqa: E402
import pglib  # noqa: E402
from dbfix import run, json_lines  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402

shared = shared_dir()
if shared is None:
    skip_all("no shared corpus (DMARCD_SHARED)")
if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
D = dmarcd()
corpus = os.path.join(shared, "corpus")
pg = pglib.Cluster()
url = pg.createdb("corpus")
tmp = tempfile.mkdtemp(prefix="dmarcd-test-corpus-")
ENV = {"DMARCD_CONF": os.path.join(tmp, "empty.conf"), "DMARCD_DB": ""}
open(ENV["DMARCD_CONF"], "w").close()


def summary(out):
    m = re.search(rb"(\d+) messages, (\d+) reports, (\d+) records, (\d+) "
                  rb"duplicates, (\d+) quarantined, (\d+) failed", out)
    return tuple(int(x) for x in m.groups()) if m else None


def key(o):
    return (o["policy"]["domain"], o["org_name"], o["report_id"], o["begin"],
            o["end"])


agg = os.path.join(corpus, "aggregate")
r = run([D, "ingest", "--db", url, agg], env=ENV)
s = summary(r.stdout)
ok(r.returncode == 0 and s is not None and s[4] == 0 and s[5] == 0,
   "every aggregate file stored, none quarantined", r.stdout, r.stderr)
r = run([D, "export", "--db", url], env=ENV)
exported = json_lines(r.stdout.decode())
# the source fields (source_host) come after the parse fields; compared
# with parse without them
HOST = ["ptr", "ptr_verified", "service", "service_type", "asn", "as_org",
        "country"]
for o in exported:
    for x in o["records"]:
        if list(x.keys())[-7:] == HOST:
            for k in HOST:
                x.pop(k)
byk = {key(o): o for o in exported}
ok(r.returncode == 0 and len(byk) == len(exported), "export: unique reports",
   r.stderr)
expected = [json.loads(l) for l in open(os.path.join(
    corpus, "EXPECTED-aggregate.jsonl"))]
bad = []
for e in expected:
    k = (e["domain"], e["org_name"], e["report_id"], e["begin"], e["end"])
    o = byk.get(k)
    if o is None:
        bad.append(("missing", e["file"], k))
        continue
    recs = o["records"]
    disp = {}
    for rec in recs:
        disp[rec["disposition"]] = disp.get(rec["disposition"], 0) + \
            rec["count"]
    got = dict(records=len(recs), messages=sum(x["count"] for x in recs),
               disposition=disp,
               dkim_pass=sum(x["count"] for x in recs if x["dkim"] == "pass"),
               spf_pass=sum(x["count"] for x in recs if x["spf"] == "pass"))
    want = {f: e[f] for f in got}
    if got != want:
        bad.append((e["file"], got, want))
ok(not bad, "export sums equal EXPECTED-aggregate.jsonl for all %d reports"
   % len(expected), *bad[:5])
ok(len(byk) == len({(e["domain"], e["org_name"], e["report_id"], e["begin"],
                     e["end"]) for e in expected}),
   "one stored report per distinct expected report", len(byk))
files = []
for dp, dn, fn in os.walk(agg):
    files += [os.path.join(dp, f) for f in fn if not f.startswith(".")]
parsed = {}
for o in json_lines(run([D, "parse"] + sorted(files)).stdout.decode()):
    if o["type"] == "aggregate":
        o.pop("source")
        parsed.setdefault(key(o), o)
diff = [k for k, o in byk.items() if dict(o, source=None) !=
        dict(parsed.get(k, {}), source=None)]
ok(not diff, "export equals parse field for field", *diff[:5])
before = pg.psql("corpus", "SELECT (SELECT count(*) FROM report),"
                 " (SELECT count(*) FROM record), (SELECT sum(messages)"
                 " FROM daily)")
r = run([D, "ingest", "--db", url, agg], env=ENV)
s2 = summary(r.stdout)
ok(r.returncode == 0 and s2 is not None and s2[1] == 0 and
   pg.psql("corpus", "SELECT (SELECT count(*) FROM report),"
           " (SELECT count(*) FROM record), (SELECT sum(messages)"
           " FROM daily)") == before,
   "second ingest of the corpus changes no count", r.stdout, before)

mal = os.path.join(corpus, "malformed")
# an empty file is kept too ("input is empty"): nothing given is dropped
nfiles = sum(len([f for f in fn if not f.startswith(".")])
             for dp, dn, fn in os.walk(mal))
url2 = pg.createdb("malformed")
r = run([D, "ingest", "--db", url2, mal], env=ENV, timeout=600)
s = summary(r.stdout)
diag(r.stdout.decode().strip())
ok(s is not None and s[0] == nfiles and s[5] == 0,
   "malformed: all %d files committed, none failed" % nfiles, r.stdout,
   r.stderr[-2000:])
q = int(pg.psql("malformed", "SELECT sum(times_seen) FROM quarantine"))
ok(s is not None and q == s[4] and s[4] > 0,
   "malformed: every quarantined file has its row (%d)" % q)
done()
