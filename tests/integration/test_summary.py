#!/usr/bin/env python3
"""test_summary.py - `dmarcd summary` against a real PostgreSQL.

The corpus is stored by `dmarcd ingest`; the figures of the summary's text
part are compared with figures computed here from EXPECTED-aggregate.jsonl
(duplicates removed, a report dated by the middle of its period, as the
rollups do).  The message is parsed back with Python's email package (an
independent MIME parser), a hostile fixture must not break the HTML or add
headers, and the summary goes through a real OpenSMTPD (sendmail interface,
Maildir delivery) in a private mount namespace (tests/integration/mtalib.py),
so the test's smtpd has its own control socket and spool and never meets a
system one.
"""
import datetime
import email
import email.policy
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
import httpdlib  # noqa: E402
import mtalib  # noqa: E402
from testlib import ok, diag, skip_all, done, dmarcd, shared_dir  # noqa: E402

DMARCD = dmarcd()
SRCDIR = os.environ.get("TESTS_SRCDIR",
                        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = shared_dir()
DAY = 86400

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")


def run(args, env=None, timeout=60):
    e = dict(os.environ)
    e["DMARCD_CONF"] = CONF
    e.pop("DMARCD_DB", None)
    if env:
        e.update(env)
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=timeout)


def summary(url, *args):
    r = run([DMARCD, "summary", "--db", url] + list(args))
    return r


def parse_msg(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(msg):
    """(text, html) payloads of a multipart/alternative message."""
    text = html_ = None
    for p in msg.iter_parts():
        if p.get_content_type() == "text/plain":
            text = p.get_content()
        elif p.get_content_type() == "text/html":
            html_ = p.get_content()
    return text, html_


def utc_day(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).date()


def rate(part, whole):
    return "-" if whole == 0 else "%.1f %%" % (100.0 * part / whole)


def domain_section(text, domain):
    """The lines of one domain's section of the text part."""
    lines = text.split("\n")
    for i, l in enumerate(lines):
        if l == domain and i + 1 < len(lines) and \
                lines[i + 1] == "=" * len(domain):
            out = []
            for l2 in lines[i + 2:]:
                if out and l2.startswith("====="):
                    out.pop()   # the next section's title
                    break
                out.append(l2)
            return "\n".join(out)
    return None


def row(section, label):
    m = re.search(r"^  %s +(\S+(?: %%| pt)?) +(\S+(?: %%| pt)?)" %
                  re.escape(label), section, re.M)
    return (m.group(1), m.group(2)) if m else None


class Tags(html.parser.HTMLParser):
    """Every start tag and attribute, and the text, of an HTML part."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(a for a, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "h1", "h2", "h3",
                "p", "table", "tr", "th", "td", "strong", "code"}
ALLOWED_ATTRS = {"style", "charset"}


def html_safe(h):
    t = Tags()
    t.feed(h)
    t.close()
    bad_tags = set(t.tags) - ALLOWED_TAGS
    bad_attrs = set(t.attrs) - ALLOWED_ATTRS
    # src, href and the like are attributes, refused above; styles may
    # not fetch either
    external = re.search(r"(?i)url\(|@import", h)
    return not bad_tags and not bad_attrs and not external, \
        (bad_tags, bad_attrs, external), "".join(t.text)


# --- set-up ------------------------------------------------------------------
TMP = tempfile.mkdtemp(prefix="dmarcd-summary-")
os.chmod(TMP, 0o755)
CONF = os.path.join(TMP, "dmarcd.conf")
with open(CONF, "w") as f:
    f.write("summary_from = DMARC reports <dmarc@example.org>\n"
            "summary_to = postmaster@example.org\n")

cluster = pglib.Cluster()

# --- the corpus ------------------------------------------------------------
if SHARED is None:
    diag("DMARCD_SHARED absent: corpus figures skipped")
else:
    url = cluster.createdb("corpus")
    r = run([DMARCD, "ingest", "--db", url, "-q",
             os.path.join(SHARED, "corpus", "aggregate")], timeout=120)
    ok(r.returncode == 0, "corpus ingested", r.stderr.decode()[-2000:])

    reports = {}
    with open(os.path.join(SHARED, "corpus",
                           "EXPECTED-aggregate.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            key = (e["domain"], e.get("org_name") or "", e["report_id"],
                   e["begin"], e["end"])
            reports[key] = e        # the same report twice counts once

    def expected(since, until):
        """Per domain: [cur, prev] figures and reporters, from EXPECTED."""
        prev = since - (until - since)
        out = {}
        for e in reports.values():
            day = utc_day(e["begin"] + (e["end"] - e["begin"]) // 2)
            if not utc_day(prev) <= day < utc_day(until):
                continue
            cur = day >= utc_day(since)
            d = out.setdefault(e["domain"], {
                True: dict(messages=0, dkim=0, spf=0, reports=0, orgs={}),
                False: dict(messages=0, dkim=0, spf=0, reports=0, orgs={})})
            c = d[cur]
            c["messages"] += e["messages"]
            c["dkim"] += e["dkim_pass"]
            c["spf"] += e["spf_pass"]
            c["reports"] += 1
            org = e.get("org_name") or "(unnamed)"
            c["orgs"][org] = c["orgs"].get(org, 0) + 1
        return out

    def ts(s):
        return int(datetime.datetime.strptime(s, "%Y-%m-%d").replace(
            tzinfo=datetime.timezone.utc).timestamp())

    # periods: half of 2024 (seven example.com reports, one of 2286
    # records, a previous period to compare with), a day holding a report
    # present twice in the corpus, and a 30-day one
    for since_s, until_s in (("2024-01-01", "2024-07-01"),
                             ("2020-01-01", "2020-01-02"),
                             ("2015-06-10", "2015-07-10")):
        since, until = ts(since_s), ts(until_s)
        exp = expected(since, until)
        r = summary(url, "--since", since_s, "--until", until_s)
        ok(r.returncode == 0, "summary %s..%s exits 0" % (since_s, until_s),
           r.stderr.decode())
        msg = parse_msg(r.stdout)
        text, h = parts(msg)
        if text is None:
            ok(False, "summary %s has a text part" % since_s)
            continue
        got_domains = re.findall(r"^(\S+)\n=+$", text, re.M)
        got_domains = [d for d in got_domains if d != "All"]
        got_domains = [d for d in got_domains if d != "All domains"]
        ok(sorted(got_domains) == sorted(exp),
           "%s: the domains with reports in the period or the one before"
           % since_s, "got %s" % got_domains, "expected %s" % sorted(exp))
        for dom in sorted(exp):
            sec = domain_section(text, dom) or ""
            c, p = exp[dom][True], exp[dom][False]
            want = {
                "Messages": (str(c["messages"]), str(p["messages"])),
                "DKIM aligned": (rate(c["dkim"], c["messages"]),
                                 rate(p["dkim"], p["messages"])),
                "SPF aligned": (rate(c["spf"], c["messages"]),
                                rate(p["spf"], p["messages"])),
            }
            got = {k: row(sec, k) for k in want}
            ok(got == want, "%s %s: messages, DKIM and SPF rates, this "
               "period and the previous" % (since_s, dom),
               "got %s" % got, "expected %s" % want)
            # DMARC pass = DKIM or SPF aligned, per record: EXPECTED has
            # per-report sums only, which bound it
            dm = row(sec, "DMARC pass")
            lo = max(c["dkim"], c["spf"])
            hi = min(c["messages"], c["dkim"] + c["spf"])
            if c["messages"]:
                v = float(dm[0].split()[0]) if dm else -1
                ok(round(100.0 * lo / c["messages"], 1) <= v <=
                   round(100.0 * hi / c["messages"], 1),
                   "%s %s: DMARC pass rate within what EXPECTED allows"
                   % (since_s, dom), "got %s, bounds %d..%d of %d" %
                   (dm, lo, hi, c["messages"]))
            m = re.search(r"^  Reports +(\d+)$", sec, re.M)
            ok(m is not None and int(m.group(1)) == c["reports"],
               "%s %s: report count (duplicates once)" % (since_s, dom),
               "got %s, expected %d" % (m and m.group(1), c["reports"]))
            for org, n in c["orgs"].items():
                ok(("%s (%d)" % (org, n)) in " ".join(sec.split()),
                   "%s %s: reporter %s with %d reports" %
                   (since_s, dom, org, n), sec)
            gone = sorted(set(p["orgs"]) - set(c["orgs"]))
            if gone:
                m = re.search(r"Gone silent[^:]*:(.*?)(?:\n\n|\Z)", sec,
                              re.S)
                names = " ".join(m.group(1).split()) if m else ""
                ok(all(g in names for g in gone),
                   "%s %s: silent reporters %s" % (since_s, dom, gone),
                   sec)
        # the message itself
        ok(msg.get_content_type() == "multipart/alternative" and
           [p.get_content_type() for p in msg.iter_parts()] ==
           ["text/plain", "text/html"],
           "%s: multipart/alternative, text then HTML" % since_s)
        for hdr in ("Date", "Message-ID", "From", "To", "Subject",
                    "MIME-Version"):
            ok(msg[hdr] is not None, "%s: has %s" % (since_s, hdr))
        ok(msg["Auto-Submitted"] == "auto-generated",
           "%s: Auto-Submitted: auto-generated" % since_s)
        ok(since_s in msg["Subject"] and
           all(d in msg["Subject"] for d in sorted(exp)[:3]),
           "%s: Subject names the period and the domains" % since_s,
           msg["Subject"])
        ok(msg["From"].addresses[0].addr_spec == "dmarc@example.org",
           "%s: From from the config" % since_s, msg["From"])
        safe, why, _ = html_safe(h or "")
        ok(safe and h, "%s: HTML holds only tables and text" % since_s,
           str(why))
        ok(max(len(l) for l in text.split("\n")) <= 80 or
           since_s == "2024-01-01",
           "%s: text part fits 80 columns" % since_s,
           [l for l in text.split("\n") if len(l) > 80])

    # example.net's report of 2020-01-01 is in the corpus twice (.xml.gz
    # and inside a .zip): 8 messages, not 16
    r = summary(url, "--since", "2020-01-01", "--until", "2020-01-02",
                "--domain", "example.net", "--format", "text")
    sec = domain_section(r.stdout.decode(), "example.net") or ""
    ok(row(sec, "Messages") == ("8", "0"),
       "a report stored twice in the corpus is counted once",
       row(sec, "Messages"))

    # --to overrides the config, --domain narrows
    r = summary(url, "--since", "2024-01-01", "--until", "2024-07-01",
                "--domain", "foo-bar.io", "--to", "Ops <ops@example.com>")
    msg = parse_msg(r.stdout)
    ok(msg["To"].addresses[0].addr_spec == "ops@example.com" and
       "example.com\n===" not in parts(msg)[0],
       "--to sets To:, --domain keeps one domain")

    # the heartbeat: nothing arrived, and the message says so
    r = summary(url, "--since", "1990-01-01", "--until", "1990-01-08")
    text = parts(parse_msg(r.stdout))[0] or ""
    ok(r.returncode == 0 and "No reports arrived" in text and
       "no reports" in parse_msg(r.stdout)["Subject"],
       "an empty period gives a heartbeat, not silence", text)

# --- verdicts (generated reports) ------------------------------------------
vurl = cluster.createdb("verdicts")


def report_xml(domain, org, rid, begin, p, rows):
    recs = "".join(
        "<record><row><source_ip>%s</source_ip><count>%d</count>"
        "<policy_evaluated><disposition>none</disposition><dkim>%s</dkim>"
        "<spf>%s</spf></policy_evaluated></row><identifiers><header_from>"
        "%s</header_from></identifiers><auth_results><spf><domain>%s"
        "</domain><result>%s</result></spf></auth_results></record>"
        % (ip, n, dk, sp, domain, domain, sp) for ip, n, dk, sp in rows)
    return ("<?xml version=\"1.0\"?><feedback><report_metadata><org_name>%s"
            "</org_name><email>r@%s</email><report_id>%s</report_id>"
            "<date_range><begin>%d</begin><end>%d</end></date_range>"
            "</report_metadata><policy_published><domain>%s</domain>"
            "<p>%s</p><pct>100</pct></policy_published>%s</feedback>"
            % (org, org, rid, begin, begin + DAY - 1, domain, p, recs))


vdir = os.path.join(TMP, "verdicts")
os.mkdir(vdir)
T0 = 1924992000      # 2031-01-01
cases = {
    # 40 days of history, 1000 messages, 99 % pass; the failing source
    # never passes (spoofing): ready
    "ready.example": [(-40, [("192.0.2.1", 10, "pass", "pass")]),
                      (-5, [("192.0.2.1", 990, "pass", "pass"),
                            ("198.51.100.9", 10, "fail", "fail")])],
    # same volume but a sender that passes and fails
    "mixed.example": [(-40, [("192.0.2.1", 10, "pass", "pass")]),
                      (-5, [("192.0.2.1", 995, "pass", "pass"),
                            ("192.0.2.1", 5, "fail", "fail")])],
    "failing.example": [(-40, [("192.0.2.1", 10, "pass", "pass")]),
                        (-5, [("192.0.2.1", 900, "pass", "pass"),
                              ("198.51.100.9", 100, "fail", "fail")])],
    "new.example": [(-5, [("192.0.2.1", 1000, "pass", "pass")])],
    "small.example": [(-40, [("192.0.2.1", 1, "pass", "pass")]),
                      (-5, [("192.0.2.1", 20, "pass", "pass")])],
}
n = 0
for dom, reps in cases.items():
    for off, rows in reps:
        n += 1
        with open(os.path.join(vdir, "r%d.xml" % n), "w") as f:
            f.write(report_xml(dom, "rep.example", "id%d" % n,
                               T0 + off * DAY, "none", rows))
r = run([DMARCD, "ingest", "--db", vurl, "-q", vdir])
ok(r.returncode == 0, "verdict reports ingested", r.stderr.decode())
r = summary(vurl, "--since", "2030-12-25", "--until", "2031-01-01",
            "--format", "text")
text = r.stdout.decode()
want = {"ready.example": "Ready for a stricter policy",
        "mixed.example": "passed DMARC for some messages and failed",
        "failing.example": "Not ready: 90.0 %",
        "new.example": "Not yet: reports for this domain start",
        "small.example": "Not yet: only 20 messages"}
for dom, phrase in want.items():
    sec = " ".join((domain_section(text, dom) or "").split())
    ok(phrase in sec, "verdict for %s: %s" % (dom, phrase), sec[:600])
sec = " ".join((domain_section(text, "ready.example") or "").split())
ok("Next step: p=quarantine" in sec and "p=none" in sec,
   "the verdict names the published policy and the next step", sec[:600])
ok("198.51.100.9" in (domain_section(text, "failing.example") or ""),
   "the failing source is listed")

# the simulator's next step (p=none -> p=quarantine) over the window: the
# fixtures' records carry SPF only, so a failing SPF is a failing message
steps = {"ready.example": "under p=quarantine, 10 of 1000 messages (1.0 %)"
         " would be quarantined",
         "failing.example": "under p=quarantine, 100 of 1000 messages "
         "(10.0 %) would be quarantined",
         "mixed.example": "under p=quarantine, 5 of 1000 messages (0.5 %)",
         "new.example": "under p=quarantine, none of the 1000 messages"}
for dom, phrase in steps.items():
    sec = " ".join((domain_section(text, dom) or "").split())
    ok(phrase in sec, "next step simulated for %s" % dom, sec[:900])
sec = " ".join((domain_section(text, "failing.example") or "").split())
ok("Most of it from 198.51.100.9 (100): no DKIM signature of your domain"
   in sec, "the source losing most, and why", sec[:900])
# the opening table: most affected first, then the total
head = text.split("Domains: what the next policy step would fail\n", 1)
rows = [l.split() for l in (head[1] if len(head) == 2 else "").split(
    "\n")[2:9]]
order = [r[0] for r in rows if r]
ok(order[:4] == ["failing.example", "ready.example", "mixed.example",
                 "new.example"] and order[5:6] == ["All"],
   "the opening table: what the next step would fail first, then all",
   order, text[:1500])
total = [r for r in rows if r and r[0] == "All"]
ok(total and total[0][-1] == "115", "the all-domain total would fail 115",
   total)
# http_public_url: each domain links to its Readiness page
PUB = os.path.join(TMP, "public.conf")


def with_url(u):
    with open(PUB, "w") as f:
        f.write("http_public_url = %s\n" % u)
    return run([DMARCD, "summary", "--db", vurl, "--since", "2030-12-25",
                "--until", "2031-01-01", "--format", "text"],
               env={"DMARCD_CONF": PUB})


r = with_url("https://dmarc.example.org/dash")
t2 = r.stdout.decode()
ok(r.returncode == 0 and "Readiness on the dashboard:\n  https://dmarc."
   "example.org/dash/#/readiness?domain=ready.example\n" in t2,
   "http_public_url: a link to each domain's Readiness page", t2[-800:])
r = run([DMARCD, "summary", "--db", vurl, "--since", "2030-12-25",
         "--until", "2031-01-01", "--format", "html"],
        env={"DMARCD_CONF": PUB})
ok('<a href="https://dmarc.example.org/dash/#/readiness?domain='
   'failing.example">Readiness of failing.example on the dashboard</a>'
   in r.stdout.decode(), "HTML: the link, escaped", r.stdout[-600:])
for bad in ("ftp://x.example/", "https://", "https://x.example/\"><b>",
            "javascript:alert(1)"):
    r = with_url(bad)
    c = run([DMARCD, "check-config"], env={"DMARCD_CONF": PUB})
    ok(r.returncode == 78 and c.returncode == 78 and
       b"http_public_url" in r.stderr + c.stderr,
       "http_public_url %r refused (78) by summary and check-config" % bad,
       r.returncode, c.returncode, r.stderr, c.stderr)
r = summary(vurl, "--since", "2030-12-25", "--until", "2031-01-01",
            "--format", "html")
h = r.stdout.decode()
ok(h.index("Domains: what the next policy step would fail") <
   h.index("failing.example") < h.index("ready.example") and
   "<strong>All domains</strong>" in h and "under p=quarantine, 100 of "
   "1000 messages" in h, "HTML: the opening table first, the simulated "
   "step in the verdict", h[:1500])

# --- sources named from source_host (as the enricher writes it) -------------
cluster.psql("verdicts", "UPDATE source_host SET state = 'ok', ptr ="
             " 'a8-30.smtp-out.amazonses.com', ptr_verified = true,"
             " service = 'Amazon SES', service_type = 'transactional'"
             " WHERE ip = '198.51.100.9'")
cluster.psql("verdicts", "UPDATE source_host SET state = 'ok', ptr ="
             " '<script>x</script>.\\195\\169.example', ptr_verified ="
             " false WHERE ip = '192.0.2.1'")
r = summary(vurl, "--since", "2030-12-25", "--until", "2031-01-01",
            "--format", "text")
text = r.stdout.decode()
ok("Amazon SES \u2014 a8-30.smtp-out.amazonses.com (198.51.100.9)" in
   (domain_section(text, "failing.example") or ""),
   "text: the failing source named: service, PTR, address",
   domain_section(text, "failing.example"))
ok("<script>x</script>.\\195\\169.example? (192.0.2.1)" in
   (domain_section(text, "new.example") or ""),
   "text: a new source named by its unverified PTR, as stored, marked ?",
   domain_section(text, "new.example"))
r = summary(vurl, "--since", "2030-12-25", "--until", "2031-01-01",
            "--format", "html")
h = r.stdout.decode()
safe, why, htext = html_safe(h)
ok(safe and "<script>" not in h and
   "&lt;script&gt;x&lt;/script&gt;.\\195\\169.example? (192.0.2.1)" in h
   and "Amazon SES \u2014 a8-30.smtp-out.amazonses.com (198.51.100.9)" in h,
   "html: sources named, the PTR escaped", why)

# --- one report day for the summary and the dashboard -----------------------
# A report belongs to the UTC day of the middle of its period
# (dmarcd_report_day); one that straddles midnight must count on that day
# in the summary's figures (rollups and report rows alike) and in the
# dashboard's.
durl = cluster.createdb("reportday")
ddir = os.path.join(TMP, "reportday")
os.mkdir(ddir)
T1 = 1927670400      # 2031-02-01 00:00 UTC


def day_xml(rid, begin, end, rows):
    return report_xml("day.example", "late.example", rid, begin, "none",
                      rows).replace("<end>%d</end>" % (begin + DAY - 1),
                                    "<end>%d</end>" % end)


# 20:00 the 1st to 07:59:59 the 2nd: its middle is the 2nd
with open(os.path.join(ddir, "straddle.xml"), "w") as f:
    f.write(day_xml("straddle", T1 + 20 * 3600, T1 + DAY + 8 * 3600 - 1,
                    [("192.0.2.7", 30, "pass", "pass"),
                     ("198.51.100.7", 4, "fail", "fail")]))
with open(os.path.join(ddir, "first.xml"), "w") as f:
    f.write(day_xml("first", T1, T1 + DAY - 1,
                    [("192.0.2.7", 500, "pass", "pass")]))
r = run([DMARCD, "ingest", "--db", durl, "-q", ddir])
ok(r.returncode == 0, "report-day fixtures ingested", r.stderr.decode())
r = summary(durl, "--since", "2031-02-02", "--until", "2031-02-03",
            "--format", "text")
sec = domain_section(r.stdout.decode(), "day.example") or ""
ok(row(sec, "Messages") is not None and row(sec, "Messages")[0] == "34" and
   re.search(r"^ +Reports +1 *$", sec, re.M) and
   "late.example (1)" in " ".join(sec.split()) and
   "198.51.100.7" in sec and "spf=fail" in sec,
   "summary of the 2nd: the straddling report, its messages, reporter and"
   " why its failing source failed", sec)
conf_d = os.path.join(TMP, "empty.conf")
open(conf_d, "w").close()
port = httpdlib.free_port()
srv = subprocess.Popen([DMARCD, "serve", "--db", durl, "--listen",
                        "127.0.0.1:%d" % port, "--static-dir",
                        httpdlib.static_dir()], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE,
                       env=dict(os.environ, DMARCD_CONF=conf_d,
                                DMARCD_DB=""))
try:
    line = srv.stdout.readline().decode()
    q = "?domain=day.example&from=2031-02-02&to=2031-02-02"
    base = "http://127.0.0.1:%d/api/" % port
    rep = json.loads(httpdlib.curl(base + "reporters" + q)[2])
    ov = json.loads(httpdlib.curl(base + "overview" + q)[2])
    reps = json.loads(httpdlib.curl(base + "reports" + q)[2])
    ok("dashboard at" in line and
       [(x["reporter"], x["reports"]) for x in rep["reporters"]] ==
       [("late.example", 1)] and
       [(x["domain"], x["messages"], x["pass"]) for x in ov["domains"]] ==
       [("day.example", 34, 30)] and
       [x["report_id"] for x in reps["reports"]] == ["straddle"],
       "the dashboard puts the straddling report on the same day", line,
       rep, ov, reps)
finally:
    srv.terminate()
    srv.wait(10)

# --- hostile strings ---------------------------------------------------------
hurl = cluster.createdb("hostile")
r = run([DMARCD, "ingest", "--db", hurl,
         os.path.join(SRCDIR, "data", "summary", "hostile.xml")])
ok(r.returncode == 0, "hostile fixture ingested", r.stderr.decode())
r = summary(hurl, "--since", "2031-01-01", "--until", "2031-01-02")
raw = r.stdout
msg = parse_msg(raw)
head = raw.split(b"\n\n", 1)[0]
ok(msg["Bcc"] is None and msg["X-Injected"] is None and
   b"X-Injected" not in head and b"\r" not in raw,
   "report strings add no header and no CR", head.decode(errors="replace"))
text, h = parts(msg)
safe, why, htext = html_safe(h or "")
ok(safe, "hostile strings stay text in the HTML", str(why))
ok("<script>alert(1)</script>" in htext and
   "<img src=x onerror=alert(1)>" in htext,
   "hostile strings are shown, escaped, not dropped")
ok(text is not None and "\r" not in text and "\x1b" not in text and
   "<script>alert(1)</script>" in text,
   "text part: control characters escaped, the rest shown")

# --- through a real MTA ----------------------------------------------------
why = mtalib.unavailable()
if why is not None:
    diag("skipping the MTA test: " + why)
else:
    mta = mtalib.Smtpd(os.path.join(TMP, "mta"))
    try:
        if not ok(mta.started, "private smtpd started", mta.log()):
            raise RuntimeError("no smtpd")
        base = [DMARCD, "summary", "--db", hurl, "--since", "2031-01-01",
                "--until", "2031-01-02", "--to", "summary@example.test"]
        printed = run(base).stdout
        r = run(mta.prefix + base + ["--send"])
        ok(r.returncode == 0, "summary --send through sendmail exits 0",
           r.stderr.decode())
        msgs = mta.wait(1)
        got = msgs[0] if msgs else None
        ok(got is not None, "the summary arrived in the Maildir", mta.log())
        if got is not None:
            m1, m2 = parse_msg(printed), parse_msg(got)
            ok(parts(m1) == parts(m2) and parts(m2)[0],
               "it arrived intact: text and HTML parts as printed")
            ok(m2["Subject"] == m1["Subject"] and
               m2["Auto-Submitted"] == "auto-generated" and
               m2["To"].addresses[0].addr_spec == "summary@example.test",
               "headers survived delivery", str(m2["Subject"]))
        # a sendmail that fails must fail the command
        bad = os.path.join(TMP, "bad.conf")
        with open(bad, "w") as f:
            f.write("sendmail_path = /bin/false\n")
        r = run(base + ["--send"], env={"DMARCD_CONF": bad})
        ok(r.returncode != 0 and b"/bin/false" in r.stderr,
           "a failing sendmail fails the summary", r.stderr.decode())
    except RuntimeError:
        pass
    finally:
        mta.stop()

cluster.cleanup()
shutil.rmtree(TMP, ignore_errors=True)
done()
