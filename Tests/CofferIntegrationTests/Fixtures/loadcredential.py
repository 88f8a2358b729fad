#!/usr/bin/env python3
"""Plays systemd's side of LoadCredential= for the tests.

usage: loadcredential.py SOCKET ABSTRACT_NAME
Binds the abstract name (pass '-' to stay unbound), connects to SOCKET, shuts down the write side as
(sd-mkdcreds) does, and prints what the provider sent, as hex, on stdout ("EMPTY" for nothing, "OVERSIZE" for more
than systemd's 1 MiB limit, the provider's way of making systemd fail the unit).
"""
import socket
import sys

path, name = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if name != "-":
    s.bind(b"\0" + name.encode())
s.connect(path)
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
if len(data) > 1 << 20:
    print("OVERSIZE")  # more than systemd's CREDENTIAL_SIZE_MAX: systemd would fail the unit (243/CREDENTIALS)
else:
    print(data.hex() if data else "EMPTY")
