#!/usr/bin/python3
"""Helpers for the security tests (Tests/CofferReliabilityTests/SecurityTests.swift); stdlib only, run as test users.

    peer_probe.py direct SOCKET SECRET                 GetSecretValue on a new connection; prints the outcome
    peer_probe.py connector SOCKET HOLDER              connects to the daemon, passes the connection to HOLDER, exits
    peer_probe.py holder HOLDER GO SECRET              receives a connection, waits for the file GO, then reads SECRET
                                                       on it (as whoever connected it) and prints the outcome
    peer_probe.py mem PID...                           tries to open /proc/PID/mem for each; prints the outcomes
"""
import array
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from abuse_client import GET_SECRET_VALUE, document, error_type, frame, read_frame  # noqa: E402


def outcome(sock, secret):
    sock.sendall(frame(GET_SECRET_VALUE, 5, document({"SecretId": secret})))
    got = read_frame(sock, b"")
    if got is None:
        return {"outcome": "closed"}
    header, body, _ = got
    if header[1] == 2:
        return {"outcome": "response"}
    return {"outcome": error_type(body)}


def direct(path, secret):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    print(json.dumps(outcome(sock, secret)))


def connector(path, holder):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    courier = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    courier.connect(holder)
    courier.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [sock.fileno()]))])
    courier.close()
    sock.close()


def holder(path, go, secret):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(1)
    courier, _ = server.accept()
    fds = array.array("i")
    _, ancillary, _, _ = courier.recvmsg(1, socket.CMSG_LEN(fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    sock = socket.socket(fileno=fds[0])
    print("held", flush=True)
    while not os.path.exists(go):
        time.sleep(0.01)
    print(json.dumps(outcome(sock, secret)), flush=True)


def mem(pids):
    result = {}
    for pid in pids:
        try:
            with open("/proc/%s/mem" % pid, "rb"):
                result[pid] = "opened"
        except OSError as error:
            result[pid] = "errno-%d" % error.errno
    print(json.dumps(result))


def main():
    role = sys.argv[1]
    if role == "direct":
        direct(sys.argv[2], sys.argv[3])
    elif role == "connector":
        connector(sys.argv[2], sys.argv[3])
    elif role == "holder":
        holder(sys.argv[2], sys.argv[3], sys.argv[4])
    elif role == "mem":
        mem(sys.argv[2:])


if __name__ == "__main__":
    main()
