#!/usr/bin/env python3
"""bench_enrich.py - `dmarcd enrich` of N new addresses (10,000 by default)
against a real nsd on 127.0.0.1 serving a PTR and a matching A for each
(every name forward-confirmed: two queries an address), into a throwaway
PostgreSQL.  The addresses come from one aggregate report written here and
ingested; before each run they are made pending again.  Figures are the
median of --runs (3): seconds of the whole command, addresses a second of
its DNS part (from its summary line), peak RSS.  Prints figures; never
passes or fails.

usage: bench_enrich.py DMARCD [--ips N] [--runs N] [--max-inflight N]
    [--max-rate QPS]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import pglib  # noqa: E402
import nsdlib  # noqa: E402
from dbfix import report_xml  # noqa: E402
from testlib import run_rss  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dmarcd")
    ap.add_argument("--ips", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--max-inflight", type=int, default=64)
    # dns_max_rate's default (5000 queries/s) caps this at 2,500 IPs/s:
    # unbounded unless asked, to measure the resolver itself
    ap.add_argument("--max-rate", type=int, default=1000000)
    a = ap.parse_args()
    if not nsdlib.available() or pglib.find_bindir() is None:
        print("bench_enrich: nsd or PostgreSQL missing, skipped")
        return
    tmp = tempfile.mkdtemp(prefix="dmarcd-bench-enrich-")
    os.chmod(tmp, 0o755)
    ips = ["10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
           for i in range(1, a.ips + 1)]
    soa = ["$TTL 86400", "@ SOA ns.bench. h.bench. 1 3600 600 86400 300",
           "@ NS ns.bench."]
    rev = list(soa)
    fwd = soa + ["ns A 127.0.0.1"]
    for ip in ips:
        o = ip.split(".")
        name = "h-%s-%s-%s.bench." % (o[1], o[2], o[3])
        rev.append("%s.%s.%s PTR %s" % (o[3], o[2], o[1], name))
        fwd.append("%s A %s" % (name, ip))
    nsd = nsdlib.Nsd(os.path.join(tmp, "nsd"),
                     {"10.in-addr.arpa": rev, "bench": fwd}, "ns.bench")
    cluster = pglib.Cluster()
    url = cluster.createdb("bench")
    conf = os.path.join(tmp, "dmarcd.conf")
    with open(conf, "w") as f:
        f.write("# bench_enrich\n")
    os.environ["DMARCD_CONF"] = conf
    rep = os.path.join(tmp, "r.xml")
    with open(rep, "wb") as f:
        f.write(report_xml(records=[dict(ip=ip, count=1) for ip in ips]))
    r = subprocess.run([a.dmarcd, "ingest", "-q", "--db", url, rep],
                       capture_output=True)
    if r.returncode != 0:
        sys.exit("ingest: " + r.stderr.decode(errors="replace"))
    secs, rates, rss = [], [], []
    for i in range(a.runs):
        cluster.psql("bench", "UPDATE source_host SET state = 'pending',"
                     " ptr = NULL, ptr_verified = false, expires = NULL,"
                     " classified = NULL")
        r = run_rss([a.dmarcd, "enrich", "--db", url, "--dns-server",
                     "127.0.0.1:%d" % nsd.port, "--max-inflight",
                     str(a.max_inflight), "--max-rate", str(a.max_rate)],
                    timeout=600)
        last = r.err.decode(errors="replace").strip().splitlines()[-1]
        m = re.search(r"(\d+) IPs/s", last)
        if r.rc != 0 or m is None or ("ok %d," % a.ips) not in last:
            sys.exit("enrich: %s" % r.err.decode(errors="replace")[-2000:])
        secs.append(r.seconds)
        rates.append(int(m.group(1)))
        rss.append(r.maxrss_kb)
        print("run %d: %s" % (i + 1, last))
    print("bench_enrich: %d new IPs, %d in flight, max %d queries/s, "
          "against nsd: median "
          "%.2f s for the command, %d IPs/s (DNS part; %.0f IPs/s for the "
          "whole command), peak RSS %d KiB (median of %d)" % (
              a.ips, a.max_inflight, a.max_rate, statistics.median(secs),
              statistics.median(rates), a.ips / statistics.median(secs),
              statistics.median(rss), a.runs))
    nsd.stop()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
