#!/usr/bin/env python3
"""bench_api.py - the dashboard API at scale: BENCH_RECORDS (default 10
million) records loaded directly with generate_series into report, record
and (through dmarcd_rollup_set, the store's own) the rollups, then every API call the
pages make, timed: p50/p95/max in ms.  Figures, not pass/fail.

--users also times every call through a users file (issue 15, item 4):
as "admin" (every domain) and as "half", limited to 25 of the 50 domains
(d0.example ... d24.example: resolved each request), both with
basic authentication (sha512-crypt at its fewest rounds, so the hash costs
little beside the query), beside each other.

--keep DIR keeps the cluster in DIR: the first run loads it, later runs
with the same DIR and RECORDS start it (serve migrates it, as an upgrade
would) and only time the calls; psql -h DIR -U postgres dmarcd reaches it
between runs (start it with pg_ctl -D DIR/data, as nobody when root).

usage: bench_api.py DMARCD [RECORDS] [--keep DIR] [--users]"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import httpdlib  # noqa: E402

args = sys.argv[1:]
KEEP = None
if "--keep" in args:
    i = args.index("--keep")
    KEEP = args[i + 1]
    del args[i:i + 2]
USERS = "--users" in args
if USERS:
    args.remove("--users")
D = args[0] if args else os.environ.get("DMARCD")
N = int(args[1] if len(args) > 1 else
        os.environ.get("BENCH_RECORDS", "10000000"))
PER_REPORT = 100
REPORTS = max(1, N // PER_REPORT)
RUNS = 25

dash = httpdlib.Dashboard(D, [], keep=KEEP)
pg = dash.pg
LOADED = os.path.join(KEEP, "loaded-%d" % N) if KEEP else None
if pg.reused and not os.path.exists(LOADED):
    sys.exit("bench_api: %s holds no complete load of %d records; remove it"
             % (KEEP, N))


def load():
    """The records, the reports and the rollups; prints the times."""
    t0 = time.time()
    # the schema: one serve start migrates; stop it again
    dash.serve()
    dash.stop()
    REPORTERS = ["google.com", "Yahoo", "Outlook.com", "Mail.Ru", "AMAZON-SES",
                 "Mimecast", "GMX", "Zoho"] + ["reporter-%d.example" % i
                                               for i in range(22)]
    # ~50 domains, 30 reporters, 365 days, ~10,000 distinct sending IPs: a
    # domain's mail comes from a few hundred IPs of its own and of shared ESPs.
    pg.psql("dmarcd", """
    SET synchronous_commit = off;
    INSERT INTO report (domain, org_name, report_id, begin_time, end_time,
        n_records, messages, p, sha256)
    SELECT 'd' || (g %% 50) || '.example', (ARRAY[%s])[1 + (g / 50) %% 30],
        'r' || g, date_trunc('day', now()) - ((g %% 365) || ' days')::interval,
        date_trunc('day', now()) - ((g %% 365) || ' days')::interval
        + interval '86399 seconds', %d, 0, 'reject', '\\x00'
    FROM generate_series(1, %d) g;
    """ % (", ".join("'%s'" % r for r in REPORTERS), PER_REPORT, REPORTS))
    pg.psql("dmarcd", """
    SET synchronous_commit = off;
    SELECT dmarcd_partition(m) FROM (SELECT DISTINCT
        dmarcd_report_month(begin_time, end_time) FROM report) s(m);
    INSERT INTO record (domain, report, ordinal, source_ip, count, disposition,
        dkim, spf, reason_type, header_from, dkim_domain, dkim_selector,
        dkim_result, spf_domain, spf_scope, spf_result, month)
    SELECT r.domain, r.id, o, ('10.' || (h / 65536) || '.' || (h / 256 %% 256)
        || '.' || (h %% 256))::inet,
        1 + (r.id + o) %% 20,
        CASE WHEN o %% 10 = 0 THEN 'reject' WHEN o %% 10 = 1 THEN 'quarantine'
             ELSE 'none' END,
        CASE WHEN o %% 10 < 2 THEN 'fail' ELSE 'pass' END,
        CASE WHEN o %% 5 = 0 THEN 'fail' ELSE 'pass' END,
        CASE WHEN o %% 17 = 0 THEN '{forwarded}'::text[] ELSE '{}' END,
        CASE WHEN o %% 13 = 0 THEN 'news.' || r.domain ELSE r.domain END,
        ARRAY[r.domain], ARRAY['s' || o %% 4],
        ARRAY[CASE WHEN o %% 10 < 2 THEN 'fail' ELSE 'pass' END],
        ARRAY[r.domain], '{mfrom}',
        ARRAY[CASE WHEN o %% 5 = 0 THEN 'softfail' ELSE 'pass' END],
        dmarcd_report_month(r.begin_time, r.end_time)
    FROM report r, generate_series(0, %d) o,
        LATERAL (SELECT CASE WHEN o %% 4 = 0
            THEN 9000 + (r.id * 31 + o) %% 1000        -- shared ESPs
            ELSE (r.id %% 50) * 180 + (r.id + o * 7) %% 180 END AS h) x
    """ % (PER_REPORT - 1))
    t1 = time.time()
    pg.psql("dmarcd", "UPDATE report SET messages = n_records * 10")
    # the rollups with the store's own set-based function, domain by domain
    for d in pg.psql("dmarcd", "SELECT DISTINCT domain FROM report").split():
        pg.psql("dmarcd", "SELECT dmarcd_rollup_set(array_agg(domain),"
                " array_agg(id)) FROM report WHERE domain = '%s'" % d)
    pg.psql("dmarcd", "VACUUM ANALYZE")
    t2 = time.time()
    sizes = pg.psql("dmarcd", "SELECT relname, n_live_tup FROM pg_stat_user_tables"
                    " WHERE relname IN ('record', 'report') OR relname"
                    " LIKE 'dash%' ORDER BY 1")
    print("# loaded %d records in %d reports: %.0fs; rollups %.0fs" %
          (REPORTS * PER_REPORT, REPORTS, t1 - t0, t2 - t1))
    for ln in sizes.split():
        print("#   " + ln.replace("|", ": "))


if pg.reused:
    t = time.time()
    dash.serve()    # migrates a kept database of an older schema
    print("# reused %s (%d records): start and migration %.1fs"
          % (KEEP, N, time.time() - t))
else:
    load()
    if LOADED:
        open(LOADED, "w").close()
    dash.serve()

# who the sources are, as the enricher leaves them: of the ~10,000 IPs, a
# service for two in three (200 services of the 7 types, the shared ESPs'
# IPs among them), a verified PTR name for most, AS and country for all
t = time.time()
pg.psql("dmarcd", """
UPDATE source_host SET state = 'ok', ptr = 'h' || replace(host(ip), '.', '-')
    || '.net' || (hashtext(host(ip)) & 255) || '.example',
    ptr_verified = hashtext(host(ip)) % 7 <> 0,
    base_domain = 'net' || (hashtext(host(ip)) & 255) || '.example',
    service = CASE WHEN hashtext(host(ip)) % 3 <> 0 THEN 'Service ' ||
        ((hashtext(host(ip)) >> 8) & 255) % 200 END,
    service_type = CASE WHEN hashtext(host(ip)) % 3 <> 0 THEN (ARRAY['mailbox',
        'esp', 'transactional', 'crm', 'gateway', 'forwarder',
        'hosting'])[1 + ((hashtext(host(ip)) >> 8) & 255) % 200 % 7] END,
    asn = 64512 + (hashtext(host(ip)) & 1023), as_org = 'AS-ORG-' ||
        (hashtext(host(ip)) & 1023), country = (ARRAY['US', 'DE', 'FR',
        'RU', 'JP'])[1 + abs(hashtext(host(ip)) % 5)], looked_up = now(),
    expires = now() + interval '1 day', classified = now()
WHERE classified IS NULL OR state = 'pending';
""")
pg.psql("dmarcd", "VACUUM ANALYZE source_host")
print("# source_host: %s rows, %s with a service (%.1fs)" % tuple(
    pg.psql("dmarcd", "SELECT count(*), count(service) FROM source_host")
    .strip().split("|") + [time.time() - t]))

today = time.strftime("%Y-%m-%d", time.gmtime())


def ago(n):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - n * 86400))


F30 = "from=%s&to=%s" % (ago(29), today)
F90 = "from=%s&to=%s" % (ago(89), today)
ip = pg.psql("dmarcd", "SELECT host(source_ip) FROM record WHERE domain ="
             " 'd3.example' LIMIT 1").strip()
CALLS = [
    ("meta", "/api/meta"),
    ("overview 30d", "/api/overview?" + F30),
    ("overview 90d", "/api/overview?" + F90),
    ("overview 30d domain", "/api/overview?domain=d3.example&" + F30),
    ("overview 30d reporter", "/api/overview?reporter=Yahoo&" + F30),
    ("alignment 30d", "/api/alignment?" + F30),
    ("alignment 90d domain", "/api/alignment?domain=d3.example&" + F90),
    ("sources 30d", "/api/sources?limit=100&" + F30),
    ("sources 30d sort=fail", "/api/sources?limit=100&sort=fail&" + F30),
    ("sources 90d domain", "/api/sources?limit=100&domain=d3.example&" + F90),
    ("sources 30d sort=service", "/api/sources?limit=100&sort=service&" + F30),
    ("sources 30d service=", "/api/sources?limit=100&service=Service%2042&"
     + F30),
    ("sources 30d type=esp", "/api/sources?limit=100&type=esp&" + F30),
    ("services 30d", "/api/services?" + F30),
    ("services 90d domain", "/api/services?domain=d3.example&" + F90),
    # the simulator reads its rollup (sql/015_simulator.sql): budget 200 ms
    ("simulate 30d domain", "/api/simulate?p=reject&domain=d3.example&"
     + F30),
    ("simulate 30d", "/api/simulate?p=reject&" + F30),
    ("source drill-down", "/api/source?limit=100&ip=%s&%s" % (ip, F30)),
    ("reporters 90d", "/api/reporters?" + F90),
    ("reports 30d", "/api/reports?limit=100&" + F30),
    ("reports 30d page 10", "/api/reports?limit=100&offset=1000&" + F30),
    ("reports one day domain", "/api/reports?limit=100&domain=d3.example&"
     "from=%s&to=%s" % (ago(3), ago(3))),
    ("reports by ip", "/api/reports?limit=100&ip=%s&%s" % (ip, F30)),
    ("report detail", "/api/report?domain=d1.example&id=1&limit=500"),
    ("quarantine", "/api/quarantine"),
]


def timed(path, auth=None):
    """(sorted times in ms, body size) of RUNS calls, or (None, why)."""
    times = []
    size = 0
    for _ in range(RUNS):
        req = urllib.request.Request(dash.base + path)
        if auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(
                auth.encode()).decode())
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(req) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            return None, "HTTP %d %s after %d runs" % (e.code, e.read()[:200],
                                                      len(times))
        times.append((time.perf_counter() - t) * 1000)
        size = len(body)
    json.loads(body)
    times.sort()
    return times, size


def p95(times):
    return times[int(0.95 * (len(times) - 1))]


print("# %-26s %8s %8s %8s %8s" % ("call", "p50 ms", "p95 ms", "max ms",
                                   "bytes"))
worst = 0
for name, path in CALLS:
    times, size = timed(path)
    if times is None:
        print("# %-26s failed: %s" % (name, size))
        continue
    worst = max(worst, p95(times))
    print("# %-26s %8.1f %8.1f %8.1f %8d" % (name, times[len(times) // 2],
                                           p95(times), times[-1], size))
if USERS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import crypt
        h = crypt.crypt("pw", "$6$rounds=1000$benchsalt$")
    users = os.path.join(pg.dir, "bench-users")
    with open(users, "w") as f:
        f.write("admin:%s\nhalf:%s::%s\n" % (h, h, ",".join(
            "d%d.example" % i for i in range(25))))
    os.chmod(users, 0o600)
    dash.stop()
    dash.serve(["--users", users])
    print("# through the users file: admin (every domain) beside half "
          "(25 of 50 domains)")
    print("# %-26s %8s %8s %8s %8s" % ("call", "admin p50", "p95",
                                       "half p50", "p95"))
    for name, path in CALLS:
        row = []
        for who in ("admin", "half"):
            times, size = timed(path, who + ":pw")
            row += ([times[len(times) // 2], p95(times)] if times else
                    [float("nan")] * 2)
        print("# %-26s %8.1f %8.1f %8.1f %8.1f" % tuple([name] + row))
plan = pg.psql("dmarcd", "EXPLAIN SELECT domain, sum(messages) FROM "
               "dash_day WHERE day BETWEEN '%s' AND '%s' GROUP BY domain"
               % (ago(29), today))
print("# overview plan reads: %s" % ("record!" if "record" in plan else
                                     "rollups only"))
print("# worst p95: %.1f ms" % worst)
dash.close()
print("1..0 # SKIP benchmark: figures above")
