#!/usr/bin/env python3
"""test_alerts.py - `dmarcd alerts --check` and the evaluation after
`dmarcd ingest`, against a real PostgreSQL.

Reports written here (dbfix.report_xml) are stored by `dmarcd ingest`, dated
relative to today (UTC); each rule is shown firing and not firing.  Alerts
go to a webhook served by this test (Python http.server on 127.0.0.1: what
it received is compared) and, end to end, through a real OpenSMTPD's
sendmail to a Maildir (mtalib.py).  A second evaluation sends nothing new; a
webhook that is down is retried by the next evaluation; a redirect is not
followed.
"""
import calendar
import datetime
import email
import email.policy
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
import mtalib  # noqa: E402
from dbfix import report_xml, write, run as _run  # noqa: E402
from testlib import ok, diag, skip_all, done, dmarcd  # noqa: E402

DMARCD = dmarcd()
DAY = 86400

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")

TMP = tempfile.mkdtemp(prefix="dmarcd-alerts-")
os.chmod(TMP, 0o755)
TODAY = datetime.datetime.now(datetime.timezone.utc).date()
T0 = calendar.timegm(TODAY.timetuple())   # today, 00:00 UTC


def day(n):
    """(begin, end) of the report of the day n days before today."""
    b = T0 - n * DAY
    return b, b + DAY - 1


class Hook:
    """A webhook endpoint: records each POST; status is what it answers."""

    def __init__(self):
        self.posts, self.status, self.server, self.port = [], 200, None, 0

    def start(self):
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hook.posts.append((self.path,
                                   self.headers.get("Content-Type"), body))
                self.send_response(hook.status)
                if hook.status == 302:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def alerts(self, since=0):
        """Every alert POSTed from post number since on."""
        out = []
        for _, _, body in self.posts[since:]:
            out.extend(json.loads(body)["alerts"])
        return out


def conf(name, **settings):
    path = os.path.join(TMP, name + ".conf")
    with open(path, "w") as f:
        for k, v in settings.items():
            f.write("%s = %s\n" % (k, v))
    return path


def dm(cfg, url, *args, prefix=()):
    return _run(list(prefix) + [DMARCD] + list(args[:1]) +
                ["-f", cfg, "--db", url] + list(args[1:]),
                env={"DMARCD_CONF": cfg}, timeout=120)


def ingest(cfg, url, name, xmls):
    d = os.path.join(TMP, "in-" + name)
    for i, x in enumerate(xmls):
        write(os.path.join(d, "%03d.xml" % i), x)
    r = dm(cfg, url, "ingest", d)
    shutil.rmtree(d)
    return r


def check(cfg, url, *more, prefix=()):
    return dm(cfg, url, "alerts", "--check", *more, prefix=prefix)


def keyed(alerts):
    return sorted((a["rule"], a["domain"], a["key"]) for a in alerts)


def rep(org, rid, n, domain="example.org", records=None):
    b, e = day(n)
    return report_xml(org=org, report_id=rid, domain=domain, begin=b,
                      end=e, records=records)


cluster = pglib.Cluster()
hook = Hook()
hook.start()
plain = conf("plain")   # no alert settings: ingest evaluates nothing

# --- new source ------------------------------------------------------------
url = cluster.createdb("newsrc")
cfg = conf("newsrc", alert_new_source=100, alert_webhook=hook.url())
old = [rep("Rcv", "old-%d" % n, n,
           records=[dict(ip="192.0.2.1", count=500)]) for n in range(2, 21)]
r = ingest(plain, url, "newsrc-old", old)
ok(r.returncode == 0 and b"19 reports" in r.stdout, "history ingested",
   r.stdout, r.stderr)
n0 = len(hook.posts)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0 and r.stdout == b"",
   "a source seen every day is not new: nothing sent", r.stdout, r.stderr)
r = ingest(cfg, url, "newsrc-new", [rep("Rcv", "new-1", 1, records=[
    dict(ip="192.0.2.1", count=500),
    dict(ip="198.51.100.7", count=150),
    dict(ip="198.51.100.8", count=99)])])
got = hook.alerts(n0)
ok(r.returncode == 0 and len(hook.posts) == n0 + 1 and
   keyed(got) == [("new_source", "example.org", "198.51.100.7")],
   "ingest evaluates: the new source of 150 messages alerts, the one of 99 "
   "(under 100) does not", r.stdout, r.stderr, got)
ok(got and got[0]["value"] == 150 and got[0]["threshold"] == 100 and
   got[0]["open"] is True and
   got[0]["detail"] == "150 messages on %s" % (TODAY - datetime.timedelta(1))
   and hook.posts[-1][1] == "application/json" and
   "198.51.100.7" in got[0]["summary"] and
   set(got[0]) == {"id", "rule", "domain", "key", "value", "threshold",
                   "detail", "opened", "open", "summary"} and
   json.loads(hook.posts[-1][2])["generator"].startswith("dmarcd "),
   "the webhook's JSON: its keys and values", got)
ok(b"sent webhook: new source 198.51.100.7 for example.org" in r.stdout,
   "ingest prints what it sent", r.stdout)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0 + 1 and r.stdout == b"",
   "a second evaluation sends nothing new", r.stdout, r.stderr)
r = check(cfg, url, "--format", "json")
ok(r.returncode == 0 and json.loads(r.stdout)["alerts"] == [],
   "--format json: an empty list when nothing was sent", r.stdout)
# only unknown sources: one the domain approves, one that forwards and one
# nobody claims, all new; the unknown one alone alerts
url2 = cluster.createdb("newclass")
r = ingest(plain, url2, "newclass", [rep("Rcv", "cls-1", 1, records=[
    dict(ip="203.0.113.20", count=300),
    dict(ip="198.51.100.30", count=300, reasons=[("forwarded", "list")]),
    dict(ip="198.51.100.31", count=300)])])
cluster.psql("newclass", "INSERT INTO sender_rule (domain, kind, value)"
             " VALUES ('example.org', 'cidr', '203.0.113.0/24')")
n0 = len(hook.posts)
r = check(conf("newclass", alert_new_source=100, alert_webhook=hook.url()),
          url2)
got = hook.alerts(n0)
ok(r.returncode == 0 and keyed(got) == [("new_source", "example.org",
                                         "198.51.100.31")],
   "new sources: the approved (cidr rule) and the forwarding one do not "
   "alert, the unknown one does", r.stdout, r.stderr, got)

# the same source two more days: one episode, still not sent again
r = ingest(cfg, url, "newsrc-again", [rep("Rcv", "new-0", 0, records=[
    dict(ip="198.51.100.7", count=400)])])
ok(r.returncode == 0 and len(hook.posts) == n0 + 1,
   "the episode lasts while the source is new: not sent again", r.stdout,
   r.stderr)
ok(cluster.psql("newsrc", "SELECT count(*), count(closed) FROM alert_episode")
   .strip() == "1|0", "one open episode in alert_episode")

# --- pass rate drop ---------------------------------------------------------
url = cluster.createdb("drop")
cfg = conf("drop", alert_pass_drop=20, alert_webhook=hook.url())
fail = dict(dkim_eval="fail", spf_eval="fail", dkim=[("other.example", "s",
                                                       "fail")], spf="fail")
xmls = []
for dom, bad in (("a.example", 40), ("b.example", 10)):
    xmls.append(rep("Rcv", dom + "-2", 2, domain=dom, records=[
        dict(ip="192.0.2.1", count=100)]))
    xmls.append(rep("Rcv", dom + "-1", 1, domain=dom, records=[
        dict(ip="192.0.2.1", count=100 - bad),
        dict(ip="192.0.2.2", count=bad, **fail)]))
n0 = len(hook.posts)
r = ingest(cfg, url, "drop", xmls)
got = hook.alerts(n0)
ok(r.returncode == 0 and keyed(got) == [("pass_drop", "a.example", "")],
   "100 % -> 60 % alerts (more than 20 points); 100 % -> 90 % does not",
   r.stdout, r.stderr, got)
ok(got and got[0]["value"] == 40 and
   got[0]["detail"] == "from 100.0 %% on %s to 60.0 %% on %s" % (
       TODAY - datetime.timedelta(2), TODAY - datetime.timedelta(1)),
   "the drop's figures", got)
# the next day recovers: the episode closes, nothing is sent
r = ingest(cfg, url, "drop-ok", [rep("Rcv", "a-0", 0, domain="a.example",
                                     records=[dict(ip="192.0.2.1",
                                                   count=100)])])
ok(r.returncode == 0 and len(hook.posts) == n0 + 1 and cluster.psql(
    "drop", "SELECT count(closed) FROM alert_episode").strip() == "1",
   "a recovered rate closes the episode, sending nothing", r.stdout)

# --- an approved source starting to fail ----------------------------------
# 203.0.113.0/24 approved: .9 passed for weeks and fails 60 % on its latest
# day (alerts: 50 set); .10 failed all along (not starting); .11 fails 10 %
# (under 50); 198.51.100.40 starts failing but nobody approved it
url = cluster.createdb("apfail")
cfg = conf("apfail", alert_approved_fail=50, alert_webhook=hook.url())
A, C, E, U = "203.0.113.9", "203.0.113.10", "203.0.113.11", "198.51.100.40"
xmls = [rep("Rcv", "h-%d" % n, n, records=[
    dict(ip=A, count=100), dict(ip=C, count=100, **fail),
    dict(ip=E, count=100), dict(ip=U, count=100)]) for n in range(8, 21)]
xmls.append(rep("Rcv", "l-1", 1, records=[
    dict(ip=A, count=40), dict(ip=A, count=60, **fail),
    dict(ip=C, count=100, **fail), dict(ip=E, count=90),
    dict(ip=E, count=10, **fail), dict(ip=U, count=100, **fail)]))
r = ingest(plain, url, "apfail", xmls)
ok(r.returncode == 0 and b"14 reports" in r.stdout, "approved history in",
   r.stdout, r.stderr)
n0 = len(hook.posts)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0,
   "no approved senders: the rule has nothing to watch", r.stdout, r.stderr)
cluster.psql("apfail", "INSERT INTO sender_rule (domain, kind, value)"
             " VALUES ('example.org', 'cidr', '203.0.113.0/24')")
r = check(cfg, url)
got = hook.alerts(n0)
ok(r.returncode == 0 and keyed(got) == [("approved_fail", "example.org", A)],
   "the approved source that starts failing alerts; failing all along, "
   "under the threshold or not approved does not", r.stdout, r.stderr, got)
ok(got and got[0]["value"] == 60 and got[0]["threshold"] == 50 and
   got[0]["detail"] == "60 of 100 messages failing on %s, 0.0 %% in the 30"
   " days before the last 7" % (TODAY - datetime.timedelta(1)) and
   "approved source %s of example.org failing DMARC" % A in
   got[0]["summary"], "its figures", got)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0 + 1,
   "a second evaluation sends nothing new", r.stdout)

# --- silent reporter --------------------------------------------------------
url = cluster.createdb("silent")
cfg = conf("silent", alert_reporter_silent=3, alert_webhook=hook.url())
hostile = 'Quiet "Org" <b>\n\tx'
xmls = [rep(hostile, "q-%d" % n, n) for n in range(5, 21)]     # last T-5
xmls += [rep("Busy", "b-%d" % n, n) for n in range(1, 21)]     # last T-1
xmls += [rep("Gone", "g-50", 50)]          # not in the 30 days before
xmls += [rep("Late", "l-%d" % n, n) for n in range(3, 21)]     # last T-3
n0 = len(hook.posts)
r = ingest(cfg, url, "silent", xmls)
got = hook.alerts(n0)
ok(r.returncode == 0 and [(a["key"], a["value"]) for a in got] ==
   [(hostile, 5)],
   "silent for 5 days alerts (3 set); 1 or 3 days, or none expected, do "
   "not; the reporter's name intact in the JSON", r.stdout, r.stderr, got)
ok(b"\n\t" not in r.stdout.split(b"silent")[0] and
   b"sent webhook: reporter" in r.stdout,
   "the printed line escapes the name's control characters", r.stdout)

# --- quarantine growth ----------------------------------------------------
url = cluster.createdb("quar")
cfg = conf("quar", alert_quarantine_growth=2, alert_webhook=hook.url())
n0 = len(hook.posts)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0,
   "first evaluation: the count it measures from, no alert", r.stderr)


def junk(name, i):
    d = os.path.join(TMP, "junk-" + name)
    write(os.path.join(d, "j%d.eml" % i),
          b"Subject: hello %d\r\n\r\nnot a report\r\n" % i)
    rr = dm(cfg, url, "ingest", d)
    shutil.rmtree(d)
    return rr


r = junk("a", 1)
ok(r.returncode == 0 and b"1 quarantined" in r.stdout and
   len(hook.posts) == n0, "one item more: under 2, no alert", r.stdout)
r = junk("b", 2)
got = hook.alerts(n0)
ok(r.returncode == 0 and [(a["rule"], a["value"]) for a in got] ==
   [("quarantine_growth", 2)] and got[0]["detail"] ==
   "from 0 to 2 unresolved", "two items since: alerts", r.stdout, got)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0 + 1,
   "no growth since: nothing sent, the episode closes", r.stdout)
junk("c", 3)
r = junk("d", 4)
got = hook.alerts(n0 + 1)
ok(r.returncode == 0 and [(a["rule"], a["detail"]) for a in got] ==
   [("quarantine_growth", "from 2 to 4 unresolved")] and cluster.psql(
       "quar", "SELECT count(*), count(closed) FROM alert_episode").strip()
   == "2|1", "growing again opens a new episode, sent once more", got)

# --- dry run, retries, redirects ------------------------------------------
url = cluster.createdb("retry")
cfg = conf("retry", alert_new_source=10, alert_webhook=hook.url())
r = ingest(plain, url, "retry", [rep("Rcv", "r-1", 1, records=[
    dict(ip="203.0.113.5", count=20)])])
n0 = len(hook.posts)
r = check(cfg, url, "--dry-run")
ok(r.returncode == 0 and len(hook.posts) == n0 and
   b"would send webhook: new source 203.0.113.5" in r.stdout and
   cluster.psql("retry", "SELECT count(*) FROM alert_episode").strip() ==
   "0", "--dry-run prints what it would send, sends and stores nothing",
   r.stdout, r.stderr)
hook.stop()
r = check(cfg, url)
ok(r.returncode == 75 and b"webhook:" in r.stderr and r.stdout == b"" and
   cluster.psql("retry", "SELECT count(*), count(webhook_sent) FROM"
                " alert_episode").strip() == "1|0",
   "the webhook down: exit 75, logged, the episode left unsent",
   r.returncode, r.stderr)
hook.start()    # the same port again
r = check(cfg, url, "--format", "json")
got = hook.alerts(n0)
ok(r.returncode == 0 and keyed(got) == [("new_source", "example.org",
                                         "203.0.113.5")] and
   keyed(json.loads(r.stdout)["alerts"]) == keyed(got),
   "the next evaluation retries it; --format json prints what it sent",
   r.stdout, r.stderr, got)
r = check(cfg, url)
ok(r.returncode == 0 and len(hook.posts) == n0 + 1,
   "and only once", r.stdout)
# a redirect is a failure, never followed; a non-http URL is refused
url = cluster.createdb("redir")
ingest(plain, url, "redir", [rep("Rcv", "d-1", 1, records=[
    dict(ip="203.0.113.6", count=20)])])
hook.status = 302
n0 = len(hook.posts)
r = check(conf("redir", alert_new_source=10, alert_webhook=hook.url()), url)
ok(r.returncode != 0 and b"redirects are not followed" in r.stderr and
   [p[0] for p in hook.posts[n0:]] == ["/hook"],
   "a 302 is a failure and /elsewhere is never asked", r.stderr,
   hook.posts[n0:])
hook.status = 200
r = check(conf("file", alert_new_source=10,
               alert_webhook="file:///etc/passwd"), url)
ok(r.returncode != 0 and b"not an http:// or https:// URL" in r.stderr and
   b"/etc/passwd" not in r.stderr, "file:// refused (the URL not logged)",
   r.stderr)
r = _run([DMARCD, "check-config", "-f", conf(
    "file2", alert_new_source=10, alert_webhook="file:///etc/passwd")],
    timeout=60)
ok(r.returncode == 78 and b"alert_webhook: expected an http://" in r.stderr
   and b"/etc/passwd" not in r.stderr,
   "check-config refuses it too, before any evaluation", r.stderr)
r = check(conf("badto", alert_new_source=10, alert_mail_to="-oQ/tmp/x"),
          url)
ok(r.returncode != 0 and b"alert_mail_to: a bad address" in r.stderr and
   b"summary" not in r.stderr,
   "an alert_mail_to that could pass as an option: refused, by its name",
   r.stderr)
r = check(plain, url)
ok(r.returncode == 78 and b"no destination" in r.stderr,
   "--check without a destination: exit 78", r.stderr)

# --- mail through a real OpenSMTPD ----------------------------------------
why = mtalib.unavailable()
if why is not None:
    diag("skipping the MTA test: " + why)
else:
    mta = mtalib.Smtpd(os.path.join(TMP, "mta"))
    try:
        if not ok(mta.started, "private smtpd started", mta.log()):
            raise RuntimeError("no smtpd")
        url = cluster.createdb("mail")
        cfg = conf("mail", alert_pass_drop=20, alert_reporter_silent=3,
                   alert_mail_to="alerts@example.test",
                   summary_from="DMARC <dmarc@example.org>",
                   alert_webhook=hook.url())
        ingest(plain, url, "mail", [
            rep("Rcv", "m-2", 2, domain="a.example",
                records=[dict(ip="192.0.2.1", count=100)]),
            rep("Rcv", "m-1", 1, domain="a.example", records=[
                dict(ip="192.0.2.1", count=50),
                dict(ip="192.0.2.2", count=50, **fail)])] +
            [rep(hostile, "mq-%d" % n, n, domain="a.example")
             for n in range(6, 12)])
        n0 = len(hook.posts)
        r = check(cfg, url, prefix=mta.prefix)
        ok(r.returncode == 0 and b"sent mail,webhook: DMARC pass rate of "
           b"a.example fell by 50 points" in r.stdout,
           "alerts --check sends by mail and webhook", r.stdout, r.stderr)
        msgs = mta.wait(1)
        ok(len(msgs) == 1, "the alert mail arrived in the Maildir",
           mta.log())
        if msgs:
            m = email.message_from_bytes(msgs[0], policy=email.policy.default)
            body = m.get_content()
            ok(m["Subject"] == "dmarcd alert: pass_drop and more" and
               m["Auto-Submitted"] == "auto-generated" and
               m["From"].addresses[0].addr_spec == "dmarc@example.org" and
               m["To"].addresses[0].addr_spec == "alerts@example.test",
               "its headers", str(m["Subject"]), str(m["From"]))
            ok("DMARC pass rate of a.example fell by 50 points: from "
               "100.0 % on" in body and "reporter \"Quiet" in body and
               "silent for a.example for 6 days" in body and
               "\t" not in body.split("Quiet")[1].split("\n")[0],
               "its text: both alerts, the reporter's name escaped", body)
        ok(keyed(hook.alerts(n0)) == [("pass_drop", "a.example", ""),
                                      ("reporter_silent", "a.example",
                                       hostile)],
           "the webhook had the same two", hook.alerts(n0))
        r = check(cfg, url, prefix=mta.prefix)
        msgs = mta.wait(2, timeout=3)
        ok(r.returncode == 0 and r.stdout == b"" and len(msgs) == 1 and
           len(hook.posts) == n0 + 1,
           "a second evaluation sends nothing new", r.stdout, len(msgs))
        # a sendmail that fails leaves the mail unsent, the webhook not
        url = cluster.createdb("mailfail")
        ingest(plain, url, "mailfail", [rep("Rcv", "f-1", 1, records=[
            dict(ip="203.0.113.9", count=20)])])
        bad = conf("mailfail", alert_new_source=10,
                   alert_mail_to="alerts@example.test",
                   alert_webhook=hook.url(), sendmail_path="/bin/false")
        r = check(bad, url)
        ok(r.returncode != 0 and b"/bin/false" in r.stderr and
           b"sent webhook: new source 203.0.113.9" in r.stdout and
           cluster.psql("mailfail", "SELECT count(mail_sent),"
                        " count(webhook_sent) FROM alert_episode")
           .strip() == "0|1",
           "a failing sendmail: logged, the mail left for the next "
           "evaluation, the webhook served", r.stdout, r.stderr)
        good = conf("mailok", alert_new_source=10,
                    alert_mail_to="alerts@example.test",
                    alert_webhook=hook.url())
        n1 = len(hook.posts)
        r = check(good, url, prefix=mta.prefix)
        ok(r.returncode == 0 and b"sent mail: new source 203.0.113.9" in
           r.stdout and len(mta.wait(2)) == 2 and len(hook.posts) == n1,
           "the next evaluation mails it, and posts nothing again",
           r.stdout, r.stderr)
    except RuntimeError:
        pass
    finally:
        mta.stop()

hook.stop()
cluster.cleanup()
shutil.rmtree(TMP, ignore_errors=True)
done()
