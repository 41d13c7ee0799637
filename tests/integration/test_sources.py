#!/usr/bin/env python3
"""test_sources.py - `dmarcd sources` against a real PostgreSQL: over the
shared corpus (when present) and a synthetic one (gen-reports), each IP's
messages, dmarc_pass and domains equal the sums of `dmarcd export` of the
same period (all domains, one --domain, a --since/--until window); the
enrichment of source_host shown (a hostile PTR as stored in text, escaped
in JSON); exactly the documented keys; the text table aligned."""
import csv
import io
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, diag, skip_all, done, dmarcd, shared_dir  # noqa: E402
import pglib  # noqa: E402
from dbfix import run, json_lines  # noqa: E402

KEYS = ["ip", "ptr", "ptr_verified", "base_domain", "service",
        "service_type", "asn", "as_org", "country", "messages", "dmarc_pass",
        "domains"]

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
D = dmarcd()
shared = shared_dir()
gen = os.path.join(shared, "tools", "gen-reports") if shared else None
if gen is None or not os.access(gen, os.X_OK):
    gen = "/work/shared/tools/gen-reports"
    if not os.access(gen, os.X_OK):
        skip_all("no gen-reports (DMARCD_SHARED)")
pg = pglib.Cluster()
url = pg.createdb("sources")
tmp = tempfile.mkdtemp(prefix="dmarcd-test-sources-")
ENV = {"DMARCD_CONF": os.path.join(tmp, "empty.conf"), "DMARCD_DB": ""}
open(ENV["DMARCD_CONF"], "w").close()


def ipkey(ip):
    a = ipaddress.ip_address(ip)
    return (a.version, int(a))


def export_sums(args):
    """Per IP from export: messages, DMARC pass (dkim or spf 'pass', as
    dmarcd_record_pass), header_from domains."""
    r = run([D, "export", "--db", url] + args, env=ENV)
    if r.returncode != 0:
        return None
    s = {}
    for o in json_lines(r.stdout.decode()):
        for rec in o["records"]:
            e = s.setdefault(rec["source_ip"], [0, 0, set()])
            e[0] += rec["count"]
            if rec["dkim"] == "pass" or rec["spf"] == "pass":
                e[1] += rec["count"]
            if rec["header_from"] is not None:
                e[2].add(rec["header_from"])
    return s


def sources(args, fmt="json"):
    r = run([D, "sources", "--db", url, "--format", fmt] + args, env=ENV)
    if fmt != "json":
        return r
    return r, json_lines(r.stdout.decode()) if r.returncode == 0 else None


def compare(args, what):
    exp = export_sums(args)
    r, got = sources(args)
    ok(exp is not None and got is not None, "%s: export and sources run"
       % what, r.stderr)
    if exp is None or got is None:
        return
    bad = []
    for o in got:
        e = exp.get(o["ip"])
        if e is None or [o["messages"], o["dmarc_pass"], o["domains"]] != \
                [e[0], e[1], sorted(e[2], key=lambda d: d.encode())]:
            bad.append((o, e))
    ok(not bad and len(got) == len(exp) and len(got) > 0,
       "%s: %d IPs, per IP messages, dmarc_pass, domains = export sums"
       % (what, len(got)), *[repr(b) for b in bad[:5]])
    order = sorted(got, key=lambda o: (-o["messages"], ipkey(o["ip"])))
    ok([o["ip"] for o in got] == [o["ip"] for o in order],
       "%s: ordered by messages descending, then IP" % what)
    ok(all(list(o.keys()) == KEYS for o in got),
       "%s: exactly the documented keys, in order" % what)
    diag("%s: %d IPs, %d messages, %d pass (export: %d messages)" % (
        what, len(got), sum(o["messages"] for o in got),
        sum(o["dmarc_pass"] for o in got), sum(e[0] for e in exp.values())))


def psql(sql):
    pg.psql("sources", sql)


# the corpora
if shared is not None:
    r = run([D, "ingest", "-q", "--db", url,
             os.path.join(shared, "corpus", "aggregate")], env=ENV)
    ok(r.returncode in (0, 1), "shared corpus ingested", r.stderr)
else:
    diag("no shared corpus (DMARCD_SHARED): synthetic corpus only")
syn = os.path.join(tmp, "syn")
subprocess.run([gen, "--out", syn, "--reports", "300", "--max-records",
                "40", "--domains", "5", "--formats", "xml", "--seed", "13"],
               check=True, capture_output=True)
r = run([D, "ingest", "-q", "--db", url, os.path.join(syn, "xml")], env=ENV)
ok(r.returncode == 0, "synthetic corpus ingested", r.stderr)

compare([], "all domains")
r = run([D, "export", "--db", url], env=ENV)
reps = json_lines(r.stdout.decode())
doms = sorted({o["policy"]["domain"] for o in reps})
compare(["--domain", doms[len(doms) // 2]], "--domain " + doms[len(doms) // 2])
begins = sorted(o["begin"] for o in reps)
since, until = begins[len(begins) // 4], begins[3 * len(begins) // 4]
compare(["--since", str(since), "--until", str(until)],
        "--since %d --until %d" % (since, until))
d0 = next(o["policy"]["domain"] for o in reps if o["begin"] == since)
day = time.strftime("%Y-%m-%d", time.gmtime(since))
end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
compare(["--since", day, "--until", end, "--domain", d0],
        "--since %s --until %s --domain %s" % (day, end, d0))
n_all = len(sources([])[1])
ok(0 < len(sources(["--since", str(since), "--until", str(until)])[1]) < n_all,
   "the window selects fewer IPs than all (%d)" % n_all)

# enrichment, as the enricher would write it
_, got = sources([])
ip0, ip1, ip2 = got[0]["ip"], got[1]["ip"], got[2]["ip"]
ok(all(o["ptr"] is None and o["ptr_verified"] is False and o["asn"] is None
       and o["service"] is None for o in got),
   "unenriched (pending) IPs: null fields, ptr_verified false")
HOSTILE = r"<script>alert(1)</script>.\195\169\010x.example"
psql("UPDATE source_host SET state = 'ok', ptr = "
     "'a8-30.smtp-out.amazonses.com', ptr_verified = true, base_domain = "
     "'amazonses.com', service = 'Amazon SES', service_type = "
     "'transactional', asn = 16509, as_org = 'Amazon.com, Inc.', country = "
     "'US' WHERE ip = '%s'" % ip0)
psql("UPDATE source_host SET state = 'ok', ptr = '%s', ptr_verified = false,"
     " country = 'DE' WHERE ip = '%s'" % (HOSTILE, ip1))
_, got = sources([])
by = {o["ip"]: o for o in got}
ok([by[ip0][k] for k in KEYS[1:9]] == [
    "a8-30.smtp-out.amazonses.com", True, "amazonses.com", "Amazon SES",
    "transactional", 16509, "Amazon.com, Inc.", "US"],
   "enriched fields in JSON", repr(by[ip0]))
ok(by[ip1]["ptr"] == HOSTILE and by[ip1]["ptr_verified"] is False and
   by[ip1]["country"] == "DE" and by[ip1]["service"] is None,
   "hostile PTR returned as stored in JSON", repr(by[ip1]))
r = run([D, "sources", "--db", url], env=ENV)
raw = r.stdout.decode()
ok('"<script>alert(1)</script>.\\\\195\\\\169\\\\010x.example"' in raw,
   "JSON escapes the PTR's backslashes")

r = sources([], "text")
lines = r.stdout.decode().split("\n")
ok(r.returncode == 0 and lines[-1] == "" and len(lines) == n_all + 2,
   "text: a header and one line per IP", r.stderr)
head = lines[0]
cols = ["IP", "HOSTNAME", "SERVICE", "TYPE", "ASN", "AS ORG", "CC",
        "MESSAGES", "PASS", "DOMAINS"]
starts = [head.index(c) for c in cols]
ok(starts == sorted(starts) and starts[0] == 0, "text: header columns")
body = lines[1:-1]
t0 = next(l for l in body if l.startswith(ip0 + " "))
t1 = next(l for l in body if l.startswith(ip1 + " "))
ok(t0[starts[1]:].startswith("a8-30.smtp-out.amazonses.com ") and
   t0[starts[2]:].startswith("Amazon SES ") and
   t0[starts[4]:].startswith("AS16509 ") and
   t0[starts[6]:].startswith("US "), "text: enriched row aligned", t0)
ok(t1[starts[1]:].startswith(HOSTILE + "? "),
   "text: hostile PTR as stored, marked unverified", t1)
# every row's columns start where the header's do (before DOMAINS)
bad = [l for l in body if any(l[s - 2:s] != "  " or l[s] == " "
                              for s in starts[1:7])]
ok(not bad, "text: every left-aligned column starts under its header",
   *bad[:3])
mend = head.index("MESSAGES") + len("MESSAGES")
bad = [l for l in body if not l[:mend].rstrip().split(" ")[-1].isdigit()
       or l[mend] != " "]
ok(not bad, "text: messages right-aligned under the header", *bad[:3])
ok(all(l.split()[0] == o["ip"] for l, o in zip(body, got)),
   "text: same order as JSON")

r = run([D, "sources", "--db", url, "--format", "yaml"], env=ENV)
ok(r.returncode == 64, "bad --format: usage status", r.stderr)
r = run([D, "sources", "--db", url, "--since", "yesterday"], env=ENV)
ok(r.returncode == 64 and b"--since" in r.stderr, "bad --since: usage status",
   r.stderr)
# export carries the same source fields, JSON and CSV
HOST = ["ptr", "ptr_verified", "service", "service_type", "asn", "as_org",
        "country"]
r = run([D, "export", "--db", url], env=ENV)
recs = {}
for o in json_lines(r.stdout.decode()):
    for x in o["records"]:
        recs.setdefault(x["source_ip"], x)
ok(list(recs[ip0].keys())[-7:] == HOST and [recs[ip0][k] for k in HOST] == [
    "a8-30.smtp-out.amazonses.com", True, "Amazon SES", "transactional",
    16509, "Amazon.com, Inc.", "US"], "export JSON: source fields",
   repr(recs[ip0]))
ok(recs[ip1]["ptr"] == HOSTILE and recs[ip1]["ptr_verified"] is False and
   recs[ip2]["ptr"] is None and recs[ip2]["asn"] is None,
   "export JSON: hostile PTR as stored, unknown as null")
r = run([D, "export", "--db", url, "--format", "csv"], env=ENV)
rows = list(csv.reader(io.StringIO(r.stdout.decode(), newline="")))
ok(rows[0][-7:] == HOST and all(len(x) == len(rows[0]) for x in rows),
   "export CSV: the source columns last, on every row", rows[0])
c = {x[rows[0].index("source_ip")]: dict(zip(rows[0], x)) for x in rows[1:]}
ok([c[ip0][k] for k in HOST] == [
    "a8-30.smtp-out.amazonses.com", "true", "Amazon SES", "transactional",
    "16509", "Amazon.com, Inc.", "US"] and c[ip1]["ptr"] == HOSTILE and
   c[ip2]["ptr_verified"] == "false" and c[ip2]["asn"] == "",
   "export CSV: source fields", c[ip0], c[ip1])
check = os.path.join(os.path.dirname(gen), "check-parse.py")
if shared is not None and os.access(check, os.X_OK):
    out = os.path.join(tmp, "export.jsonl")
    with open(out, "wb") as f:
        f.write(run([D, "export", "--db", url], env=ENV).stdout)
    r = subprocess.run([check, os.path.join(shared, "corpus",
                        "EXPECTED-aggregate.jsonl"), out],
                       capture_output=True)
    ok(r.returncode == 0, "check-parse.py accepts export with source fields",
       r.stdout[-300:], r.stderr[-300:])
    diag(r.stdout.decode().strip().split("\n")[-1])
pg.stop()
done()
