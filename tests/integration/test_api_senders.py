#!/usr/bin/env python3
"""test_api_senders.py - GET /api/senders?domain= of `dmarcd serve` against
a real PostgreSQL loaded by `dmarcd ingest` (a report written here): the
domain's rules as `dmarcd senders` stored them (notes as data, through the
JSON encoder), the suggested approvals of the period (as `senders
suggest`: >= 95% of >= 10 messages), an approved source no longer
suggested, the period honoured, the domain required, read-only."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpdlib  # noqa: E402
import pglib  # noqa: E402
import testlib  # noqa: E402
from testlib import ok  # noqa: E402
from dbfix import report_xml  # noqa: E402

D = testlib.dmarcd()
if pglib.find_bindir() is None:
    testlib.skip_all("PostgreSQL not installed")
if shutil.which("curl") is None:
    testlib.skip_all("curl not installed")

tmp = tempfile.mkdtemp(prefix="dmarcd-test-api-senders-")
fix = os.path.join(tmp, "report.xml")
with open(fix, "wb") as f:
    f.write(report_xml(report_id="a-1", domain="example.org",
                       begin=1699920000, end=1700006399, records=[
                           dict(ip="192.0.2.1", count=20),
                           dict(ip="192.0.2.2", count=5),
                           dict(ip="192.0.2.2", count=5, dkim_eval="fail",
                                spf_eval="fail",
                                dkim=[("evil.test", "s", "fail")],
                                spf="fail")]))
dash = httpdlib.Dashboard(D, [fix])
ok(dash.ingest_rc == 0, "report ingested", dash.ingest_err)
NOTE = '</script><img src=x onerror=alert(1)> "q"'
r = subprocess.run([D, "senders", "--db", dash.url, "add", "example.org",
                    "ptr", "example.net", "--note", NOTE],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   env=dash.env)
ok(r.returncode == 0, "a rule added", r.stderr)
dash.serve()
PERIOD = "from=2023-11-01&to=2023-11-30"


def jget(query, *args):
    s, h, b = httpdlib.curl(dash.base + "/api/senders?" + query, *args)
    try:
        return s, h, json.loads(b)
    except ValueError:
        return s, h, b


s, h, j = jget("domain=Example.ORG&" + PERIOD)
ok(s == 200 and h.get("content-type", "").startswith("application/json"),
   "200, JSON", s, h)
ok(isinstance(j, dict) and list(j.keys()) == ["filter", "rules",
                                              "suggested"] and
   j["filter"]["domain"] == "example.org",
   "keys filter, rules, suggested; the domain normalised", j)
ok(j["rules"] and len(j["rules"]) == 1 and
   list(j["rules"][0].keys()) == ["kind", "value", "note", "added"] and
   j["rules"][0]["kind"] == "ptr" and j["rules"][0]["value"] ==
   "example.net" and j["rules"][0]["note"] == NOTE,
   "the rule, its hostile note as data", j.get("rules"))
ok(j["suggested"] == [dict(rule="cidr 192.0.2.1/32", service=None,
                           service_type=None, sources=1, messages=20,
                           dmarc_pass=20, ips=["192.0.2.1"])],
   "suggested: the source passing 100% of 20; 50% of 10 left out",
   j.get("suggested"))
s, h, j = jget("domain=example.org&from=2024-01-01&to=2024-01-31")
ok(s == 200 and j["suggested"] == [] and len(j["rules"]) == 1,
   "another period: nothing suggested, the rules the same", j)
r = subprocess.run([D, "senders", "--db", dash.url, "add", "example.org",
                    "cidr", "192.0.2.0/30"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, env=dash.env)
s, h, j = jget("domain=example.org&" + PERIOD)
ok(r.returncode == 0 and s == 200 and j["suggested"] == [] and
   [x["kind"] for x in j["rules"]] == ["cidr", "ptr"],
   "an approved source is no longer suggested", j)
s, h, j = jget(PERIOD)
ok(s == 400 and b"domain: required" in json.dumps(j).encode(),
   "no domain: 400 with the reason", s, j)
s, h, j = jget("domain=example.org&ip=192.0.2.1")
ok(s == 400, "a parameter it does not take: 400", s, j)
s, h, b = httpdlib.curl(dash.base + "/api/senders?domain=example.org",
                        "-X", "POST", "-d", "rule=cidr 0.0.0.0/0")
ok(s in (403, 405), "POST refused: the API stays read-only", s, b)
s, h, j = jget("domain=nothing.example&" + PERIOD)
ok(s == 200 and j["rules"] == [] and j["suggested"] == [],
   "a domain without data: empty lists", j)

dash.close()
shutil.rmtree(tmp, ignore_errors=True)
testlib.done()
