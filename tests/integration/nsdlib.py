"""nsdlib.py - a real nsd (Debian's /usr/sbin/nsd) on 127.0.0.1 and a free
UDP port, unprivileged, from its own config and zone files in a directory
of its own: for the enricher's test and benchmark."""
import os
import socket
import struct
import subprocess
import time

import pglib

NSD = "/usr/sbin/nsd"


def available():
    return os.access(NSD, os.X_OK)


def query(name, qtype):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


class Nsd:
    """zones: {origin: [zone-file lines]}; probe: a name it serves (A)."""

    def __init__(self, d, zones, probe):
        os.makedirs(d)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        conf = os.path.join(d, "nsd.conf")
        text = ("server:\n  ip-address: 127.0.0.1@%d\n  username: \"\"\n"
                "  chroot: \"\"\n  zonesdir: \"%s\"\n"
                "  pidfile: \"%s/nsd.pid\"\n  database: \"\"\n"
                "  zonelistfile: \"%s/zone.list\"\n"
                "  xfrdfile: \"%s/xfrd.state\"\n  xfrdir: \"%s\"\n"
                "  logfile: \"%s/nsd.log\"\n  server-count: 1\n"
                "  verbosity: 1\nremote-control:\n  control-enable: no\n" %
                (self.port, d, d, d, d, d, d))
        for i, (origin, lines) in enumerate(zones.items()):
            fn = "z%d.zone" % i
            with open(os.path.join(d, fn), "w") as f:
                f.write("\n".join(lines) + "\n")
            text += "zone:\n  name: \"%s\"\n  zonefile: \"%s\"\n" % (origin,
                                                                   fn)
        with open(conf, "w") as f:
            f.write(text)
        for fn in os.listdir(d):
            pglib.chown_unprivileged(os.path.join(d, fn))
        pglib.chown_unprivileged(d)
        self.dir = d
        self.proc = subprocess.Popen(
            pglib.as_user_prefix() + [NSD, "-d", "-c", conf],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        q = query(probe, 1)
        for _ in range(200):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.1)
            try:
                s.sendto(q, ("127.0.0.1", self.port))
                s.recvfrom(512)
                return
            except OSError:
                pass
            finally:
                s.close()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        out = self.proc.stdout.read().decode(errors="replace")
        try:
            out += open(os.path.join(d, "nsd.log")).read()
        except OSError:
            pass
        raise RuntimeError("nsd did not start: " + out)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
