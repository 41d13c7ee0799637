#!/usr/bin/env python3
"""test_browser.py - the dashboard in headless Chromium: a database loaded
with the shared corpus and the hostile fixture, `dmarcd serve`, then
tests/browser/dashboard.test.mjs (playwright-core, system chromium), whose
TAP is passed through.  Screenshots go to tests/screenshots/ under the
current (build) directory.  Needs `npm ci` in tests/browser first."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import httpdlib  # noqa: E402
import pglib  # noqa: E402
import testlib  # noqa: E402

BROWSER = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

D = testlib.dmarcd()
shared = testlib.shared_dir()
if shared is None:
    testlib.skip_all("DMARCD_SHARED corpus absent")
if pglib.find_bindir() is None:
    testlib.skip_all("PostgreSQL not installed")
if not os.access(CHROMIUM, os.X_OK) or shutil.which("node") is None:
    testlib.skip_all("chromium or node not installed")
if not os.path.isdir(os.path.join(BROWSER, "node_modules", "playwright-core")):
    testlib.skip_all("run `npm ci` in tests/browser")

dash = httpdlib.Dashboard(D, httpdlib.corpus_files(
    shared, ("aggregate", "forensic", "tlsrpt")) +
                          [httpdlib.HOSTILE,
                           os.path.join(httpdlib.TESTS, "data", "httpd",
                                        "not-a-report.eml")])
# who two sources are, as the enricher leaves them: 192.0.2.66 (the hostile
# report's) with an unverified PTR name holding markup and an escaped
# non-ASCII byte, one of its neighbours a verified Amazon SES host
dash.pg.psql("dmarcd", "UPDATE source_host SET state = 'ok', ptr ="
             " '<script>alert(3)</script>\\200.example', ptr_verified ="
             " false WHERE ip = '192.0.2.66'; UPDATE source_host SET state ="
             " 'ok', ptr = 'a8-30.smtp-out.amazonses.com', ptr_verified ="
             " true, service = 'Amazon SES', service_type = 'esp', asn ="
             " 16509, as_org = 'AMAZON-02', country = 'US' WHERE ip = (SELECT"
             " min(ip) FROM source_host WHERE ip <> '192.0.2.66')")
try:
    dash.serve()
    shots = os.path.join(os.getcwd(), "tests", "screenshots")
    env = dict(os.environ, DMARCD_BASE=dash.base, SCREENSHOT_DIR=shots,
               CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join(BROWSER, "dashboard.test.mjs")],
                       cwd=BROWSER, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=110)
    sys.stdout.write(r.stdout.decode(errors="replace"))
    print("# screenshots in %s" % shots)
finally:
    dash.close()
