#!/usr/bin/env python3
"""Runs a command against a fresh cofferd on a temporary state directory.

Usage: with_daemon.py PATH/TO/cofferd -- COMMAND [ARGS...]

Starts the daemon, waits until its socket answers, runs COMMAND with COFFER_SOCKET set, stops the daemon with
SIGTERM and exits with COMMAND's status (or 1 if the daemon did not stop cleanly).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    cofferd, command = sys.argv[1], sys.argv[3:]
    root = tempfile.mkdtemp(prefix="coffer-py-")
    os.chmod(root, 0o755)
    sock = os.path.join(root, "run", "coffer.sock")
    log = open(os.path.join(root, "cofferd.log"), "wb")
    daemon = subprocess.Popen(
        [cofferd, "--state-dir", os.path.join(root, "state"), "--socket", sock,
         "--admin-socket", os.path.join(root, "run", "admin.sock")],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(sock)
                break
            except OSError:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    print(open(log.name).read(), file=sys.stderr)
                    print("cofferd did not start", file=sys.stderr)
                    return 1
                time.sleep(0.02)
        status = subprocess.call(command, env={**os.environ, "COFFER_SOCKET": sock})
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            stopped = daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            stopped = -9
        log.close()
    if stopped != 0:
        print(open(log.name).read(), file=sys.stderr)
        print(f"cofferd exited with {stopped}", file=sys.stderr)
        status = status or 1
    shutil.rmtree(root, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
