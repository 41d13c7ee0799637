#!/usr/bin/env python3
"""test_classify.py - who a source is: `dmarcd enrich` against a real nsd
and a real PostgreSQL, with the built-in service catalogue, a services_file
and MMDB files built here (tests/integration/mkmmdb.pl).

Each of the catalogue's seven types is matched, by each way a source can
be: a forward-confirmed PTR name (an unverified one names nobody), the
passing SPF domains of its records before their passing DKIM domains,
most messages winning, failures ignored.  A services_file then overrides
one built-in service and adds one, and a changed geoip_db: both reach the
sources already classified.  New records of an address no service was
found for classify it again; offline (--enrich local) the records alone
name it.  `dmarcd sources` and `dmarcd export` carry what was found.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pglib  # noqa: E402
import nsdlib  # noqa: E402
from dbfix import report_xml  # noqa: E402
from testlib import ok, diag, skip_all, done, dmarcd  # noqa: E402

DMARCD = dmarcd()
HERE = os.path.dirname(os.path.abspath(__file__))

if pglib.find_bindir() is None:
    skip_all("PostgreSQL is not installed")
if not nsdlib.available():
    skip_all("nsd is not installed")

TMP = tempfile.mkdtemp(prefix="dmarcd-classify-")
os.chmod(TMP, 0o755)
CONF = os.path.join(TMP, "dmarcd.conf")

# ip: (PTR name or None, what the name's A/AAAA hold or None)
PTRS = {
    "192.0.2.10": ("mail-a.google.com", "192.0.2.10"),
    "192.0.2.11": ("mx0a-001.pphosted.com", "192.0.2.11"),
    "192.0.2.12": ("vps-1.ovh.net", "192.0.2.12"),
    "192.0.2.13": ("fake.google.com", "192.0.2.99"),     # unverified
    "192.0.2.20": ("mx.example.net", "192.0.2.20"),
    "2001:db8::5": ("mail-v6.google.com", "2001:db8::5"),
}

# the records of each address: (count, [(dkim d=, result)], spf domain,
# spf result); addresses not in PTRS have no PTR (NXDOMAIN)
D = "example.org"   # in no catalogue entry
RECORDS = {
    "192.0.2.10": [(3, [(D, "pass")], D, "pass")],
    "192.0.2.11": [(2, [(D, "pass")], D, "pass")],
    "192.0.2.12": [(1, [(D, "fail")], D, "fail")],
    # claims google.com, and its mail is the owner's own: nobody
    "192.0.2.13": [(4, [(D, "pass")], D, "pass")],
    # SPF: the domain authorised this address
    "192.0.2.14": [(5, [(D, "pass")], "amazonses.com", "pass")],
    # DKIM only
    "192.0.2.15": [(6, [("zendesk.com", "pass")], D, "fail")],
    # SPF (googlegroups.com) before DKIM (a forwarded signature)
    "192.0.2.16": [(7, [("sendgrid.net", "pass")], "googlegroups.com",
                    "pass")],
    "192.0.2.17": [(1, [("mcsv.net", "pass")], D, "softfail")],
    # most messages: Mailgun 5 over Postmark 2; a failing SendGrid
    # signature of 50 counts for nothing
    "192.0.2.18": [(5, [("mailgun.org", "pass")], D, "fail"),
                   (2, [("postmarkapp.com", "pass")], D, "fail"),
                   (50, [("sendgrid.info", "fail")], D, "fail")],
    # failing only: nobody
    "192.0.2.19": [(9, [("mcsv.net", "fail")], "mcsv.net", "fail")],
    "192.0.2.20": [(1, [(D, "pass")], D, "pass")],
    "2001:db8::5": [(2, [(D, "pass")], D, "pass")],
}

EXPECT = {
    # ip: (service, type, base_domain)
    "192.0.2.10": ("Google", "mailbox", "google.com"),
    "192.0.2.11": ("Proofpoint", "gateway", "pphosted.com"),
    "192.0.2.12": ("OVHcloud", "hosting", "ovh.net"),
    "192.0.2.13": (None, None, "google.com"),
    "192.0.2.14": ("Amazon SES", "transactional", None),
    "192.0.2.15": ("Zendesk", "crm", None),
    "192.0.2.16": ("Google Groups", "forwarder", None),
    "192.0.2.17": ("Mailchimp", "esp", None),
    "192.0.2.18": ("Mailgun", "transactional", None),
    "192.0.2.19": (None, None, None),
    "192.0.2.20": (None, None, "example.net"),
    "2001:db8::5": ("Google", "mailbox", "google.com"),
}


def write_conf(text):
    with open(CONF, "w") as f:
        f.write("# test_classify\n" + text)


def run(args, timeout=60):
    e = dict(os.environ)
    e["DMARCD_CONF"] = CONF
    e.pop("DMARCD_DB", None)
    return subprocess.run(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=timeout)


def start_nsd():
    soa = ["$TTL 7200", "@ SOA ns.test. h.test. 1 3600 600 86400 300",
           "@ NS ns.test."]
    zones = {"2.0.192.in-addr.arpa": list(soa),
             "8.b.d.0.1.0.0.2.ip6.arpa": list(soa),
             "test": soa + ["ns A 127.0.0.1"]}
    for ip, (name, addr) in PTRS.items():
        if ":" in ip:
            zones["8.b.d.0.1.0.0.2.ip6.arpa"].append(
                "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR %s." %
                name)
        else:
            zones["2.0.192.in-addr.arpa"].append(
                "%s PTR %s." % (ip.split(".")[3], name))
        origin = name.split(".", 1)[1]
        zones.setdefault(origin, list(soa)).append(
            "%s %s %s" % (name.split(".")[0],
                          "AAAA" if ":" in addr else "A", addr))
    return nsdlib.Nsd(os.path.join(TMP, "nsd"), zones, "ns.test")


def report(rid, records):
    recs = []
    for ip, rows in records.items():
        for count, dkim, spf_domain, spf in rows:
            recs.append(dict(ip=ip, count=count,
                             dkim=[(d, "s1", res) for d, res in dkim],
                             spf_domain=spf_domain, spf=spf))
    path = os.path.join(TMP, rid + ".xml")
    with open(path, "wb") as f:
        f.write(report_xml(report_id=rid, records=recs))
    return path


def mmdb(name, dbtype, *nets):
    path = os.path.join(TMP, name)
    p = subprocess.run(["perl", os.path.join(HERE, "mkmmdb.pl"), path,
                        dbtype] + list(nets), capture_output=True)
    ok(p.returncode == 0, "MMDB %s written" % name, p.stderr)
    return path


def hosts(db):
    out = cluster.psql(db, "SELECT host(ip), service, service_type,"
                       " base_domain, asn, as_org, country, classified IS"
                       " NOT NULL FROM source_host ORDER BY ip")
    res = {}
    for line in out.splitlines():
        f = [v if v != "" else None for v in line.split("|")]
        res[f[0]] = dict(service=f[1], type=f[2], base=f[3],
                         asn=int(f[4]) if f[4] else None, org=f[5],
                         country=f[6], classified=f[7] == "t")
    return res


def enrich(url, *opts):
    r = run([DMARCD, "enrich", "--db", url, "--dns-server", SERVER] +
            list(opts))
    ok(r.returncode == 0, "enrich exits 0", r.stderr.decode())
    return r.stderr.decode()


cluster = pglib.Cluster()
nsd = start_nsd()
SERVER = "127.0.0.1:%d" % nsd.port

asn = mmdb("asn.mmdb", "GeoLite2-ASN",
           "192.0.2.0/28", "(autonomous_system_number => 64500,"
           " autonomous_system_organization => \"Test Net \\x{e4}\")",
           "2001:db8::/32", "(autonomous_system_number => 64501,"
           " autonomous_system_organization => 'Six Net')")
country = mmdb("country.mmdb", "GeoLite2-Country",
               "192.0.2.0/24", "(country => { iso_code => 'DE' })",
               "2001:db8::/32", "(country => { iso_code => 'NL' })")
write_conf("geoip_db = %s, %s\n" % (asn, country))

url = cluster.createdb("classify")
r = run([DMARCD, "ingest", "-q", "--db", url, report("c-1", RECORDS)])
ok(r.returncode == 0, "report ingested", r.stderr.decode())
err = enrich(url)
got = hosts("classify")
diag(repr(got))

ok(sorted(got) == sorted(RECORDS), "one source_host row per address",
   sorted(got))
for ip, (service, stype, base) in EXPECT.items():
    g = got.get(ip, {})
    ok(g.get("classified"), "%s: classified" % ip, g)
    ok(g.get("service") == service and g.get("type") == stype,
       "%s: %s (%s)" % (ip, service, stype), g)
    ok(g.get("base") == base, "%s: base_domain %s" % (ip, base), g)
types = {e[1] for e in EXPECT.values() if e[1] is not None}
ok(types == {"mailbox", "esp", "transactional", "crm", "gateway",
             "forwarder", "hosting"}, "every catalogue type matched", types)

# networks: the first /28 has an AS, the /24 a country; IPv6 both
g = got["192.0.2.10"]
ok(g["asn"] == 64500 and g["org"] == "Test Net \u00e4" and
   g["country"] == "DE", "AS, its UTF-8 organisation and country", g)
g = got["192.0.2.16"]
ok(g["asn"] is None and g["org"] is None and g["country"] == "DE",
   "outside the ASN file's networks: no AS, the country still", g)
g = got["2001:db8::5"]
ok(g["asn"] == 64501 and g["org"] == "Six Net" and g["country"] == "NL",
   "IPv6: AS and country", g)

# nothing changed: nothing classified again
err = enrich(url)
last = err.strip().splitlines()[-1]
ok(" 0 classified" in last and "classified again" not in err,
   "a second run classifies nothing", last)

# --- `dmarcd sources` and `dmarcd export` carry it ---------------------------
r = run([DMARCD, "sources", "--db", url, "--format", "json"])
src = {}
for line in r.stdout.decode().splitlines():
    o = json.loads(line)
    src[o["ip"]] = o
o = src.get("192.0.2.10", {})
ok(r.returncode == 0 and o.get("service") == "Google" and
   o.get("service_type") == "mailbox" and o.get("ptr") ==
   "mail-a.google.com" and o.get("ptr_verified") is True and
   o.get("asn") == 64500 and o.get("country") == "DE",
   "dmarcd sources: service, type, PTR, AS and country", o)
o = src.get("192.0.2.13", {})
ok(o.get("service") is None and o.get("ptr_verified") is False and
   o.get("base_domain") == "google.com",
   "dmarcd sources: an unverified name, no service", o)
r = run([DMARCD, "export", "--db", url])
mg = [x for line in r.stdout.decode().splitlines()
      for x in json.loads(line)["records"] if x["source_ip"] == "192.0.2.18"]
ok(r.returncode == 0 and len(mg) == 3 and
   all(x.get("service") == "Mailgun" and
       x.get("service_type") == "transactional" for x in mg),
   "dmarcd export: each record carries its source's service",
   mg[:1] if mg else r.stderr.decode())

# --- a services_file: overrides one, adds one --------------------------------
sf = os.path.join(TMP, "services.conf")
with open(sf, "w") as f:
    f.write("# ours\nservice Amazon SES\ntype esp\nspf amazonses.com\n\n"
            "service Example Corp\ntype hosting\nptr example.net\n")
write_conf("geoip_db = %s, %s\nservices_file = %s\n" % (asn, country, sf))
err = enrich(url)
ok("changed: 12 sources classified again" in err,
   "a changed catalogue: every source classified again", err)
got = hosts("classify")
ok(got["192.0.2.14"]["service"] == "Amazon SES" and
   got["192.0.2.14"]["type"] == "esp",
   "services_file overrides a built-in service (Amazon SES: esp)",
   got["192.0.2.14"])
ok(got["192.0.2.20"]["service"] == "Example Corp" and
   got["192.0.2.20"]["type"] == "hosting",
   "services_file adds a service (matched by its PTR)", got["192.0.2.20"])
ok(got["192.0.2.10"]["service"] == "Google",
   "the rest of the built-in catalogue still applies", got["192.0.2.10"])

# a geoip_db that cannot be opened: check-config says why, errno and all
write_conf("geoip_db = %s\n" % os.path.join(TMP, "missing.mmdb"))
r = run([DMARCD, "check-config", "-f", CONF])
ok(r.returncode == 78 and b"missing.mmdb: Error opening" in r.stderr and
   b"No such file or directory" in r.stderr,
   "a missing geoip_db: refused, with the system's reason", r.stderr)

# --- no geoip_db: the network fields go, nothing else changes ---------------
write_conf("services_file = %s\n" % sf)
err = enrich(url)
got2 = hosts("classify")
ok(all(v["asn"] is None and v["org"] is None and v["country"] is None
       for v in got2.values()), "without geoip_db: no AS, no country",
   got2)
ok(all(got2[ip]["service"] == got[ip]["service"] and
       got2[ip]["base"] == got[ip]["base"] for ip in got),
   "without geoip_db: the same services and base domains")

# --- new records of an address nobody was found for --------------------------
r = run([DMARCD, "ingest", "-q", "--db", url, report("c-2", {
    "192.0.2.19": [(1, [("mcsv.net", "pass")], D, "fail")],
    "192.0.2.10": [(1, [(D, "pass")], D, "pass")]})])
ok(r.returncode == 0, "a second report ingested", r.stderr.decode())
ok(cluster.psql("classify", "SELECT string_agg(host(ip), ',') FROM"
                " source_host WHERE classified IS NULL").strip() ==
   "192.0.2.19", "only the unnamed address waits to be classified again")
err = enrich(url)
got = hosts("classify")
ok(got["192.0.2.19"]["service"] == "Mailchimp",
   "its new passing signature names it", got["192.0.2.19"])

# --- offline: --enrich local names sources from their records alone --------
url2 = cluster.createdb("local")
r = run([DMARCD, "ingest", "-q", "--db", url2, report("l-1", {
    "192.0.2.14": RECORDS["192.0.2.14"], "192.0.2.10": RECORDS["192.0.2.10"]
})])
ok(r.returncode == 0, "a report ingested (local)", r.stderr.decode())
r = run([DMARCD, "enrich", "--db", url2, "--enrich", "off"])
ok(r.returncode == 0 and all(not v["classified"] for v in
                             hosts("local").values()),
   "--enrich off: nothing classified", r.stderr.decode())
r = run([DMARCD, "enrich", "--db", url2, "--enrich", "local",
         "--dns-server", SERVER])
got = hosts("local")
ok(r.returncode == 0 and got["192.0.2.14"]["service"] == "Amazon SES" and
   got["192.0.2.10"]["service"] is None and
   cluster.psql("local", "SELECT string_agg(DISTINCT state, ',') FROM"
                " source_host").strip() == "pending",
   "--enrich local: the records' services, no DNS (no PTR, still pending)",
   got, r.stderr.decode())

nsd.stop()
shutil.rmtree(TMP, ignore_errors=True)
done()
