#!/usr/bin/env python3
"""test_services_conf.py - `dmarcd check-config` over the enricher's files
(and its dns_servers):
a services_file (errors as file:line, all at once, exit 78; a good one
accepted) and geoip_db (each MMDB opened: a missing or broken file is
exit 78, a real one built here is accepted)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, dmarcd, run  # noqa: E402

exe = dmarcd()
here = os.path.dirname(os.path.abspath(__file__))
tmp = tempfile.mkdtemp(prefix="dmarcd-svcconf-")


def write(name, text, mode=0o600):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def check(settings):
    return run([exe, "check-config", "-f", write("dmarcd.conf", settings)])


res = check("")
ok(res.rc == 0, "no services_file, no geoip_db: OK", res.err)

good = write("good.conf", """# our own
service Our Relay
type hosting
ptr relay.example.org
dkim example.org

service Amazon SES   # overrides the built-in one
type esp
spf ses.example.net
""")
res = check("services_file = %s\n" % good)
ok(res.rc == 0, "a good services_file is accepted", res.err)

bad = write("bad.conf", """service Broken
type spammer
ptr not..a.domain
frobnicate x
service NoType
ptr a.example.com
""")
res = check("services_file = %s\n" % bad)
err = res.err.decode(errors="replace")
ok(res.rc == 78, "a bad services_file: exit 78", res.rc, err)
ok(all(("%s:%d:" % (bad, n)) in err for n in (2, 3, 4, 5)),
   "every error as file:line, all at once", err)
ok("'spammer'" in err and "'frobnicate'" in err and "NoType: no type" in err,
   "each says what is wrong", err)

res = check("services_file = %s\n" % os.path.join(tmp, "missing.conf"))
ok(res.rc == 78 and b"missing.conf" in res.err,
   "a missing services_file: exit 78, named", res.rc, res.err)

mmdb = os.path.join(tmp, "asn.mmdb")
p = subprocess.run(["perl", os.path.join(here, "mkmmdb.pl"), mmdb,
                    "GeoLite2-ASN", "192.0.2.0/24",
                    "(autonomous_system_number => 64500,"
                    " autonomous_system_organization => 'Example Net')"],
                   capture_output=True)
ok(p.returncode == 0 and os.path.getsize(mmdb) > 0, "test MMDB written",
   p.stderr)
res = check("geoip_db = %s\n" % mmdb)
ok(res.rc == 0, "a real MMDB is accepted", res.err)

junk = write("junk.mmdb", "not an mmdb\n" * 100)
res = check("geoip_db = %s, %s\n" % (mmdb, junk))
ok(res.rc == 78 and junk.encode() in res.err and mmdb.encode() not in res.err,
   "a broken MMDB: exit 78, that file named", res.rc, res.err)
res = check("geoip_db = %s\n" % os.path.join(tmp, "none.mmdb"))
ok(res.rc == 78 and b"none.mmdb" in res.err,
   "a missing MMDB: exit 78, named", res.rc, res.err)
res = check("services_file = %s\ngeoip_db = %s\n" % (bad, junk))
ok(res.rc == 78 and junk.encode() in res.err and
   ("%s:2:" % bad).encode() in res.err,
   "both files' errors at once", res.err)

# dns_servers: each an address, with a port in range
res = check("dns_servers = 127.0.0.1:5353, [::1]:53, ::1, 192.0.2.53\n")
ok(res.rc == 0, "dns_servers: IPv4, IPv4:port, [IPv6]:port, IPv6", res.err)
for bad_server in ("resolver.example", "192.0.2.1:65536", "192.0.2.1:",
                   "[::1", "[::1]x", "192.0.2.1:x53"):
    res = check("dns_servers = 127.0.0.1, %s\n" % bad_server)
    ok(res.rc == 78 and ("dns_servers: expected ADDR, ADDR:PORT or"
                         " [IPV6]:PORT: %s\n" % bad_server).encode()
       in res.err, "dns_servers %s: exit 78, named" % bad_server, res.rc,
       res.err)
res = check("enrich = off\ndns_servers = resolver.example\n")
ok(res.rc == 0, "enrich = off: dns_servers not used, not checked", res.err)
done()
