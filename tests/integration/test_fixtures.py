#!/usr/bin/env python3
"""test_fixtures.py - `dmarcd parse` on each of the project's own fixtures,
compared with the output written beside it, as curl's tests/data does.

Each input tests/data/DIR/NAME.EXT (DIR one of FOLDERS) has an expected
output NAME.expected.json: the JSON array of the lines `dmarcd parse
NAME.EXT` prints, run inside DIR so that sources and reasons name the file
alone.  The exit status must be 1 when a line is an error, else 0.  A string
in an expected file that ends in " ..." matches any string that starts with
what comes before it: for libxml2's wording of a syntax error, which is not
ours to pin.  See tests/data/README.md for the quirk each fixture stands for.

DMARCD_FIXTURES_WRITE=1 writes every expected file from the current output
instead of testing (review the diff before committing it)."""
import difflib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, skip_all, dmarcd  # noqa: E402

FOLDERS = ("aggregate", "forensic", "tlsrpt", "unpack", "hostile")
SUFFIX = ".expected.json"
ELLIPSIS = " ..."

exe = dmarcd()
data = os.path.join(os.environ.get(
    "TESTS_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "data")
writing = os.environ.get("DMARCD_FIXTURES_WRITE") == "1"


def fixtures(folder):
    """(name, input file) of each input in folder; NAME is up to the first
    dot, so report.xml.gz and its expected file report.expected.json pair."""
    out = []
    for f in sorted(os.listdir(os.path.join(data, folder))):
        if f.startswith(".") or f.endswith(SUFFIX) or f == "README.md":
            continue
        out.append((f.split(".", 1)[0], f))
    return out


def matches(want, got):
    if isinstance(want, str) and want.endswith(ELLIPSIS):
        return isinstance(got, str) and got.startswith(want[:-len(ELLIPSIS)])
    if isinstance(want, dict):
        return (isinstance(got, dict) and list(want) == list(got) and
                all(matches(want[k], got[k]) for k in want))
    if isinstance(want, list):
        return (isinstance(got, list) and len(want) == len(got) and
                all(matches(w, g) for w, g in zip(want, got)))
    return type(want) is type(got) and want == got


def pretty(v):
    return json.dumps(v, indent=1, ensure_ascii=False).splitlines()


class Res:
    def __init__(self, p):
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr


def parse(folder, f):
    """dmarcd parse F inside the fixture's folder, its lines as JSON."""
    res = Res(subprocess.run([exe, "parse", f], capture_output=True, timeout=60,
                             cwd=os.path.join(data, folder)))
    return res, [json.loads(l) for l in res.out.decode().splitlines() if l]


written = 0
for folder in FOLDERS:
    inputs = fixtures(folder)
    names = [n for n, _ in inputs]
    ok(len(inputs) > 0 and len(set(names)) == len(names),
       "%s: fixtures, each NAME once" % folder, names)
    expected = set(f[:-len(SUFFIX)] for f in
                   os.listdir(os.path.join(data, folder)) if f.endswith(SUFFIX))
    ok(expected <= set(names), "%s: every expected file has its input" % folder,
       *sorted(expected - set(names)))
    for name, f in inputs:
        label = "%s/%s" % (folder, f)
        exp_path = os.path.join(data, folder, name + SUFFIX)
        try:
            res, got = parse(folder, f)
        except ValueError as e:
            ok(False, "%s: output is JSON lines" % label, e)
            continue
        if writing:
            with open(exp_path, "w") as out:
                out.write("\n".join(pretty(got)) + "\n")
            written += 1
            continue
        if not ok(os.path.exists(exp_path), "%s: has %s" % (label, name + SUFFIX)):
            continue
        with open(exp_path) as e:
            want = json.load(e)
        diff = list(difflib.unified_diff(pretty(want), pretty(got), "expected",
                                         "dmarcd parse", lineterm=""))
        ok(matches(want, got), "%s: output as expected" % label, *diff)
        errors = any(l.get("type") == "error" for l in want)
        ok(res.rc == (1 if errors else 0), "%s: exit %d" % (label, 1 if errors else 0),
           "exit %s" % res.rc, res.err[-400:])
if writing:
    skip_all("wrote %d expected files; review them" % written)
done()
