#!/usr/bin/env python3
"""Plays systemd's side of LoadCredential= for the tests.

usage: loadcredential.py SOCKET ABSTRACT_NAME
Binds the abstract name (pass '-' to stay unbound), connects to SOCKET, shuts down the write side as
(sd-mkdcreds) does, and prints what the provider sent, as hex, on stdout ("EMPTY" for nothing).
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
print(data.hex() if data else "EMPTY")
