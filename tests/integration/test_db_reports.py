#!/usr/bin/env python3
"""test_db_reports.py - failure reports (RFC 6591) and SMTP TLS reports
(RFC 8460) through the store: the shared corpus ingested (failure reports
stored, spam complaints quarantined with their reason, TLS session sums
equal to sums computed here from the JSON), dedup on a second ingest,
export equal to parse, hostile strings byte-exact, the privacy settings,
and a TLS report delivered over LMTP."""
import email
import email.policy
import gzip
import json
import os
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, diag, skip_all, done, dmarcd, shared_dir  # noqa: E402
import pglib  # noqa: E402
from dbfix import run, json_lines  # noqa: E402

shared = shared_dir()
if shared is None:
    skip_all("no shared corpus (DMARCD_SHARED)")
FOR = os.path.join(shared, "corpus", "forensic")
TLS = os.path.join(shared, "corpus", "tlsrpt")
if not os.path.isdir(FOR) or not os.path.isdir(TLS):
    skip_all("no corpus/forensic or corpus/tlsrpt")
if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
D = dmarcd()
pg = pglib.Cluster()
tmp = tempfile.mkdtemp(prefix="dmarcd-test-reports-")
os.chmod(tmp, 0o755)


def conf(name, text=""):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return {"DMARCD_CONF": path, "DMARCD_DB": ""}


ENV = conf("empty.conf")


def files(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if not f.startswith("."))


def q(db, sql):
    return pg.psql(db, sql).strip()


def counts(db):
    return q(db, "SELECT (SELECT count(*) FROM forensic),"
             " (SELECT coalesce(sum(reports), 0) FROM forensic_daily),"
             " (SELECT count(*) FROM tlsrpt), (SELECT count(*) FROM"
             " tlsrpt_policy), (SELECT count(*) FROM tlsrpt_failure),"
             " (SELECT coalesce(sum(successful), 0) || '/' ||"
             " coalesce(sum(failed), 0) FROM tlsrpt_daily),"
             " (SELECT count(*) FROM quarantine)")


def strip_source(o):
    o = dict(o)
    o.pop("source", None)
    return o


def canon(objs):
    return sorted(json.dumps(strip_source(o), sort_keys=True) for o in objs)


def parse_lines(paths, want):
    r = run([D, "parse"] + paths)
    return [o for o in json_lines(r.stdout.decode()) if o["type"] == want]


# --- TLS sums computed here, independently of dmarcd --------------------

def tls_documents(path):
    """The JSON documents of a corpus file: .json, .gz, or an email."""
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b":
        return [gzip.decompress(data)]
    if path.endswith(".json"):
        return [data]
    msg = email.message_from_bytes(data, policy=email.policy.default)
    docs = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = (part.get_filename() or "").lower()
        ctype = part.get_content_type()
        body = part.get_payload(decode=True) or b""
        if body[:2] == b"\x1f\x8b":
            docs.append(gzip.decompress(body))
        elif "tlsrpt" in ctype or name.endswith(".json") or \
                ctype == "application/json":
            docs.append(body)
    return docs


reports = {}
for path in files(TLS):
    for doc in tls_documents(path):
        j = json.loads(doc)
        pols = j.get("policies", [])
        dom = ((pols[0].get("policy", {}).get("policy-domain") or "").lower()
               .rstrip(".") if pols else "")
        key = (dom, j["organization-name"], j["report-id"])
        # some reporters quote their counts ("42")
        reports[key] = (
            sum(int(p["summary"].get("total-successful-session-count") or 0)
                for p in pols),
            sum(int(p["summary"].get("total-failure-session-count") or 0)
                for p in pols))
want_succ = sum(v[0] for v in reports.values())
want_fail = sum(v[1] for v in reports.values())

# --- the corpus ingested ----------------------------------------------------

url = pg.createdb("corpus")
r = run([D, "ingest", "--db", url, FOR, TLS], env=ENV)
diag(r.stdout.decode().strip())
nfor = len(files(FOR))
complaints = q("corpus", "SELECT count(*) FROM quarantine WHERE reason"
               " LIKE '%not a DMARC failure report%'")
m = re.search(rb"(\d+) failure reports, (\d+) TLS reports", r.stdout)
ok(r.returncode == 0 and m is not None, "ingest of both folders succeeds",
   r.stdout, r.stderr)
parsed_for = parse_lines(files(FOR), "forensic")
distinct_for = len(set(canon(parsed_for)))
stored_for = int(q("corpus", "SELECT count(*) FROM forensic"))
ok(len(parsed_for) == nfor - 2 and stored_for == distinct_for,
   "the %d failure reports stored (%d rows: copies of one report differing "
   "only in line ends are one report)" % (len(parsed_for), stored_for),
   len(parsed_for), stored_for, distinct_for)
ok(complaints == "2", "the 2 spam complaints quarantined as not a DMARC "
   "failure report", complaints,
   q("corpus", "SELECT reason FROM quarantine"))
ok(q("corpus", "SELECT count(*) FROM quarantine") == "2",
   "nothing else quarantined", q("corpus", "SELECT reason FROM quarantine"))
got = q("corpus", "SELECT sum(successful), sum(failed) FROM tlsrpt_policy")
ok(got == "%d|%d" % (want_succ, want_fail),
   "TLS session sums equal the JSON's: %d successful, %d failed"
   % (want_succ, want_fail), got)
ok(q("corpus", "SELECT count(*) FROM tlsrpt") == str(len(reports)),
   "one row per distinct TLS report (%d)" % len(reports),
   q("corpus", "SELECT count(*) FROM tlsrpt"))
ok(q("corpus", "SELECT sum(successful) || '|' || sum(failed) FROM"
     " tlsrpt_daily") == got and
   q("corpus", "SELECT sum(reports) FROM forensic_daily") == str(stored_for),
   "daily rollups agree with the report tables")
ok(q("corpus", "SELECT count(*) FROM forensic WHERE body IS NOT NULL") ==
   "0", "bodies withheld by default")

before = counts("corpus")
r = run([D, "ingest", "--db", url, FOR, TLS], env=ENV)
ok(r.returncode == 0 and counts("corpus") == before,
   "a second ingest changes no count", before, counts("corpus"))

# --- export equals parse ----------------------------------------------------

r = run([D, "export", "--db", url, "--type", "forensic"], env=ENV)
exp_for = json_lines(r.stdout.decode())
ok(r.returncode == 0 and canon(exp_for) == sorted(set(canon(parsed_for))),
   "export --type forensic equals parse field for field", r.stderr,
   len(exp_for))
parsed_tls = parse_lines(files(TLS), "tlsrpt")
r = run([D, "export", "--db", url, "--type", "tlsrpt"], env=ENV)
exp_tls = json_lines(r.stdout.decode())
ok(r.returncode == 0 and canon(exp_tls) == sorted(set(canon(parsed_tls))),
   "export --type tlsrpt equals parse field for field", r.stderr,
   len(exp_tls), len(set(canon(parsed_tls))))
ok(all(o["source"] and o["source"].startswith(shared) for o in
       exp_for + exp_tls), "export keeps each report's source")
r = run([D, "export", "--db", url, "--type", "all"], env=ENV)
types = [o["type"] for o in json_lines(r.stdout.decode())]
ok(r.returncode == 0 and types.count("forensic") == len(exp_for) and
   types.count("tlsrpt") == len(exp_tls), "export --type all has both")
r = run([D, "export", "--db", url], env=ENV)
ok(r.returncode == 0 and r.stdout == b"",
   "default export is aggregate reports only")
r = run([D, "export", "--db", url, "--type", "forensic", "--format", "csv"],
        env=ENV)
r2 = run([D, "export", "--db", url, "--type", "bogus"], env=ENV)
ok(r.returncode != 0 and r2.returncode != 0,
   "csv for failure reports and an unknown type are usage errors")
r = run([D, "export", "--db", url, "--type", "tlsrpt", "--domain",
         "no-such.example"], env=ENV)
ok(r.returncode == 0 and r.stdout == b"", "export --domain filters")

# --- hostile strings --------------------------------------------------------

HOSTILE = 'q"uo\'te \\back\\slash\ttab\r\nCRLF <script>alert(1)</script> \u00e9'
tls_doc = {
    "organization-name": "Evil " + HOSTILE,
    "date-range": {"start-datetime": "2024-03-01T00:00:00Z",
                   "end-datetime": "2024-03-01T23:59:59Z"},
    "contact-info": "mailto:" + HOSTILE,
    "report-id": "hostile-1 " + HOSTILE,
    "policies": [{
        "policy": {"policy-type": "sts",
                   "policy-string": ["version: STSv1", HOSTILE],
                   "policy-domain": "hostile.example",
                   # more than the 64 text[] elements the API once sent
                   "mx-host": ["*.mx." + "hostile.example", HOSTILE] +
                   ["mx%d.hostile.example" % i for i in range(70)]},
        "summary": {"total-successful-session-count": 7,
                    "total-failure-session-count": 3},
        "failure-details": [{
            "result-type": "certificate-expired",
            "sending-mta-ip": "192.0.2.9",
            "receiving-mx-hostname": "mx.hostile.example",
            "receiving-ip": "198.51.100.1",
            "failed-session-count": 3,
            "additional-information": HOSTILE,
            "failure-reason-code": HOSTILE}]}]}
hostile_json = os.path.join(tmp, "hostile.json")
with open(hostile_json, "w") as f:
    json.dump(tls_doc, f)
hostile_arf = os.path.join(tmp, "hostile.eml")
HDR = 'X-Evil: q"uo\'te \\back\\slash\ttab <script>alert(1)</script>'
with open(hostile_arf, "wb") as f:
    f.write((
        "From: Evil Reporter <ruf@reporter.example>\r\n"
        "To: dmarc@hostile.example\r\n"
        "Subject: Report \"x\" <script>\r\n"
        "Date: Fri, 01 Mar 2024 10:00:00 +0000\r\n"
        "Message-ID: <hostile-arf@reporter.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report;"
        " boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain\r\n\r\nA failure.\r\n"
        "--b1\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: auth-failure\r\nUser-Agent: evil/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <\"we\\\"ird\"@sender.example>\r\n"
        "Original-Rcpt-To: <victim@hostile.example>\r\n"
        "Arrival-Date: Fri, 01 Mar 2024 09:59:00 +0000\r\n"
        "Source-IP: 192.0.2.66\r\n"
        "Reported-Domain: hostile.example\r\n"
        "Authentication-Results: mx.example; dmarc=fail"
        " header.from=hostile.example\r\n"
        "Auth-Failure: dmarc\r\n"
        "Reported-URI: http://x.example/<script>\"'\r\n\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: <someone@hostile.example>\r\nTo: victim@hostile.example\r\n"
        "Subject: hello\r\n" + HDR + "\r\n\r\n"
        "secret body line\r\n"
        "--b1--\r\n").encode())
url_h = pg.createdb("hostile")
r = run([D, "ingest", "--db", url_h, hostile_json, hostile_arf], env=ENV)
ok(r.returncode == 0 and
   q("hostile", "SELECT count(*) FROM quarantine") == "0",
   "hostile reports ingested", r.stdout, r.stderr,
   q("hostile", "SELECT reason FROM quarantine"))
ok(q("hostile", "SELECT count(*) FROM forensic") == "1" and
   q("hostile", "SELECT count(*) FROM tlsrpt") == "1",
   "hostile reports stored", q("hostile", "SELECT reason FROM quarantine"))
e_tls = json_lines(run([D, "export", "--db", url_h, "--type", "tlsrpt"],
                       env=ENV).stdout.decode())
p_tls = parse_lines([hostile_json], "tlsrpt")
ok(len(e_tls) == 1 and canon(e_tls) == canon(p_tls) and
   e_tls[0]["organization-name"] == "Evil " + HOSTILE and
   e_tls[0]["policies"][0]["failure-details"][0]["additional-information"]
   == HOSTILE and e_tls[0]["policies"][0]["policy"]["mx-host"][1] == HOSTILE,
   "hostile TLS strings round-trip byte-exact", e_tls, p_tls)
e_for = json_lines(run([D, "export", "--db", url_h, "--type", "forensic"],
                       env=ENV).stdout.decode())
p_for = parse_lines([hostile_arf], "forensic")
ok(len(e_for) == 1 and canon(e_for) == canon(p_for) and
   HDR in (e_for[0]["headers"] or ""),
   "hostile failure-report strings round-trip byte-exact", e_for, p_for)
ok(e_for and e_for[0]["body"] is None, "body withheld by default")

# --- privacy settings ---------------------------------------------------------

url_b = pg.createdb("keepbody")
r = run([D, "ingest", "--db", url_b, hostile_arf],
        env=conf("body.conf", "forensic_keep_body = 1\n"))
body = q("keepbody", "SELECT body FROM forensic")
ok(r.returncode == 0 and "secret body line" in body,
   "forensic_keep_body = 1 keeps the body", body, r.stderr)
url_r = pg.createdb("redact")
r = run([D, "ingest", "--db", url_r, hostile_arf],
        env=conf("redact.conf", "forensic_redact = 1\n"))
row = q("redact", "SELECT redacted, original_rcpt_to::text, headers"
        " FROM forensic")
ok(r.returncode == 0 and row.startswith("t|") and "victim@" not in row,
   "forensic_redact = 1 redacts local parts", row, r.stderr)
r = run([D, "ingest", "--db", url_r, hostile_arf], env=ENV)
ok(q("redact", "SELECT count(*) FROM forensic") == "1",
   "the same report under other settings is still a duplicate")
r = run([D, "check-config"], env=conf("bad.conf", "forensic_redact = 2\n"))
ok(r.returncode != 0 and b"forensic_redact" in r.stderr,
   "forensic_redact out of range is refused", r.stderr)

# --- summary counts ----------------------------------------------------------

want = q("corpus", "SELECT (SELECT count(*) FROM forensic WHERE"
         " dmarcd_forensic_day(arrival, report_date, received) >="
         " '2016-01-01' AND dmarcd_forensic_day(arrival, report_date,"
         " received) < '2026-01-01'), (SELECT count(*) FROM tlsrpt WHERE"
         " dmarcd_report_day(begin_time, end_time) >= '2016-01-01' AND"
         " dmarcd_report_day(begin_time, end_time) < '2026-01-01')")
r = run([D, "summary", "--db", url, "--since", "2016-01-01", "--until",
         "2026-01-01", "--format", "text"], env=ENV)
out = r.stdout.decode()
ok(r.returncode == 0 and "Failure reports: %s\n" % want.split("|")[0] in out
   and "TLS reports: %s\n" % want.split("|")[1] in out,
   "summary counts failure and TLS reports in the period", want, out[-800:],
   r.stderr)

# --- dashboard API (httpd/api_reports.c) -------------------------------------

import httpdlib  # noqa: E402
dash = httpdlib.Dashboard(D, files(FOR) + files(TLS) + [hostile_json,
                                                         hostile_arf])
dash.serve()
ALL = "from=1970-01-01&to=2069-12-31"


def jget(path):
    st, h, b = httpdlib.curl(dash.base + path)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, {"_raw": b[:300]}


try:
    st, j = jget("/api/forensic?" + ALL)
    ok(st == 200 and len(j.get("reports", [])) == stored_for + 1 and
       sum(d["reports"] for d in j["days"]) == stored_for + 1,
       "GET /api/forensic lists every failure report and its days", st, j)
    hid = [x for x in j.get("reports", []) if x["domain"] ==
           "hostile.example"]
    st, j = jget("/api/forensic/item?domain=hostile.example&id=%s" %
                 (hid[0]["id"] if hid else 0))
    ok(st == 200 and HDR in (j.get("report") or {}).get("headers", ""),
       "GET /api/forensic/item: headers byte-exact as JSON text", st, j)
    st, j = jget("/api/tlsrpt?" + ALL)
    ok(st == 200 and sum(d["successful"] for d in j["days"]) ==
       want_succ + 7 and sum(d["failed"] for d in j["days"]) ==
       want_fail + 3 and len(j["reports"]) == len(reports) + 1,
       "GET /api/tlsrpt: session sums per day and the reports", st, j)
    ev = [x for x in j.get("reports", []) if x["domain"] == "hostile.example"]
    st, j = jget("/api/tlsrpt/item?domain=hostile.example&id=%s" %
                 (ev[0]["id"] if ev else 0))
    ok(st == 200 and j.get("report", {}).get("organization_name") ==
       "Evil " + HOSTILE and len(j.get("failures", [])) == 1 and
       j["failures"][0]["additional_information"] == HOSTILE,
       "GET /api/tlsrpt/item: policies and failure details", st, j)
    mx = [p.get("mx_host") for p in j.get("policies", [])]
    ok(mx == [tls_doc["policies"][0]["policy"]["mx-host"]],
       "GET /api/tlsrpt/item: a text[] of 72 elements is sent whole", mx)
    st, j = jget("/api/tlsrpt?domain=%27;select&" + ALL)
    ok(st in (200, 400), "hostile filter values are parameters", st, j)
finally:
    dash.close()

# --- a TLS report over LMTP -----------------------------------------------------


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


url_l = pg.createdb("lmtp")
port = free_port()
argv = [D, "lmtp", "--foreground", "--db", url_l, "--listen",
        "127.0.0.1:%d" % port]
if os.geteuid() == 0:
    argv += ["--user", pglib.UNPRIVILEGED]
log = os.path.join(tmp, "lmtp.log")
daemon = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                          stderr=open(log, "w"), env=dict(os.environ, **ENV))
try:
    client = None
    end = time.time() + 15
    while time.time() < end and client is None:
        try:
            client = smtplib.LMTP("127.0.0.1", port, timeout=20)
        except OSError:
            time.sleep(0.1)
    tls_mail = os.path.join(TLS, "tlsrptdigest__tlsrpt_failure.eml")
    if client is None:
        ok(False, "dmarcd lmtp started", open(log).read()[-2000:])
    else:
        refused = client.sendmail("reporter@example.net",
                                  ["tlsrpt@example.org"],
                                  open(tls_mail, "rb").read())
        client.quit()
        ok(refused == {} and
           q("lmtp", "SELECT count(*) FROM tlsrpt") == "1" and
           q("lmtp", "SELECT count(*) FROM quarantine") == "0",
           "a TLS report delivered over LMTP is stored",
           open(log).read()[-2000:])
finally:
    daemon.terminate()
    daemon.wait(20)
done()
