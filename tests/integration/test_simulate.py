#!/usr/bin/env python3
"""test_simulate.py - `dmarcd simulate` against an independent
recomputation.

The reference below reads the report files itself (Python's email,
zlib, zipfile and ElementTree; no dmarcd code), takes organisational
domains from Debian's public suffix list file with its own reading of the
PSL algorithm, and recomputes every record's DMARC result: a passing DKIM
d= or a passing SPF (MAIL FROM) domain, aligned with header_from strictly
(equal) or relaxed (same organisational domain).  The shared corpus's
aggregate reports (the files EXPECTED-aggregate.jsonl lists) and a
synthetic corpus (gen-reports) are ingested into a real PostgreSQL; for
strict DKIM, strict SPF, relaxed both, and p=reject with pct=100 and 50,
each domain's figures must equal the reference's.  Then the options: a
published policy taken when not given, bad values refused.
"""
import email
import io
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
from dbfix import report_xml  # noqa: E402
from testlib import ok, diag, skip_all, done, dmarcd, shared_dir  # noqa: E402

D = dmarcd()
PSL_FILE = "/usr/share/publicsuffix/public_suffix_list.dat"
if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")
if not os.path.exists(PSL_FILE):
    skip_all("no %s (Debian publicsuffix)" % PSL_FILE)
SHARED = shared_dir()
GEN = os.path.join(SHARED, "tools", "gen-reports") if SHARED else None


# --- the public suffix list, read here --------------------------------------
RULES, WILD, EXC = set(), set(), set()
with open(PSL_FILE, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0].encode("idna").decode() \
            if not line.isascii() else line.split()[0]
        if rule.startswith("!"):
            EXC.add(rule[1:].lower())
        elif rule.startswith("*."):
            WILD.add(rule[2:].lower())
        else:
            RULES.add(rule.lower())


def valid(name):
    return (0 < len(name) <= 253 and
            all(0 < len(lab) <= 63 for lab in name.split(".")) and
            all(c.isalnum() and c.isascii() or c in "-_."
                for c in name))


def org(name):
    """The registrable domain: the longest matching rule (an exception
    rule wins, a wildcard counts one label more), '*' when none does,
    plus one label; None for a public suffix or an invalid name."""
    if name is None:
        return None
    name = name.lower().rstrip(".")
    if not valid(name):
        return None
    labels = name.split(".")
    suffix_len = 1      # the default rule "*"
    for i in range(len(labels)):
        cand = ".".join(labels[i:])
        n = len(labels) - i
        if cand in EXC:
            suffix_len = n - 1
            break
        if cand in RULES and n > suffix_len:
            suffix_len = n
        if i + 1 < len(labels) and ".".join(labels[i + 1:]) in WILD and \
                n > suffix_len:
            suffix_len = n
    if len(labels) <= suffix_len:
        return None
    return ".".join(labels[-suffix_len - 1:])


# --- the reports, read here -------------------------------------------------
def documents(data):
    """The XML documents in a file's bytes: gzip, zip, an email, or XML."""
    if data[:2] == b"\x1f\x8b":
        # the first member (some mailers leave bytes after it), which may
        # be compressed again
        return documents(zlib.decompressobj(31).decompress(data))
    if data[:2] == b"PK":
        z = zipfile.ZipFile(io.BytesIO(data))
        # macOS's AppleDouble entries (__MACOSX/._name) are no reports
        return [d for n in z.namelist() if not n.endswith("/") and
                not n.startswith("__MACOSX/") for d in documents(z.read(n))]
    if data.lstrip()[:1] == b"<":
        return [data]
    out = []
    msg = email.message_from_bytes(data)
    for part in msg.walk():
        if part.is_multipart():
            continue
        body = part.get_payload(decode=True) or b""
        if body[:2] in (b"\x1f\x8b", b"PK") or body.lstrip()[:5] == b"<?xml" \
                or b"<feedback" in body[:500]:
            out += documents(body)
    return out


def strip(tag):
    return tag.rsplit("}", 1)[-1]


def kids(e, name):
    return [c for c in e if strip(c.tag) == name]


def text(e, *path):
    for p in path:
        if e is None:
            return None
        k = kids(e, p)
        e = k[0] if k else None
    return e.text.strip() if e is not None and e.text else None


def report(doc):
    root = ET.fromstring(doc)
    meta = kids(root, "report_metadata")[0]
    pol = kids(root, "policy_published")[0]
    r = dict(domain=text(pol, "domain").lower(),
             key=(text(pol, "domain").lower(), text(meta, "org_name"),
                  text(meta, "report_id"),
                  text(meta, "date_range", "begin"),
                  text(meta, "date_range", "end")),
             records=[])
    for rec in kids(root, "record"):
        auth = kids(rec, "auth_results")
        auth = auth[0] if auth else None
        pe = kids(kids(rec, "row")[0], "policy_evaluated")
        r["records"].append(dict(
            ip=text(rec, "row", "source_ip"),
            reasons=[(text(x, "type") or "").lower() for x in
                     (kids(pe[0], "reason") if pe else [])],
            count=int(text(rec, "row", "count")),
            header_from=text(rec, "identifiers", "header_from"),
            dkim=[(text(d, "domain"), text(d, "result"))
                  for d in (kids(auth, "dkim") if auth is not None else [])],
            spf=[(text(s, "domain"), text(s, "scope"), text(s, "result"))
                 for s in (kids(auth, "spf") if auth is not None else [])]))
    return r


def aligned(d, frm, strict):
    if d is None:
        return False
    d, frm = d.lower().rstrip("."), frm.lower().rstrip(".")
    if d == frm:
        return True
    return not strict and org(frm) is not None and org(d) == org(frm)


# the approved senders of the fixture's domain (inserted below); no other
# domain has any
APPROVED = {"sim.example": [("cidr", "192.0.2.4/32"), ("spf", "esp.example")]}


def klass(domain, rec, frm):
    """approved, forwarded or unknown, as dmarcd(8) defines them."""
    def passing(pairs):
        return [d.lower().rstrip(".") for d, res in pairs
                if d and (res or "").lower() == "pass"]
    dk = passing(rec["dkim"])
    sp = passing([(d, res) for d, _, res in rec["spf"]])
    for kind, value in APPROVED.get(domain, []):
        if kind == "cidr" and ipaddress.ip_address(rec["ip"]) in \
                ipaddress.ip_network(value):
            return "approved"
        names = dk if kind == "dkim" else sp if kind == "spf" else []
        if any(n == value or n.endswith("." + value) for n in names):
            return "approved"
    if set(rec["reasons"]) & {"forwarded", "mailing_list",
                              "trusted_forwarder"}:
        return "forwarded"
    if not sp and org(frm) and any(org(d) == org(frm) for d in dk):
        return "forwarded"
    return "unknown"


def apply_pct(fail, pct):
    rej = fail["reject"] * pct // 100
    return fail["reject"] - rej + fail["quarantine"] * pct // 100, rej


def reference(reports, adkim, aspf, p, sp, pct):
    """Per domain: messages, pass (and strict variants), would_*, and the
    same by class."""
    out = {}
    for r in reports:
        o = out.setdefault(r["domain"], dict(
            messages=0, **{"pass": 0}, pass_strict_dkim=0,
            pass_strict_spf=0, fail_p=0, fail_sp=0,
            cls={c: dict(messages=0, fail={"none": 0, "quarantine": 0,
                                            "reject": 0})
                 for c in ("approved", "forwarded", "unknown")}))
        for rec in r["records"]:
            frm = rec["header_from"] or r["domain"]

            def passes(sd, ss):
                return any((res or "").lower() == "pass" and
                           aligned(d, frm, sd) for d, res in rec["dkim"]) or \
                    any((res or "").lower() == "pass" and
                        (scope or "mfrom").lower() == "mfrom" and
                        aligned(d, frm, ss) for d, scope, res in rec["spf"])
            n = rec["count"]
            c = o["cls"][klass(r["domain"], rec, frm)]
            c["messages"] += n
            o["messages"] += n
            o["pass_strict_dkim"] += n if passes(True, aspf) else 0
            o["pass_strict_spf"] += n if passes(adkim, True) else 0
            if passes(adkim, aspf):
                o["pass"] += n
                continue
            f, dom = frm.lower().rstrip("."), r["domain"]
            sub = f.endswith("." + dom)
            o["fail_sp" if sub else "fail_p"] += n
            c["fail"][sp if sub else p] += n
    for o in out.values():
        o["by_class"] = {}
        for k, c in o.pop("cls").items():
            q, rj = apply_pct(c["fail"], pct)
            o["by_class"][k] = dict(messages=c["messages"],
                                    would_fail=q + rj)
        fail = {"none": 0, "quarantine": 0, "reject": 0}
        fail[p] += o.pop("fail_p")
        fail[sp] += o.pop("fail_sp")
        rej = fail["reject"] * pct // 100
        o["would_reject"] = rej
        o["would_quarantine"] = fail["reject"] - rej + \
            fail["quarantine"] * pct // 100
    return out


# --- the inputs --------------------------------------------------------------
TMP = tempfile.mkdtemp(prefix="dmarcd-simulate-")
os.chmod(TMP, 0o755)
files = []
if SHARED:
    corpus = os.path.join(SHARED, "corpus")
    with open(os.path.join(corpus, "EXPECTED-aggregate.jsonl")) as f:
        files = sorted({json.loads(line)["file"] for line in f})
    files = [os.path.join(corpus, x) for x in files]
if GEN and os.access(GEN, os.X_OK):
    subprocess.run([GEN, "--out", os.path.join(TMP, "gen"), "--reports",
                    "300", "--max-records", "40", "--domains", "6",
                    "--seed", "29", "--formats", "xml"], check=True,
                   stdout=subprocess.DEVNULL)
    g = os.path.join(TMP, "gen", "xml")
    files += [os.path.join(g, x) for x in sorted(os.listdir(g))]
# our own: subdomains (sp), strict-only differences, helo scope, a
# forwarder's broken signature, a missing header_from
own = os.path.join(TMP, "own.xml")
with open(own, "wb") as f:
    f.write(report_xml(report_id="sim-own", domain="sim.example", records=[
        dict(ip="192.0.2.1", count=7, header_from="sim.example",
             dkim=[("mail.sim.example", "s1", "pass")],
             spf_domain="bounce.esp.example", spf="pass"),
        dict(ip="192.0.2.2", count=5, header_from="news.sim.example",
             dkim=[("esp.example", "s1", "pass")],
             spf_domain="news.sim.example", spf="pass"),
        dict(ip="192.0.2.3", count=3, header_from="shop.sim.example",
             dkim=[("sim.example", "s1", "fail")],
             spf_domain="x.example", spf="fail"),
        dict(ip="192.0.2.4", count=11, header_from="sim.example",
             dkim=[("sim.example", "s1", "pass")],
             spf_domain="sim.example", spf="pass"),
    ]))
files.append(own)
diag("%d input files" % len(files))

reports, seen = [], set()
for path in files:
    for doc in documents(open(path, "rb").read()):
        r = report(doc)
        if r["key"] not in seen:
            seen.add(r["key"])
            reports.append(r)
diag("%d reports, %d records read by the reference" % (
    len(reports), sum(len(r["records"]) for r in reports)))

cluster = pglib.Cluster()
url = cluster.createdb("sim")
r = subprocess.run([D, "ingest", "-q", "--db", url] + files,
                   capture_output=True)
ok(r.returncode == 0, "every input ingested", r.stderr.decode()[-2000:])
cluster.psql("sim", "INSERT INTO sender_rule (domain, kind, value) VALUES"
             " ('sim.example', 'cidr', '192.0.2.4/32'), ('sim.example',"
             " 'spf', 'esp.example')")
stored = int(cluster.psql("sim", "SELECT count(*) FROM report"))
ok(stored == len(reports), "as many reports stored as the reference read",
   stored, len(reports))


def simulate(*args):
    r = subprocess.run([D, "simulate", "--db", url] + list(args),
                       capture_output=True)
    if r.returncode != 0:
        return r, None
    return r, {o["domain"].lower(): o for o in
               map(json.loads, r.stdout.decode().splitlines())}


KEYS = ("messages", "pass", "pass_strict_dkim", "pass_strict_spf",
        "would_quarantine", "would_reject", "by_class")
CASES = [
    ("strict DKIM", dict(adkim=True, aspf=False, p="reject", sp="reject",
                         pct=100)),
    ("strict SPF", dict(adkim=False, aspf=True, p="reject", sp="quarantine",
                        pct=100)),
    ("relaxed both", dict(adkim=False, aspf=False, p="quarantine",
                          sp="none", pct=100)),
    ("p=reject pct=100", dict(adkim=False, aspf=False, p="reject",
                              sp="reject", pct=100)),
    ("p=reject pct=50", dict(adkim=False, aspf=False, p="reject",
                             sp="reject", pct=50)),
]
for name, c in CASES:
    r, got = simulate("--adkim", "s" if c["adkim"] else "r", "--aspf",
                      "s" if c["aspf"] else "r", "--p", c["p"], "--sp",
                      c["sp"], "--pct", str(c["pct"]), "--testing", "n")
    exp = reference(reports, c["adkim"], c["aspf"], c["p"], c["sp"],
                    c["pct"])
    ok(got is not None, "%s: simulate exits 0" % name, r.stderr.decode())
    got = got or {}
    ok(sorted(got) == sorted(exp), "%s: the same domains" % name,
       sorted(set(got) ^ set(exp)))
    bad = [(d, k, got.get(d, {}).get(k), exp[d][k]) for d in sorted(exp)
           for k in KEYS if got.get(d, {}).get(k) != exp[d][k]]
    ok(not bad, "%s: every domain's %s equal the reference (%d domains)"
       % (name, "/".join(KEYS), len(exp)), bad[:10])
    tot = {k: sum(o[k] for o in exp.values()) for k in KEYS
           if k != "by_class"}
    tot.update({c: sum(o["by_class"][c]["messages"] for o in exp.values())
                for c in ("approved", "forwarded", "unknown")})
    diag("%s: %s" % (name, tot))

# the differences the fixture was made for
r, got = simulate("--domain", "sim.example", "--p", "reject", "--sp",
                  "quarantine", "--pct", "100", "--adkim", "s", "--aspf",
                  "s")
o = (got or {}).get("sim.example", {})
ok(o.get("messages") == 26 and o.get("pass") == 11 + 5,
   "strict both: only exact names align (11 + news.sim.example's SPF 5)",
   o)
ok(o.get("would_reject") == 7 and o.get("would_quarantine") == 3,
   "p=reject for the domain (7), sp=quarantine for its subdomain (3)", o)
src = {s["ip"]: s for s in o.get("sources", [])}
ok("192.0.2.1" in src and "adkim=s" in src["192.0.2.1"]["why"],
   "why: strict DKIM alignment refuses mail.sim.example", src)
ok("192.0.2.3" in src and "DKIM signature of your domain fails" in
   src["192.0.2.3"]["why"], "why: a failing signature of the domain", src)
ok(list(src) == ["192.0.2.1", "192.0.2.3"],
   "the sources that would lose mail: approved first, then most first",
   list(src))
ok(src.get("192.0.2.1", {}).get("class") == "approved" and
   src["192.0.2.1"].get("rule") == "spf esp.example" and
   src["192.0.2.3"].get("class") == "unknown" and
   src["192.0.2.3"].get("rule") is None,
   "each source with its class and the rule approving it", src)
ok(o.get("by_class", {}).get("approved") == {"messages": 18,
                                              "would_fail": 7},
   "by_class: the approved senders' messages and what would fail",
   o.get("by_class"))

# a value not given: the domain's latest published policy (p=none here)
r, got = simulate("--domain", "sim.example")
o = (got or {}).get("sim.example", {})
ok(o.get("policy", {}).get("p") == "none" and
   o.get("published", {}).get("p") == "none" and
   o.get("would_quarantine") == 0 and o.get("would_reject") == 0,
   "no options: the published p=none, nothing would fail", o)
r, got = simulate("--domain", "sim.example", "--p", "reject", "--sp",
                  "reject", "--testing", "y")
o = (got or {}).get("sim.example", {})
ok(o.get("would_reject") == 0 and o.get("would_quarantine") ==
   o.get("messages", 0) - o.get("pass", 0) and o["policy"]["testing"],
   "t=y: one step lower (reject as quarantine)", o)
r = subprocess.run([D, "simulate", "--db", url, "--format", "text",
                    "--domain", "sim.example", "--p", "reject"],
                   capture_output=True)
ok(r.returncode == 0 and r.stdout.startswith(b"sim.example: p=reject") and
   b"would reject" in r.stdout, "--format text", r.stdout[:300])

for args, what in ((["--p", "block"], "--p: expected none, quarantine"),
                   (["--pct", "101"], "--pct: expected 0 to 100"),
                   (["--adkim", "x"], "--adkim: expected r or s"),
                   (["--period", "0d"], "--period: expected"),
                   (["--period", "7d", "--since", "2024-01-01"],
                    "--period and --since")):
    r = subprocess.run([D, "simulate", "--db", url] + args,
                       capture_output=True)
    ok(r.returncode == 64 and what.encode() in r.stderr,
       "%s refused (64)" % " ".join(args), r.returncode, r.stderr)
r = subprocess.run([D, "simulate", "--db", url, "--period", "3650d"],
                   capture_output=True)
ok(r.returncode == 0, "--period 3650d", r.stderr)

shutil.rmtree(TMP, ignore_errors=True)
done()
