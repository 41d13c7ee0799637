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


class PortTaken(Exception):
    pass


def free_port():
    """A port free on 127.0.0.1 for both UDP and TCP, as nsd needs."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


class Nsd:
    """zones: {origin: [zone-file lines]}; probe: a name it serves (A)."""

    def __init__(self, d, zones, probe):
        os.makedirs(d)
        # nsd binds UDP and TCP on its port: a port free for one may be
        # taken for the other (tests run in parallel), so a start that
        # finds it taken is tried again on another
        for _ in range(5):
            try:
                self._start(d, zones, probe)
                return
            except PortTaken:
                continue
        raise RuntimeError("nsd did not start: no free port in 5 tries")

    def _start(self, d, zones, probe):
        self.port = free_port()
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
        self.proc.wait()
        out = self.proc.stdout.read().decode(errors="replace")
        try:
            out += open(os.path.join(d, "nsd.log")).read()
            os.unlink(os.path.join(d, "nsd.log"))
        except OSError:
            pass
        if "Address already in use" in out:
            raise PortTaken()
        raise RuntimeError("nsd did not start: " + out)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
