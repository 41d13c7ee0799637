#!/usr/bin/env python3
"""test_corpus_reports.py - failure and TLS reports of the shared corpus.

Every file in forensic/ is read as a failure report or recognised as a
non-DMARC feedback report with that reason; every file in tlsrpt/ parses,
and its sums of successful and failed sessions equal those computed here,
independently, from the JSON itself (unwrapped with Python's own email and
gzip modules).  Skips when ../shared is absent."""
import email
import email.policy
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, skip_all, dmarcd, shared_dir, run  # noqa: E402

shared = shared_dir()
if shared is None:
    skip_all("shared corpus absent (set DMARCD_SHARED)")
corpus = os.path.join(shared, "corpus")
exe = dmarcd()


def tls_documents(path):
    """The TLS-RPT JSON documents a file carries, read without dmarcd."""
    raw = open(path, "rb").read()
    if path.endswith(".eml"):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        docs = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            data = part.get_payload(decode=True) or b""
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            if data.lstrip()[:1] == b"{":
                docs.append(json.loads(data))
        return docs
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [json.loads(raw)]


def session_sums(doc):
    ok_n = fail_n = 0
    for p in doc.get("policies", []):
        s = p.get("summary", {})
        ok_n += int(s.get("total-successful-session-count", 0))
        fail_n += int(s.get("total-failure-session-count", 0))
    return ok_n, fail_n


tls_dir = os.path.join(corpus, "tlsrpt")
for name in sorted(os.listdir(tls_dir)):
    path = os.path.join(tls_dir, name)
    want = sorted(session_sums(d) for d in tls_documents(path))
    res = run([exe, "parse", path])
    lines = res.json_lines()
    got = sorted(session_sums(l) for l in lines if l.get("type") == "tlsrpt")
    errors = [l for l in lines if l.get("type") != "tlsrpt"]
    ok(res.rc == 0 and not errors and len(got) == len(want),
       "tlsrpt/%s: parses as %d TLS report(s)" % (name, len(want)), res.out[:400])
    ok(got == want, "tlsrpt/%s: sessions successful/failed %s" % (name, want),
       "got %s" % got)
    for l in lines:
        if l.get("type") == "tlsrpt":
            ok(all(k in l for k in ("organization-name", "date-range", "report-id",
                                    "policies")),
               "tlsrpt/%s: keeps RFC 8460 member names" % name, sorted(l))

fo_dir = os.path.join(corpus, "forensic")
kinds = {}
for name in sorted(os.listdir(fo_dir)):
    path = os.path.join(fo_dir, name)
    res = run([exe, "parse", path])
    lines = res.json_lines()
    forensic = [l for l in lines if l.get("type") == "forensic"]
    not_dmarc = [l for l in lines if l.get("type") == "error"
                 and "not a DMARC failure report" in l.get("reason", "")]
    ok(len(lines) == 1 and (forensic or not_dmarc),
       "forensic/%s: a failure report, or not DMARC with that reason" % name,
       res.out[:500])
    ok(res.rc == (0 if forensic else 1), "forensic/%s: exit status" % name)
    kinds[name] = "forensic" if forensic else "not-dmarc"
    if forensic:
        f = forensic[0]
        ok(f.get("feedback_type") == "auth-failure" and f.get("reported_domain"),
           "forensic/%s: auth-failure with a reported domain" % name, f)
        ok(f.get("body") is None, "forensic/%s: body withheld by default" % name)

# The spam complaints are not DMARC; the rest are.
ok(kinds.get("simplelogin__yahoo_complaint.eml") == "not-dmarc" and
   kinds.get("sisimai__arf-14.eml") == "not-dmarc",
   "spam complaints are recognised as not DMARC", kinds)
ok(sum(1 for v in kinds.values() if v == "forensic") == 8,
   "eight failure reports read", kinds)

res = run([exe, "parse", os.path.join(corpus, "malformed",
                                      "parsedmarc__exim_plain_text_only_no_arf_part.eml")])
lines = res.json_lines()
ok(lines and lines[0].get("type") == "forensic" and lines[0].get("format") == "exim-text",
   "Exim's plain-text failure report is read", res.out[:400])
done()
