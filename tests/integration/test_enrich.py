#!/usr/bin/env python3
"""test_enrich.py - `dmarcd enrich` against a real nsd on 127.0.0.1 and a
real PostgreSQL.

nsd (Debian's, run unprivileged from its own config and zone files in a
temporary directory) serves PTR, A and AAAA for: a forward-confirmed name,
a PTR whose name does not resolve back, NXDOMAIN, a 253-byte name, a name
with bytes above 127 and one holding "<script>".  A Python UDP socket that
never answers stands for a black-holed server (the lookup must end within
--timeout, as state timeout), another answers SERVFAIL to everything.  The
addresses come from an aggregate report written here and ingested.
"""
import os
import shutil
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
import nsdlib  # noqa: E402
from dbfix import report_xml, eml, gz  # noqa: E402
from testlib import ok, diag, skip_all, done, dmarcd  # noqa: E402

DMARCD = dmarcd()

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")
if not nsdlib.available():
    skip_all("nsd is not installed")

TMP = tempfile.mkdtemp(prefix="dmarcd-enrich-")
os.chmod(TMP, 0o755)
CONF = os.path.join(TMP, "dmarcd.conf")
with open(CONF, "w") as f:
    f.write("# test_enrich\n")

# a name of exactly 253 bytes (no trailing dot): 63+1+63+1+63+1+56+1+4
LONG = "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 56 + ".test"
assert len(LONG) == 253

HOSTS = {
    # ip: (zone-file PTR name, A/AAAA of it or None, expected)
    "192.0.2.1": ("ok.test.", "192.0.2.1"),
    "192.0.2.2": ("unverified.test.", "192.0.2.99"),
    "192.0.2.3": (None, None),                       # NXDOMAIN
    "192.0.2.4": (LONG + ".", "192.0.2.4"),
    "192.0.2.5": ("caf\\195\\169.\\200x.test.", "192.0.2.5"),
    "192.0.2.6": ("<script>.evil.test.", None),
    "2001:db8::1": ("v6.test.", "2001:db8::1"),
}


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def run(args, timeout=60):
    e = dict(os.environ)
    e["DMARCD_CONF"] = CONF
    e.pop("DMARCD_DB", None)
    t0 = time.monotonic()
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=timeout)
    r.elapsed = time.monotonic() - t0
    return r


# --- nsd -------------------------------------------------------------------
def start_nsd():
    soa = ["$TTL 7200", "@ SOA ns.test. h.test. 1 3600 600 86400 300",
           "@ NS ns.test."]
    rev4, rev6 = list(soa), list(soa)
    fwd = soa + ["ns A 127.0.0.1"]
    for ip, (name, addr) in HOSTS.items():
        if name is not None:
            if ":" in ip:
                rev6.append("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                            "0 PTR %s" % name)
            else:
                rev4.append("%s PTR %s" % (ip.split(".")[3], name))
        if addr is not None:
            fwd.append("%s %s %s" % (name, "AAAA" if ":" in addr else "A",
                                     addr))
    n = nsdlib.Nsd(os.path.join(TMP, "nsd"), {
        "2.0.192.in-addr.arpa": rev4, "8.b.d.0.1.0.0.2.ip6.arpa": rev6,
        "test": fwd}, "ok.test")
    return n, n.port


class FakeDNS(threading.Thread):
    """A UDP server that never answers (servfail False) or answers every
    query with SERVFAIL; counts what it got."""

    def __init__(self, servfail):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.servfail = servfail
        self.queries = 0
        self.start()

    def run(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1
            if self.servfail and len(data) >= 12:
                hdr = data[:2] + bytes([0x80 | (data[2] & 0x01), 0x82]) + \
                    data[4:6] + b"\0\0\0\0\0\0"
                self.sock.sendto(hdr + data[12:], peer)


def report(ips, rid):
    return report_xml(report_id=rid, records=[dict(ip=ip, count=1)
                                              for ip in ips])


def ingest(url, ips, rid):
    path = os.path.join(TMP, rid + ".xml")
    with open(path, "wb") as f:
        f.write(report(ips, rid))
    r = run([DMARCD, "ingest", "-q", "--db", url, path])
    ok(r.returncode == 0, "report %s ingested" % rid, r.stderr.decode())


def rows(cluster, db):
    out = cluster.psql(db, "SELECT host(ip), state, coalesce(ptr, '<NULL>'),"
                       " ptr_verified, coalesce(base_domain, '<NULL>'),"
                       " looked_up IS NOT NULL, extract(epoch FROM expires -"
                       " looked_up)::bigint, classified IS NOT NULL"
                       " FROM source_host ORDER BY ip")
    res = {}
    for line in out.splitlines():
        f = line.split("|")
        res[f[0]] = dict(state=f[1], ptr=f[2], verified=f[3] == "t",
                         base=f[4], looked_up=f[5] == "t",
                         ttl=int(f[6]) if f[6] else None,
                         classified=f[7] == "t")
    return res


cluster = pglib.Cluster()
nsd, PORT = start_nsd()
SERVER = "127.0.0.1:%d" % PORT

# --- against nsd -------------------------------------------------------------
url = cluster.createdb("enrich")
ingest(url, list(HOSTS), "nsd-1")
before = rows(cluster, "enrich")
ok(sorted(before) == sorted(HOSTS) and
   all(v["state"] == "pending" for v in before.values()),
   "every address pending after ingest", before)

r = run([DMARCD, "enrich", "-v", "--db", url, "--dns-server", SERVER])
err = r.stderr
ok(r.returncode == 0, "enrich exits 0", err.decode(errors="replace"))
got = rows(cluster, "enrich")
got_first = got
diag(repr(got))

expect = {
    "192.0.2.1": ("ok", "ok.test", True, "ok.test"),
    "192.0.2.2": ("ok", "unverified.test", False, "unverified.test"),
    "192.0.2.3": ("nxdomain", "<NULL>", False, "<NULL>"),
    "192.0.2.4": ("ok", LONG, True, "d" * 56 + ".test"),
    "192.0.2.5": ("ok", "caf\\195\\169.\\200x.test", True, "<NULL>"),
    "192.0.2.6": ("ok", "<script>.evil.test", False, "<NULL>"),
    "2001:db8::1": ("ok", "v6.test", True, "v6.test"),
}
for ip, (state, ptr, verified, base) in expect.items():
    g = got.get(ip, {})
    ok(g.get("state") == state, "%s: state %s" % (ip, state), g)
    ok(g.get("ptr") == ptr, "%s: ptr %r" % (ip, ptr), g.get("ptr"))
    ok(g.get("verified") == verified, "%s: ptr_verified %s" % (ip, verified),
       g)
    ok(g.get("base") == base, "%s: base_domain %s" % (ip, base), g)
    ok(g.get("classified"), "%s: classified" % ip, g)
ok(len(got["192.0.2.4"]["ptr"]) == 253, "the 253-byte name kept whole")
# zone TTL 7200 is under dns_min_ttl (86400): clamped up; NXDOMAIN:
# dns_negative_ttl (86400 by default)
ok(got["192.0.2.1"]["ttl"] == 86400, "TTL clamped to dns_min_ttl",
   got["192.0.2.1"]["ttl"])
ok(got["192.0.2.3"]["ttl"] == 86400, "NXDOMAIN kept dns_negative_ttl")
ok(b"<script>" not in err, "no raw <script> in the logs")
ok(all(b < 0x80 for b in err), "no raw byte above 127 in the logs")
# \DDD for '<' and '>', the logger's own escaping doubling the backslash
ok(b"\\\\060script\\\\062.evil.test" in err,
   "the <script> name logged escaped",
   err.decode(errors="replace")[-1500:])
last = err.decode().strip().splitlines()[-1]
ok(last.startswith("enrich: 7 looked up (ok 6, nxdomain 1,") and
   "5 verified" not in last and "4 verified" in last,
   "summary line: counts by state and verified", last)

r = run([DMARCD, "enrich", "--db", url, "--dns-server", SERVER])
ok(r.returncode == 0 and
   r.stderr.decode().strip().splitlines()[-1].startswith(
       "enrich: 0 looked up"), "a second run has nothing pending",
   r.stderr.decode())

# expired answers: looked up again with --refresh only
cluster.psql("enrich", "UPDATE source_host SET ptr = 'stale.test',"
             " expires = now() - interval '1 second' WHERE ip = '192.0.2.1'")
r = run([DMARCD, "enrich", "--db", url, "--dns-server", SERVER])
ok(rows(cluster, "enrich")["192.0.2.1"]["ptr"] == "stale.test",
   "without --refresh an expired answer stays")
r = run([DMARCD, "enrich", "--refresh", "--db", url, "--dns-server", SERVER])
g = rows(cluster, "enrich")["192.0.2.1"]
ok(r.returncode == 0 and g["ptr"] == "ok.test" and g["verified"] and
   r.stderr.decode().strip().splitlines()[-1].startswith(
       "enrich: 1 looked up"), "--refresh looks an expired answer up again",
   r.stderr.decode(), g)

# the rate cap: 7 addresses, 13 queries (7 PTR, and a forward query for
# each of the 6 names), 5 a second with a burst of 5: the 8 after
# the burst take at least 1.6 s
cluster.psql("enrich", "UPDATE source_host SET expires = now() - interval"
             " '1 second'")
r = run([DMARCD, "enrich", "--refresh", "--db", url, "--dns-server", SERVER,
         "--max-rate", "5"])
last = r.stderr.decode().strip().splitlines()[-1]
diag("--max-rate 5: %.2f s, %s" % (r.elapsed, last))
ok(r.returncode == 0 and "13 queries" in last and r.elapsed >= 1.5,
   "--max-rate 5 holds the queries to 5 a second", r.elapsed, last)
ok(rows(cluster, "enrich") == got_first,
   "the same answers at a low rate", rows(cluster, "enrich"))

# --- a black-holed server: timeout ------------------------------------------
hole = FakeDNS(servfail=False)
url2 = cluster.createdb("hole")
ingest(url2, ["198.51.100.%d" % i for i in range(1, 6)], "hole-1")
# the command's own cost (database, migrations checked): a run with nothing
# pending, against the same dead server
base = run([DMARCD, "enrich", "--db", url2, "--dns-server", SERVER]).elapsed
cluster.psql("hole", "UPDATE source_host SET state = 'pending', ptr = NULL,"
             " expires = NULL")
r = run([DMARCD, "enrich", "--db", url2, "--timeout", "1", "--dns-server",
         "127.0.0.1:%d" % hole.port])
got = rows(cluster, "hole")
diag("black hole: %.2f s (a run with nothing to look up: %.2f s), %d queries"
     % (r.elapsed, base, hole.queries))
ok(r.returncode == 0 and all(v["state"] == "timeout" for v in got.values()),
   "a server that never answers: state timeout", got, r.stderr.decode())
ok(hole.queries > 0, "the black hole was asked")
ok(r.elapsed < 1.0 + base + 0.5, "the lookups end within --timeout 1",
   r.elapsed)
ok(all(v["ttl"] == 3600 for v in got.values()), "timeouts kept dns_error_ttl")

# in flight: 5 lookups of 0.5 s each (the PTR's half of --timeout 1), 2 at
# a time, take 3 rounds; all at once, one
cluster.psql("hole", "UPDATE source_host SET state = 'pending', ptr = NULL,"
             " expires = NULL")
r = run([DMARCD, "enrich", "--db", url2, "--timeout", "1", "--max-inflight",
         "2", "--dns-server", "127.0.0.1:%d" % hole.port])
diag("black hole, 2 in flight: %.2f s" % r.elapsed)
ok(r.returncode == 0 and r.elapsed >= 1.4 and r.elapsed < 1.5 + base + 1.0,
   "--max-inflight 2: the lookups wait their turn", r.elapsed)

# --- SERVFAIL ---------------------------------------------------------------
sf = FakeDNS(servfail=True)
url3 = cluster.createdb("servfail")
ingest(url3, ["203.0.113.7", "203.0.113.8"], "sf-1")
r = run([DMARCD, "enrich", "--db", url3, "--dns-server",
         "127.0.0.1:%d" % sf.port])
got = rows(cluster, "servfail")
ok(r.returncode == 0 and all(v["state"] == "servfail"
                             for v in got.values()),
   "a server answering SERVFAIL: state servfail", got, r.stderr.decode())

# --- enrich = off / local ---------------------------------------------------
url4 = cluster.createdb("off")
ingest(url4, ["192.0.2.1"], "off-1")
with open(CONF, "w") as f:
    f.write("enrich = off\n")
r = run([DMARCD, "enrich", "--db", url4, "--dns-server", SERVER])
g = rows(cluster, "off")["192.0.2.1"]
ok(r.returncode == 0 and g["state"] == "pending" and not g["classified"],
   "enrich = off: nothing done", g)
with open(CONF, "w") as f:
    f.write("enrich = local\n")
r = run([DMARCD, "enrich", "--db", url4, "--dns-server", SERVER])
g = rows(cluster, "off")["192.0.2.1"]
ok(r.returncode == 0 and g["state"] == "pending" and g["classified"],
   "enrich = local: classified, no DNS", g)
with open(CONF, "w") as f:
    f.write("# test_enrich\n")


# --- dmarcd lmtp with DNS black-holed ----------------------------------------
def lmtp_round(enrich, hole_port, dbname, n=8, net=10):
    """Starts lmtp (enrich on or off, DNS to the black hole), delivers n
    reports of new addresses one after the other, returns (daemon, url,
    latencies of the final replies, log path)."""
    url = cluster.createdb(dbname)
    conf = os.path.join(TMP, dbname + ".conf")
    with open(conf, "w") as f:
        f.write("enrich = %s\nenrich_interval = 1\ndns_timeout = 3\n"
                "dns_servers = 127.0.0.1:%d\n" % (enrich, hole_port))
    port = free_port(socket.SOCK_STREAM)
    log = os.path.join(TMP, dbname + ".log")
    argv = [DMARCD, "lmtp", "--foreground", "-v", "--db", url, "--listen",
            "127.0.0.1:%d" % port, "--recipient", "dmarc@example.org"]
    if os.geteuid() == 0:
        argv += ["--user", pglib.UNPRIVILEGED]
    e = dict(os.environ)
    e["DMARCD_CONF"] = conf
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=open(log, "w"), env=e)
    c = None
    for _ in range(150):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=20)
            break
        except OSError:
            time.sleep(0.1)
    if c is None:
        raise RuntimeError("lmtp did not start: " + open(log).read())
    f = c.makefile("rb")

    def reply():
        while True:
            line = f.readline().decode()
            if len(line) < 4 or line[3] != "-":
                return line

    reply()
    c.sendall(b"LHLO test\r\n")
    reply()
    lat = []
    for i in range(n):
        ips = ["10.%d.%d.%d" % (net, i, k) for k in range(1, 21)]
        msg = eml(gz(report(ips, "%s-%d" % (dbname, i))), "r%d.xml.gz" % i)
        c.sendall(b"MAIL FROM:<r@receiver.example>\r\n"
                  b"RCPT TO:<dmarc@example.org>\r\nDATA\r\n")
        reply(), reply(), reply()
        t0 = time.monotonic()
        c.sendall(msg.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        r = reply()
        lat.append(time.monotonic() - t0)
        if not r.startswith("250"):
            diag("delivery %d: %s" % (i, r.strip()))
            lat[-1] = 999
        time.sleep(0.15)
    c.sendall(b"QUIT\r\n")
    c.close()
    return p, dbname, lat, log


def stop(p):
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    return time.monotonic() - t0


hole2 = FakeDNS(servfail=False)
p, db, base_lat, log = lmtp_round("off", hole2.port, "lmtp_off", net=10)
stop(p)
p, db, lat, log = lmtp_round("on", hole2.port, "lmtp_on", net=20)
diag("LMTP final reply, enrich off: median %.3f s, max %.3f s; DNS "
     "black-holed, enrich on: median %.3f s, max %.3f s (%d queries to the "
     "hole)" % (statistics.median(base_lat), max(base_lat),
                statistics.median(lat), max(lat), hole2.queries))
ok(all(x < 999 for x in lat), "every delivery answered 250 with DNS dead")
ok(statistics.median(lat) < 2 * statistics.median(base_lat) + 0.1 and
   max(lat) < 1.5, "deliveries keep their latency while DNS is black-holed "
   "(a lookup takes 3 s)", lat, base_lat)


def settled():
    g = rows(cluster, db)
    return len(g) == 8 * 20 and all(v["state"] == "timeout"
                                    for v in g.values())


t0 = time.monotonic()
while not settled() and time.monotonic() - t0 < 30:
    time.sleep(0.2)
ok(settled(), "the background enricher looked every address up afterwards "
   "(state timeout)", time.monotonic() - t0)
ok(hole2.queries > 0, "lmtp's enricher asked the DNS server")
# a pass in progress when stopping: new pending rows, then SIGTERM
cluster.psql(db, "UPDATE source_host SET state = 'pending'")
time.sleep(1.5)
took = stop(p)
diag("SIGTERM during a black-holed pass: exit after %.2f s" % took)
ok(p.returncode == 0 and took < 2.5, "lmtp stops promptly during a pass",
   took, p.returncode)
ok(any(v["state"] == "pending" for v in rows(cluster, db).values()),
   "a pass cut short leaves its batch pending")

r = run([DMARCD, "enrich", "--help"])
ok(r.returncode == 0 and b"--dns-server" in r.stdout and
   b"--refresh" in r.stdout, "enrich --help lists the options")

nsd.stop()
shutil.rmtree(TMP, ignore_errors=True)
done()
