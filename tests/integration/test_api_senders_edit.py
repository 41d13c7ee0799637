#!/usr/bin/env python3
"""test_api_senders_edit.py - the dashboard's one write: the approved-sender
edits (POST /api/senders) against a real `dmarcd serve`, a real
PostgreSQL and curl.

Refused without a users file (the default stays read-only), for a user
without the senders right, without the CSRF token of /api/meta or with
a wrong one, from another Origin, for a bad rule or parameter; done for
a user with the right, visible in GET /api/senders and in the simulator's
classes; every other method and path still refused.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
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
TMP = tempfile.mkdtemp(prefix="dmarcd-api-senders-")
os.chmod(TMP, 0o755)
REPORT = os.path.join(TMP, "r.xml")
with open(REPORT, "wb") as f:
    f.write(report_xml(report_id="as-1", domain="edit.example", records=[
        dict(ip="192.0.2.9", count=4, dkim=[("esp.example", "s", "pass")],
             spf_domain="esp.example", spf="pass")]))
dash = httpdlib.Dashboard(D, [REPORT])
ok(dash.ingest_rc == 0, "report ingested", dash.ingest_err)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt
    h6 = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_SHA512))
USERS = os.path.join(TMP, "users")


def users(text):
    with open(USERS, "w") as f:
        f.write(text)
    os.chmod(USERS, 0o600)


def req(path, *args):
    s, h, b = httpdlib.curl(dash.base + path, *args)
    try:
        return s, json.loads(b)
    except ValueError:
        return s, {"_raw": b[:300]}


def post(query, user="alice:s3cret", token=None, origin=None):
    args = ["-X", "POST"]
    if user:
        args += ["-u", user]
    if token:
        args += ["-H", "X-Dmarcd-CSRF: " + token]
    if origin:
        args += ["-H", "Origin: " + origin]
    return req("/api/senders?" + query, *args)


ADD = "action=add&domain=edit.example&rule=dkim%20esp.example"

# --- no users file: read-only ------------------------------------------------
dash.serve()
s, j = req("/api/meta")
token = j.get("csrf", "")
ok(s == 200 and len(token) == 32, "/api/meta carries a CSRF token", j)
s, j = post(ADD, user=None, token=token)
ok(s == 403 and "users file" in j.get("error", ""),
   "no users file: edits refused (403)", s, j)
s, _ = req("/api/senders", "-X", "PUT")
ok(s == 405, "PUT refused (405)", s)
s, _ = req("/api/overview", "-X", "POST")
ok(s == 405, "POST elsewhere refused (405)", s)
dash.stop()

# --- a users file: bob may read, alice may edit ------------------------------
users("alice:%s:senders\nbob:%s\n" % (h6, h6))
dash.serve(["--users", USERS])
s, j = req("/api/meta", "-u", "bob:s3cret")
token = j.get("csrf", "")
s, j = post(ADD, user="bob:s3cret", token=token)
ok(s == 403 and "senders right" in j.get("error", ""),
   "a user without the senders right: 403", s, j)
s, j = post(ADD, user="alice:wrong", token=token)
ok(s == 401, "a wrong password: 401", s, j)
s, j = post(ADD)
ok(s == 403 and "X-Dmarcd-CSRF" in j.get("error", ""),
   "no CSRF token: 403", s, j)
s, j = post(ADD, token="0" * 32)
ok(s == 403, "a wrong CSRF token: 403", s, j)
s, j = post(ADD, token=token, origin="https://evil.example")
ok(s == 403, "another Origin: 403", s, j)
ok(dash.pg.psql("dmarcd", "SELECT count(*) FROM sender_rule").strip() ==
   "0", "nothing written by the refused edits")
s, j = post(ADD + "&note=our%20ESP", token=token,
            origin=dash.base)
ok(s == 200 and j == {"domain": "edit.example", "rule": "dkim esp.example",
                      "added": True}, "alice adds a rule (same Origin)",
   s, j)
s, j = post(ADD.replace("edit.example", "EDIT.Example."), token=token)
ok(s == 200 and j.get("added") is False,
   "the same rule again (domain case and final dot ignored): not added "
   "twice", s, j)
ok(dash.pg.psql("dmarcd", "SELECT domain || ' ' || kind || ' ' || value ||"
                " ' ' || note FROM sender_rule").strip() ==
   "edit.example dkim esp.example our ESP", "stored, normalised, its note")
s, j = req("/api/senders?domain=edit.example", "-u", "bob:s3cret")
ok(s == 200 and [(r["kind"], r["value"]) for r in j.get("rules", [])] ==
   [("dkim", "esp.example")],
   "GET /api/senders lists it (read right enough)", s, j)
s, j = req("/api/simulate?domain=edit.example&from=2000-01-01"
           "&to=2069-12-31&p=reject", "-u", "bob:s3cret")
d = (j.get("domains") or [{}])[0]
ok(d.get("by_class", {}).get("approved", {}).get("messages") == 4,
   "the simulator sees the new approved sender", d)
for q, msg in (("action=add&domain=edit.example&rule=cidr%20300.1.2.3/8",
                "rule: "),
               ("action=add&domain=edit.example&rule=dkim%20com", "rule: "),
               ("action=add&domain=edit.example&rule=frob%20x", "rule: "),
               ("action=add&domain=edit.example&rule=dkim%20" + "a" * 300,
                "rule: "),
               ("action=grant&domain=edit.example&rule=dkim%20x.example",
                "action: expected add or remove"),
               ("action=add&rule=dkim%20x.example", "domain: expected"),
               (ADD + "&admin=1", "unknown parameter: admin"),
               (ADD + "&rule=spf%20x.example", "repeated parameter: rule")):
    s, j = post(q, token=token)
    ok(s == 400 and j.get("error", "").startswith(msg),
       "refused (400): %s" % q[:70], s, j)
s, j = post("action=add&domain=edit.example&rule=service%20amazon%20ses",
            token=token)
ok(s == 200 and j.get("rule") == "service Amazon SES",
   "a service rule is spelt as the catalogue spells it", s, j)
s, j = post("action=add&domain=edit.example&rule=service%20No%20Such%20ESP",
            token=token)
ok(s == 400 and "not in the service catalogue" in j.get("error", ""),
   "a service the catalogue lacks: 400", s, j)
post("action=remove&domain=edit.example&rule=service%20Amazon%20SES",
     token=token)
s, j = post(ADD.replace("add", "remove"), token=token)
ok(s == 200 and j.get("removed") is True and dash.pg.psql(
    "dmarcd", "SELECT count(*) FROM sender_rule").strip() == "0",
   "alice removes it", s, j)
s, j = post(ADD.replace("add", "remove"), token=token)
ok(s == 200 and j.get("removed") is False, "removing it again: false", s, j)
s, j = req("/api/senders?" + ADD, "-X", "POST", "-u", "alice:s3cret", "-H",
           "X-Dmarcd-CSRF: " + token, "--data-binary", "x" * 100000)
ok(s == 413 and dash.pg.psql("dmarcd", "SELECT count(*) FROM sender_rule")
   .strip() == "0", "an edit with a body: 413, nothing read or written", s, j)
s, j = req("/api/meta", "-u", "bob:s3cret")
ok(s == 200, "the server still answers after it", s)
dash.stop()

# --- behind a reverse proxy: the Origin of http_public_url ----------------------
PUB = os.path.join(TMP, "public.conf")
with open(PUB, "w") as f:
    f.write("http_public_url = https://DMARC.example.org/dmarcd/\n")
dash.serve(["--users", USERS, "-f", PUB])
s, j = req("/api/meta", "-u", "alice:s3cret")
token = j.get("csrf", "")
s, j = post(ADD, token=token, origin="https://dmarc.example.org")
ok(s == 200 and j.get("added") is True,
   "the Origin of http_public_url is this dashboard's (a proxy's Host "
   "aside)", s, j)
for bad in ("https://dmarc.example.org.evil.example", "http://dmarc.example.org",
            "https://dmarc.example.org:8443", "https://evil.example"):
    s, j = post(ADD.replace("add", "remove"), token=token, origin=bad)
    ok(s == 403, "Origin %s: 403" % bad, s, j)
post(ADD.replace("add", "remove"), token=token, origin=dash.base)
dash.stop()

# --- a dashboard whose database role may not write -----------------------------
r = subprocess.run([D, "db", "grant", "viewer", "--read-only", "--db",
                    dash.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   env=dash.env)
ok(r.returncode == 0, "db grant viewer --read-only", r.stderr)
owner_url, dash.url = dash.url, dash.url.replace("user=postgres",
                                                  "user=viewer")
dash.serve(["--users", USERS])
s, j = req("/api/meta", "-u", "alice:s3cret")
s, j = post(ADD, token=j.get("csrf", ""))
ok(s == 503 and "may not write" in j.get("error", "") and dash.pg.psql(
    "dmarcd", "SELECT count(*) FROM sender_rule").strip() == "0",
   "the server's role may not write: 503 saying so (not a cap, not 500)",
   s, j)
dash.stop()
dash.url = owner_url

# --- a new server, a new token ------------------------------------------------
dash.serve(["--users", USERS])
s, j = post(ADD, token=token)
ok(s == 403, "the token of an earlier start is refused", s, j)
dash.stop()
users("carol:%s:admin\n" % h6)
p = dash.serve(["--users", USERS], wait=False)
out, err = p.communicate(timeout=30)
ok(p.returncode != 0 and b"the only right is" in err,
   "an unknown right in the users file is refused at start", err)
dash.proc = None
dash.close()
shutil.rmtree(TMP, ignore_errors=True)
testlib.done()
