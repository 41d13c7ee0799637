#!/usr/bin/env python3
"""test_parse_cli.py - `dmarcd parse` as a command: the JSON line format,
stdin, gzip/zip wrappers, error lines, exit statuses.  Uses the project's
own fixtures in tests/data/cli."""
import gzip
import io
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, dmarcd, run  # noqa: E402

exe = dmarcd()
data = os.path.join(os.environ.get("TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "data", "cli")
xml_path = os.path.join(data, "example.org.xml")
xml = open(xml_path, "rb").read()

REPORT_KEYS = ["type", "source", "org_name", "org_email", "report_id", "begin", "end",
               "errors", "generator", "policy", "records"]
POLICY_KEYS = ["domain", "adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing",
               "discovery_method"]
RECORD_KEYS = ["source_ip", "count", "disposition", "dkim", "spf", "reasons",
               "header_from", "envelope_from", "envelope_to", "auth_dkim", "auth_spf"]

res = run([exe, "parse", xml_path])
ok(res.rc == 0, "parse FILE exits 0", res.err)
lines = res.json_lines()
ok(len(lines) == 1, "one line per report")
r = lines[0]
ok(all(k in r for k in REPORT_KEYS), "report has every documented key",
   sorted(set(REPORT_KEYS) - set(r)))
ok(all(k in r["policy"] for k in POLICY_KEYS), "policy has every documented key")
ok(all(k in rec for rec in r["records"] for k in RECORD_KEYS),
   "records have every documented key")
ok(r["type"] == "aggregate" and r["source"] == xml_path, "type and source")
ok((r["org_name"], r["org_email"], r["report_id"]) ==
   ("Example Receiver", "dmarc-reports@receiver.example", "cli-fixture-0001"),
   "metadata", r)
ok((r["begin"], r["end"]) == (1767225600, 1767311999), "period as unix seconds")
ok(r["errors"] == [] and r["generator"] is None, "absent values: [] and null")
ok(r["policy"] == {"domain": "example.org", "adkim": "r", "aspf": "s",
                   "p": "quarantine", "sp": "reject", "np": None, "pct": 50,
                   "fo": "1", "testing": None, "discovery_method": None},
   "policy values", r["policy"])
a, b = r["records"]
ok(a["source_ip"] == "192.0.2.10" and a["count"] == 12, "record 1 ip and count")
ok(a["auth_dkim"] == [{"domain": "example.org", "selector": "s2026",
                       "result": "pass", "human_result": None}], "record 1 dkim", a)
ok(a["auth_spf"][0]["scope"] == "mfrom", "record 1 spf scope")
ok(b["source_ip"] == "2001:db8::25", "IPv6 normalised", b["source_ip"])
ok(b["reasons"] == [{"type": "forwarded", "comment": 'list <x> "quoted"'}],
   "reason with entities decoded", b["reasons"])
ok(b["envelope_from"] is None and b["auth_dkim"] == [], "absent identifiers")

# stdin, and the same report gzipped and zipped
res = run([exe, "parse", "-"], stdin=xml)
ok(res.rc == 0 and res.json_lines()[0]["records"] == r["records"],
   "parse - reads stdin", res.err)
res = run([exe, "parse"], stdin=gzip.compress(xml))
ok(res.rc == 0 and res.json_lines()[0]["records"] == r["records"],
   "no argument: stdin; gzip recognised by magic", res.err, res.out[:300])
zbuf = io.BytesIO()
with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("one.xml", xml)
    z.writestr("two.xml", xml.replace(b"cli-fixture-0001", b"cli-fixture-0002"))
res = run([exe, "parse", "-"], stdin=zbuf.getvalue())
ids = [l.get("report_id") for l in res.json_lines()]
ok(res.rc == 0 and ids == ["cli-fixture-0001", "cli-fixture-0002"],
   "zip with two reports gives two lines", ids, res.err)

# errors: a non-report, a missing file, a truncated report; the rest goes on
missing = os.path.join(data, "does-not-exist.xml")
res = run([exe, "parse", os.path.join(data, "not-a-report.eml"), missing,
           xml_path, "-"], stdin=xml[: len(xml) // 2])
lines = res.json_lines()
types = [l["type"] for l in lines]
ok(res.rc == 1, "exit 1 when an input gave no report", res.rc)
ok(types == ["error", "error", "aggregate", "error"],
   "one line per input, in order", types)
ok(all(l.get("reason") for l in lines if l["type"] == "error"),
   "error lines carry a reason", lines)
ok(lines[1]["source"] == missing and "open" in lines[1]["reason"],
   "missing file: says it cannot be opened", lines[1])
ok(lines[3]["source"] == "<stdin>", "stdin is named <stdin>")

# parse takes the limits and privacy settings of dmarcd.conf, as ingest
# does: what the defaults accept, a small cap refuses
import tempfile  # noqa: E402
tmp = tempfile.mkdtemp(prefix="dmarcd-parse-")


def conf(name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


empty = conf("empty.conf", "")
env = dict(os.environ, DMARCD_CONF=empty)
res = run([exe, "parse", xml_path], env=env)
ok(res.rc == 0 and len(res.json_lines()[0]["records"]) == 2,
   "defaults: the two-record report parses", res.rc, res.err)
small = conf("small.conf", "max_records = 1\n")
res = run([exe, "parse", "-f", small, xml_path], env=env)
lines = res.json_lines()
ok(res.rc == 1 and [l["type"] for l in lines] == ["error"] and
   "max_records" in lines[0]["reason"],
   "parse -f: max_records = 1 refuses the two-record report", res.rc,
   lines, res.err)
res = run([exe, "parse", xml_path], env=dict(os.environ, DMARCD_CONF=small))
ok(res.rc == 1 and "max_records" in res.out.decode(),
   "parse reads $DMARCD_CONF like the other commands", res.rc, res.out)
arf = os.path.join(os.path.dirname(data), "forensic", "auth-failure.eml")
res = run([exe, "parse", arf], env=env)
r = res.json_lines()[0]
ok(res.rc == 0 and not r["redacted"] and r["body"] is None and
   r["original_mail_from"] == "alice.sender@example.org",
   "failure report, defaults: not redacted, no body", r)
res = run([exe, "parse", "-f", conf("privacy.conf", "forensic_redact = 1\n"
                                    "forensic_keep_body = 1\n"), arf], env=env)
r = res.json_lines()[0]
ok(res.rc == 0 and r["redacted"] and r["body"] and
   r["original_mail_from"] == "redacted@example.org" and
   all(a.startswith("redacted@") for a in r["original_rcpt_to"]),
   "failure report: forensic_redact and forensic_keep_body apply", r)
res = run([exe, "parse", "-f", os.path.join(tmp, "missing.conf"), xml_path])
ok(res.rc == 78, "parse -f with a missing file: exit 78 (EX_CONFIG)", res.rc)

res = run([exe, "parse", "--no-such-option"])
ok(res.rc == 64, "bad option: exit 64 (EX_USAGE)", res.rc)
res = run([exe, "no-such-command"])
ok(res.rc == 64, "unknown command: exit 64")
res = run([exe, "--help"])
ok(res.rc == 0 and b"parse" in res.out, "--help lists commands")

# every subcommand describes its options: --help, exit 0, on stdout
for cmd in ("parse", "ingest", "export", "quarantine", "db", "serve",
            "check-config", "lmtp", "summary"):
    res = run([exe, cmd, "--help"])
    ok(res.rc == 0 and res.out.startswith(b"usage: dmarcd " + cmd.encode())
       and b"options:" in res.out, "%s --help: usage and options, exit 0"
       % cmd, res.rc, res.out[:200], res.err[:200])
res = run([exe, "help", "export"])
ok(res.rc == 0 and b"--since" in res.out, "dmarcd help export", res.out[:200])
res = run([exe, "lmtp", "--help"])
ok(b"--session-timeout" in res.out and b"--maildir" in res.out,
   "lmtp --help names its options", res.out)

# a mistyped command: the nearest one suggested, still a usage error
res = run([exe, "injest", "x"])
ok(res.rc == 64 and b"did you mean 'ingest'?" in res.err,
   "injest: did you mean 'ingest'?", res.rc, res.err[:200])
res = run([exe, "chek-config"])
ok(b"did you mean 'check-config'?" in res.err, "chek-config suggested",
   res.err[:200])
res = run([exe, "frobnicate"])
ok(res.rc == 64 and b"did you mean" not in res.err,
   "nothing near: no guess", res.err[:200])
done()
