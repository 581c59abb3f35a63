#!/usr/bin/env python3
"""Plays systemd's part of sd_notify for the tests: receives datagrams on
an AF_UNIX socket and appends one line per datagram to OUT: the sender's
pid (from SCM_CREDENTIALS), a tab, the message with newlines as '|'.
Usage: notify_listener.py SOCKET OUT SECONDS (exits after SECONDS)."""
import os
import socket
import struct
import sys
import time

path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
end = time.monotonic() + seconds
with open(out, "a", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = -1
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        text = msg.decode("utf-8", "replace").replace("\n", "|")
        f.write("%d\t%.3f\t%s\n" % (pid, time.monotonic(), text))
os.unlink(path)
