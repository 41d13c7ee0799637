#!/usr/bin/env python3
"""test_conf.py - dmarcd.conf for every command: errors as file:line, all
at once; check-config; the lmtp_* and http_* settings reach `dmarcd lmtp`
and `dmarcd serve`, and the command line wins over the file."""
import os
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

# check-config refuses what serve refuses at start
for text, want, name in (
        ("http_listen = 0.0.0.0:80\n", 78, "public address without TLS"),
        ("http_listen = [::]:8443\nhttp_tls_cert = /c.pem\n", 78,
         "a certificate without a key"),
        ("http_listen = nonsense\n", 78, "no port"),
        ("http_listen = 0.0.0.0:443\nhttp_tls_cert = /c.pem\n"
         "http_tls_key = /k.pem\nhttp_users = /u\n", 0,
         "public with TLS and users"),
        ("http_listen = 127.0.0.1:80\n", 0, "loopback")):
    res = run([exe, "check-config", "-f", conf(text)])
    ok(res.rc == want and (want == 0 or b"serve:" in res.err),
       "check-config: %s -> %d" % (name, want), res.rc, res.err[-300:])
res = run([exe, "serve", "-f", conf("http_listen = 0.0.0.0:80\n"), "--db",
           "postgresql:///nowhere?host=/nonexistent"], timeout=20)
ok(res.rc == 78 and b"refusing to listen on 0.0.0.0" in res.err,
   "serve refuses it too, with the same words", res.rc, res.err[-300:])

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

bindir = pglib.find_bindir()
if bindir is None:
    ok(True, "serve and lmtp settings from the file # SKIP PostgreSQL absent")
    done()
pg = pglib.Cluster(bindir)
pg.createdb("conf")
url = pg.url("conf")

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
