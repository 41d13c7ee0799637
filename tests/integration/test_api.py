#!/usr/bin/env python3
"""test_api.py - `dmarcd serve` against a real PostgreSQL (run unprivileged)
loaded by `dmarcd ingest` from the shared corpus plus hostile fixtures, with
curl: every endpoint, figures equal to `dmarcd export`, 400s with reasons,
404s, traversal refused, headers (CSP, nosniff, caching, gzip), the
quarantine download, the rollups read without touching record (a role that
may not read it), and authentication over TLS."""
import collections
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpdlib  # noqa: E402
import pglib  # noqa: E402
import testlib  # noqa: E402
from testlib import ok  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JUNK = os.path.join(httpdlib.TESTS, "data", "httpd", "not-a-report.eml")
# a failing record of count 0 (192.0.2.200) beside one of 4 (192.0.2.201)
ZERO = os.path.join(httpdlib.TESTS, "data", "httpd", "zero-count.xml")
# a failure report of example.org arriving 2023-11-15, a TLS report of
# example.org for 2023-11-14: the spans /api/meta gives of each kind
FORENSIC = os.path.join(httpdlib.TESTS, "data", "forensic", "auth-failure.eml")
TLSRPT = os.path.join(httpdlib.TESTS, "data", "tlsrpt", "report.json")
ALL = "from=1970-01-01&to=2069-12-31"
HOSTILE_ORG = "<img src=x onerror=alert(1)>"

D = testlib.dmarcd()
shared = testlib.shared_dir()
if shared is None:
    testlib.skip_all("DMARCD_SHARED corpus absent")
if pglib.find_bindir() is None:
    testlib.skip_all("PostgreSQL not installed")
if shutil.which("curl") is None:
    testlib.skip_all("curl not installed")

dash = httpdlib.Dashboard(D, httpdlib.corpus_files(shared) +
                          [httpdlib.HOSTILE, JUNK, ZERO, FORENSIC, TLSRPT])
ok(dash.ingest_rc in (0, 1), "corpus ingested", dash.ingest_err[-2000:])
dash.serve()


def get(path, *args):
    return httpdlib.curl(dash.base + path, *args)


def jget(path, *args):
    s, h, b = get(path, *args)
    try:
        return s, h, json.loads(b)
    except ValueError:
        return s, h, {"_raw": b[:300]}


# --- every endpoint answers JSON with the security headers ----------------
ENDPOINTS = ["/api/meta", "/api/overview?" + ALL, "/api/alignment?" + ALL,
             "/api/sources?" + ALL, "/api/source?ip=192.0.2.66&" + ALL,
             "/api/reporters?" + ALL, "/api/reports?" + ALL,
             "/api/quarantine", "/api/quarantine?all=1", "/api/forensic",
             "/api/tlsrpt"]
for ep in ENDPOINTS:
    s, h, j = jget(ep)
    ok(s == 200 and h.get("content-type", "").startswith("application/json")
       and "_raw" not in j, "GET %s: 200 JSON" % ep, s, h, j)
s, h, _ = get("/api/meta")
ok("default-src 'self'" in h.get("content-security-policy", "") and
   "frame-ancestors 'none'" in h.get("content-security-policy", "") and
   "unsafe-inline" not in h.get("content-security-policy", ""),
   "CSP: self only, no inline script, no framing", h)
ok(h.get("x-content-type-options") == "nosniff", "nosniff")
ok(h.get("cache-control") == "no-store", "API responses are not cached")
# the latest day of failure and TLS reports, which the dashboard's empty
# states name and its "all time" reaches (not the aggregate reports' span)
_, _, meta = jget("/api/meta")
ok(meta.get("forensic_domains") == [{"domain": "example.org",
                                     "first_day": "2023-11-15",
                                     "last_day": "2023-11-15"}],
   "meta: the span of the failure reports per domain",
   meta.get("forensic_domains"))
ok(meta.get("tlsrpt_domains") == [{"domain": "example.org",
                                   "first_day": "2023-11-14",
                                   "last_day": "2023-11-14"}],
   "meta: the span of the TLS reports per policy domain",
   meta.get("tlsrpt_domains"))

# --- figures equal what the reports say (dmarcd export) -------------------
r = subprocess.run([D, "export", "--db", dash.url], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, env=dash.env)
want = collections.defaultdict(lambda: collections.Counter())
for line in r.stdout.decode().splitlines():
    rep = json.loads(line)
    dom = rep["policy"]["domain"]
    want[dom]["reports"] += 1
    for rec in rep["records"]:
        c = rec["count"]
        want[dom]["messages"] += c
        want[dom]["records"] += 1
        if rec.get("dkim") == "pass" or rec.get("spf") == "pass":
            want[dom]["pass"] += c
        if rec.get("spf") == "pass":
            want[dom]["spf_aligned"] += c
        if rec.get("dkim") == "pass":
            want[dom]["dkim_aligned"] += c
ok(r.returncode == 0 and len(want) > 10, "export for the expected figures",
   r.stderr)
_, _, ov = jget("/api/overview?" + ALL)
got = {d["domain"]: d for d in ov.get("domains", [])}
bad = []
for dom, w in want.items():
    if w["messages"] == 0:
        continue
    g = got.get(dom, {})
    for k in ("messages", "pass", "spf_aligned", "dkim_aligned", "records",
              "reports"):
        if g.get(k) != w[k]:
            bad.append("%s %s: api %s, export %s" % (dom, k, g.get(k), w[k]))
ok(not bad, "overview per domain equals the stored reports", *bad)
total = sum(w["messages"] for w in want.values())
ok(sum(d["pass"] + d["fail_none"] + d["fail_quarantine"] + d["fail_reject"]
       for d in ov["days"]) <= total and
   sum(d["pass"] for d in ov["days"]) == sum(w["pass"] for w in
                                            want.values()),
   "daily series sums to the totals")
# every source page together gives every message
seen, off, pages = 0, 0, 0
while pages < 50:
    _, _, sp = jget("/api/sources?%s&limit=500&offset=%d" % (ALL, off))
    rows = sp.get("sources", [])
    seen += sum(x["messages"] for x in rows)
    if len(rows) < 500:
        break
    off += 500
    pages += 1
ok(seen == total, "sources add up to every message (%d)" % total, seen)
_, _, rp = jget("/api/reporters?" + ALL)
ok(sum(x["reports"] for x in rp["reporters"]) ==
   sum(w["reports"] for w in want.values()), "reporters count every report")
_, _, one = jget("/api/overview?%s&domain=hostile.example" % ALL)
ok([(d["messages"], d["pass"], d["reports"]) for d in one["domains"]] ==
   [(10, 3, 1)], "domain filter", one)
_, _, one = jget("/api/overview?%s&reporter=%s" % (ALL, "google.com"))
ok(0 < sum(d["messages"] for d in one["domains"]) < total,
   "reporter filter", one)
_, _, one = jget("/api/overview?from=2025-05-01&to=2025-05-01&"
                 "domain=hostile.example")
ok(one["days"] == [{"day": "2025-05-01", "pass": 3, "fail_none": 0,
                    "fail_quarantine": 0, "fail_reject": 7}],
   "period filter, and the day rule (middle of the period, UTC)", one)
_, _, al = jget("/api/alignment?%s&domain=hostile.example" % ALL)
ok({(x["reason"], x["messages"]) for x in al["reasons"]} ==
   {("forwarded", 7), ("", 3)} and
   {(x["selector"], x["messages"], x["pass"]) for x in al["selectors"]} ==
   {("<i>sel", 7, 0), ("s1", 3, 3)}, "alignment: reasons and selectors", al)
# failing sources are the IPs with failing messages: a failing record that
# counts 0 messages lists its IP among the sources, not among the failing
for q in ("domain=zero.example", "reporter=Zero%20Receiver"):
    _, _, al = jget("/api/alignment?%s&%s" % (ALL, q))
    _, _, so = jget("/api/sources?%s&%s" % (ALL, q))
    ok([(x["ip"], x["messages"], x["reject"]) for x in
        al["failing_sources"]] == [("192.0.2.201", 4, 4)] and
       sorted((x["ip"], x["messages"], x["fail"]) for x in so["sources"]) ==
       [("192.0.2.200", 0, 0), ("192.0.2.201", 4, 4)],
       "failing sources: only IPs with failing messages (%s)" % q,
       al.get("failing_sources"), so.get("sources"))

# --- who each source is (source_host, as the enricher leaves it) ----------
# the rollup queued every address; name two of zero.example's as the
# enricher would, one of them with a hostile, unverified PTR name
n_hosts = dash.pg.psql("dmarcd", "SELECT count(*) FILTER (WHERE state ="
                       " 'pending'), count(*), (SELECT count(DISTINCT"
                       " source_ip) FROM record) FROM source_host").split("|")
ok(n_hosts[0].strip() == n_hosts[1].strip() == n_hosts[2].strip() and
   int(n_hosts[1]) > 10, "every source IP is queued for enrichment", n_hosts)
dash.pg.psql("dmarcd", "UPDATE source_host SET state = 'ok', ptr ="
             " 'a8-30.smtp-out.amazonses.com', ptr_verified = true,"
             " service = 'Amazon SES', service_type = 'esp', asn = 16509,"
             " as_org = 'AMAZON-02', country = 'US', classified = now()"
             " WHERE ip = '192.0.2.201'; UPDATE source_host SET state = 'ok',"
             " ptr = '<script>x\\200.example', ptr_verified = false"
             " WHERE ip = '192.0.2.200'")
_, _, so = jget("/api/sources?%s&domain=zero.example&sort=service&order=asc"
                % ALL)
hosts = [(x["ip"], x["ptr"], x["ptr_verified"], x["service"],
          x["service_type"], x["asn"], x["as_org"], x["country"])
         for x in so.get("sources", [])]
ok(hosts == [("192.0.2.201", "a8-30.smtp-out.amazonses.com", True,
              "Amazon SES", "esp", 16509, "AMAZON-02", "US"),
             ("192.0.2.200", "<script>x\\200.example", False, None, None,
              None, None, None)],
   "sources: host, service, type, AS and country; sorted by service", hosts)
_, _, so = jget("/api/sources?%s&service=Amazon%%20SES" % ALL)
_, _, st = jget("/api/sources?%s&type=esp" % ALL)
_, _, sn = jget("/api/sources?%s&domain=zero.example&service=" % ALL)
ok([x["ip"] for x in so.get("sources", [])] == ["192.0.2.201"] and
   [x["ip"] for x in st.get("sources", [])] == ["192.0.2.201"] and
   [x["ip"] for x in sn.get("sources", [])] == ["192.0.2.200"],
   "sources: filtered by service, by type, and by none found", so, st, sn)
_, _, sv = jget("/api/services?%s&domain=zero.example" % ALL)
ok(sorted((x["service"], x["service_type"], x["ips"], x["messages"])
          for x in sv.get("services", [])) ==
   [("", "", 1, 0), ("Amazon SES", "esp", 1, 4)],
   "services: the sources grouped by service", sv)
_, _, al = jget("/api/alignment?%s&domain=zero.example" % ALL)
_, _, one = jget("/api/source?%s&ip=192.0.2.201" % ALL)
ok([(x["ip"], x["service"], x["ptr"]) for x in al["failing_sources"]] ==
   [("192.0.2.201", "Amazon SES", "a8-30.smtp-out.amazonses.com")] and
   one.get("host", {}).get("service") == "Amazon SES" and
   one["host"].get("state") == "ok",
   "failing sources and the source drill-down name the host", al, one)
s, _, j = jget("/api/sources?%s&service=%%01" % ALL)
ok(s == 400 and "service" in j.get("error", ""),
   "service: control characters refused", s, j)

# --- the reports behind a figure, drill-down, detail, hostile strings ------
_, _, rl = jget("/api/reports?%s&domain=hostile.example" % ALL)
ok(len(rl["reports"]) == 1 and rl["reports"][0]["org_name"] == HOSTILE_ORG
   and rl["reports"][0]["report_id"] == "q\"u'o`te\nnew<b>line",
   "hostile report listed with its strings intact (JSON-escaped)", rl)
_, _, rl2 = jget("/api/reports?%s&ip=2001:db8::1" % ALL)
ok([x["domain"] for x in rl2["reports"]] == ["hostile.example"],
   "reports filtered by source IP")
rid = rl["reports"][0]["id"]
_, _, det = jget("/api/report?domain=hostile.example&id=%d" % rid)
HOSTILE_XML = open(httpdlib.HOSTILE, "rb").read()
ok(det["report"]["org_email"] == '"><script>alert(3)</script>@evil.example'
   and len(det["records"]) == 2 and
   det["document"] == {"size": len(HOSTILE_XML), "kept": True},
   "report detail with records and its document's size", det)

# --- the report's XML as it arrived (report_document, sql/010) -------------
DOC = "/api/report/document?domain=hostile.example&id=%d" % rid
s, h, b = get(DOC)
ok(s == 200 and b == HOSTILE_XML and
   h.get("content-type") == "application/xml" and
   h.get("content-disposition") == 'attachment; filename="report-%d.xml"'
   % rid and h.get("x-content-type-options") == "nosniff" and
   "content-encoding" not in h,
   "document: the bytes as they arrived, a download, inflated for a client"
   " without gzip", s, h, b[:200])
s, h, b = get(DOC, "-H", "Accept-Encoding: gzip")
ok(s == 200 and h.get("content-encoding") == "gzip" and
   gzip.decompress(b) == HOSTILE_XML,
   "document: sent gzipped as stored when the client takes gzip", s, h)
s, _, j = jget("/api/report/document?domain=hostile.example&id=999999")
ok(s == 404 and "error" in j, "document: unknown report 404", s, j)
# every stored report's document hashes to the report's sha256: zip, gzip,
# email and bare XML alike, byte for byte
_, _, every = jget("/api/reports?%s&limit=500" % ALL)
bad = []
for rep in every["reports"]:
    _, _, dj = jget("/api/report?domain=%s&id=%d" % (
        urllib.parse.quote(rep["domain"]), rep["id"]))
    s, _, b = get("/api/report/document?domain=%s&id=%d" % (
        urllib.parse.quote(rep["domain"]), rep["id"]))
    if s != 200 or hashlib.sha256(b).hexdigest() != dj["report"]["sha256"] \
            or len(b) != dj["document"]["size"]:
        bad.append((rep["domain"], rep["id"], s))
ok(len(every["reports"]) > 50 and not bad,
   "each of %d reports' documents: its sha256 and size" %
   len(every["reports"]), bad[:5])
_, _, src = jget("/api/source?ip=192.0.2.66&" + ALL)
ok(src["records"][0]["reason_type"] == ["forwarded"] and
   src["summary"][0]["messages"] == 7, "source drill-down", src)
_, _, pg1 = jget("/api/reports?%s&limit=2" % ALL)
_, _, pg2 = jget("/api/reports?%s&limit=2&offset=2" % ALL)
ok(len(pg1["reports"]) == 2 and len(pg2["reports"]) == 2 and
   {x["id"] for x in pg1["reports"]}.isdisjoint(x["id"] for x in
                                                pg2["reports"]),
   "pagination: limit and offset")
s, h, b = get("/api/reports?" + ALL)
ok(b"<img" in b and b"\\n" in b, "strings go out JSON-encoded, not altered")

# --- quarantine and its download -----------------------------------------
_, _, q = jget("/api/quarantine")
ok(len(q["quarantine"]) == 1 and q["quarantine"][0]["size"] ==
   os.path.getsize(JUNK), "quarantine lists the junk message", q)
qr = q["quarantine"][0]
s, h, b = get("/api/quarantine/raw?domain=%s&id=%d" % (qr["domain"],
                                                        qr["id"]))
ok(s == 200 and b == open(JUNK, "rb").read() and
   h.get("content-type") == "application/octet-stream" and
   h.get("content-disposition", "").startswith("attachment"),
   "quarantine download: the bytes, as an attachment", h)
s, _, j = jget("/api/quarantine/raw?id=999999")
ok(s == 404 and "error" in j, "quarantine download: unknown id 404")

# --- bad parameters: 400 with a message ------------------------------------
BAD = ["/api/overview?from=yesterday", "/api/overview?from=2023-02-30",
       "/api/overview?from=2024-02-01&to=2024-01-01",
       "/api/overview?from=1800-01-01", "/api/sources?limit=0",
       "/api/sources?limit=501", "/api/sources?offset=-1",
       "/api/sources?sort=messages;DROP%20TABLE%20report",
       "/api/sources?order=sideways", "/api/overview?bogus=1",
       "/api/overview?domain=a&domain=b", "/api/overview?domain=a%01b",
       "/api/source?ip=999.1.1.1", "/api/source", "/api/report?domain=x",
       "/api/report?domain=x&id=abc", "/api/reports?ip=1.2.3.4/8",
       "/api/report/document?domain=x", "/api/report/document?id=1",
       "/api/quarantine?all=yes", "/api/meta?x=1",
       "/api/overview?" + "&".join("k%d=1" % i for i in range(20)),
       "/api/overview?domain=" + "a" * 2000]
for p in BAD:
    s, h, j = jget(p)
    ok(s == 400 and isinstance(j.get("error"), str) and j["error"],
       "400 %s: %s" % (p[:60], j.get("error")), s, j)

# --- unknown paths, methods, traversal --------------------------------------
for p in ["/api/nope", "/api/", "/nope", "/static/nope.js",
          "/static/vendor/chart.js"]:
    s, _, _ = get(p)
    ok(s == 404, "404 %s" % p, s)
s, h, _ = get("/api/meta", "-X", "POST", "-d", "x=1")
ok(s == 405 and "GET" in h.get("allow", ""), "POST refused with 405", s)
for p in ["/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
          "/static/..%2f..%2fetc%2fpasswd", "/static/%252e%252e/etc/passwd",
          "//etc/passwd", "/static//etc/passwd", "/static/..\\..\\etc",
          "/%2e%2e/%2e%2e/etc/passwd"]:
    s, _, b = get(p)
    ok(s in (400, 404) and b"root:" not in b, "traversal refused: %s -> %d"
       % (p, s))
s, h, b = get("/static/app.js%00.html")
ok(s in (400, 404) or (h.get("content-type", "").startswith("text/javascript")
                       and b"root:" not in b), "NUL: cut, never a file "
   "outside static/")

# --- static files: types, caching, compression ----------------------------
TYPES = {"/": "text/html", "/static/app.js": "text/javascript",
         "/static/app.css": "text/css",
         "/static/vendor/chart.min.js": "text/javascript",
         "/static/favicon.svg": "image/svg+xml"}
for p, t in TYPES.items():
    s, h, b = get(p)
    ok(s == 200 and h.get("content-type", "").startswith(t) and
       h.get("etag") and h.get("last-modified"), "%s: %s, ETag" % (p, t), h)
s, h, b = get("/static/app.js", "-H", "Accept-Encoding: gzip")
ok(h.get("content-encoding") == "gzip" and
   gzip.decompress(b) == open(os.path.join(httpdlib.static_dir(), "app.js"),
                              "rb").read(), "gzip when accepted")
s, h2, _ = get("/static/app.js", "-H", "If-None-Match: " + h.get("etag", ""))
ok(s == 304, "304 on a current ETag", s)
s, h, _ = get("/static/vendor/chart.min.js")
ok("max-age" in h.get("cache-control", ""), "vendor files cached", h)
s, h, b = get("/api/sources?limit=500&" + ALL, "-H", "Accept-Encoding: gzip")
ok(h.get("content-encoding") == "gzip" and
   json.loads(gzip.decompress(b))["sources"], "API gzip when accepted")
s, h, b = get("/", "-I")
ok(s == 200 and b"<!doctype" not in b and h.get("etag"),
   "HEAD answers headers only")
dash.stop()

# --- /api/simulate: the figures of `dmarcd simulate` ------------------------
dash.serve()
for qs, args in (("p=reject&pct=50", ["--p", "reject", "--pct", "50"]),
                 ("p=quarantine&sp=reject&adkim=s&aspf=s",
                  ["--p", "quarantine", "--sp", "reject", "--adkim", "s",
                   "--aspf", "s"]),
                 ("", [])):
    s, _, j = jget("/api/simulate?" + ALL + ("&" + qs if qs else ""))
    r = subprocess.run([D, "simulate", "--db", dash.url, "--since",
                        "1970-01-01", "--until", "2070-01-01"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    cli = [json.loads(line) for line in r.stdout.decode().splitlines()]
    ok(s == 200 and r.returncode == 0 and len(cli) > 5 and
       sorted(j.get("domains", []), key=lambda o: o["domain"]) ==
       sorted(cli, key=lambda o: o["domain"]),
       "/api/simulate?%s: every domain as dmarcd simulate %s" %
       (qs, " ".join(args)), s, r.stderr.decode()[-300:])
# over bounded periods the simulator's rollup counts the days the
# overview's does (the day rule: middle of the report's period, UTC):
# every domain's messages, and its pass under the receivers' own alignment
# modes is not compared (the simulator recomputes it)
days = sorted({d["day"] for d in ov["days"]})
for lo, hi in ((days[0], days[len(days) // 2]),
               (days[len(days) // 3], days[-1]),
               (days[len(days) // 2], days[len(days) // 2])):
    q = "from=%s&to=%s" % (lo, hi)
    _, _, a = jget("/api/overview?" + q)
    _, _, b = jget("/api/simulate?" + q)
    want_m = {d["domain"]: d["messages"] for d in a["domains"]
              if d["messages"]}
    got_m = {d["domain"]: d["messages"] for d in b["domains"]
             if d["messages"]}
    ok(got_m == want_m and sum(want_m.values()) > 0,
       "/api/simulate?%s: each domain's messages as the overview's" % q,
       want_m, got_m)
# with approved senders: a source rule (cidr) and a results rule (dkim)
# of a domain, so the rollup's cached classes meet both kinds
dom = next(o for o in cli if len(o["sources"]) >= 2)
for rule in (["cidr", dom["sources"][0]["ip"]], ["dkim", dom["domain"]]):
    r = subprocess.run([D, "senders", "--db", dash.url, "add",
                        dom["domain"]] + rule, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    ok(r.returncode == 0, "senders add %s" % " ".join(rule), r.stderr)
s, _, j = jget("/api/simulate?p=reject&" + ALL)
r = subprocess.run([D, "simulate", "--db", dash.url, "--since", "1970-01-01",
                    "--until", "2070-01-01", "--p", "reject"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
cli = [json.loads(line) for line in r.stdout.decode().splitlines()]
mine = [o for o in cli if o["domain"] == dom["domain"]]
ok(s == 200 and r.returncode == 0 and
   sorted(j.get("domains", []), key=lambda o: o["domain"]) ==
   sorted(cli, key=lambda o: o["domain"]) and
   mine[0]["by_class"]["approved"]["messages"] > 0 and
   mine[0]["sources"][0]["class"] == "approved",
   "/api/simulate with approved senders: as dmarcd simulate", mine)
s, _, j = jget("/api/simulate?domain=hostile.example&p=reject&" + ALL)
ok(s == 200 and [o["domain"] for o in j.get("domains", [])] ==
   ["hostile.example"] and j["domains"][0]["policy"]["p"] == "reject",
   "/api/simulate for one domain", j)
for bad, msg in (("p=block", "p: expected none, quarantine or reject"),
                 ("pct=101", "pct: expected 0..100"),
                 ("adkim=x", "adkim: expected r or s"),
                 ("testing=maybe", "testing: expected y or n"),
                 ("top=5", "unknown parameter: top"),
                 ("p=reject&p=none", "repeated parameter: p")):
    s, _, j = jget("/api/simulate?" + bad)
    ok(s == 400 and j.get("error") == msg, "/api/simulate?%s: 400" % bad,
       s, j)
s, _, j = jget("/api/sources?p=reject&" + ALL)
ok(s == 400, "policy parameters only where they mean something", s, j)
dash.stop()

# --- a symlink in static/ pointing out is not served ------------------------
tmp = tempfile.mkdtemp(prefix="dmarcd-static-")
for f in os.listdir(httpdlib.static_dir()):
    shutil.copy(os.path.join(httpdlib.static_dir(), f), tmp)
os.symlink("/etc/passwd", os.path.join(tmp, "passwd.txt"))
old = httpdlib.static_dir
httpdlib.static_dir = lambda: tmp
dash.serve()
s, _, b = get("/static/passwd.txt")
ok(s == 404 and b"root:" not in b, "symlink out of static/ not served", s)
dash.stop()
httpdlib.static_dir = old

# --- the rollups are read, not record: a role without access to record ----
dash.pg.psql("dmarcd", "CREATE ROLE dash LOGIN; GRANT SELECT ON ALL TABLES "
             "IN SCHEMA public TO dash; REVOKE SELECT ON record FROM dash")
url, dash.url = dash.url, dash.url.replace("user=postgres", "user=dash")
dash.serve()
for ep in ["/api/meta", "/api/overview?" + ALL, "/api/alignment?" + ALL,
           "/api/sources?" + ALL, "/api/reporters?" + ALL]:
    s, _, j = jget(ep)
    ok(s == 200, "%s without SELECT on record" % ep.split("?")[0], s, j)
s, _, j = jget("/api/report?domain=hostile.example&id=%d" % rid)
ok(s == 500 and j.get("error") == "query failed",
   "a failing query answers 500 without the server's message", j)
dash.stop()
dash.url = url

# --- read only: the pool's sessions cannot write --------------------------
out = dash.pg.psql("dmarcd", "SELECT count(*) FROM pg_stat_activity WHERE "
                   "application_name = 'dmarcd serve'")
ok(out.strip() == "0", "server gone")

# --- authentication: refused off loopback without TLS and users ------------
p = dash.serve(["--listen", "0.0.0.0:%d" % httpdlib.free_port()], wait=False)
out, err = p.communicate(timeout=30)
ok(p.returncode != 0 and b"refusing" in err, "no TLS+users: refuses "
   "a non-loopback address", err)
dash.proc = None
tdir = tempfile.mkdtemp(prefix="dmarcd-tls-")
key, crt = os.path.join(tdir, "key.pem"), os.path.join(tdir, "cert.pem")
users = os.path.join(tdir, "users")
r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=localhost"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt
    h6 = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_SHA512))
with open(users, "w") as f:
    f.write("# dashboard users\nalice:%s\n" % h6)
os.chmod(users, 0o644)
p = dash.serve(["--users", users], wait=False)
out, err = p.communicate(timeout=30)
ok(p.returncode != 0 and b"readable by others" in err,
   "a users file others may read is refused", err)
dash.proc = None
os.chmod(users, 0o600)
os.chmod(key, 0o600)
dash.serve(["--tls-cert", crt, "--tls-key", key, "--users", users])
H = "https://127.0.0.1:%d" % dash.port
s, h, _ = httpdlib.curl(H + "/api/meta", "-k")
ok(s == 401 and "basic" in h.get("www-authenticate", "").lower(),
   "TLS: no credentials 401", s, h)
s, _, _ = httpdlib.curl(H + "/api/meta", "-k", "-u", "alice:wrong")
ok(s == 401, "TLS: wrong password 401")
s, _, _ = httpdlib.curl(H + "/api/meta", "-k", "-u", "bob:s3cret")
ok(s == 401, "TLS: unknown user 401")
s, h, b = httpdlib.curl(H + "/api/meta", "-k", "-u", "alice:s3cret")
ok(s == 200 and b"domains" in b and "strict-transport-security" in h,
   "TLS: right password 200, HSTS", s)
s, _, _ = httpdlib.curl("http://127.0.0.1:%d/api/meta" % dash.port)
ok(s != 200, "plain HTTP on the TLS port gets nothing")
dash.close()
shutil.rmtree(tdir, ignore_errors=True)
shutil.rmtree(tmp, ignore_errors=True)
testlib.done()
