#!/usr/bin/env python3
"""test_senders.py - `dmarcd senders` against a real PostgreSQL, over
reports ingested with `dmarcd ingest`: rules added (normalised, a service
spelled as the catalogue spells it, notes kept verbatim), listed,
removed; every hostile rule a clear error that changes nothing (bad
CIDR, unknown kind, a 300-byte domain, a service not in the catalogue);
10,000 rules a domain work and the 10,001st is refused (add and sync);
`sync FILE` reports every error as file:line before changing anything,
makes the table equal to the file and is idempotent; `suggest` lists the
sources passing >= 95% over >= 10 messages, grouped by the rule that
would approve them (service, verified PTR base domain, else the /32 or
/128), and leaves out what a rule approves already."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, diag, skip_all, done, dmarcd  # noqa: E402
import pglib  # noqa: E402
from dbfix import run, json_lines, report_xml  # noqa: E402

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed (/usr/lib/postgresql/*/bin)")
D = dmarcd()
pg = pglib.Cluster()
url = pg.createdb("senders")
tmp = tempfile.mkdtemp(prefix="dmarcd-test-senders-")
ENV = {"DMARCD_CONF": os.path.join(tmp, "empty.conf"), "DMARCD_DB": ""}
open(ENV["DMARCD_CONF"], "w").close()
DOM = "example.org"


def dm(*args):
    return run([D, "senders", "--db", url] + list(args), env=ENV)


def rules(domain=None):
    r = dm(*(["list"] + ([domain] if domain else [])))
    ok(r.returncode == 0, "list %s exits 0" % (domain or ""), r.stderr)
    return [(o["domain"], o["kind"], o["value"], o["note"])
            for o in json_lines(r.stdout.decode())]


def table():
    return pg.psql("senders", "SELECT domain, kind, value, note FROM"
                   " sender_rule ORDER BY 1, 2, 3")


def good(n, ip, dkim=DOM):
    return dict(ip=ip, count=n, dkim=[(dkim, "s1", "pass")])


def bad(n, ip):
    return dict(ip=ip, count=n, dkim_eval="fail", spf_eval="fail",
                dkim=[("evil.test", "s1", "fail")], spf_domain="evil.test",
                spf="fail")


# --- the reports: a recent one (the default period: 30 days) and an old
# one of another domain
now = int(time.time())
recent = report_xml(report_id="s-1", domain=DOM, begin=now - 3 * 86400,
                    end=now - 2 * 86400, records=[
                        good(20, "192.0.2.1"), good(15, "192.0.2.2"),
                        good(12, "198.51.100.7"), good(10, "203.0.113.9"),
                        good(9, "2001:db8::5"),
                        good(90, "203.0.113.50"), bad(10, "203.0.113.50"),
                        bad(20, "203.0.113.60"),
                        good(19, "203.0.113.70"), bad(1, "203.0.113.70"),
                        good(40, "2001:db8::77")])
old = report_xml(report_id="s-2", domain="old.example", begin=1577836800,
                 end=1577923199, records=[good(50, "192.0.2.99",
                                               "old.example")])
for name, data in (("recent.xml", recent), ("old.xml", old)):
    with open(os.path.join(tmp, name), "wb") as f:
        f.write(data)
r = run([D, "ingest", "-q", "--db", url, os.path.join(tmp, "recent.xml"),
         os.path.join(tmp, "old.xml")], env=ENV)
ok(r.returncode == 0, "reports ingested", r.stderr)
# what the enricher would have found (test_classify.py tests that part)
pg.psql("senders", "UPDATE source_host SET state = 'ok', service ="
        " 'Amazon SES', service_type = 'transactional' WHERE ip IN"
        " ('192.0.2.1', '192.0.2.2');"
        " UPDATE source_host SET state = 'ok', ptr = 'mx1.mail.example.net',"
        " ptr_verified = true, base_domain = 'example.net' WHERE ip ="
        " '198.51.100.7';"
        " UPDATE source_host SET state = 'ok', ptr = 'host.unverified.test',"
        " ptr_verified = false, base_domain = 'unverified.test' WHERE ip ="
        " '2001:db8::77'")

# --- suggest, no rules ------------------------------------------------------
KEYS = ["domain", "rule", "service", "service_type", "sources", "messages",
        "dmarc_pass", "ips"]
WANT = [
    (DOM, "cidr 2001:db8::77/128", None, 1, 40, 40, ["2001:db8::77"]),
    (DOM, "service Amazon SES", "Amazon SES", 2, 35, 35,
     ["192.0.2.1", "192.0.2.2"]),
    (DOM, "cidr 203.0.113.70/32", None, 1, 20, 19, ["203.0.113.70"]),
    (DOM, "ptr example.net", None, 1, 12, 12, ["198.51.100.7"]),
    (DOM, "cidr 203.0.113.9/32", None, 1, 10, 10, ["203.0.113.9"]),
]


def suggest(*args):
    r = dm("suggest", *args)
    ok(r.returncode == 0, "suggest %s exits 0" % " ".join(args), r.stderr)
    return json_lines(r.stdout.decode())


got = suggest()
ok(all(list(o.keys()) == KEYS for o in got) and len(got) > 0,
   "suggest: exactly the documented keys, in order", got[:1])
ok([(o["domain"], o["rule"], o["service"], o["sources"], o["messages"],
     o["dmarc_pass"], o["ips"]) for o in got] == WANT,
   "suggest (last 30 days): the consistent passers by rule, most messages"
   " first; 9 messages, 90% and 0% left out, 95% in; an unverified PTR is"
   " a cidr", json.dumps(got, indent=1))
got = suggest(DOM, "--since", "2019-01-01")
ok(len(got) == len(WANT) and all(o["domain"] == DOM for o in got),
   "suggest DOMAIN: that domain only")
got = suggest("--since", "2019-01-01", "--until", "2021-01-01")
ok([(o["domain"], o["rule"], o["messages"]) for o in got] ==
   [("old.example", "cidr 192.0.2.99/32", 50)],
   "suggest --since/--until: the old report's period only", got)
r = dm("suggest", "--format", "text")
lines = r.stdout.decode().splitlines()
ok(r.returncode == 0 and lines[0].split()[:2] == ["DOMAIN", "RULE"] and
   len(lines) == 1 + len(WANT) and "service Amazon SES" in lines[2] and
   "95.0" in lines[3], "suggest --format text: a table", lines)

# --- add, list, remove --------------------------------------------------------
r = dm("add", DOM, "SERVICE", "amazon", "ses", "--note",
       "our ESP'); DROP TABLE sender_rule; --")
ok(r.returncode == 0 and r.stdout == b"added: example.org service Amazon"
   b" SES\n", "add a service unquoted, any case: the catalogue's name",
   r.stdout, r.stderr)
r = dm("add", "Example.ORG.", "service Amazon SES")
ok(r.returncode == 0 and r.stdout.startswith(b"already there:"),
   "the same rule again (domain in another case): already there", r.stdout)
r = dm("add", DOM, "cidr 203.0.113.9/24")
ok(r.returncode == 0 and b"cidr 203.0.113.0/24" in r.stdout,
   "a CIDR stored with its host bits cleared", r.stdout, r.stderr)
r = dm("add", DOM, "ptr", "Example.NET.")
ok(r.returncode == 0, "a ptr rule", r.stderr)
ok(rules(DOM) == [
    (DOM, "service", "Amazon SES", "our ESP'); DROP TABLE sender_rule; --"),
    (DOM, "cidr", "203.0.113.0/24", None), (DOM, "ptr", "example.net", None)],
   "list DOMAIN: the rules normalised, the note verbatim", rules(DOM))
got = suggest()
ok([o["rule"] for o in got] == ["cidr 2001:db8::77/128"],
   "suggest leaves out the approved sources (service, cidr, ptr)",
   [o["rule"] for o in got])
r = dm("add", DOM, "dkim", DOM)
got = suggest()
ok(r.returncode == 0 and got == [],
   "a dkim rule approving every passing signature: nothing to suggest", got)
r = dm("remove", DOM, "dkim", "EXAMPLE.org")
ok(r.returncode == 0 and r.stdout == b"removed: example.org dkim"
   b" example.org\n", "remove (normalised)", r.stdout, r.stderr)
r = dm("remove", DOM, "dkim", DOM)
ok(r.returncode == 1 and b"no rule dkim example.org" in r.stderr,
   "remove a rule not there: exit 1, said", r.returncode, r.stderr)
r = dm("list", "--format", "text")
ok(r.returncode == 0 and r.stdout.decode().splitlines() == [
    "example.org service Amazon SES  # our ESP'); DROP TABLE sender_rule;"
    " --", "example.org cidr 203.0.113.0/24", "example.org ptr example.net"],
   "list --format text: the file form", r.stdout)

# --- hostile rules: clear errors, nothing changed -------------------------------
before = table()
for args, want, name in [
        (["cidr", "203.0.113.0/33"], b"the length must be 0..32",
         "a /33"),
        (["cidr", "203.0.113.0/24x"], b"the length must be", "24x"),
        (["cidr", "999.1.1.1/8"], b"not an IPv4 or IPv6 address",
         "999.1.1.1"),
        (["ip", "192.0.2.1"], b"unknown kind", "an unknown kind"),
        (["dkim", "com"], b"a public suffix", "a public suffix"),
        (["ptr", ("a" * 49 + ".") * 5 + "a" * 46 + ".com"],
         b"domain of 300 bytes (at most 253)", "a 300-byte domain"),
        (["service", "No Such Service"], b"not in the service catalogue",
         "a service not in the catalogue"),
        (["spf", "ex\x1b[31mample.com"], b"not a domain name",
         "a control sequence")]:
    r = dm("add", DOM, *args)
    ok(r.returncode == 64 and want in r.stderr and b"\x1b" not in r.stderr,
       "add %s: exit 64, a clear error" % name, r.returncode, r.stderr)
r = dm("add", "exa mple.org", "ptr example.net")
ok(r.returncode == 64 and b"not a domain name" in r.stderr,
   "a bad DOMAIN refused", r.stderr)
r = dm("add", DOM, "ptr example.net", "--note", "line\nbreak")
ok(r.returncode == 64 and b"control character" in r.stderr,
   "a note with a newline refused", r.stderr)
ok(table() == before, "nothing changed by the refused rules")

# --- sync ---------------------------------------------------------------------
conf = os.path.join(tmp, "senders.conf")
with open(conf, "w") as f:
    f.write("# approved senders\n"
            "example.org service Amazon SES   # our ESP\n"
            "example.org cidr 192.0.2.0/24\n"
            "\n"
            "example.org cidr 192.0.2.7/24\n"           # 4: the same as 2
            "example.org cidr 192.0.2.0/99\n"           # 5
            "example.org mx example.net\n"              # 6
            "example.org service Nobody\n"              # 7
            "exa$mple.org dkim example.org\n"           # 8
            "example.org dkim " + "a" * 300 + ".com\n"  # 9
            "example.org ptr\n")                        # 10
r = dm("sync", conf)
errs = r.stderr.decode()
ok(r.returncode == 1 and all("%s:%d:" % (conf, n) in errs
                             for n in (5, 6, 7, 8, 9, 10)) and
   "%s:5: the same rule as line 3" % conf in errs and
   "nothing changed" in errs and table() == before,
   "sync: every error as file:line, nothing changed", errs)
with open(conf, "w") as f:
    f.write("# approved senders\n"
            "example.org service amazon ses   # our ESP\n"
            "Example.org. CIDR 192.0.2.0/24\n"
            "example.org ptr example.net\n"
            "old.example dkim old.example  # legacy\n")
r = dm("sync", conf)
ok(r.returncode == 0 and b"4 rules: 2 added, 1 removed, 1 notes changed"
   in r.stdout, "sync: the table made equal to the file", r.stdout, r.stderr)
ok(rules() == [(DOM, "service", "Amazon SES", "our ESP"),
               (DOM, "cidr", "192.0.2.0/24", None),
               (DOM, "ptr", "example.net", None),
               ("old.example", "dkim", "old.example", "legacy")],
   "sync: exactly the file's rules and notes", rules())
r = dm("sync", conf)
ok(r.returncode == 0 and b"0 added, 0 removed, 0 notes changed" in r.stdout,
   "sync again: nothing changes (idempotent)", r.stdout)
r = dm("list", "--format", "text")
with open(conf, "wb") as f:
    f.write(r.stdout)
r = dm("sync", conf)
ok(r.returncode == 0 and b"0 added, 0 removed, 0 notes changed" in r.stdout,
   "list --format text fed to sync: nothing changes", r.stdout, r.stderr)

# --- 10,000 rules a domain ------------------------------------------------------
big = os.path.join(tmp, "big.conf")
with open(big, "w") as f:
    for i in range(10000):
        f.write("big.example cidr 10.%d.%d.0/24\n" % (i // 256, i % 256))
t0 = time.time()
r = dm("sync", big)
ok(r.returncode == 0 and b"10000 rules: 10000 added, 4 removed" in r.stdout,
   "sync of 10,000 rules works (%.2f s)" % (time.time() - t0), r.stdout,
   r.stderr)
r = dm("add", "big.example", "cidr 192.0.2.0/24")
ok(r.returncode == 1 and b"at most 10000" in r.stderr,
   "add the 10,001st rule: refused", r.stderr)
r = dm("add", "big.example", "cidr 10.0.5.0/24")
ok(r.returncode == 0 and b"already there" in r.stdout,
   "a rule already there, at the cap: not an error", r.stdout, r.stderr)
r = dm("add", "other.example", "cidr 192.0.2.0/24")
ok(r.returncode == 0, "another domain has its own 10,000", r.stderr)
with open(big, "a") as f:
    f.write("big.example cidr 10.200.0.0/24\n")
r = dm("sync", big)
ok(r.returncode == 1 and ("%s:10001: more than 10000 rules for big.example"
                          % big).encode() in r.stderr and
   pg.psql("senders", "SELECT count(*) FROM sender_rule").strip() ==
   "10001", "sync of 10,001 rules a domain: refused at its line, nothing"
   " changed", r.stderr)
got = suggest()
ok(isinstance(got, list), "suggest with 10,000 rules of another domain")

r = dm("frobnicate")
ok(r.returncode == 64, "an unknown subcommand: usage", r.returncode)
r = dm("list", "--note", "x")
ok(r.returncode == 64, "--note outside add: usage", r.returncode)

pg.cleanup()
done()
