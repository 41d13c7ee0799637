#!/usr/bin/env python3
"""test_conf.py - dmarcd.conf for every command: errors as file:line, all
at once; check-config; the lmtp_* and http_* settings reach `dmarcd lmtp`
and `dmarcd serve`, and the command line wins over the file."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import ok, done, dmarcd, run  # noqa: E402
import pglib  # noqa: E402

exe = dmarcd()
tmp = tempfile.mkdtemp(prefix="dmarcd-conf-")


def conf(text):
    path = os.path.join(tmp, "dmarcd-%d.conf" % len(os.listdir(tmp)))
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


good = conf("""# every kind of setting
max_message_size = 20M
lmtp_listen = unix:/tmp/x.sock, 127.0.0.1:2424
lmtp_socket_mode = 0640
lmtp_workers = 2
lmtp_max_line = 2000
lmtp_recipients = dmarc@example.org tlsrpt@example.org
http_listen = 127.0.0.1:9999
""")
res = run([exe, "check-config", "-v", "-f", good])
ok(res.rc == 0, "check-config accepts the lmtp_* and http_* settings", res.err)
ok(b"lmtp_workers" in res.out and b"http_listen" in res.out,
   "check-config -v prints them", res.out[:300])

bad = conf("""lmtp_max_line = 10
lmtp_workers = many
no_such_setting = 1
http_listen
""")
res = run([exe, "check-config", "-f", bad])
err = res.err.decode()
ok(res.rc == 78, "a bad file: exit 78 (EX_CONFIG)", res.rc)
ok(all(("%s:%d:" % (bad, n)) in err for n in (1, 2, 3, 4)),
   "every error reported as file:line, all at once", err)

res = run([exe, "lmtp", "-f", conf("lmtp_socket_mode = 999\n"), "--foreground",
           "--db", "postgresql:///nowhere?host=/nonexistent"], timeout=20)
ok(res.rc == 78 and b"lmtp_socket_mode" in res.err,
   "lmtp: a bad lmtp_socket_mode is refused", res.rc, res.err[-300:])

# dmarcd(8) LIMITS gives every cap with its default: the settings' as
# check-config prints them, the fixed ones as the parsers' sources set them.
top = os.path.join(os.environ.get("TESTS_SRCDIR", "tests"), "..")


def man_limits():
    """{label: bytes or count} from the .TP/.B entries of LIMITS."""
    text = open(os.path.join(top, "doc", "dmarcd.8")).read()
    sec = text.split("\n.SH LIMITS\n", 1)[1].split("\n.SH ", 1)[0]
    lines = sec.splitlines()
    unit = {"": 1, "bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20,
            "GiB": 1 << 30}
    got = {}
    for i, l in enumerate(lines[:-2]):
        if l == ".TP" and lines[i + 1].startswith(".B "):
            m = re.match(r"(\d+)(?: (KiB|MiB|GiB|bytes))?:", lines[i + 2])
            got[lines[i + 1][3:]] = (int(m.group(1)) * unit[m.group(2) or ""]
                                     if m else None)
    return got


def c_value(expr):
    expr = re.sub(r"\((?:uint64_t|size_t)\)", "", expr.strip())
    ok_expr = re.fullmatch(r"[0-9 ()<*]+", expr) is not None
    return eval(expr) if ok_expr else None  # digits, << and * only


def c_limits(path, fn):
    """{field: value} of the l->field = EXPR; lines of fn in path."""
    text = open(os.path.join(top, path)).read()
    body = text.split("\n%s(" % fn, 1)[1].split("\n}", 1)[0]
    return {m.group(1): c_value(m.group(2)) for m in
            re.finditer(r"l->(\w+) = ([^;]+);", body)
            if m.group(2) not in ("true", "false")}


man = man_limits()
res = run([exe, "check-config", "-v", "-f", conf("")])
settings = {}
for l in res.out.decode().splitlines():
    m = re.match(r"((?:xml_)?max_\w+) = (\d+)", l)
    if m:
        settings[m.group(1)] = int(m.group(2))
ok(len(settings) >= 11 and all(man.get(k) == v for k, v in settings.items()),
   "dmarcd(8) LIMITS: every max_* setting with check-config's default",
   {k: (v, man.get(k)) for k, v in settings.items() if man.get(k) != v})
agg = open(os.path.join(top, "parser", "report.h")).read()
fixed = {"error": "AGG_MAX_ERRORS", "reason": "AGG_MAX_REASONS",
         "dkim": "AGG_MAX_DKIM", "spf": "AGG_MAX_SPF"}
want = {k: int(re.search(r"#define %s\s+(\d+)" % v, agg).group(1))
        for k, v in fixed.items()}
defines = set(re.findall(r"#define (AGG_MAX_\w+)", agg))
# a record's count: parser/aggregate.h
want["count"] = c_value(re.search(
    r"#define AGG_COUNT_MAX\s+(.+)", open(os.path.join(
        top, "parser", "aggregate.h")).read()).group(1))
arf = c_limits("parser/forensic.c", "arf_limits_default")
tls = c_limits("parser/tlsrpt.c", "tlsrpt_limits_default")
labels = {"report part": ("arf", "max_part"), "field": ("arf", "max_field"),
          "Original-Rcpt-To": ("arf", "max_rcpt"),
          "repeated field": ("arf", "max_multi"),
          "headers": ("arf", "max_headers"), "body": ("arf", "max_body"),
          "MIME nesting": ("arf", "max_depth"),
          "JSON": ("tls", "max_size"), "JSON nesting": ("tls", "max_depth"),
          "policies": ("tls", "max_policies"),
          "failure-details": ("tls", "max_details"),
          "strings": ("tls", "max_strings"), "string": ("tls", "max_string")}
for label, (which, field) in labels.items():
    want[label] = (arf if which == "arf" else tls).get(field)
covered = ({("arf", f) for f in arf} | {("tls", f) for f in tls}) == \
    set(labels.values()) and defines == set(fixed.values())
ok(covered and all(v is not None and man.get(k) == v for k, v in want.items()),
   "dmarcd(8) LIMITS: every fixed parser cap, as the sources set it",
   covered, {k: (v, man.get(k)) for k, v in want.items() if man.get(k) != v})
ok(set(man) == set(settings) | set(want),
   "dmarcd(8) LIMITS lists nothing else", set(man) ^ (set(settings) |
                                                     set(want)))

manpage = open(os.path.join(top, "doc", "dmarcd.8")).read()
srcs = "".join(open(os.path.join(top, f)).read() for f in
               ("ingest/unpack.c", "parser/forensic.c"))
ok("not yet supported" not in manpage and
   all(r in srcs for r in ("no attachment that looks like ", '"input is empty"',
                           "not a DMARC failure report: feedback report of type")),
   "dmarcd(8): the reasons it quotes are ones dmarcd gives")
examples = manpage.split("\n.SH EXAMPLES\n", 1)[-1].split("\n.SH ", 1)[0]
ok(all(w in examples for w in ("dmarcd ingest ", "dmarcd lmtp ", "smtpd.conf",
                               "postfix", "dmarcd serve", "--format csv",
                               "summary --period 7d --send")) and
   examples != manpage,
   "dmarcd(8) EXAMPLES: Maildir, lmtp behind OpenSMTPD and Postfix, serve, "
   "CSV export, summary from cron")


# The command line takes an lmtp setting under the file's bounds: for each
# value, check-config and `lmtp --OPTION` agree.  lmtp gets a listen spec it
# cannot use, so an accepted option shows as exit 78 (the listener), a
# refused one as 64 (usage), before anything binds.
empty = conf("")
for setting, option, values in (
        ("lmtp_session_timeout", "session-timeout", ("1", "604800", "700000",
                                                     "864000")),
        ("lmtp_max_recipients", "max-recipients", ("10000", "50000",
                                                   "100000", "100001")),
        ("lmtp_shutdown_timeout", "shutdown-timeout", ("0", "1", "3600",
                                                       "3601"))):
    for v in values:
        fres = run([exe, "check-config", "-f", conf("%s = %s\n" % (setting, v))])
        cres = run([exe, "lmtp", "-f", empty, "--foreground",
                    "--listen", "nowhere:at:all", "--db",
                    "postgresql:///nowhere?host=/nonexistent",
                    "--" + option, v], timeout=20)
        ok(cres.rc in (64, 78) and (fres.rc == 0) == (cres.rc == 78),
           "--%s %s and %s = %s agree" % (option, v, setting, v),
           fres.rc, cres.rc, fres.err[-200:], cres.err[-200:])

# check-config refuses what serve refuses at start, and reads the users
# file (not the TLS files)
USERS_OK = os.path.join(tmp, "users")
USERS_BAD = os.path.join(tmp, "users.bad")
for path, line in ((USERS_OK, "u:$6$salt$%s\n" % ("a" * 86)),
                   (USERS_BAD, "u:$6$salt$%s::Not A Domain\n" % ("a" * 86))):
    with open(path, "w") as f:
        f.write(line)
    os.chmod(path, 0o600)
for text, want, name in (
        ("http_users = %s\n" % USERS_BAD, 78, "a users file with a bad "
         "domain pattern"),
        ("http_listen = 0.0.0.0:80\n", 78, "public address without TLS"),
        ("http_listen = [::]:8443\nhttp_tls_cert = /c.pem\n", 78,
         "a certificate without a key"),
        ("http_listen = nonsense\n", 78, "no port"),
        ("http_listen = 0.0.0.0:443\nhttp_tls_cert = /c.pem\n"
         "http_tls_key = /k.pem\nhttp_users = %s\n" % USERS_OK, 0,
         "public with TLS and users"),
        ("http_listen = 127.0.0.1:80\n", 0, "loopback")):
    res = run([exe, "check-config", "-f", conf(text)])
    ok(res.rc == want and (want == 0 or b"serve:" in res.err or
                           b"http_users: " in res.err),
       "check-config: %s -> %d" % (name, want), res.rc, res.err[-300:])
res = run([exe, "serve", "-f", conf("http_listen = 0.0.0.0:80\n"), "--db",
           "postgresql:///nowhere?host=/nonexistent"], timeout=20)
ok(res.rc == 78 and b"refusing to listen on 0.0.0.0" in res.err,
   "serve refuses it too, with the same words", res.rc, res.err[-300:])

# A database that accepts the connection and never answers (a hung server,
# a firewall's half-open port): the connection gives up after
# DB_CONNECT_TIMEOUT (10 s), or the URL's own connect_timeout, as a
# temporary failure, instead of waiting as long as TCP would.
mute = socket.socket()
mute.bind(("127.0.0.1", 0))
mute.listen(8)
for url, want in (("postgresql://u@127.0.0.1:%d/db" % mute.getsockname()[1],
                   10),
                  ("postgresql://u@127.0.0.1:%d/db?connect_timeout=2" %
                   mute.getsockname()[1], 2)):
    t = time.time()
    res = run([exe, "export", "-f", empty, "--db", url], timeout=60)
    took = time.time() - t
    ok(res.rc == 75 and b"timeout" in res.err and
       want - 1 <= took < want + 5, "a database that never answers: exit 75 "
       "after ~%d s (%s)" % (want, "the URL's" if want == 2 else "default"),
       res.rc, took, res.err[-300:])
mute.close()

# export: bad values get our message naming the option, before any database
for args, opt in ((["--since", "garbage"], b"--since"),
                  (["--until", "2024-13"], b"--until"),
                  (["--since", "2024-01-01T25"], b"--since"),
                  (["--format", "xml"], b"--format"),
                  (["--type", "dmarc"], b"--type")):
    res = run([exe, "export", "-f", empty, "--db",
               "postgresql:///nowhere?host=/nonexistent"] + args, timeout=20)
    ok(res.rc == 64 and opt in res.err and b"expected" in res.err and
       b"nonexistent" not in res.err,
       "export %s: our message, exit 64" % " ".join(args), res.rc,
       res.err[-300:])

# Settings are declared once: each command's --help gives, for every
# option it takes from the settings table, the setting and its default as
# check-config -v prints it on an empty file, and dmarcd.conf(5) gives the
# same default.
res = run([exe, "check-config", "-v", "-f", empty])
printed = {m.group(1): m.group(2) for m in
           re.finditer(r"^(\w+) = ([^\t]*)\t#", res.out.decode(), re.M)}
helped = {}
for cmd in ("lmtp", "serve", "summary"):
    entries = []    # an option's line and its continuation lines, joined
    for line in run([exe, cmd, "--help"]).out.decode().splitlines():
        if line.startswith("  -"):
            entries.append(line)
        elif line.startswith(" " * 23) and entries:
            entries[-1] += " " + line.strip()
    for e in entries:
        m = re.match(r"\s*--([\w-]+) .*?(?:repeatable; )?setting (\w+)"
                     r"(?:; default (\S+?))?(?:; (\d+)\.\.(\d+))?$",
                     " ".join(e.split()))
        if m:
            helped[m.group(2)] = (cmd, m.group(1), m.group(3) or "",
                                  m.group(4), m.group(5))
ok(len(printed) >= 40 and len(helped) >= 20,
   "check-config -v and --help list the settings", len(printed), len(helped))
ok(all(printed.get(k) == v[2] for k, v in helped.items()),
   "every option's default in --help is check-config -v's on an empty file",
   {k: (v[2], printed.get(k)) for k, v in helped.items()
    if printed.get(k) != v[2]})
ok({"lmtp_session_timeout", "lmtp_max_recipients", "lmtp_shutdown_timeout",
    "lmtp_listen", "http_listen", "summary_to"} <= set(helped),
   "lmtp, serve and summary take their settings' options from the table",
   sorted(helped))

man5 = open(os.path.join(top, "doc", "dmarcd.conf.5")).read()


def man5_entry(name):
    """The text of a setting's .TP entry in dmarcd.conf(5), one line."""
    m = re.search(r"\n\.TP\n\.B %s\n(.*?)(?=\n\.TP\n|\n\.SH )" % name, man5,
                  re.S)
    return re.sub(r"\s+", " ", re.sub(r"\\f.|\n\.[A-Z]+ ?|\"", " ",
                                      m.group(1))) if m else None


def man5_default(text, value):
    """Whether text says value is the default (sizes as 50M and so on)."""
    want = {value}
    if value.isdigit():
        n = int(value)
        for suffix, unit in (("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)):
            if n and n % unit == 0:
                want.add("%d%s" % (n // unit, suffix))
    return any(re.search(r"default:? ?%s\b|\b%s \(the default\)" % (
        re.escape(w), re.escape(w)), text, re.I) for w in want)


undocumented = {k: v for k, v in printed.items() if v != "" and
                not (man5_entry(k) and man5_default(man5_entry(k), v))}
ok(not undocumented,
   "dmarcd.conf(5) gives every default as check-config -v prints it",
   undocumented)

# ... and bounds: each numeric option's bounds in --help are the file's, and
# the option takes exactly what the file takes (lmtp refuses a value with
# 64 before anything else, or fails later on a listener it cannot use: 78).
for name, (cmd, option, _, lo, hi) in sorted(helped.items()):
    if lo is None:
        continue
    for v in (int(lo) - 1, int(lo), int(hi), int(hi) + 1):
        if v < 0:
            continue
        fres = run([exe, "check-config", "-f", conf("%s = %d\n" % (name, v))])
        cres = run([exe, cmd, "-f", empty, "--foreground",
                    "--listen", "nowhere:at:all", "--db",
                    "postgresql:///nowhere?host=/nonexistent",
                    "--%s" % option, str(v)], timeout=20)
        inside = int(lo) <= v <= int(hi)
        ok((fres.rc == 0) == inside and cres.rc == (78 if inside else 64) and
           (inside or ("--%s" % option).encode() in cres.err),
           "--%s %d and %s = %d: %s" % (option, v, name, v,
                                        "taken" if inside else "refused"),
           fres.rc, cres.rc, fres.err[-200:], cres.err[-200:])
res = run([exe, "lmtp", "-f", empty, "--foreground", "--listen",
           "nowhere:at:all", "--socket-mode", "0999"], timeout=20)
ok(res.rc == 64 and b"--socket-mode" in res.err and b"octal" in res.err,
   "--socket-mode 0999: refused as the file would, naming the option",
   res.rc, res.err[-300:])
# a choice setting takes only its words, in the file and as an option
for v, want in (("on", 0), ("off", 0), ("local", 0), ("maybe", 78),
                ("On", 78)):
    res = run([exe, "check-config", "-f", conf("enrich = %s\n" % v)])
    ok(res.rc == want and (want == 0 or b"enrich: expected on|off|local"
                           in res.err),
       "enrich = %s: %s" % (v, "taken" if want == 0 else "refused"),
       res.rc, res.err[-200:])
res = run([exe, "lmtp", "-f", empty, "--foreground", "--listen",
           "nowhere:at:all", "--enrich", "maybe"], timeout=20)
ok(res.rc == 64 and b"--enrich" in res.err,
   "--enrich maybe: refused, naming the option", res.rc, res.err[-300:])

# a list option repeats up to its list's room (64 recipients), as before
for n, want in ((64, 78), (65, 64)):
    rcpts = sum((["--recipient", "r%d@example.org" % i] for i in range(n)), [])
    res = run([exe, "lmtp", "-f", empty, "--foreground", "--listen",
               "nowhere:at:all", "--db",
               "postgresql:///nowhere?host=/nonexistent"] + rcpts, timeout=20)
    ok(res.rc == want and (want == 78 or b"more than 64 on the command"
                           b" line" in res.err),
       "lmtp: %d --recipient options: exit %d" % (n, want), res.rc,
       res.err[-200:])

bindir = pglib.find_bindir()
if bindir is None:
    ok(True, "serve and lmtp settings from the file # SKIP PostgreSQL absent")
    done()
pg = pglib.Cluster(bindir)
pg.createdb("conf")
url = pg.url("conf")

# the CSV export of dmarcd(8) EXAMPLES runs as written
m = re.search(r"^(dmarcd export [^\n]*)\\e\n\s*([^\n>]*)>", examples, re.M)
argv = (m.group(1) + m.group(2)).split() if m else ["false"]
res = run([exe] + argv[1:] + ["--db", url], env=dict(os.environ,
                                                   DMARCD_CONF=conf("")))
ok(m is not None and res.rc == 0 and res.out.startswith(b"org_name,"),
   "dmarcd(8) EXAMPLES: the CSV export runs", argv, res.rc, res.err[-300:],
   res.out[:200])

# db status names the server's version as people write it (15.18)
res = run([exe, "db", "-f", empty, "--db", url, "status"])
m = [l for l in res.out.decode().splitlines() if l.startswith("server:")]
ok(res.rc == 0 and len(m) == 1 and
   __import__("re").fullmatch(r"server: PostgreSQL \d+\.\d+(\.\d+)?", m[0]),
   "db status: PostgreSQL MAJOR.MINOR", res.out[:300], res.err[-300:])
# an empty quarantine says so
res = run([exe, "quarantine", "-f", empty, "--db", url, "list"])
ok(res.rc == 0 and res.out == b"quarantine: no unresolved messages\n",
   "quarantine list, empty: says so", res.rc, res.out, res.err[-300:])
res = run([exe, "quarantine", "-f", empty, "--db", url, "list", "-a"])
ok(res.rc == 0 and res.out == b"quarantine: no messages\n",
   "quarantine list -a, empty: says so", res.out)
# db stop with nothing to stop says so
st_env = dict(os.environ, DMARCD_DB="",
              DMARCD_STATE_DIR=os.path.join(tmp, "state"))
res = subprocess.run([exe, "db", "-f", empty, "stop"], env=st_env,
                     capture_output=True, timeout=30)
ok(res.returncode == 0 and b"nothing to stop" in res.stdout and
   not os.path.exists(os.path.join(tmp, "state", "pgdata")),
   "db stop, no cluster: says so, creates nothing", res.stdout, res.stderr)

# serve: http_listen from the file; --listen wins over it.
p1, p2 = free_port(), free_port()
cf = conf("http_listen = 127.0.0.1:%d\nhttp_static_dir = %s\n" % (
    p1, os.path.join(os.environ.get("TESTS_SRCDIR", "tests"), "..", "static")))
for args, port, name in (([], p1, "serve listens where http_listen says"),
                         (["--listen", "127.0.0.1:%d" % p2], p2,
                          "serve: --listen wins over http_listen")):
    srv = subprocess.Popen([exe, "serve", "-f", cf, "--db", url] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    body = b""
    for _ in range(100):
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/api/meta" % port,
                                          timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    srv.terminate()
    srv.wait(timeout=10)
    ok(body.startswith(b"{"), name, body[:200])



def serve_get(argv, port, path="/"):
    """(body of GET path, serve's stderr) from `argv serve` on port."""
    srv = subprocess.Popen(argv + ["--db", url, "--listen",
                                   "127.0.0.1:%d" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    body = b""
    for _ in range(100):
        if srv.poll() is not None:
            break
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d%s" % (
                port, path), timeout=2).read()
            break
        except OSError:
            time.sleep(0.1)
    if srv.poll() is None:
        srv.terminate()
    srv.wait(timeout=10)
    return body, srv.stderr.read()


# serve without any static setting: the build tree's binary serves the
# build tree's static/; an explicit http_static_dir still wins; a copy of
# the binary outside a build tree looks in the installed pkgdatadir.
srcstatic = os.path.join(os.environ.get("TESTS_SRCDIR", "tests"), "..",
                         "static")
index = open(os.path.join(srcstatic, "index.html"), "rb").read()
empty = conf("")
body, err = serve_get([exe, "serve", "-f", empty], free_port())
ok(body == index, "serve from the build tree finds the tree's static/",
   body[:200], err[-400:])
mine = os.path.join(tmp, "static")
os.mkdir(mine)
with open(os.path.join(mine, "index.html"), "w") as f:
    f.write("<!doctype html><title>mine</title>\n")
body, err = serve_get([exe, "serve", "-f", conf("http_static_dir = %s\n" %
                                                mine)], free_port())
ok(b"<title>mine</title>" in body,
   "serve: http_static_dir wins over the build tree", body[:200], err[-400:])
body, err = serve_get([exe, "serve", "-f", empty, "--static-dir", mine],
                      free_port())
ok(b"<title>mine</title>" in body,
   "serve: --static-dir wins over the build tree", body[:200], err[-400:])
os.mkdir(os.path.join(tmp, "bin"))
copy = os.path.join(tmp, "bin", "dmarcd")
shutil.copy(exe, copy)
# a directory that looks half like a build tree (no config.status) is not one
with open(os.path.join(tmp, "bin", "Makefile"), "w") as f:
    f.write("abs_top_srcdir = %s\n" % os.path.dirname(os.path.abspath(
        srcstatic)))
pkgdata = subprocess.run(
    ["make", "-s", "--no-print-directory", "-C", os.path.dirname(exe), "-f",
     "Makefile", "-f", "-", "print-pkgdatadir"],
    input=b"print-pkgdatadir:\n\t@echo $(pkgdatadir)\n",
    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    env={k: v for k, v in os.environ.items()   # not make check's -w
         if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
).stdout.decode().strip()
installed = os.path.join(pkgdata, "static")
if os.path.isdir(installed):
    ok(True, "serve: a binary outside its build tree looks in pkgdatadir "
       "# SKIP %s is installed" % installed)
else:
    body, err = serve_get([copy, "serve", "-f", empty], free_port())
    ok(pkgdata.startswith("/") and body == b"" and
       ("static directory %s:" % installed).encode() in err,
       "serve: a binary outside its build tree looks in pkgdatadir",
       pkgdata, body[:200], err[-400:])

# lmtp: lmtp_listen and lmtp_max_line from the file.
sock = os.path.join(tmp, "run", "lmtp.sock")   # run/ is created by dmarcd
cf = conf("lmtp_listen = unix:%s\nlmtp_max_line = 600\nlmtp_workers = 1\n" % sock)
srv = subprocess.Popen([exe, "lmtp", "-f", cf, "--db", url, "--foreground",
                        "--user", "root"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
for _ in range(100):
    if os.path.exists(sock):
        break
    time.sleep(0.1)
replies = b""
try:
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(5)
    c.connect(sock)
    c.recv(512)
    c.sendall(b"LHLO test\r\nNOOP " + b"x" * 700 + b"\r\nQUIT\r\n")
    while b"221" not in replies:
        chunk = c.recv(4096)
        if not chunk:
            break
        replies += chunk
    c.close()
except OSError as e:
    replies = str(e).encode()
srv.terminate()
srv.wait(timeout=20)
ok(os.path.exists(sock) or b"250" in replies,
   "lmtp listens where lmtp_listen says (its directory created)",
   replies[:300], srv.stderr.read()[-400:] if srv.stderr else b"")
ok(b"500 5.5.2" in replies, "lmtp_max_line from the file applies (700-byte line refused)",
   replies[:400])
done()
