#!/usr/bin/env python3
"""test_corpus.py - every report in the shared corpus's aggregate/ folder
parses, and agrees with EXPECTED-aggregate.jsonl on reporter, report id,
domain, period, number of records, messages, messages by disposition and
messages whose policy DKIM/SPF passed.  Skips when ../shared is absent."""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, diag, done, skip_all, dmarcd, shared_dir, run  # noqa: E402

shared = shared_dir()
if shared is None:
    skip_all("shared corpus absent (set DMARCD_SHARED)")
corpus = os.path.join(shared, "corpus")
exe = dmarcd()

expected = collections.defaultdict(list)
with open(os.path.join(corpus, "EXPECTED-aggregate.jsonl")) as f:
    for line in f:
        if line.strip():
            e = json.loads(line)
            expected[e["file"]].append(e)


def summarise(rep):
    """What EXPECTED-aggregate.jsonl says about a report, computed from ours."""
    disp = collections.Counter()
    dkim_pass = spf_pass = messages = 0
    for r in rep["records"]:
        messages += r["count"]
        disp[r["disposition"]] += r["count"]
        if r["dkim"] == "pass":
            dkim_pass += r["count"]
        if r["spf"] == "pass":
            spf_pass += r["count"]
    return {
        "org_name": rep["org_name"], "report_id": rep["report_id"],
        "domain": rep["policy"]["domain"], "begin": rep["begin"],
        "end": rep["end"], "records": len(rep["records"]),
        "messages": messages, "disposition": dict(disp),
        "dkim_pass": dkim_pass, "spf_pass": spf_pass,
    }


FIELDS = ("org_name", "report_id", "domain", "begin", "end", "records",
          "messages", "disposition", "dkim_pass", "spf_pass")

files = sorted(os.listdir(os.path.join(corpus, "aggregate")))
ok(len(files) > 0, "the corpus has aggregate reports")
for name in files:
    rel = "aggregate/" + name
    res = run([exe, "parse", os.path.join(corpus, rel)], timeout=60)
    try:
        lines = res.json_lines()
    except ValueError as e:
        ok(False, "%s: output is JSON lines" % rel, e, res.out[:500])
        continue
    errors = [l for l in lines if l.get("type") != "aggregate"]
    ok(res.rc == 0 and not errors, "%s: parses (exit 0, no error line)" % rel,
       "exit %s" % res.rc, *[json.dumps(e) for e in errors], res.err[-500:])
    ours = [summarise(l) for l in lines if l.get("type") == "aggregate"]
    want = expected.get(rel, [])
    ok(len(want) > 0, "%s: is listed in EXPECTED-aggregate.jsonl" % rel)
    ok(len(ours) == len(want), "%s: %d report(s) found" % (rel, len(want)),
       "got %d" % len(ours))
    for w in want:
        match = [o for o in ours if o["report_id"] == w["report_id"]
                 and o["domain"] == w["domain"]]
        got = match[0] if match else None
        diffs = ["%s: got %r, want %r" % (k, got[k], w[k])
                 for k in FIELDS if got is not None and got[k] != w[k]]
        ok(got is not None and not diffs,
           "%s: report %s for %s agrees" % (rel, w["report_id"], w["domain"]),
           *(diffs or ["no report with that id and domain"]))

missing = sorted(set(expected) - set("aggregate/" + f for f in files))
ok(not missing, "every EXPECTED file exists in the corpus", *missing)
done()
