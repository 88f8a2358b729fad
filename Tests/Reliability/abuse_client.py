#!/usr/bin/python3
"""Load and abuse clients for the reliability suite (docs/RELIABILITY.md, "Abuse").

Run by Tests/CofferReliabilityTests/AbuseTests.swift as test users through setpriv, with /usr/bin/python3 (the
stdlib only: it runs as uids that cannot read a per-user Python installation). Prints one JSON object.

    abuse_client.py attacker SOCKET --secret NAME --idle N --slowloris M --flood K --seconds S
    abuse_client.py reader SOCKET --secret NAME --count N
    abuse_client.py connect-loop SOCKET --stop-file PATH   (T12: counts successful connects until the file exists)
"""
import argparse
import json
import os
import resource
import select
import socket
import struct
import sys
import threading
import time

GET_SECRET_VALUE = 0x0102
HELLO = 0x0001


def document(members):
    """Encodes {key: str} as a protocol document (strings only: all these clients need)."""
    out = struct.pack(">I", len(members))
    for key, value in members.items():
        k = key.encode()
        v = value.encode()
        out += struct.pack(">H", len(k)) + k + b"\x04" + struct.pack(">I", len(v)) + v
    return out


def frame(operation, request_id, body):
    return struct.pack(">IBBHI", 8 + len(body), 1, 1, operation, request_id) + body


def read_frame(sock, buffer):
    """Reads one frame; returns (header tuple, body, rest of the buffer) or None on close."""
    while True:
        if len(buffer) >= 4:
            (length,) = struct.unpack(">I", buffer[:4])
            if len(buffer) >= 4 + length:
                header = struct.unpack(">BBHI", buffer[4:12])
                return header, buffer[12 : 4 + length], buffer[4 + length :]
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk


def error_type(body):
    """The __type of an error reply body (a document of two strings)."""
    try:
        (count,) = struct.unpack(">I", body[:4])
        offset = 4
        for _ in range(count):
            (klen,) = struct.unpack(">H", body[offset : offset + 2])
            key = body[offset + 2 : offset + 2 + klen].decode()
            offset += 2 + klen
            tag = body[offset]
            (vlen,) = struct.unpack(">I", body[offset + 1 : offset + 5])
            value = body[offset + 5 : offset + 5 + vlen].decode()
            offset += 5 + vlen
            if key == "__type":
                return value
    except Exception:  # noqa: BLE001 - a malformed reply is reported as such
        return "malformed"
    return "untyped"


def connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def attacker(args):
    raise_fd_limit()
    stop = threading.Event()
    result = {"flood_requests": 0, "flood_errors": {}, "flood_connections_refused": 0}
    lock = threading.Lock()

    def flood(index):
        request = frame(GET_SECRET_VALUE, 1, document({"SecretId": args.secret}))
        hello = frame(HELLO, 2, document({}))
        batch = (request + hello) * 16
        try:
            sock = connect(args.socket)
        except OSError:
            with lock:
                result["flood_connections_refused"] += 1
            return
        buffer = b""
        while not stop.is_set():
            try:
                sock.sendall(batch)
                for _ in range(32):
                    got = read_frame(sock, buffer)
                    if got is None:
                        raise OSError("closed")
                    header, body, buffer = got
                    with lock:
                        result["flood_requests"] += 1
                        if header[1] == 3:
                            name = error_type(body)
                            result["flood_errors"][name] = result["flood_errors"].get(name, 0) + 1
            except OSError:
                try:
                    sock.close()
                    sock = connect(args.socket)
                    buffer = b""
                except OSError:
                    time.sleep(0.01)
        sock.close()

    flooders = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(args.flood)]
    for thread in flooders:
        thread.start()
    time.sleep(0.2)

    # Slowloris: a frame whose bytes trickle in; the daemon must cut it at its frame deadline.
    slow_frame = frame(GET_SECRET_VALUE, 3, document({"SecretId": args.secret + "-" + "x" * 64}))
    slow = []
    for _ in range(args.slowloris):
        try:
            sock = connect(args.socket)
            sock.setblocking(False)
            sock.send(slow_frame[:1])
            slow.append({"sock": sock, "sent": 1, "started": time.monotonic(), "cut": None, "throttled": False})
        except OSError:
            pass

    # Idle connections: opened as fast as possible; beyond the per-uid cap each gets ThrottlingException and a close.
    idle = []
    for _ in range(args.idle):
        try:
            idle.append(connect(args.socket))
        except OSError as error:
            result.setdefault("idle_connect_errors", {}).setdefault(str(error.errno), 0)
            result["idle_connect_errors"][str(error.errno)] += 1
    time.sleep(1.0)
    throttled = 0
    closed_silently = 0
    open_idle = []
    for sock in idle:
        sock.setblocking(False)
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            open_idle.append(sock)
            continue
        except OSError:
            closed_silently += 1
            sock.close()
            continue
        if data and len(data) >= 12 and data[5] == 3 and error_type(data[12:]) == "ThrottlingException":
            throttled += 1
        elif not data:
            closed_silently += 1
        sock.close()
    result["idle_opened"] = len(idle)
    result["idle_throttled"] = throttled
    result["idle_closed_without_reply"] = closed_silently
    result["idle_held"] = len(open_idle)

    deadline = time.monotonic() + args.seconds
    next_byte = time.monotonic()
    while time.monotonic() < deadline and not os.path.exists(args.stop_file or "/nonexistent"):
        now = time.monotonic()
        for entry in slow:
            if entry["cut"] is not None:
                continue
            sock = entry["sock"]
            try:
                data = sock.recv(4096)
                if not data:
                    entry["cut"] = now - entry["started"]
                elif data[5] == 3 and error_type(data[12:]) == "ThrottlingException":
                    entry["throttled"] = True
                    entry["cut"] = now - entry["started"]
            except BlockingIOError:
                pass
            except OSError:
                entry["cut"] = now - entry["started"]
            if entry["cut"] is None and now >= next_byte and entry["sent"] < len(slow_frame) - 1:
                try:
                    sock.send(slow_frame[entry["sent"] : entry["sent"] + 1])
                    entry["sent"] += 1
                except OSError:
                    entry["cut"] = now - entry["started"]
        if now >= next_byte:
            next_byte = now + args.byte_interval
        time.sleep(0.05)
    stop.set()
    for thread in flooders:
        thread.join(timeout=5)
    # Idle connections still open at the end, and whether the daemon closed them (idle timeout).
    idle_closed_later = 0
    for sock in open_idle:
        try:
            if sock.recv(1) == b"":
                idle_closed_later += 1
        except BlockingIOError:
            pass
        except OSError:
            idle_closed_later += 1
        sock.close()
    cuts = [entry["cut"] for entry in slow if entry["cut"] is not None and not entry["throttled"]]
    result["idle_closed_by_daemon_later"] = idle_closed_later
    result["slowloris_started"] = len(slow)
    result["slowloris_throttled"] = sum(1 for entry in slow if entry["throttled"])
    result["slowloris_cut"] = len(cuts)
    result["slowloris_cut_max_seconds"] = max(cuts) if cuts else None
    result["slowloris_cut_min_seconds"] = min(cuts) if cuts else None
    result["slowloris_completed_frames"] = sum(1 for entry in slow if entry["sent"] >= len(slow_frame) - 1)
    print(json.dumps(result))


def reader(args):
    sock = connect(args.socket)
    request = frame(GET_SECRET_VALUE, 9, document({"SecretId": args.secret}))
    buffer = b""
    latencies = []
    errors = {}
    for _ in range(args.count):
        started = time.perf_counter_ns()
        try:
            sock.sendall(request)
            got = read_frame(sock, buffer)
        except OSError as error:
            got = None
            errors["oserror-" + str(error.errno)] = errors.get("oserror-" + str(error.errno), 0) + 1
        if got is None:
            errors["closed"] = errors.get("closed", 0) + 1
            try:
                sock = connect(args.socket)
            except OSError:
                time.sleep(0.01)
            buffer = b""
            continue
        header, body, buffer = got
        latencies.append((time.perf_counter_ns() - started) / 1e6)
        if header[1] != 2:
            name = error_type(body)
            errors[name] = errors.get(name, 0) + 1
    latencies.sort()

    def pct(p):
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, max(0, int(p / 100 * len(latencies) + 0.999999) - 1))]

    print(json.dumps({"count": len(latencies), "errors": errors, "p50_ms": pct(50), "p99_ms": pct(99),
                      "p999_ms": pct(99.9), "max_ms": latencies[-1] if latencies else None}))


def connect_loop(args):
    """Connects in a loop until the stop file exists; counts what happened (T12)."""
    outcomes = {"connected": 0, "attempts": 0}
    while not os.path.exists(args.stop_file):
        outcomes["attempts"] += 1
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(args.socket)
            outcomes["connected"] += 1
        except OSError as error:
            key = "errno-" + str(error.errno)
            outcomes[key] = outcomes.get(key, 0) + 1
        finally:
            sock.close()
    print(json.dumps(outcomes))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["attacker", "reader", "connect-loop"])
    parser.add_argument("socket")
    parser.add_argument("--secret", default="abuse/secret")
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=100)
    parser.add_argument("--flood", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--byte-interval", type=float, default=0.5)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--stop-file", default=None)
    args = parser.parse_args()
    {"attacker": attacker, "reader": reader, "connect-loop": connect_loop}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
