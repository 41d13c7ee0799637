#!/usr/bin/env python3
"""bench_parse.py - figures for `dmarcd parse` (a benchmark, never a test).

Generates the standard corpora with ../shared/tools/gen-reports, then times
`dmarcd parse` over the reports as receivers send them (native zip/gz, and
whole emails) against libxml2's own `xmllint --stream --noout` over the same
reports' plain XML, measured in the same run: median of N runs, records/s,
the ratio to xmllint, and peak RSS.  Timings on a shared machine are noisy;
the ratio is the figure to read.

usage: bench_parse.py DMARCD [--runs N] [--workdir DIR]
"""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(os.path.dirname(here))


def measure(args, runs):
    """Median wall seconds and max peak RSS (kB) of `args` over runs."""
    times, rss = [], []
    for _ in range(runs):
        t0 = time.monotonic()
        with open(os.devnull, "wb") as null:
            pid = os.fork()
            if pid == 0:
                os.dup2(null.fileno(), 1)
                os.execvp(args[0], args)
            _, status, ru = os.wait4(pid, 0)
        times.append(time.monotonic() - t0)
        rss.append(ru.ru_maxrss)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            sys.exit("%s exited %d" % (args[0], code))
    return statistics.median(times), max(rss), times


def records_of(manifest):
    n = 0
    with open(manifest) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > 5 and cols[5].isdigit():
                n += int(cols[5])
    return n


def gen(gen_reports, out, extra):
    if os.path.exists(os.path.join(out, "manifest.tsv")):
        return
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, gen_reports, "--out", out,
                    "--formats", "xml,native,eml"] + extra, check=True,
                   stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dmarcd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workdir", default=os.environ.get("DMARCD_BENCH_DIR", "/tmp/dmarcd-bench"))
    a = ap.parse_args()
    shared = os.environ.get("DMARCD_SHARED", os.path.join(top, "..", "shared"))
    gen_reports = os.path.join(shared, "tools", "gen-reports")
    if not os.path.exists(gen_reports):
        print("bench: %s absent, nothing to measure" % gen_reports)
        return
    if not shutil.which("xmllint"):
        sys.exit("bench: xmllint missing (apt-get install libxml2-utils)")
    main_dir = os.path.join(a.workdir, "main")
    big_dir = os.path.join(a.workdir, "big")
    gen(gen_reports, main_dir, ["--reports", "2000", "--domains", "50", "--seed", "5"])
    gen(gen_reports, big_dir, ["--reports", "1", "--records", "50000", "--seed", "1"])

    print("dmarcd parse benchmark: median of %d runs, %d cores" % (a.runs, os.cpu_count()))
    for name, d in (("main corpus (2000 reports)", main_dir),
                    ("one 50,000-record report", big_dir)):
        recs = records_of(os.path.join(d, "manifest.tsv"))
        xml = sorted(glob.glob(os.path.join(d, "xml", "*.xml")))
        native = sorted(glob.glob(os.path.join(d, "native", "*")))
        eml = sorted(glob.glob(os.path.join(d, "maildir", "new", "*")))
        base, base_rss, _ = measure(["xmllint", "--stream", "--noout"] + xml, a.runs)
        print("\n%s: %d records, %.1f MB of XML" % (
            name, recs, sum(os.path.getsize(x) for x in xml) / 1e6))
        print("  %-34s %8.3f s %10.0f rec/s %8.1f MB RSS" % (
            "xmllint --stream --noout (xml)", base, recs / base, base_rss / 1024))
        for label, files in (("dmarcd parse (xml)", xml),
                             ("dmarcd parse (native zip/gz)", native),
                             ("dmarcd parse (eml)", eml)):
            t, rss, _ = measure([a.dmarcd, "parse"] + files, a.runs)
            print("  %-34s %8.3f s %10.0f rec/s %8.1f MB RSS  %.2fx xmllint" % (
                label, t, recs / t, rss / 1024, t / base))


if __name__ == "__main__":
    main()
