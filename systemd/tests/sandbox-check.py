#!/usr/bin/env python3
"""Starts the real cofferd the way systemd/coffer.service would, without systemd as PID 1, and uses it.

usage: sandbox-check.py --cofferd PATH --sandbox-exec PATH [--keep]

The restrictions come from the unit files themselves: coffer.service's [Service] settings become sandbox-exec
options (sandbox-exec.c says which setting maps to what), and SystemCallFilter= is expanded to the exact list
systemd 252 would allow (@system-service minus @privileged and @resources, groups resolved by
`systemd-analyze syscall-filter`). The three .socket units give the sockets (name, mode, FileDescriptorName=),
which are passed with LISTEN_FDS as systemd passes them. Settings the harness does not reproduce are listed in
the output; the optional nspawn test (nspawn-test.sh) runs everything under real systemd.

Then, with root's and systemd's parts played by this script:
  1. `sandbox-exec --probe` inside the same sandbox: every restriction is really in force (MDWE, filters, ...).
  2. cofferd with systemd/config.json: READY=1 + STATUS=serving on $NOTIFY_SOCKET, WATCHDOG=1 pings, Hello and
     GetSecretValue on the api socket, IAM on the admin socket, a LoadCredential= request as systemd's
     (sd-mkdcreds) makes it (root, from the unit's cgroup, bound to \\0<hex>/unit/<unit>/<id>) served and one
     refused, RELOADING=1/READY=1 on SIGHUP, STOPPING=1 and exit 0 on SIGTERM, journald priority prefixes.
  3. cofferd with systemd/examples/config.json and the master key as a credential ($CREDENTIALS_DIRECTORY, the
     key file moved out of the state directory): the same vault opens, and the example credentialMap serves
     myapp.service's db-password.
Root is needed (namespaces, setuid, cgroups); without it the check says SKIP and exits 0. Otherwise it exits 0
only if every check passed.
"""

import argparse
import errno
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEMD_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(SYSTEMD_DIR)
sys.path.insert(0, os.path.join(REPO, "clients", "python"))
from coffer_client import Client, CofferError  # noqa: E402

# The coffer user does not exist on a build host: nobody stands in for it (what matters is "not root").
STAND_IN_UID = 65534
STAND_IN_GID = 65534
# WatchdogSec=30s would make the check wait 15 s for a ping; the daemon pings at half of whatever it is given.
WATCHDOG_USEC = 2_000_000
CHECK_SLICE = "coffer-sandbox-check.slice"

failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok or not detail else ": " + detail), flush=True)
    if not ok:
        failures.append(what)
    return ok


def note(text):
    print("note " + text, flush=True)


# MARK: unit files


def parse_unit(path):
    """{section: [(key, value), ...]} in file order, with continuation lines joined."""
    sections, current, pending = {}, None, ""
    with open(path) as unit:
        for raw in unit:
            line = pending + raw.rstrip("\n")
            pending = ""
            stripped = line.strip()
            if not stripped or stripped[0] in "#;":
                continue
            if stripped.endswith("\\"):
                pending = stripped[:-1] + " "
                continue
            if stripped.startswith("[") and stripped.endswith("]"):
                current = sections.setdefault(stripped[1:-1], [])
                continue
            key, _, value = stripped.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def settings(section):
    """key -> list of values, an empty assignment resetting the list (systemd's rule for list settings)."""
    result = {}
    for key, value in section:
        if value == "":
            result[key] = []
        else:
            result.setdefault(key, []).append(value)
    return result


def last(values, key, default=None):
    return values[key][-1] if values.get(key) else default


def parse_size(text):
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    number = text.rstrip("KMGT")
    return int(number) * units[text[len(number):]]


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True, check=True).stdout
    groups, current = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith("    ") and current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def expand(name, groups):
    if not name.startswith("@"):
        return {name}
    if name not in groups:
        raise SystemExit("sandbox-check: unknown system call group " + name)
    members = set()
    for member in groups[name]:
        members |= expand(member, groups)
    return members


def allowed_syscalls(filters, groups):
    """systemd's SystemCallFilter= semantics: the first assignment decides allow or deny list (an allow list also
    gets @default); later ~ assignments remove from an allow list."""
    if not filters:
        return None
    if filters[0].startswith("~"):
        raise SystemExit("sandbox-check: a deny-list SystemCallFilter= is not emulated")
    allowed = expand("@default", groups)
    for line in filters:
        invert = line.startswith("~")
        names = set()
        for item in line.lstrip("~").split():
            if ":" in item:
                raise SystemExit("sandbox-check: per-call errno (%s) is not emulated" % item)
            names |= expand(item, groups)
        allowed = allowed - names if invert else allowed | names
    return allowed


# Settings whose effect the harness reproduces (see sandbox_options) and settings it does not (they constrain
# devices, kernel knobs, IPC, hostname, IP traffic: nothing cofferd's start or its sockets depend on; the nspawn
# test covers them under real systemd).
NOT_EMULATED = [
    "ProtectHome", "PrivateDevices", "PrivateIPC", "PrivateMounts", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname", "RemoveIPC", "KeyringMode",
    "DevicePolicy", "IPAddressDeny", "AmbientCapabilities", "ProtectProc",
]


def sandbox_options(service, state_dir, syscall_file, groups):
    o = []
    user, group = last(service, "User"), last(service, "Group")
    if user and user != "root":
        o += ["--user", "%d:%d" % (STAND_IN_UID, STAND_IN_GID)]
        note("User=%s Group=%s: uid/gid %d/%d stand in for them" % (user, group, STAND_IN_UID, STAND_IN_GID))
    if last(service, "UMask"):
        o += ["--umask", last(service, "UMask")]
    if last(service, "LimitMEMLOCK"):
        o += ["--rlimit-memlock", str(parse_size(last(service, "LimitMEMLOCK")))]
    if last(service, "LimitCORE"):
        o += ["--rlimit-core", str(parse_size(last(service, "LimitCORE")))]
    if last(service, "PrivateNetwork") == "yes":
        o.append("--private-network")
    if last(service, "ProtectSystem") == "strict":
        o += ["--read-only-root", "--writable", state_dir]
    elif last(service, "ProtectSystem"):
        raise SystemExit("sandbox-check: only ProtectSystem=strict is emulated")
    if last(service, "PrivateTmp") == "yes":
        o.append("--private-tmp")
    if last(service, "ProcSubset") == "pid":
        o.append("--proc-subset-pid")
    if "CapabilityBoundingSet" in service and service["CapabilityBoundingSet"] == []:
        o.append("--drop-bounding-set")
    elif service.get("CapabilityBoundingSet"):
        raise SystemExit("sandbox-check: only an empty CapabilityBoundingSet= is emulated")
    for key, flag in [("NoNewPrivileges", "--no-new-privileges"), ("MemoryDenyWriteExecute", "--mdwe"),
                      ("RestrictNamespaces", "--restrict-namespaces"), ("LockPersonality", "--lock-personality"),
                      ("RestrictRealtime", "--restrict-realtime"), ("RestrictSUIDSGID", "--restrict-suid-sgid")]:
        if last(service, key) == "yes":
            o.append(flag)
    families = " ".join(service.get("RestrictAddressFamilies", []))
    if families == "AF_UNIX":
        o.append("--af-unix-only")
    elif families:
        raise SystemExit("sandbox-check: RestrictAddressFamilies=%s is not emulated" % families)
    if last(service, "SystemCallArchitectures") not in (None, "native"):
        raise SystemExit("sandbox-check: only SystemCallArchitectures=native is emulated")
    allowed = allowed_syscalls(service.get("SystemCallFilter", []), groups)
    if allowed is not None:
        with open(syscall_file, "w") as out:
            out.write("\n".join(sorted(allowed)) + "\n")
        os.chmod(syscall_file, 0o644)
        error_name = last(service, "SystemCallErrorNumber")
        o += ["--syscall-allow", syscall_file]
        if error_name:
            o += ["--syscall-errno", str(getattr(errno, error_name))]
        note("SystemCallFilter=: %d system calls allowed (%s), others %s"
             % (len(allowed), "; ".join(service["SystemCallFilter"]), error_name or "kill the process"))
    skipped = [key for key in NOT_EMULATED if key in service]
    if skipped:
        note("not reproduced here (the nspawn test has them): " + ", ".join(k + "=" for k in skipped))
    return o


def socket_units():
    """[(FileDescriptorName, mode, socket file name)] for the three socket units, in the order cofferd sees them."""
    result = []
    for name in ["coffer.socket", "coffer-admin.socket", "coffer-credentials.socket"]:
        values = settings(parse_unit(os.path.join(SYSTEMD_DIR, name)).get("Socket", []))
        if last(values, "Service") != "coffer.service":
            check(False, name + " activates coffer.service")
        result.append((last(values, "FileDescriptorName", name), last(values, "SocketMode", "0666"),
                       os.path.basename(last(values, "ListenStream"))))
    return result


# MARK: systemd's side


class Notifications:
    """A test-owned $NOTIFY_SOCKET (a path datagram socket, like /run/systemd/notify)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)
        self.seen = []

    def wait(self, predicate, timeout, alive=None):
        """The first datagram for which predicate is true, or None after timeout (or once alive() is false)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, min(0.2, deadline - time.monotonic())))
            try:
                message = self.sock.recv(4096).decode()
            except socket.timeout:
                if alive is not None and not alive():
                    break
                continue
            self.seen.append(message)
            if predicate(message):
                return message
        return None

    def collect(self, seconds):
        found = []
        self.wait(lambda m: found.append(m) and False, seconds)
        return found


def cgroup2_root():
    """The writable cgroup2 mount (unified or hybrid), or None."""
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields = line.split()
            separator = fields.index("-")
            if fields[separator + 1] == "cgroup2" and os.access(os.path.join(fields[4], "cgroup.procs"), os.W_OK):
                return fields[4]
    return None


def load_credential(socket_path, cgroup_root, unit, credential, claim=None):
    """Does what systemd's (sd-mkdcreds) does for LoadCredential=ID:SOCKET: from a process in the unit's cgroup,
    running as root, bind \\0<hex>/unit/<unit>/<id>, connect, shut down the write side, read to EOF."""
    cgroup = os.path.join(cgroup_root, CHECK_SLICE, unit)
    os.makedirs(cgroup, exist_ok=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(("\0%x/unit/%s/%s" % (secrets.randbits(64), claim or unit, credential)).encode())
            s.connect(socket_path)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            os.write(write_end, data)
            os._exit(0)
        except BaseException as error:  # noqa: BLE001 - report anything to the parent
            os.write(write_end, b"ERROR " + str(error).encode())
            os._exit(1)
    os.close(write_end)
    data = b""
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    os.rmdir(cgroup)
    return data


# MARK: the runs


class Daemon:
    def __init__(self, label, workdir, options, config, environment):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "cofferd-%s.log" % label)
        self.notify = Notifications(os.path.join(workdir, "notify.sock"))
        service = settings(parse_unit(os.path.join(SYSTEMD_DIR, "coffer.service"))["Service"])
        # ExecStart= exactly as the unit has it, with the built binary and the configuration under test.
        command = last(service, "ExecStart").split()
        command[0] = os.path.join(workdir, "bin", "cofferd")
        command = [os.path.join(workdir, "etc", "config.json") if part == "/etc/coffer/config.json" else part
                   for part in command]
        shutil.copy(config, os.path.join(workdir, "etc", "config.json"))
        os.chmod(os.path.join(workdir, "etc", "config.json"), 0o644)
        listen = []
        for name, mode, file_name in socket_units():
            listen += ["--listen", "%s:%s:%s" % (name, mode, os.path.join(workdir, "run", file_name))]
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "STATE_DIRECTORY": os.path.join(workdir, "state"),  # StateDirectory=coffer
            "NOTIFY_SOCKET": self.notify.path,
            "WATCHDOG_USEC": str(WATCHDOG_USEC),
        }
        env.update(environment)
        self.log = open(self.log_path, "wb")
        sandbox = os.path.join(workdir, "bin", "sandbox-exec")
        self.process = subprocess.Popen([sandbox] + listen + options + ["--"] + command, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, cwd="/")
        self.sockets = {name: os.path.join(workdir, "run", file_name) for name, _, file_name in socket_units()}

    def text(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")

    def locked_kib(self):
        try:
            with open("/proc/%d/status" % self.process.pid) as status:
                for line in status:
                    if line.startswith("VmLck:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self.log.close()
        self.notify.sock.close()
        os.unlink(self.notify.path)
        return status


def wait_ready(daemon, label):
    ready = daemon.notify.wait(lambda m: "READY=1" in m, 60, alive=lambda: daemon.process.poll() is None)
    if not check(ready is not None, label + ": READY=1 on $NOTIFY_SOCKET", "cofferd said:\n" + daemon.text()):
        return False
    check("STATUS=serving" in ready and "MAINPID=%d" % daemon.process.pid in ready,
          label + ": STATUS=serving, MAINPID is the started process", repr(ready))
    return True


def first_run(daemon, cgroup_root, value):
    if not wait_ready(daemon, "systemd/config.json"):
        return
    with Client(daemon.sockets["api"], timeout=10) as api:
        hello = api.hello()
        check(hello.get("ProtocolVersion") == 1, "Hello on the api socket", repr(hello))
        api.create_secret("prod/myapp/db", secret_string=value)
        check(api.get_secret_value("prod/myapp/db").get("SecretString") == value, "CreateSecret + GetSecretValue")
    policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue",'
              '"Resource":"arn:*:secretsmanager:*:*:secret:prod/myapp/*"}]}')
    with Client(daemon.sockets["admin"], timeout=10) as admin:
        for role in ["myapp.service", "coffer-sandbox-check.service"]:
            admin.call("CreateRole", {"RoleName": role})
            admin.call("PutRolePolicy", {"RoleName": role, "PolicyName": "db", "PolicyDocument": policy})
        check(admin.call("Status").get("Sealed") is False, "Status on the admin socket: unsealed")
    pings = [m for m in daemon.notify.collect(2.5) if "WATCHDOG=1" in m]
    check(len(pings) >= 2, "WATCHDOG=1 every WATCHDOG_USEC/2 (%d in 2.5 s at %d ms)" % (len(pings),
                                                                                     WATCHDOG_USEC // 1000))
    if cgroup_root:
        got = load_credential(daemon.sockets["credentials"], cgroup_root, "coffer-sandbox-check.service",
                              "prod~myapp~db")
        check(got == value.encode(), "LoadCredential=prod~myapp~db: served to the unit's role", repr(got[:80]))
        got = load_credential(daemon.sockets["credentials"], cgroup_root, "coffer-sandbox-norole.service",
                              "prod~myapp~db")
        check(got == b"", "LoadCredential= from a unit without a role: closed without data", repr(got[:80]))
        got = load_credential(daemon.sockets["credentials"], cgroup_root, "coffer-sandbox-norole.service",
                              "prod~myapp~db", claim="coffer-sandbox-check.service")
        check(got == b"", "LoadCredential= claiming another unit than its cgroup's: refused", repr(got[:80]))
    else:
        note("no writable cgroup2 hierarchy: LoadCredential= requests not played")
    locked = daemon.locked_kib()
    if locked is not None:
        note("cofferd has %d KiB mlock()ed (VmLck)" % locked)
    daemon.process.send_signal(signal.SIGHUP)
    reloading = daemon.notify.wait(lambda m: "RELOADING=1" in m, 10)
    ready = daemon.notify.wait(lambda m: "READY=1" in m, 10)
    check(reloading is not None and ready is not None, "SIGHUP (ExecReload=): RELOADING=1 then READY=1")
    daemon.process.send_signal(signal.SIGTERM)
    stopping = daemon.notify.wait(lambda m: "STOPPING=1" in m, 20)
    check(stopping is not None, "SIGTERM: STOPPING=1")


def second_run(daemon, cgroup_root, value):
    if not wait_ready(daemon, "examples/config.json + master key credential"):
        return
    with Client(daemon.sockets["api"], timeout=10) as api:
        got = api.get_secret_value("prod/myapp/db").get("SecretString")
        check(got == value, "the vault opens with the master key from $CREDENTIALS_DIRECTORY/coffer.master-key")
    if cgroup_root:
        got = load_credential(daemon.sockets["credentials"], cgroup_root, "myapp.service", "db-password")
        check(got == value.encode(), "LoadCredential=db-password for myapp.service through the example "
              "credentialMap", repr(got[:80]))
    daemon.process.send_signal(signal.SIGTERM)


def check_log(daemon, label):
    lines = [line for line in daemon.text().splitlines() if line and not line.startswith("sandbox-exec: note")]
    unprefixed = [line for line in lines if not (len(line) > 3 and line[0] == "<" and line[2] == ">")]
    check(lines and not unprefixed, label + ": every log line has a journald <N> priority prefix",
          "\n".join(unprefixed[:5]))
    fatal = [line for line in lines if "fatal" in line]
    check(not fatal, label + ": no fatal error", "\n".join(fatal))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cofferd", required=True)
    parser.add_argument("--sandbox-exec", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, state)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("SKIP sandbox check: needs root (namespaces, setuid, cgroups); CI runs it as root")
        return 0

    # Not under /tmp or /var/tmp (PrivateTmp= hides them from the daemon), every parent traversable by the
    # stand-in user, and cleaned up afterwards.
    parent = "/run" if os.access("/run", os.W_OK) else "/dev/shm"
    workdir = tempfile.mkdtemp(prefix="coffer-sandbox-check.", dir=parent)
    os.chmod(workdir, 0o755)
    for sub, mode in [("bin", 0o755), ("etc", 0o755), ("run", 0o755), ("state", 0o700)]:
        os.mkdir(os.path.join(workdir, sub), mode)
    os.chown(os.path.join(workdir, "state"), STAND_IN_UID, STAND_IN_GID)
    shutil.copy(args.cofferd, os.path.join(workdir, "bin", "cofferd"))
    shutil.copy(args.sandbox_exec, os.path.join(workdir, "bin", "sandbox-exec"))
    state = os.path.join(workdir, "state")
    try:
        service = settings(parse_unit(os.path.join(SYSTEMD_DIR, "coffer.service"))["Service"])
        options = sandbox_options(service, state, os.path.join(workdir, "syscalls.txt"), syscall_groups())
        cgroup_root = cgroup2_root()

        sandbox = os.path.join(workdir, "bin", "sandbox-exec")
        probe = subprocess.run([sandbox] + options + ["--", sandbox, "--probe"] + options, capture_output=True,
                               text=True)
        for line in probe.stdout.splitlines():
            print(line.replace("ok   ", "ok   sandbox: ", 1).replace("FAIL ", "FAIL sandbox: ", 1), flush=True)
        check(probe.returncode == 0, "sandbox-exec --probe: every restriction in force",
              probe.stderr.strip() or "exit %d" % probe.returncode)
        if probe.returncode != 0:
            return 1

        value = "sandbox-check-" + secrets.token_hex(12)
        daemon = Daemon("config", workdir, options, os.path.join(SYSTEMD_DIR, "config.json"), {})
        try:
            first_run(daemon, cgroup_root, value)
        finally:
            status = daemon.stop()
        check(status == 0, "systemd/config.json: cofferd exited 0 after SIGTERM", "status %s" % status)
        check_log(daemon, "systemd/config.json")

        # LoadCredentialEncrypted=coffer.master-key: systemd decrypts into /run/credentials/coffer.service/
        # (a directory and file only the service's user can read) and sets $CREDENTIALS_DIRECTORY.
        credentials = os.path.join(workdir, "credentials")
        os.mkdir(credentials, 0o500)
        os.chown(credentials, STAND_IN_UID, STAND_IN_GID)
        key = os.path.join(credentials, "coffer.master-key")
        shutil.move(os.path.join(state, "master.key"), key)
        os.chmod(key, 0o400)
        os.chown(key, STAND_IN_UID, STAND_IN_GID)
        daemon = Daemon("example-config", workdir, options, os.path.join(SYSTEMD_DIR, "examples", "config.json"),
                        {"CREDENTIALS_DIRECTORY": credentials})
        try:
            second_run(daemon, cgroup_root, value)
        finally:
            status = daemon.stop()
        check(status == 0, "examples/config.json: cofferd exited 0 after SIGTERM", "status %s" % status)
        check(not os.path.exists(os.path.join(state, "master.key")), "no key file was written to the state directory")
        check_log(daemon, "examples/config.json")
    finally:
        if cgroup_root and os.path.isdir(os.path.join(cgroup_root, CHECK_SLICE)):
            os.rmdir(os.path.join(cgroup_root, CHECK_SLICE))
        if args.keep:
            note("kept " + workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
