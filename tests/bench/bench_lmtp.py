#!/usr/bin/env python3
"""bench_lmtp.py - load on `dmarcd lmtp` from a second process: sustained
messages/s and delivery latency (final dot -> 250) with 1, 8 and 32
concurrent LMTP clients over loopback TCP, reports of ~50 records each, then
the rows counted.  Prints figures; never passes or fails.

Twice, in the same run: with enrich = off (the baseline), then with the
background enricher on and its DNS server black-holed (a UDP socket that
never answers, so every lookup waits its whole dns_timeout while the
deliveries go on): the ratio of the two latencies is what the enricher
costs a delivery.  --dns off or hole runs one of them.

usage: bench_lmtp.py DMARCD [--workers N] [--messages N] [--shared DIR]
                            [--dns off|hole|both]
A throwaway PostgreSQL cluster (tests/integration/pglib.py) is made and removed.
"""
import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import pglib  # noqa: E402


def stuff(data):
    data = data.replace(b"\r\n", b"\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l
                        for l in data.split(b"\n")) + b"\r\n.\r\n"


async def reply(reader):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line


async def client(port, queue, lat, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"LHLO bench\r\n")
    await reply(reader)
    while True:
        try:
            body = queue.pop()
        except IndexError:
            break
        writer.write(b"MAIL FROM:<bench@example.com>\r\n"
                     b"RCPT TO:<dmarc@example.org>\r\nDATA\r\n")
        for _ in range(3):
            await reply(reader)
        writer.write(body)
        t0 = time.perf_counter()
        r = await reply(reader)
        lat.append(time.perf_counter() - t0)
        if not r.startswith(b"250"):
            errors.append(r)
    writer.write(b"QUIT\r\n")
    await writer.drain()
    writer.close()


async def run(port, bodies, conc):
    queue = list(reversed(bodies))
    lat, errors = [], []
    t0 = time.perf_counter()
    await asyncio.gather(*(client(port, queue, lat, errors)
                           for _ in range(conc)))
    return time.perf_counter() - t0, sorted(lat), errors


def black_hole():
    """A UDP port that takes DNS queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    seen = [0]

    def drain():
        while True:
            try:
                sock.recvfrom(4096)
            except OSError:
                return
            seen[0] += 1
    threading.Thread(target=drain, daemon=True).start()
    return sock, seen


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dmarcd")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--messages", type=int, default=1500,
                    help="messages per concurrency level")
    ap.add_argument("--shared", default=os.environ.get(
        "DMARCD_SHARED", os.path.join(os.path.dirname(__file__),
                                      "../../../shared")))
    ap.add_argument("--dns", choices=("off", "hole", "both"), default="both")
    a = ap.parse_args()
    levels = (1, 8, 32)
    gen = os.path.join(a.shared, "tools", "gen-reports")
    tmp = tempfile.mkdtemp(prefix="bench-lmtp-")
    os.chmod(tmp, 0o755)
    total = a.messages * len(levels)
    subprocess.run([gen, "--out", tmp + "/c", "--reports", str(total),
                    "--records", "50", "--seed", "11", "--formats", "eml"],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    d = os.path.join(tmp, "c", "maildir", "new")
    bodies = [stuff(open(os.path.join(d, f), "rb").read())
              for f in sorted(os.listdir(d))]
    cl = pglib.Cluster()
    hole, seen = black_hole()
    modes = ("off", "hole") if a.dns == "both" else (a.dns,)
    p50 = {}
    print("dmarcd lmtp, %d delivery threads; %d messages per level, one "
          "report of 50 records each (%.1f KB avg)" % (
              a.workers, a.messages,
              sum(map(len, bodies)) / len(bodies) / 1024))
    try:
        for mode in modes:
            p50[mode] = level_runs(a, cl, tmp, bodies, levels, total, mode,
                                   hole.getsockname()[1], seen)
        if len(modes) == 2:
            print("enricher on, DNS black-holed / enrich off, p50 latency: "
                  + ", ".join("%d clients %.2f" % (c, p50["hole"][i] /
                                                  p50["off"][i])
                              for i, c in enumerate(levels)
                              if p50["off"][i] > 0))
    finally:
        hole.close()
        cl.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def level_runs(a, cl, tmp, bodies, levels, total, mode, hole_port, seen):
    db = "dmarcd_" + mode
    url = cl.createdb(db)
    conf = os.path.join(tmp, "dmarcd-%s.conf" % mode)
    with open(conf, "w") as f:
        if mode == "off":
            f.write("enrich = off\n")
        else:
            f.write("enrich = on\nenrich_interval = 1\ndns_timeout = 5\n"
                    "dns_servers = 127.0.0.1:%d\n" % hole_port)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    argv = [a.dmarcd, "lmtp", "--foreground", "-f", conf, "--db", url,
            "--listen", "127.0.0.1:%d" % port, "--workers", str(a.workers)]
    if os.geteuid() == 0:
        argv += ["--user", pglib.UNPRIVILEGED]
    log = open(os.path.join(tmp, "dmarcd-%s.log" % mode), "w")
    p = subprocess.Popen(argv, stderr=log)
    time.sleep(1.0)
    seen[0] = 0
    print("enrich %s:" % ("off" if mode == "off" else
                          "on, DNS black-holed (dns_timeout 5)"))
    print("%8s %10s %9s %9s %9s %7s" % ("clients", "msg/s", "p50 ms",
                                        "p99 ms", "max ms", "errors"))
    p50 = []
    try:
        for i, conc in enumerate(levels):
            part = bodies[i * a.messages:(i + 1) * a.messages]
            secs, lat, errors = asyncio.run(run(port, part, conc))
            p50.append(pct(lat, 0.5))
            print("%8d %10.0f %9.1f %9.1f %9.1f %7d" % (
                conc, len(part) / secs, pct(lat, 0.5), pct(lat, 0.99),
                lat[-1] * 1000 if lat else 0, len(errors)))
            for e in errors[:3]:
                print("   ", e)
        n = int(cl.psql(db, "SELECT count(*) FROM report"))
        r = int(cl.psql(db, "SELECT count(*) FROM record"))
        print("stored: %d reports of %d sent, %d records (expected %d)" % (
            n, total, r, total * 50))
        if mode != "off":
            print("enricher meanwhile: %d DNS queries to the black hole; "
                  "source_host: %s" % (seen[0], cl.psql(
                      db, "SELECT string_agg(state || ' ' || n, ', ') FROM"
                      " (SELECT state, count(*) n FROM source_host GROUP BY"
                      " 1 ORDER BY 1) s").strip()))
    finally:
        p.terminate()
        p.wait(30)
        log.close()
    return p50


if __name__ == "__main__":
    main()
