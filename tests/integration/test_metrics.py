"""test_metrics.py - /metrics and /healthz of `dmarcd lmtp` (its
lmtp_metrics_listen) and `dmarcd serve`, against a real PostgreSQL.

Both daemons on one throwaway cluster (pglib), lmtp with its metrics
listener on a free loopback port, serve with a users file.  Each scrape is
read by a strict parser of the text exposition format 0.0.4 (every sample
"name{labels} value" under a TYPE, families contiguous, histograms
cumulative up to +Inf with _sum and _count).  Between two scrapes the test
does one thing over LMTP (smtplib.LMTP) or HTTP (curl) and checks that
every counter moved by exactly what that did and no other counter moved;
the gauges must equal what the database says.  Then PostgreSQL is
stopped: /healthz answers 503 on both, a delivery is answered 451 and
counted as such, and both come back when it is started again.
"""
import math
import os
import re
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbfix  # noqa: E402
import httpdlib  # noqa: E402
import pglib  # noqa: E402
from testlib import ok, done, skip_all, dmarcd  # noqa: E402

if pglib.find_bindir() is None:
    skip_all("PostgreSQL not installed")

RCPT = "dmarc@example.org"

# --- a strict reader of the exposition format -------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
SAMPLE = re.compile(r"^(%s)(?:\{(%s(?:,%s)*)\})? (\S+)$" % (NAME, LABEL,
                                                             LABEL))
LABEL_RE = re.compile(LABEL)


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n"
                  else m.group(1), v)


def parse_value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$", s):
        raise ValueError("bad value %r" % s)
    return float(s)


def parse_exposition(text):
    """{(name, frozenset(labels)): value}, types {family: type}; raises
    ValueError on anything the format does not allow."""
    if not text.endswith("\n"):
        raise ValueError("does not end with a newline")
    types, helps, samples = {}, {}, {}
    done_families, current = set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %r" % (n, line)
        if line.startswith("# HELP "):
            fam = line.split(" ", 3)[2]
            if fam in helps:
                raise ValueError("HELP twice, " + where)
            helps[fam] = line
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in (
                    "counter", "gauge", "histogram", "summary", "untyped"):
                raise ValueError("bad TYPE, " + where)
            fam = parts[2]
            if fam in types:
                raise ValueError("TYPE twice, " + where)
            if not re.match("^%s$" % NAME, fam):
                raise ValueError("bad family name, " + where)
            types[fam] = parts[3]
            if current is not None:
                done_families.add(current)
            current = fam
            continue
        if line.startswith("#") or line == "":
            raise ValueError("stray line, " + where)
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("not name{labels} value, " + where)
        name, labels, value = m.group(1), m.group(2), m.group(7)
        fam = name
        if fam not in types:
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and \
                        types.get(name[:-len(suf)]) == "histogram":
                    fam = name[:-len(suf)]
        if fam not in types:
            raise ValueError("sample without a TYPE, " + where)
        if fam != current or fam in done_families:
            raise ValueError("family not contiguous, " + where)
        if types[fam] == "counter" and not name.endswith("_total"):
            raise ValueError("counter not named _total, " + where)
        lab = []
        if labels:
            lab = [(k, unescape(v)) for k, v in LABEL_RE.findall(labels)]
            if len(set(k for k, _ in lab)) != len(lab):
                raise ValueError("label twice, " + where)
        key = (name, frozenset(lab))
        if key in samples:
            raise ValueError("series twice, " + where)
        samples[key] = parse_value(value)
        if types[fam] == "counter" and (samples[key] < 0 or
                                        math.isnan(samples[key])):
            raise ValueError("negative counter, " + where)
    for fam, t in types.items():
        if fam not in helps:
            raise ValueError("%s: no HELP" % fam)
        if t == "histogram":
            check_histogram(fam, samples)
    return samples, types


def check_histogram(fam, samples):
    series = {}
    for (name, lab), v in samples.items():
        if name == fam + "_bucket":
            d = dict(lab)
            le = d.pop("le", None)
            if le is None:
                raise ValueError("%s: bucket without le" % fam)
            series.setdefault(frozenset(d.items()), []).append(
                (parse_value(le), v))
    if not series:
        raise ValueError("%s: no buckets" % fam)
    for lab, buckets in series.items():
        les = [le for le, _ in buckets]
        if les != sorted(les) or les[-1] != float("inf"):
            raise ValueError("%s: buckets not ascending to +Inf" % fam)
        counts = [c for _, c in buckets]
        if any(b < a for a, b in zip(counts, counts[1:])):
            raise ValueError("%s: buckets not cumulative" % fam)
        if (fam + "_count", lab) not in samples or \
                (fam + "_sum", lab) not in samples:
            raise ValueError("%s: no _sum or _count" % fam)
        if samples[(fam + "_count", lab)] != counts[-1]:
            raise ValueError("%s: _count is not the +Inf bucket" % fam)


def parser_refuses(text):
    try:
        parse_exposition(text)
    except ValueError:
        return True
    return False


GOOD = ("# HELP h_seconds h\n# TYPE h_seconds histogram\n"
        'h_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="+Inf"} 2\n'
        "h_seconds_sum 0.3\nh_seconds_count 2\n"
        "# HELP c_total c\n# TYPE c_total counter\n"
        'c_total{a="x\\"y\\\\z"} 1\n')
ok(not parser_refuses(GOOD), "the parser takes a well-formed exposition")
for what, bad in (
        ("no TYPE", "c_total 1\n"),
        ("no final newline", GOOD[:-1]),
        ("buckets not cumulative", GOOD.replace("} 2\nh_seconds_sum",
                                                "} 0\nh_seconds_sum")),
        ("no +Inf bucket", GOOD.replace('h_seconds_bucket{le="+Inf"} 2\n',
                                        "")),
        ("_count not the +Inf bucket", GOOD.replace("_count 2", "_count 3")),
        ("no _sum", GOOD.replace("h_seconds_sum 0.3\n", "")),
        ("a raw quote in a label", GOOD.replace('x\\"y', 'x"y')),
        ("a family split", GOOD + 'h_seconds_bucket{le="1"} 1\n'),
        ("a series twice", GOOD + 'c_total{a="x\\"y\\\\z"} 1\n'),
        ("no space before the value", GOOD.replace("c_total{a=\"x\\\"y"
                                                   "\\\\z\"} 1",
                                                   "c_total 1 2"))):
    ok(parser_refuses(bad), "the parser refuses " + what, bad)


def key(name, **labels):
    return (name, frozenset(labels.items()))


# --- the daemons -------------------------------------------------------------

D = dmarcd()
cl = pglib.Cluster()
url = cl.createdb("metrics")
tmp = tempfile.mkdtemp(prefix="dmarcd-metrics-")
os.chmod(tmp, 0o755)
conf = os.path.join(tmp, "empty.conf")
open(conf, "w").close()
env = dict(os.environ, DMARCD_CONF=conf, DMARCD_DB="")
lmtp_port = httpdlib.free_port()
metrics_port = httpdlib.free_port()
base_argv = [D, "lmtp", "--foreground", "--db", url, "--listen",
             "127.0.0.1:%d" % lmtp_port, "--recipient", RCPT,
             "--enrich", "off", "--workers", "2"]
if os.geteuid() == 0:
    base_argv += ["--user", pglib.UNPRIVILEGED]
argv = base_argv + ["--metrics-listen", "127.0.0.1:%d" % metrics_port]
lmtp_log = os.path.join(tmp, "lmtp.log")

# refused before anything is served: not loopback, or a port in use
bad = os.path.join(tmp, "bad.conf")
with open(bad, "w") as f:
    f.write("lmtp_metrics_listen = 0.0.0.0:%d\n" % metrics_port)
r = dbfix.run([D, "check-config", "-f", bad])
ok(r.returncode == 78 and b"not a loopback address" in r.stderr,
   "check-config refuses a metrics listener off loopback", r.returncode,
   r.stderr)
r = dbfix.run(base_argv + ["--metrics-listen", "192.0.2.1:%d" %
                           metrics_port], env=env, timeout=60)
ok(r.returncode == 78 and b"not a loopback address" in r.stderr,
   "lmtp refuses a metrics listener off loopback", r.returncode, r.stderr)
taken = socket.socket()
taken.bind(("127.0.0.1", 0))
taken.listen(1)
r = dbfix.run(base_argv + ["--metrics-listen", "127.0.0.1:%d" %
                           taken.getsockname()[1]], env=env, timeout=60)
taken.close()
ok(r.returncode == 78 and b"lmtp_metrics_listen" in r.stderr,
   "lmtp refuses to start when the metrics port is taken", r.returncode,
   r.stderr)
lmtp = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                        stderr=open(lmtp_log, "w"), env=env)
LMTP_BASE = "http://127.0.0.1:%d" % metrics_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import crypt
    pwhash = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_SHA512))
users = os.path.join(tmp, "users")
with open(users, "w") as f:
    f.write("ops:%s\n" % pwhash)
os.chmod(users, 0o600)
serve_port = httpdlib.free_port()
serve_log = os.path.join(tmp, "serve.log")
SERVE_BASE = "http://127.0.0.1:%d" % serve_port
serve = None


def stop_all():
    for p in (lmtp, serve):
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_for(cond, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def get(base, path, *args):
    return httpdlib.curl(base + path, *args)


def lmtp_up():
    return get(LMTP_BASE, "/healthz")[0] == 200


try:
    ok(wait_for(lmtp_up), "lmtp: /healthz answers 200 with the database "
       "up", open(lmtp_log).read()[-2000:])
    serve = subprocess.Popen([D, "serve", "--db", url, "--listen",
                              "127.0.0.1:%d" % serve_port, "--static-dir",
                              httpdlib.static_dir(), "--users", users],
                             stdout=subprocess.PIPE,
                             stderr=open(serve_log, "w"), env=env)
    line = serve.stdout.readline().decode()
    ok("dashboard at" in line, "serve started", line)
except Exception:
    stop_all()
    raise


def scrape(base, *auth):
    s, h, body = get(base, "/metrics", *auth)
    text = body.decode()
    try:
        samples, types = parse_exposition(text)
    except ValueError as e:
        ok(False, "%s/metrics parses: %s" % (base, e), text[:3000])
        raise
    return s, h, samples, types


def db_gauges():
    row = cl.psql("metrics", "SELECT (SELECT count(*) FROM rollup_queue), "
                  "(SELECT count(*) FROM source_host WHERE state = "
                  "'pending'), (SELECT count(*) FROM quarantine WHERE "
                  "resolved IS NULL)").strip().split("|")
    return dict(dmarcd_rollup_queue_reports=float(row[0]),
                dmarcd_enrich_pending_sources=float(row[1]),
                dmarcd_quarantine_open_items=float(row[2]))


def settled():
    """The rollup folder has taken every queued report."""
    return wait_for(lambda: db_gauges()["dmarcd_rollup_queue_reports"] ==
                    0, 20)


GAUGES = ("dmarcd_rollup_queue_reports", "dmarcd_rollup_queue_lag_seconds",
          "dmarcd_enrich_pending_sources", "dmarcd_quarantine_open_items",
          "dmarcd_database_up")


def counters(samples, types):
    """Every sample but the gauges."""
    return {k: v for k, v in samples.items()
            if types.get(k[0]) != "gauge"}


def moved(before, after):
    out = {}
    for k in set(before) | set(after):
        d = after.get(k, 0) - before.get(k, 0)
        if d != 0:
            out[k] = d
    return out


def fmt(d):
    return "\n".join("%s%s %+g" % (n, dict(sorted(lab)), v)
                     for (n, lab), v in sorted(d.items(), key=str))


def expect_moves(what, before, after, want, hist=None):
    """want: {key: delta}; hist: {histogram family: observations}, whose
    _bucket and _sum series may move as long as _count moves by that."""
    got = moved(before, after)
    for fam, n in (hist or {}).items():
        for k in list(got):
            if k[0] in (fam + "_bucket", fam + "_sum"):
                del got[k]
        want = dict(want)
        want[key(fam + "_count")] = n
    ok(got == want, what, "moved:\n" + fmt(got) + "\nwanted:\n" + fmt(want))


def check_gauges(what, samples):
    truth = db_gauges()
    mine = {k: samples.get(key(k)) for k in truth}
    ok(mine == truth and samples.get(key("dmarcd_database_up")) == 1,
       what + ": gauges as the database has them", mine, truth)


def lmtp_send(data, rcpt=RCPT):
    """One session: LHLO, MAIL, RCPT, DATA, QUIT; the final reply."""
    c = smtplib.LMTP("127.0.0.1", lmtp_port, timeout=30)
    try:
        c.ehlo_or_helo_if_needed()
        code, _ = c.mail("noreply@receiver.example")
        code, _ = c.rcpt(rcpt)
        code, msg = c.data(data)
    finally:
        c.quit()
    return code, msg


report = dbfix.eml(dbfix.gz(dbfix.report_xml(
    report_id="metrics-1", domain="example.org", records=[
        dict(ip="192.0.2.1", count=3), dict(ip="192.0.2.2", count=1)])),
    "receiver.example!example.org!1700006400!1700092799.xml.gz")
not_a_report = (b"From: someone@example.net\r\nTo: dmarc@example.org\r\n"
                b"Subject: hello\r\nMessage-ID: <m1@example.net>\r\n\r\n"
                b"Not a report at all.\r\n")
H = "dmarcd_lmtp_delivery_duration_seconds"
REPLIES = "dmarcd_lmtp_replies_total"
# a whole session: 220, LHLO's 250, MAIL's, RCPT's, 354, DATA's, QUIT's 221
SESSION = {key(REPLIES, **{"class": "2xx"}): 6,
           key(REPLIES, **{"class": "3xx"}): 1,
           key("dmarcd_lmtp_sessions_total"): 1}

try:
    # --- lmtp ----------------------------------------------------------------
    s, h, smp, types = scrape(LMTP_BASE)
    ok(s == 200 and h.get("content-type", "").startswith(
        "text/plain; version=0.0.4"), "lmtp: /metrics is the text format "
       "0.0.4", s, h)
    for fam in ("dmarcd_lmtp_deliveries_total", REPLIES,
                "dmarcd_reports_stored_total",
                "dmarcd_report_duplicates_total",
                "dmarcd_records_stored_total", "dmarcd_quarantined_total",
                "dmarcd_database_errors_total", H) + GAUGES:
        ok(fam in types, "lmtp: %s is exposed" % fam)
    ok(all(v == 0 for k, v in counters(smp, types).items()
           if not k[0].startswith("dmarcd_database_errors")),
       "lmtp: every counter starts at 0", fmt(counters(smp, types)))
    check_gauges("lmtp, empty", smp)
    before = counters(smp, types)

    code, msg = lmtp_send(report)
    ok(code == 250, "a new report: 250", code, msg)
    settled()
    s, h, smp, types = scrape(LMTP_BASE)
    after = counters(smp, types)
    expect_moves("a new report: stored, one report, two records, a "
                 "session's replies; nothing else", before, after, {
                     **SESSION,
                     key("dmarcd_lmtp_deliveries_total",
                         outcome="stored"): 1,
                     key("dmarcd_reports_stored_total",
                         kind="aggregate"): 1,
                     key("dmarcd_records_stored_total"): 2},
                 hist={H: 1})
    check_gauges("lmtp, after a report", smp)
    ok(smp[key("dmarcd_rollup_queue_lag_seconds")] == 0,
       "an empty rollup queue has no lag")
    before = after

    code, msg = lmtp_send(report)
    ok(code == 250, "the same report again: 250", code, msg)
    settled()
    s, h, smp, types = scrape(LMTP_BASE)
    after = counters(smp, types)
    expect_moves("a duplicate: one duplicate, no record; nothing else",
                 before, after, {
                     **SESSION,
                     key("dmarcd_lmtp_deliveries_total",
                         outcome="duplicate"): 1,
                     key("dmarcd_report_duplicates_total",
                         kind="aggregate"): 1}, hist={H: 1})
    before = after
    q_before = smp[key("dmarcd_quarantine_open_items")]

    code, msg = lmtp_send(not_a_report)
    ok(code == 250, "a non-report: 250 (kept)", code, msg)
    s, h, smp, types = scrape(LMTP_BASE)
    after = counters(smp, types)
    expect_moves("a non-report: quarantined once; nothing else", before,
                 after, {
                     **SESSION,
                     key("dmarcd_lmtp_deliveries_total",
                         outcome="quarantined"): 1,
                     key("dmarcd_quarantined_total"): 1}, hist={H: 1})
    check_gauges("lmtp, after the non-report", smp)
    ok(smp[key("dmarcd_quarantine_open_items")] == q_before + 1,
       "the open quarantine grew by one")
    before = after

    # a refused recipient: 550, then RSET and QUIT; no delivery
    c = smtplib.LMTP("127.0.0.1", lmtp_port, timeout=30)
    c.ehlo_or_helo_if_needed()
    c.mail("noreply@receiver.example")
    code, _ = c.rcpt("stranger@example.org")
    c.rset()
    c.quit()
    ok(code == 550, "an unknown recipient: 550", code)
    s, h, smp, types = scrape(LMTP_BASE)
    after = counters(smp, types)
    expect_moves("a refused recipient: one 5xx reply, no delivery", before,
                 after, {key(REPLIES, **{"class": "2xx"}): 5,
                         key(REPLIES, **{"class": "5xx"}): 1,
                         key("dmarcd_lmtp_sessions_total"): 1})
    before = after

    s, _, body = get(LMTP_BASE, "/nothing")
    ok(s == 404, "lmtp: another path is 404", s)
    s, _, body = get(LMTP_BASE, "/metrics", "-X", "POST")
    ok(s == 405, "lmtp: POST /metrics is 405", s)

    # --- serve ---------------------------------------------------------------
    s, _, _ = get(SERVE_BASE, "/metrics")
    ok(s == 401, "serve: /metrics needs the dashboard's users", s)
    s, _, body = get(SERVE_BASE, "/healthz")
    ok(s == 200 and body == b"ok\n", "serve: /healthz is 200 ok without "
       "a user", s, body)
    AUTH = ("-u", "ops:s3cret")
    s, h, smp, types = scrape(SERVE_BASE, *AUTH)
    ok(s == 200 and h.get("content-type", "").startswith(
        "text/plain; version=0.0.4"), "serve: /metrics is the text format",
       s, h)
    for fam in ("dmarcd_http_requests_total",
                "dmarcd_http_request_duration_seconds",
                "dmarcd_database_errors_total") + GAUGES:
        ok(fam in types, "serve: %s is exposed" % fam)
    check_gauges("serve", smp)
    R = "dmarcd_http_requests_total"
    HH = "dmarcd_http_request_duration_seconds"
    ok(smp[key(R, endpoint="metrics", code="4xx")] == 1 and
       smp[key(R, endpoint="healthz", code="2xx")] == 1,
       "serve: the 401 and the /healthz before were counted",
       fmt(counters(smp, types)))
    before = counters(smp, types)
    s, _, _ = get(SERVE_BASE, "/api/meta", *AUTH)
    ok(s == 200, "serve: /api/meta", s)
    s, _, _ = get(SERVE_BASE, "/no-such-page", *AUTH)
    ok(s == 404, "serve: an unknown page is 404", s)
    s, h, smp, types = scrape(SERVE_BASE, *AUTH)
    after = counters(smp, types)
    got = moved(before, after)
    want = {key(R, endpoint="api", code="2xx"): 1,
            key(R, endpoint="static", code="4xx"): 1,
            key(R, endpoint="metrics", code="2xx"): 1,
            key(HH + "_count", endpoint="api"): 1,
            key(HH + "_count", endpoint="static"): 1,
            key(HH + "_count", endpoint="metrics"): 1}
    got = {k: v for k, v in got.items()
           if k[0] not in (HH + "_bucket", HH + "_sum")}
    ok(got == want, "serve: an API call, a 404 and the scrape before; "
       "nothing else", "moved:\n" + fmt(got) + "\nwanted:\n" + fmt(want))

    # --- the database goes away ----------------------------------------------
    s, h, smp, types = scrape(LMTP_BASE)
    before = counters(smp, types)
    serve_errors = scrape(SERVE_BASE, *AUTH)[2][
        key("dmarcd_database_errors_total")]
    cl.stop()
    s, _, body = get(LMTP_BASE, "/healthz")
    ok(s == 503, "lmtp: /healthz is 503 with the database stopped", s, body)
    s, _, body = get(SERVE_BASE, "/healthz")
    ok(s == 503, "serve: /healthz is 503 with the database stopped", s,
       body)
    try:
        code, msg = lmtp_send(report)
    except smtplib.SMTPDataError as e:
        code, msg = e.smtp_code, e.smtp_error
    ok(code == 451, "a delivery with the database down: 451", code, msg)
    s, h, smp, types = scrape(LMTP_BASE)
    ok(s == 200 and smp.get(key("dmarcd_database_up")) == 0 and
       key("dmarcd_quarantine_open_items") not in smp,
       "lmtp: /metrics still answers, database_up 0 and no gauges", s)
    after = counters(smp, types)
    errs = key("dmarcd_database_errors_total")
    ok(after[errs] > before[errs], "lmtp: database errors counted",
       before[errs], after[errs])
    # the rollup folder's rounds fail too meanwhile: errors only >= 1
    del before[errs], after[errs]
    expect_moves("the delivery: tempfail, a 451; nothing stored", before,
                 after, {key(REPLIES, **{"class": "2xx"}): 5,
                         key(REPLIES, **{"class": "3xx"}): 1,
                         key(REPLIES, **{"class": "4xx"}): 1,
                         key("dmarcd_lmtp_sessions_total"): 1,
                         key("dmarcd_lmtp_deliveries_total",
                             outcome="tempfail"): 1}, hist={H: 1})
    s, h, smp, types = scrape(SERVE_BASE, *AUTH)
    ok(s == 200 and smp.get(key("dmarcd_database_up")) == 0 and
       smp[key("dmarcd_database_errors_total")] > serve_errors,
       "serve: /metrics answers, database_up 0, errors counted", s)

    cl.start()
    ok(wait_for(lmtp_up), "lmtp: /healthz 200 again once it is back")
    ok(wait_for(lambda: get(SERVE_BASE, "/healthz")[0] == 200),
       "serve: /healthz 200 again once it is back")
    s, h, smp, types = scrape(LMTP_BASE)
    ok(smp.get(key("dmarcd_database_up")) == 1, "lmtp: database_up 1")
finally:
    stop_all()

ok(lmtp.returncode == 0, "lmtp stopped cleanly", lmtp.returncode,
   open(lmtp_log).read()[-2000:])
ok(serve is not None and serve.returncode == 0, "serve stopped cleanly",
   serve and serve.returncode, open(serve_log).read()[-2000:])
done()
