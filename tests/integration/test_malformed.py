#!/usr/bin/env python3
"""test_malformed.py - every file in the shared corpus's malformed/ folder
gives a tolerant correct result or an error line with a clear reason; none
crashes, hangs or goes over 64 MB of RSS.  Skips when ../shared is absent."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, skip_all, dmarcd, shared_dir, run_rss, under_asan  # noqa: E402

shared = shared_dir()
if shared is None:
    skip_all("shared corpus absent (set DMARCD_SHARED)")
folder = os.path.join(shared, "corpus", "malformed")
exe = dmarcd()
RSS_CAP_KB = 64 * 1024
TIME_CAP = 10.0 if not under_asan() else 60.0

# Files where we know what the right answer is: (type, predicate on lines).
known = {
    "parsedmarc__empty.xml": ("error", lambda ls: "empty" in ls[0]["reason"]),
    "trollbyte__malformed.xml": ("error", lambda ls: True),
    "smaxwell__dmarc-invalid-3.xml": ("error", lambda ls: True),
    "parsedmarc__invalid_xml.xml": ("error", lambda ls: True),
    "parsedmarc__report_with_upper_cased_pass.xml": (
        "aggregate", lambda ls: ls[0]["records"][0]["dkim"] == "pass"
        and ls[0]["records"][0]["spf"] == "pass"
        and ls[0]["records"][0]["disposition"] == "none"
        and ls[0]["org_name"] == "example.com"),
    "cryinc__invalid_casing.xml": (
        "aggregate", lambda ls: all(
            s["result"] == s["result"].lower() and s["result"] != "hardfail"
            for s in ls[0]["records"][0]["auth_spf"])),
}

names = sorted(os.listdir(folder))
ok(len(names) > 0, "the corpus has malformed inputs")
for name in names:
    res = run_rss([exe, "parse", os.path.join(folder, name)], timeout=TIME_CAP * 3)
    ok(not res.timed_out and res.seconds < TIME_CAP,
       "%s: finishes quickly" % name, "%.2f s" % res.seconds)
    ok(res.rc in (0, 1), "%s: exits 0 or 1, no crash" % name,
       "exit %s" % res.rc, res.err[-800:])
    if not under_asan():
        ok(res.maxrss_kb < RSS_CAP_KB, "%s: peak RSS under 64 MB" % name,
           "%d kB" % res.maxrss_kb)
    try:
        lines = res.json_lines()
    except ValueError as e:
        ok(False, "%s: output is JSON lines" % name, e)
        continue
    good = all(l.get("type") in ("aggregate", "forensic", "tlsrpt") or
               (l.get("type") == "error" and len(l.get("reason") or "") > 5)
               for l in lines)
    ok(lines and good, "%s: a report or an error line with a reason" % name,
       res.out[:600])
    has_err = any(l.get("type") == "error" for l in lines)
    ok((res.rc == 1) == has_err, "%s: exit status follows error lines" % name)
    if name in known and lines:
        typ, pred = known[name]
        try:
            fine = lines[0]["type"] == typ and pred(lines)
        except (KeyError, IndexError, TypeError):
            fine = False
        ok(fine, "%s: gives the right %s" % (name, typ), res.out[:600])
done()
