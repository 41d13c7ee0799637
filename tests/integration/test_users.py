#!/usr/bin/env python3
"""test_users.py - users with per-domain access (issue 15, item 4), against a
real `dmarcd serve`, a real PostgreSQL and curl.

Two domains' aggregate, failure and TLS reports, a subdomain, a report of
no known domain in the quarantine.  alice sees alpha.example and its
subdomains, bob beta.example (with the senders right), carol a domain that
has no data, admin everything.  Endpoint by endpoint, neither alice nor bob
sees the other's domains, reporters, IPs or counts (404 or absent, never a
500), the counts they see are their own domains', and admin sees all;
/metrics is admin's; summary and export --user print what the dashboard
shows the user.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpdlib  # noqa: E402
import pglib  # noqa: E402
import testlib  # noqa: E402
from dbfix import report_xml  # noqa: E402
from testlib import ok  # noqa: E402

if pglib.find_bindir() is None:
    testlib.skip_all("PostgreSQL not installed")
if shutil.which("curl") is None:
    testlib.skip_all("curl not installed")

D = testlib.dmarcd()
TMP = tempfile.mkdtemp(prefix="dmarcd-users-")
os.chmod(TMP, 0o755)
NOV = dict(begin=1700006400, end=1700092799)      # 2023-11-15 (UTC)
PERIOD = "from=2023-11-01&to=2023-11-30"


def fail(ip, count):
    return dict(ip=ip, count=count, dkim_eval="fail", spf_eval="fail",
                dkim=[("other.example", "s", "fail")], spf="fail",
                disposition="none")


files = {
    "a.xml": report_xml(org="Reporter Alpha", report_id="ua-1",
                        domain="alpha.example", records=[
                            dict(ip="192.0.2.11", count=11),
                            fail("192.0.2.12", 5)], **NOV),
    "asub.xml": report_xml(org="Reporter Alpha", report_id="ua-2",
                           domain="mail.alpha.example", records=[
                               dict(ip="192.0.2.13", count=7)], **NOV),
    "b.xml": report_xml(org="Reporter Beta", report_id="ub-1",
                        domain="beta.example", records=[
                            dict(ip="198.51.100.21", count=23),
                            fail("198.51.100.22", 9)], **NOV),
    # a look-alike that no pattern of alice's matches
    "c.xml": report_xml(org="Reporter Beta", report_id="ub-2",
                        domain="notalpha.example", records=[
                            dict(ip="198.51.100.23", count=2)], **NOV),
    "broken.xml": b"<feedback><report_metadata>",
}


def arf(domain, ip, reporter):
    return ("From: <%s>\r\nTo: ruf@%s\r\nSubject: failure report\r\n"
            "Date: Wed, 15 Nov 2023 10:00:00 +0000\r\n"
            "Message-ID: <f-%s@%s>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=feedback-report;"
            " boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
            "A failure report.\r\n--b1\r\n"
            "Content-Type: message/feedback-report\r\n\r\n"
            "Feedback-Type: auth-failure\r\nVersion: 1\r\n"
            "Arrival-Date: Wed, 15 Nov 2023 09:59:58 +0000\r\n"
            "Source-IP: %s\r\nReported-Domain: %s\r\nAuth-Failure: dmarc\r\n"
            "\r\n--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            "From: <x@%s>\r\nSubject: hello\r\n\r\n--b1--\r\n" % (
                reporter, domain, domain, domain, ip, domain,
                domain)).encode()


def policy(domain, good, bad, mx):
    """One STS policy of a TLS report, its counts and one failure."""
    return {"policy": {"policy-type": "sts", "policy-string": ["v: STSv1"],
                       "policy-domain": domain},
            "summary": {"total-successful-session-count": good,
                        "total-failure-session-count": bad},
            "failure-details": [{
                "result-type": "certificate-expired",
                "sending-mta-ip": "203.0.113.9",
                "receiving-mx-hostname": mx,
                "failed-session-count": bad}]}


def tls(domain, org):
    return json.dumps({
        "organization-name": org, "contact-info": "tls@" + org,
        "report-id": "t-" + domain,
        "date-range": {"start-datetime": "2023-11-15T00:00:00Z",
                       "end-datetime": "2023-11-15T23:59:59Z"},
        "policies": [policy(domain, 40, 3, "mx." + domain)]}).encode()


files["fa.eml"] = arf("alpha.example", "192.0.2.66", "ruf@fr-alpha.example")
files["fb.eml"] = arf("beta.example", "198.51.100.66", "ruf@fr-beta.example")
files["ta.json"] = tls("alpha.example", "tls-alpha.example")
files["tb.json"] = tls("beta.example", "tls-beta.example")
paths = []
for name, data in files.items():
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(data)
    paths.append(p)
dash = httpdlib.Dashboard(D, paths)
ok(dash.ingest_rc in (0, 1), "reports ingested (the broken one "
   "quarantined)", dash.ingest_rc, dash.ingest_err)
ok(dash.pg.psql("dmarcd", "SELECT count(*) FROM quarantine").strip() == "1",
   "one message in the quarantine")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt
    H = crypt.crypt("pw", crypt.mksalt(crypt.METHOD_SHA512))
USERS = os.path.join(TMP, "users")
with open(USERS, "w") as f:
    f.write("alice:%s::alpha.example, *.alpha.example\n"
            "bob:%s:senders:beta.example\n"
            "carol:%s::gamma.example\n"
            "admin:%s\n"
            "root2:%s::*\n" % (H, H, H, H, H))
os.chmod(USERS, 0o600)
CONF = os.path.join(TMP, "dmarcd.conf")
with open(CONF, "w") as f:
    f.write("http_users = %s\n" % USERS)
dash.serve(["--users", USERS])


def get(path, user):
    s, _, b = httpdlib.curl(dash.base + path, "-u", user + ":pw")
    try:
        return s, json.loads(b), b.decode("utf-8", "replace")
    except ValueError:
        return s, None, b.decode("utf-8", "replace")


# ids, as admin sees them
s, j, _ = get("/api/reports?" + PERIOD, "admin")
rid = {r["domain"]: r["id"] for r in (j or {}).get("reports", [])}
ok(s == 200 and set(rid) == {"alpha.example", "mail.alpha.example",
                             "beta.example", "notalpha.example"},
   "admin: every domain's reports", s, rid)
s, j, _ = get("/api/forensic?" + PERIOD, "admin")
fid = {r["domain"]: r["id"] for r in (j or {}).get("reports", [])}
ok(set(fid) == {"alpha.example", "beta.example"},
   "admin: both failure reports", fid)
s, j, _ = get("/api/tlsrpt?" + PERIOD, "admin")
tid = {r["domain"]: r["id"] for r in (j or {}).get("reports", [])}
ok(len(tid) == 2, "admin: both TLS reports", j)
s, j, _ = get("/api/quarantine", "admin")
qid = [q["id"] for q in (j or {}).get("quarantine", [])]
ok(len(qid) == 1, "admin: the quarantined message", j)

OWN = {
    "alice": dict(domains=["alpha.example", "mail.alpha.example"],
                  other="beta.example", messages=23, fail=5,
                  ip="192.0.2.11", other_ip="198.51.100.21",
                  leaks=["beta.example", "notalpha.example",
                         "Reporter Beta", "198.51.100.", "tls-beta",
                         "fr-beta"]),
    "bob": dict(domains=["beta.example"], other="alpha.example",
                messages=32, fail=9, ip="198.51.100.21",
                other_ip="192.0.2.11",
                leaks=["alpha.example", "Reporter Alpha", "192.0.2.",
                       "tls-alpha", "fr-alpha", "notalpha"]),
}
LISTS = ["/api/meta", "/api/overview?" + PERIOD,
         "/api/alignment?" + PERIOD, "/api/sources?" + PERIOD,
         "/api/services?" + PERIOD, "/api/simulate?p=reject&" + PERIOD,
         "/api/reporters?" + PERIOD, "/api/reports?" + PERIOD,
         "/api/quarantine?all=1", "/api/forensic?" + PERIOD,
         "/api/tlsrpt?" + PERIOD,
         "/api/overview?reporter=Reporter%20Beta&" + PERIOD,
         "/api/overview?reporter=Reporter%20Alpha&" + PERIOD,
         "/api/sources?reporter=Reporter%20Beta&" + PERIOD,
         "/api/reports?ip=198.51.100.21&" + PERIOD,
         "/api/reports?ip=192.0.2.11&" + PERIOD,
         "/api/forensic?ip=198.51.100.66&" + PERIOD]

for user, o in OWN.items():
    other = o["other"]
    # every list: 200, nothing of the other's
    for path in LISTS + ["/api/source?ip=%s&%s" % (o["other_ip"], PERIOD),
                         "/api/source?ip=%s&%s" % (o["ip"], PERIOD)]:
        s, j, text = get(path, user)
        if isinstance(j, dict):
            j.pop("filter", None)   # the request's own parameters
            text = json.dumps(j)
        leaked = [m for m in o["leaks"] if m in text]
        ok(s == 200 and not leaked, "%s: %s: 200, nothing of another's "
           "domains" % (user, path.split("&")[0]), s, leaked, text[:300])
    # what they see is theirs, and all of it
    s, j, _ = get("/api/meta", user)
    ok(j["user"] == dict(name=user, senders=user == "bob", domains=(
        ["alpha.example", "*.alpha.example"] if user == "alice" else
        ["beta.example"])), "%s: meta says who they are and what they see"
       % user, j["user"])
    ok(sorted(d["domain"] for d in j["domains"]) == o["domains"],
       "%s: meta lists exactly their domains" % user, j["domains"])
    ok(j["features"]["quarantined"] == 0,
       "%s: the quarantine count is of their domains" % user,
       j["features"])
    s, j, _ = get("/api/overview?" + PERIOD, user)
    ok(sum(d["messages"] for d in j["domains"]) == o["messages"] and
       sum(d["pass"] + d["fail_none"] + d["fail_quarantine"] +
           d["fail_reject"] for d in j["days"]) == o["messages"],
       "%s: overview counts their %d messages" % (user, o["messages"]), j)
    s, j, _ = get("/api/sources?" + PERIOD, user)
    ok(o["ip"] in [r["ip"] for r in j["sources"]] and
       sum(r["messages"] for r in j["sources"]) == o["messages"],
       "%s: sources are theirs, summed over their domains" % user, j)
    s, j, _ = get("/api/alignment?" + PERIOD, user)
    ok(sum(r["messages"] for r in j["failing_sources"]) == o["fail"],
       "%s: failing sources are theirs" % user, j["failing_sources"])
    s, j, _ = get("/api/simulate?p=reject&" + PERIOD, user)
    ok(sorted(d["domain"] for d in j["domains"]) == o["domains"] and
       sum(d["messages"] for d in j["domains"]) == o["messages"],
       "%s: the simulator simulates their domains only" % user, j)
    s, j, _ = get("/api/source?ip=%s&%s" % (o["other_ip"], PERIOD), user)
    ok(j["host"] is None and j["summary"] == [] and j["records"] == [],
       "%s: another's source: nothing, not even its host" % user, j)
    s, j, _ = get("/api/reporters?" + PERIOD, user)
    ok([r["reporter"] for r in j["reporters"]] ==
       ["Reporter " + ("Alpha" if user == "alice" else "Beta")],
       "%s: reporters of their domains" % user, j)
    s, j, _ = get("/api/tlsrpt?" + PERIOD, user)
    ok(len(j["reports"]) == 1 and [d["domain"] for d in j["domains"]] ==
       o["domains"][:1] and sum(d["failed"] for d in j["domains"]) == 3,
       "%s: their TLS report, its sessions" % user, j)
    # one item of another's domain: 404, as if it did not exist
    for path in (
            "/api/overview?domain=%s&%s" % (other, PERIOD),
            "/api/sources?domain=%s&%s" % (other.upper(), PERIOD),
            "/api/simulate?domain=%s&%s" % (other, PERIOD),
            "/api/senders?domain=%s" % other,
            "/api/report?domain=%s&id=%d" % (other, rid[other]),
            "/api/report/document?domain=%s&id=%d" % (other, rid[other]),
            "/api/forensic/item?domain=%s&id=%d" % (other, fid[other]),
            "/api/tlsrpt/item?domain=%s&id=%d" % (other, tid[other]),
            "/api/quarantine/raw?id=%d" % qid[0],
            "/api/report?domain=notalpha.example&id=%d" %
            rid["notalpha.example"]):
        s, j, text = get(path, user)
        ok(s == 404 and not [m for m in o["leaks"] if m in text],
           "%s: %s: 404" % (user, path.split("&")[0]), s, text[:200])
    # their own item: there
    own = o["domains"][0]
    for path in ("/api/report?domain=%s&id=%d" % (own, rid[own]),
                 "/api/report/document?domain=%s&id=%d" % (own, rid[own]),
                 "/api/forensic/item?domain=%s&id=%d" % (own, fid[own]),
                 "/api/tlsrpt/item?domain=%s&id=%d" % (own, tid[own]),
                 "/api/senders?domain=%s&%s" % (own, PERIOD)):
        s, j, text = get(path, user)
        ok(s == 200, "%s: %s: 200" % (user, path.split("&")[0]), s,
           text[:200])
    s, _, _ = httpdlib.curl(dash.base + "/metrics", "-u", user + ":pw")
    ok(s == 403, "%s: /metrics (every domain's counters): 403" % user, s)

s, j, _ = get("/api/meta", "carol")
ok(s == 200 and j["domains"] == [] and j["reporters"] == [],
   "carol (a domain without data): nothing", j)
s, j, _ = get("/api/overview?" + PERIOD, "carol")
ok(s == 200 and j["domains"] == [] and j["days"] == [],
   "carol: an empty overview, not every domain's", j)
s, j, _ = get("/api/sources?" + PERIOD, "carol")
ok(s == 200 and j["sources"] == [], "carol: no sources", j)
s, j, _ = get("/api/meta", "admin")
ok(j["user"] == dict(name="admin", senders=False, domains=None),
   "admin: meta says every domain (domains null)", j["user"])
s, j, _ = get("/api/meta", "root2")
ok(j["user"]["domains"] is None, "a list of * is every domain", j["user"])
for admin in ("admin", "root2"):
    s, j, _ = get("/api/overview?" + PERIOD, admin)
    ok(sum(d["messages"] for d in j["domains"]) == 57,
       "%s sees every domain's messages" % admin, j)
    s, j, _ = get("/api/sources?" + PERIOD, admin)
    ok(len(j["sources"]) == 6, "%s sees every source" % admin, j)
    s, _, _ = httpdlib.curl(dash.base + "/metrics", "-u", admin + ":pw")
    ok(s == 200, "%s: /metrics" % admin, s)
s, j, _ = get("/api/quarantine/raw?id=%d" % qid[0], "admin")
ok(s == 200, "admin downloads the quarantined message", s)

# --- edits: bob may edit his domain only ---------------------------------------
s, j, _ = get("/api/meta", "bob")
token = j["csrf"]


def post(user, domain):
    q = urllib.parse.urlencode(dict(action="add", domain=domain,
                                    rule="dkim esp.example"))
    s, _, b = httpdlib.curl(dash.base + "/api/senders?" + q, "-X", "POST",
                            "-u", user + ":pw", "-H",
                            "X-Dmarcd-CSRF: " + token)
    return s, b.decode()


s, b = post("bob", "alpha.example")
ok(s == 404 and dash.pg.psql("dmarcd", "SELECT count(*) FROM sender_rule")
   .strip() == "0", "bob may not add a rule to alpha.example (404)", s, b)
s, b = post("bob", "Beta.Example.")
ok(s == 200 and dash.pg.psql("dmarcd", "SELECT domain FROM sender_rule")
   .strip() == "beta.example", "bob adds one to beta.example", s, b)
dash.stop()

# --- the users file ------------------------------------------------------------
for bad, why in (("dave:%s::Alpha.Example\n", "not a domain pattern"),
                 ("dave:%s::a.*.example\n", "not a domain pattern"),
                 ("dave:%s:: ,\n", "an empty domain list")):
    with open(USERS + ".bad", "w") as f:
        f.write(bad % H)
    os.chmod(USERS + ".bad", 0o600)
    p = dash.serve(["--users", USERS + ".bad"], wait=False)
    out, err = p.communicate(timeout=30)
    ok(p.returncode != 0 and why.encode() in err,
       "refused at start: %r" % bad.split("::")[1].strip(), err)
    dash.proc = None
    with open(CONF + ".bad", "w") as f:
        f.write("http_users = %s.bad\n" % USERS)
    r = subprocess.run([D, "check-config", "-f", CONF + ".bad"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dash.env, timeout=60)
    ok(r.returncode == 78 and b"http_users" in r.stderr and why.encode() in
       r.stderr, "check-config refuses it too", r.returncode, r.stderr)
r = subprocess.run([D, "check-config", "-f", CONF], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, env=dash.env, timeout=60)
ok(r.returncode == 0, "check-config: the users file is good", r.stderr)

# --- summary and export --user -------------------------------------------------


def cli(*args):
    return subprocess.run([D] + list(args) + ["-f", CONF, "--db", dash.url],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dash.env, timeout=120)


SUM = ["summary", "--since", "2023-11-01", "--until", "2023-12-01",
       "--format", "text"]
r = cli(*SUM, "--user", "alice")
out = r.stdout.decode()
ok(r.returncode == 0 and "alpha.example" in out and "mail.alpha.example" in
   out and "beta.example" not in out and "notalpha" not in out and
   "198.51.100." not in out,
   "summary --user alice: her domains only", r.stderr, out[:2000])
r = cli(*SUM, "--user", "admin")
out = r.stdout.decode()
ok(r.returncode == 0 and "beta.example" in out and "alpha.example" in out,
   "summary --user admin: every domain", r.stderr)
r = cli(*SUM, "--user", "alice", "--domain", "beta.example")
ok(r.returncode == 64 and b"not a domain of user alice" in r.stderr,
   "summary --user alice --domain beta.example: refused (64)", r.stderr)
r = cli(*SUM, "--user", "nobody")
ok(r.returncode == 64 and b"no user" in r.stderr,
   "summary --user of no such user: 64", r.stderr)
r = cli("export", "--type", "all", "--user", "bob")
out = r.stdout.decode()
lines = [json.loads(x) for x in out.splitlines() if x.strip()]
ok(r.returncode == 0 and len(lines) == 3 and "alpha.example" not in out
   and "192.0.2." not in out and "beta.example" in out,
   "export --type all --user bob: his aggregate, failure and TLS report",
   r.stderr, out[:1500])
r = cli("sources", "--since", "2023-11-01", "--until", "2023-12-01",
        "--user", "alice")
ips = sorted(json.loads(x)["ip"] for x in r.stdout.decode().splitlines())
ok(r.returncode == 0 and ips == ["192.0.2.11", "192.0.2.12", "192.0.2.13"],
   "sources --user alice: her sources only", r.stderr, ips)
r = cli("simulate", "--since", "2023-11-01", "--until", "2023-12-01",
        "--p", "reject", "--user", "bob")
doms = [json.loads(x)["domain"] for x in r.stdout.decode().splitlines()]
ok(r.returncode == 0 and doms == ["beta.example"],
   "simulate --user bob: his domain only", r.stderr, doms)
r = cli("export", "--user", "carol")
ok(r.returncode == 0 and r.stdout.strip() == b"",
   "export --user carol: nothing", r.stderr, r.stdout[:300])
r = subprocess.run([D, "export", "--user", "bob", "--db", dash.url],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   env=dash.env, timeout=60)
ok(r.returncode == 64 and b"http_users" in r.stderr,
   "export --user without http_users: 64 saying so", r.stderr)

# a TLS report with policies of two users' domains (beta's first, which
# names it): each sees it under their own domain with their policy, its
# failures and its counts only; the admin sees both
shared = os.path.join(TMP, "shared.json")
with open(shared, "w") as f:
    json.dump({"organization-name": "tls-shared.example",
               "contact-info": "tls@tls-shared.example",
               "report-id": "t-shared",
               "date-range": {"start-datetime": "2023-11-16T00:00:00Z",
                              "end-datetime": "2023-11-16T23:59:59Z"},
               "policies": [
                   policy("beta.example", 40, 3, "mx-shared.beta.example"),
                   policy("alpha.example", 7, 2,
                          "mx-shared.alpha.example")]}, f)
r = subprocess.run([D, "ingest", "-q", "--db", dash.url, shared],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   env=dash.env, timeout=60)
ok(r.returncode == 0, "a TLS report of both alpha's and beta's domains",
   r.stderr)
dash.serve(["--users", USERS])


def shared_of(user):
    s, j, text = get("/api/tlsrpt?" + PERIOD, user)
    return [t for t in (j or {}).get("reports", [])
            if t["organization_name"] == "tls-shared.example"], text


for user, own, other, good, bad in (
        ("alice", "alpha.example", "beta.example", 7, 2),
        ("bob", "beta.example", "alpha.example", 40, 3)):
    lst, text = shared_of(user)
    ok(len(lst) == 1 and lst[0]["domain"] == own and
       (lst[0]["n_policies"], lst[0]["successful"], lst[0]["failed"]) ==
       (1, good, bad) and other not in text,
       "%s: the shared TLS report in the list, under their domain, with"
       " their policy's counts" % user, lst, text[:300])
    s, j, text = get("/api/tlsrpt/item?domain=%s&id=%d" % (
        own, lst[0]["id"] if lst else 0), user)
    ok(s == 200 and [p["domain"] for p in j["policies"]] == [own] and
       [f["receiving_mx_hostname"] for f in j["failures"]] ==
       ["mx-shared." + own] and (j["report"]["n_policies"],
       j["report"]["successful"], j["report"]["failed"]) == (1, good, bad)
       and j["report"]["domain"] == own and other not in text,
       "%s: its page: their policy, its failures, its counts, nothing of"
       " the other's" % user, s, text[:600])
    s, j, text = get("/api/tlsrpt/item?domain=%s&id=%d" % (
        other, lst[0]["id"] if lst else 0), user)
    ok(s == 404, "%s: the same report named by the other's domain: 404"
       % user, s, text[:200])
lst, _ = shared_of("admin")
s, j, _ = get("/api/tlsrpt/item?domain=beta.example&id=%d" % (
    lst[0]["id"] if lst else 0), "admin")
ok(len(lst) == 1 and lst[0]["domain"] == "beta.example" and
   (lst[0]["n_policies"], lst[0]["successful"], lst[0]["failed"]) ==
   (2, 47, 5) and s == 200 and [p["domain"] for p in j["policies"]] ==
   ["beta.example", "alpha.example"] and len(j["failures"]) == 2,
   "admin: the shared report whole", lst, j)
# a user of both domains (root2: '*'): named by the domain asked for
names = []
for q in ("", "domain=alpha.example&", "domain=beta.example&"):
    s, j, _ = get("/api/tlsrpt?" + q + PERIOD, "root2")
    names.append([(t["domain"], t["n_policies"]) for t in
                  (j or {}).get("reports", [])
                  if t["organization_name"] == "tls-shared.example"])
ok(names == [[("beta.example", 2)], [("alpha.example", 2)],
             [("beta.example", 2)]],
   "root2 (every domain): the shared report named by the domain filtered"
   " on, both policies counted", names)
r = cli("export", "--type", "tlsrpt", "--user", "alice")
out = r.stdout.decode()
ok(r.returncode == 0 and "mx-shared.alpha.example" in out and
   "beta.example" not in out,
   "export --type tlsrpt --user alice: her policy of the shared report, not"
   " bob's", r.stderr, out[:1500])
dash.close()
shutil.rmtree(TMP, ignore_errors=True)
testlib.done()
