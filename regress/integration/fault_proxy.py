#!/usr/bin/env python3
"""A fault-injecting proxy between cis490-shipper and cis490-receiver.

Test helper only (regress/integration/test_fault_*.sh, regress/soak).
It listens on loopback, terminates the shipper's mutual TLS with the
receiver's own server certificate (so the shipper's configuration only
changes its URL), and forwards each HTTP/1.1 request over a mutual-TLS
connection to the real receiver, as the host named by the client
certificate's CN, unless a fault is due.  Faults come from a plan file
(consumed in order, re-read at every decision so a test may append to
it) or at random (--random, for the soak).

Plan lines, "#" starts a comment:
  conn silent        accept TCP, never answer (hold until the client goes)
  conn hsstall       relay the ClientHello to the receiver and the first
                     HSSTALL_BYTES of its reply, then stall
  conn close         accept, then reset at once
  conn pass
  req 503 SECS       answer 503 with Retry-After: SECS (delta seconds)
  req 429 SECS       the same with 429
  req 429 date SECS  429 with Retry-After as an HTTP-date SECS ahead
  req reset BYTES    take BYTES of the body, then reset the connection
  req noanswer       forward the request, swallow the answer, hang
  req slow SECS      forward, hold the answer SECS seconds
  req pass

Each event is one line in the log: "T conn N EVENT" or
"T req N METHOD TARGET -> OUTCOME", T in seconds (time.time()).
"""
import argparse
import email.utils
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time

HSSTALL_BYTES = 60
HEAD_MAX = 65536
CHUNK = 65536

lock = threading.Lock()
logf = None
plan_pos = {"conn": 0, "req": 0}
counters = {"conn": 0, "req": 0}
args = None
rng = random.Random()


def log(line):
    with lock:
        logf.write("%.3f %s\n" % (time.time(), line))
        logf.flush()


def next_fault(queue):
    """The next fault of QUEUE ("conn" or "req") as a list of words."""
    with lock:
        counters[queue] += 1
        n = counters[queue]
        if args.random:
            return n, random_fault(queue)
        words = ["pass"]
        if args.plan and os.path.exists(args.plan):
            items = []
            with open(args.plan) as f:
                for line in f:
                    line = line.split("#", 1)[0].split()
                    if line and line[0] == queue:
                        items.append(line[1:])
            if plan_pos[queue] < len(items):
                words = items[plan_pos[queue]]
                plan_pos[queue] += 1
        return n, words


def random_fault(queue):
    r = rng.random()
    for name, p in args.random_spec.get(queue, []):
        if r < p:
            if name in ("503", "429"):
                return [name, str(rng.randint(1, 3))]
            if name == "reset":
                return ["reset", str(rng.randint(0, 200000))]
            if name == "slow":
                return ["slow", "%.1f" % rng.uniform(0.5, 3.0)]
            return [name]
        r -= p
    return ["pass"]


def parse_random(spec):
    conn_faults = ("silent", "hsstall", "close")
    out = {"conn": [], "req": []}
    for item in spec.split(","):
        name, p = item.split("=")
        out["conn" if name in conn_faults else "req"].append((name,
            float(p)))
    return out


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
            struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def hold_until_closed(sock, limit=600):
    """Read and drop until the peer closes; how long that took."""
    t0 = time.time()
    sock.settimeout(1)
    while time.time() - t0 < limit:
        try:
            if not sock.recv(CHUNK):
                break
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            break
    return time.time() - t0


class Reader:
    """Buffered reads from a (TLS) socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        d = self.sock.recv(CHUNK)
        if not d:
            raise EOFError("closed")
        self.buf += d

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_MAX:
                raise ValueError("head too long")
            self.fill()
        h, _, self.buf = self.buf.partition(b"\r\n\r\n")
        return h + b"\r\n\r\n"

    def take(self, n):
        """Up to n bytes, at least one."""
        if not self.buf:
            self.fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d


def parse_head(h):
    lines = h.split(b"\r\n")
    first = lines[0].decode("latin-1")
    hdrs = {}
    for l in lines[1:]:
        if b":" in l:
            k, _, v = l.partition(b":")
            hdrs[k.strip().lower().decode("latin-1")] = \
                v.strip().decode("latin-1")
    return first, hdrs


def relay_body(src, dst, n):
    while n > 0:
        d = src.take(min(n, CHUNK))
        if dst is not None:
            dst.sendall(d)
        n -= len(d)


def read_response(up):
    """One response from upstream: (head bytes, status, headers)."""
    h = up.head()
    first, hdrs = parse_head(h)
    return h, int(first.split()[1]), hdrs


class Upstream:
    def __init__(self, host):
        self.host = host
        self.sock = None
        self.rd = None

    def connect(self):
        if self.sock is not None:
            return
        ctx = ssl.create_default_context(cafile=args.pki + "/ca.pem")
        ctx.load_cert_chain(args.pki + "/" + self.host + ".crt",
            args.pki + "/" + self.host + ".key")
        raw = socket.create_connection(("127.0.0.1", args.upstream_port),
            timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.sock.settimeout(args.upstream_timeout)
        self.rd = Reader(self.sock)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None


def error_response(status, retry_after, note):
    reason = {503: "Service Unavailable", 429: "Too Many Requests"}[status]
    body = ('{"error":"fault-proxy","detail":"%s"}' % note).encode()
    return (("HTTP/1.1 %d %s\r\nRetry-After: %s\r\nContent-Type: "
        "application/json\r\nContent-Length: %d\r\nConnection: close\r\n"
        "\r\n") % (status, reason, retry_after, len(body))).encode() + body


def serve_request(cli, crd, up, head):
    """One request; returns False when the client connection must end."""
    first, hdrs = parse_head(head)
    parts = first.split()
    method, target = parts[0], parts[1] if len(parts) > 1 else "?"
    length = int(hdrs.get("content-length", "0") or 0)
    expect = hdrs.get("expect", "").lower() == "100-continue"
    n, f = next_fault("req")
    what = "%s %s" % (method, target)

    if f[0] in ("503", "429"):
        if f[1] == "date":
            ra = email.utils.formatdate(time.time() + float(f[2]),
                usegmt=True)
        else:
            ra = f[1]
        cli.sendall(error_response(int(f[0]), ra, "injected"))
        log("req %d %s -> %s retry-after %s" % (n, what, f[0], ra))
        # Let the answer arrive before the close: drain what comes.
        try:
            cli.settimeout(1)
            t0 = time.time()
            while time.time() - t0 < 2 and cli.recv(CHUNK):
                pass
        except (OSError, ssl.SSLError):
            pass
        return False

    if f[0] == "reset":
        want = int(f[1])
        if length > 0 and expect:
            cli.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        got = 0
        try:
            while got < min(want, length):
                got += len(crd.take(min(want, length) - got))
        except (EOFError, OSError, ssl.SSLError):
            pass
        log("req %d %s -> reset after %d of %d body bytes" % (n, what, got,
            length))
        rst_close(cli)
        return False

    try:
        up.connect()
    except (OSError, ssl.SSLError) as e:
        log("req %d %s -> upstream down (%s)" % (n, what, e))
        up.close()
        rst_close(cli)
        return False

    try:
        up.sock.sendall(head)
        close = False
        if length > 0:
            if expect:
                h, st, uh = read_response(up.rd)
                if st == 100:
                    cli.sendall(h)
                    relay_body(crd, up.sock, length)
                    h, st, uh = read_response(up.rd)
                else:
                    # Decided from the head: the body is not sent.
                    close = True
            else:
                relay_body(crd, up.sock, length)
                h, st, uh = read_response(up.rd)
        else:
            h, st, uh = read_response(up.rd)
        while 100 <= st < 200:
            h, st, uh = read_response(up.rd)
        blen = 0 if method == "HEAD" or st in (204, 304) else \
            int(uh.get("content-length", "0") or 0)
        body = b""
        while len(body) < blen:
            body += up.rd.take(blen - len(body))
        if uh.get("connection", "").lower() == "close":
            up.close()
            close = True
    except (EOFError, OSError, ssl.SSLError, ValueError) as e:
        log("req %d %s -> upstream failed (%s)" % (n, what, e))
        up.close()
        rst_close(cli)
        return False

    if f[0] == "noanswer":
        log("req %d %s -> noanswer (upstream said %d)" % (n, what, st))
        d = hold_until_closed(cli)
        log("req %d client gave up after %.1fs" % (n, d))
        return False
    if f[0] == "slow":
        log("req %d %s -> slow %s" % (n, what, f[1]))
        time.sleep(float(f[1]))
    cli.sendall(h + body)
    log("req %d %s -> pass %d" % (n, what, st))
    return not close


def peer_host(cli):
    cert = cli.getpeercert()
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return "lab-a"


def handle(sock):
    n, f = next_fault("conn")
    log("conn %d accept -> %s" % (n, " ".join(f)))
    if f[0] == "silent":
        d = hold_until_closed(sock)
        log("conn %d client gave up after %.1fs" % (n, d))
        sock.close()
        return
    if f[0] == "close":
        rst_close(sock)
        return
    if f[0] == "hsstall":
        try:
            sock.settimeout(10)
            hello = sock.recv(CHUNK)
            up = socket.create_connection(("127.0.0.1", args.upstream_port),
                timeout=10)
            up.sendall(hello)
            reply = up.recv(CHUNK)
            sock.sendall(reply[:HSSTALL_BYTES])
            log("conn %d hsstall: relayed %d of %d handshake bytes" % (n,
                min(len(reply), HSSTALL_BYTES), len(reply)))
        except OSError as e:
            log("conn %d hsstall failed: %s" % (n, e))
            sock.close()
            return
        d = hold_until_closed(sock)
        log("conn %d client gave up after %.1fs" % (n, d))
        up.close()
        sock.close()
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.pki + "/server.crt", args.pki + "/server.key")
    ctx.load_verify_locations(args.pki + "/ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        sock.settimeout(10)
        cli = ctx.wrap_socket(sock, server_side=True)
    except (OSError, ssl.SSLError) as e:
        log("conn %d handshake failed: %s" % (n, e))
        sock.close()
        return
    up = Upstream(peer_host(cli))
    crd = Reader(cli)
    try:
        while True:
            cli.settimeout(args.idle_timeout)
            try:
                head = crd.head()
            except (EOFError, OSError, ssl.SSLError, ValueError):
                break
            if not serve_request(cli, crd, up, head):
                break
    finally:
        up.close()
        try:
            cli.close()
        except OSError:
            pass


def main():
    global args, logf
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--pki", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--plan")
    p.add_argument("--random")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ready")
    p.add_argument("--idle-timeout", type=float, default=120)
    p.add_argument("--upstream-timeout", type=float, default=60)
    args = p.parse_args()
    if args.random:
        args.random_spec = parse_random(args.random)
    rng.seed(args.seed)
    logf = open(args.log, "a")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(64)
    if args.ready:
        open(args.ready, "w").close()
    while True:
        s, _ = ls.accept()
        threading.Thread(target=handle, args=(s,), daemon=True).start()


if __name__ == "__main__":
    main()
