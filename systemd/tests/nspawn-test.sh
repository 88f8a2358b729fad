#!/usr/bin/env bash
# End-to-end test under real systemd (opt-in: make check-systemd-nspawn; root; not part of make test).
#
# Boots systemd as PID 1 in a throwaway container (systemd-nspawn --volatile=yes over the host's /usr: /etc, /var
# and /run start empty and vanish afterwards) with the shipped units, sysusers.d/coffer.conf and config.json
# installed as docs/SYSTEMD.md says, and the built cofferd as /usr/local/bin/cofferd. Then:
#   - a setup unit creates a secret, the roles myapp.service and coffer-test-client.service and their policies;
#   - myapp.service, a consumer with examples/myapp.service.d/coffer-secret.conf exactly as shipped, must start
#     and find the secret in $CREDENTIALS_DIRECTORY/db-password (through the example credentialMap);
#   - units without a role: the start must fail with 243/CREDENTIALS (Coffer answers a refused request with more
#     than systemd's 1 MiB limit), with the example drop-in and without it;
#   - coffer-test-client.service reads the secret over the client socket as its unit role, and is denied another;
#   - coffer.service must be active with StatusText=serving, have a watchdog, survive `systemctl reload`, score
#     <= 0.5 in the online `systemd-analyze security`, and have audited the credential requests;
#   - then the master key moves into an encrypted credential (systemd-creds with the container's host key,
#     examples/coffer.service.d/master-key.conf, examples/config.json verbatim) and the same vault must open.
# The report is printed and the exit status says whether every check passed.
#
# usage: nspawn-test.sh PATH/TO/cofferd   (installs systemd-container with apt-get if systemd-nspawn is missing)
# Recipe and caveats: ../shared/research/systemd-integration.md section 4 (mask firstboot/sysctl/logind).
set -euo pipefail
cofferd=$(realpath -e "${1:?usage: nspawn-test.sh PATH/TO/cofferd}")
cd "$(dirname "$0")/.."
repo=$(cd .. && pwd)
[[ $(id -u) == 0 ]] || { echo "nspawn-test: needs root" >&2; exit 1; }
if ! command -v systemd-nspawn >/dev/null; then
    echo "nspawn-test: installing systemd-container"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd-container >/dev/null ||
        { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd-container >/dev/null; }
fi
python=/usr/bin/python3
[[ -x $python ]] || { echo "nspawn-test: needs $python (the container sees only the host's /usr)" >&2; exit 1; }

t=$(mktemp -d /var/tmp/coffer-nspawn.XXXXXX)
trap '[[ -n ${KEEP:-} ]] && echo "nspawn-test: kept $t" || rm -rf "$t"' EXIT
mkdir -p "$t/units" "$t/bin" "$t/etc-coffer" "$t/sysusers" "$t/test" "$t/results" "$t/var-lib-systemd"
chmod 0777 "$t/results"
cp "$cofferd" "$t/bin/cofferd"
cp coffer.service coffer.socket coffer-admin.socket coffer-credentials.socket "$t/units/"
cp sysusers.d/coffer.conf "$t/sysusers/"
# Phase 1 runs on the key file cofferd creates (the example config without its masterKey member); phase 2 switches
# to the example config verbatim, with the master key as an encrypted credential.
cp examples/config.json "$t/etc-coffer/config-credential.json"
$python - examples/config.json "$t/etc-coffer/config.json" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))
del config["masterKey"]
json.dump(config, open(sys.argv[2], "w"), indent=4)
EOF
cp examples/coffer.service.d/master-key.conf "$t/test/"
cp "$repo/clients/python/coffer_client.py" "$t/test/"
for unit in systemd-firstboot.service systemd-sysctl.service systemd-logind.service; do
    ln -s /dev/null "$t/units/$unit"
done
mkdir -p "$t/units/myapp.service.d"
cp examples/myapp.service.d/coffer-secret.conf "$t/units/myapp.service.d/"

cat >"$t/units/coffer-test.target" <<'EOF'
[Unit]
Description=Coffer end-to-end test
Wants=coffer.socket coffer-admin.socket coffer-credentials.socket coffer-test-report.service
EOF

cat >"$t/units/coffer-test-setup.service" <<'EOF'
[Unit]
Wants=coffer.socket coffer-admin.socket
After=coffer.socket coffer-admin.socket systemd-sysusers.service

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=60s
ExecStart=/usr/bin/python3 /opt/coffer-test/setup.py
EOF

cat >"$t/test/setup.py" <<'EOF'
import hashlib, secrets, sys
sys.path.insert(0, "/opt/coffer-test")
from coffer_client import Client
value = "nspawn-" + secrets.token_hex(16)
policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue",'
          '"Resource":"arn:*:secretsmanager:*:*:secret:prod/myapp/*"}]}')
with Client("/run/coffer/coffer.sock", timeout=20) as api:  # root: the administrator
    api.create_secret("prod/myapp/db", secret_string=value)
    api.create_secret("prod/other", secret_string="not-for-myapp")
with Client("/run/coffer/admin.sock", timeout=20) as admin:
    for role in ["myapp.service", "coffer-test-client.service"]:
        admin.call("CreateRole", {"RoleName": role})
        admin.call("PutRolePolicy", {"RoleName": role, "PolicyName": "db", "PolicyDocument": policy})
open("/opt/coffer-results/expected.sha256", "w").write(hashlib.sha256(value.encode()).hexdigest() + "\n")
EOF

# The consumer: the shipped drop-in does the work; this unit only reports what it received.
cat >"$t/units/myapp.service" <<'EOF'
[Unit]
Description=Example consumer of a Coffer secret
Requires=coffer-test-setup.service
After=coffer-test-setup.service

[Service]
Type=oneshot
RemainAfterExit=yes
DynamicUser=yes
ReadWritePaths=/opt/coffer-results
ExecStart=/bin/sh -c 'sha256sum < "$$CREDENTIALS_DIRECTORY/db-password" | cut -d" " -f1 > /opt/coffer-results/myapp.sha256; stat -c "%%a %%U" "$$CREDENTIALS_DIRECTORY/db-password" > /opt/coffer-results/myapp.stat; echo "$$DB_PASSWORD_FILE" > /opt/coffer-results/myapp.env'
EOF

# Units without a role: one with the shipped drop-in (its ExecStartPre= guard must fail the start), one bare.
mkdir -p "$t/units/coffer-test-denied.service.d"
cp examples/myapp.service.d/coffer-secret.conf "$t/units/coffer-test-denied.service.d/"
cat >"$t/units/coffer-test-denied.service" <<'EOF'
[Unit]
Description=A unit without a Coffer role asks for a secret (with the example drop-in)
Requires=coffer-test-setup.service
After=coffer-test-setup.service

[Service]
Type=oneshot
DynamicUser=yes
ExecStart=/bin/true
EOF

cat >"$t/units/coffer-test-unguarded.service" <<'EOF'
[Unit]
Description=A unit without a Coffer role asks for a secret (no guard)
Requires=coffer-test-setup.service
After=coffer-test-setup.service coffer-credentials.socket

[Service]
Type=oneshot
RemainAfterExit=yes
DynamicUser=yes
ReadWritePaths=/opt/coffer-results
LoadCredential=db:/run/coffer/credentials.sock
ExecStart=/bin/sh -c 'stat -c %%s "$$CREDENTIALS_DIRECTORY/db" > /opt/coffer-results/unguarded.size'
EOF

cat >"$t/units/coffer-test-client.service" <<'EOF'
[Unit]
Description=A service reads its secret over the client socket as its unit role
Requires=coffer-test-setup.service
After=coffer-test-setup.service coffer.socket

[Service]
Type=oneshot
RemainAfterExit=yes
DynamicUser=yes
ReadWritePaths=/opt/coffer-results
ExecStart=/usr/bin/python3 /opt/coffer-test/client.py
EOF

cat >"$t/test/client.py" <<'EOF'
import hashlib, sys
sys.path.insert(0, "/opt/coffer-test")
from coffer_client import Client, CofferError
with Client("/run/coffer/coffer.sock", timeout=20) as api:
    value = api.get_secret_value("prod/myapp/db")["SecretString"]
    open("/opt/coffer-results/client.sha256", "w").write(hashlib.sha256(value.encode()).hexdigest() + "\n")
    try:
        api.get_secret_value("prod/other")
        outcome = "allowed"
    except CofferError as error:
        outcome = error.type
    open("/opt/coffer-results/client-other.txt", "w").write(outcome + "\n")
EOF

cat >"$t/units/coffer-test-report.service" <<'EOF'
[Unit]
Description=Coffer end-to-end test report
After=myapp.service coffer-test-denied.service coffer-test-unguarded.service coffer-test-client.service
Wants=myapp.service coffer-test-denied.service coffer-test-unguarded.service coffer-test-client.service

[Service]
Type=oneshot
ExecStart=/bin/bash /opt/coffer-test/report.sh
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=journal+console
StandardError=journal+console
EOF

cat >"$t/test/report.sh" <<'EOF'
out=/opt/coffer-results/report.txt
failed=0
# First the diagnostics, in case a check below hangs.
journal() {
    systemctl --no-pager status coffer.service coffer.socket myapp.service coffer-test-denied.service \
        coffer-test-unguarded.service coffer-test-client.service coffer-test-setup.service
    journalctl --no-pager -o short-monotonic -u coffer.service -u myapp.service -u coffer-test-denied.service \
        -u coffer-test-unguarded.service -u coffer-test-setup.service -u coffer-test-client.service
}
journal >/opt/coffer-results/journal.txt 2>&1
check() { if eval "$2"; then echo "ok   $1" >>$out; else echo "FAIL $1" >>$out; failed=1; fi; }
show() { systemctl show -P "$2" "$1"; }
expected=$(cat /opt/coffer-results/expected.sha256 2>/dev/null)
check "sysusers.d/coffer.conf: the coffer user exists ($(getent passwd coffer | cut -d: -f3,4,6))" 'getent passwd coffer >/dev/null'
check "coffer.service is active (notify: READY=1 received)" '[[ $(show coffer.service ActiveState) == active ]]'
check "coffer.service runs as coffer: $(ps -o user= -p "$(show coffer.service MainPID)")" '[[ $(ps -o user= -p "$(show coffer.service MainPID)") == coffer ]]'
check "StatusText=$(show coffer.service StatusText)" '[[ $(show coffer.service StatusText) == serving ]]'
check "WatchdogUSec=$(show coffer.service WatchdogUSec)" '[[ $(show coffer.service WatchdogUSec) == 30s ]]'
check "sockets: $(stat -c '%n %a %U' /run/coffer/*.sock | tr '\n' ' ')" '[[ $(stat -c %a /run/coffer/coffer.sock) == 666 && $(stat -c %a /run/coffer/admin.sock) == 600 && $(stat -c %a /run/coffer/credentials.sock) == 600 ]]'
check "/run/coffer is root's (the daemon cannot replace the sockets): $(stat -c '%a %U' /run/coffer)" '[[ $(stat -c %U /run/coffer) == root ]]'
check "/var/lib/coffer: $(stat -c '%a %U' /var/lib/coffer)" '[[ $(stat -c "%a %U" /var/lib/coffer) == "700 coffer" ]]'
check "myapp.service started (LoadCredential= served): $(show myapp.service ActiveState)" '[[ $(show myapp.service ActiveState) == active ]]'
check "myapp.service got the secret in \$CREDENTIALS_DIRECTORY/db-password" '[[ -n $expected && $(cat /opt/coffer-results/myapp.sha256) == "$expected" ]]'
check "the credential file: $(cat /opt/coffer-results/myapp.stat 2>/dev/null); DB_PASSWORD_FILE=$(cat /opt/coffer-results/myapp.env 2>/dev/null)" '[[ $(cat /opt/coffer-results/myapp.env) == /run/credentials/myapp.service/db-password ]]'
# (With the drop-in the first process is ExecStartPre=: 243 is the control process's status, in the journal.)
check "no role + the example drop-in: the start fails with 243/CREDENTIALS (Result=$(show coffer-test-denied.service Result))" '[[ $(show coffer-test-denied.service Result) == exit-code ]] && journalctl -u coffer-test-denied.service -o cat | grep -q "status=243/CREDENTIALS"'
unguarded="Result=$(show coffer-test-unguarded.service Result) ExecMainStatus=$(show coffer-test-unguarded.service ExecMainStatus) credential size=$(cat /opt/coffer-results/unguarded.size 2>/dev/null || echo none)"
check "no role, no guard: systemd fails the start with 243/CREDENTIALS: $unguarded" '[[ $(show coffer-test-unguarded.service ExecMainStatus) == 243 && ! -e /opt/coffer-results/unguarded.size ]]'
check "coffer-test-client.service read the secret as its role over the client socket" '[[ -n $expected && $(cat /opt/coffer-results/client.sha256 2>/dev/null) == "$expected" ]]'
check "... and was denied prod/other: $(cat /opt/coffer-results/client-other.txt 2>/dev/null)" '[[ $(cat /opt/coffer-results/client-other.txt) == AccessDeniedException ]]'
check "journal: the refusal is logged" 'journalctl -u coffer.service -o cat | grep -q "credentials: refused\|not served"'
audit=$(/usr/bin/python3 -c '
import sys; sys.path.insert(0, "/opt/coffer-test")
from coffer_client import Client
with Client("/run/coffer/admin.sock", timeout=10) as admin:
    records = admin.call("AuditQuery", {"Operation": "GetSecretValue", "Limit": 50}).get("Records", [])
print(sum("\"socket\":\"credentials\"" in r for r in records))')
check "audit: $audit GetSecretValue records from the credentials socket" '[[ $audit -ge 3 ]]'
pid=$(show coffer.service MainPID)
systemctl reload coffer.service
check "systemctl reload: same MainPID, active, $(journalctl -u coffer.service -o cat | grep -c 'SIGHUP: reloaded') reload(s) logged" '[[ $(show coffer.service MainPID) == "$pid" && $(show coffer.service ActiveState) == active ]] && journalctl -u coffer.service -o cat | grep -q "SIGHUP: reloaded"'
score=$(systemd-analyze security coffer.service 2>&1 | sed -n "s/^→ Overall exposure level for coffer.service: \([0-9.]*\).*/\1/p")
check "systemd-analyze security (online) coffer.service: $score" 'systemd-analyze security --threshold=5 coffer.service >/dev/null 2>&1'
systemctl stop coffer.service
check "systemctl stop: exited cleanly (Result=$(show coffer.service Result))" '[[ $(show coffer.service Result) == success ]]'
check "the sockets stay for the next activation" '[[ -S /run/coffer/coffer.sock && $(systemctl show -P ActiveState coffer.socket) == active ]]'
/usr/bin/python3 -c '
import sys; sys.path.insert(0, "/opt/coffer-test")
from coffer_client import Client
Client("/run/coffer/coffer.sock", timeout=10).hello()' && sleep 1
check "a connection starts it again (socket activation): $(show coffer.service ActiveState)" '[[ $(show coffer.service ActiveState) == active ]]'

# Phase 2: the master key as an encrypted credential (docs/SYSTEMD.md). systemd-creds creates the container's host
# key in /var/lib/systemd (a host directory: it refuses to keep the key on a tmpfs); no TPM2 here.
systemctl stop coffer.service
mkdir -p /etc/credstore.encrypted /run/systemd/system/coffer.service.d
systemd-creds encrypt --name=coffer.master-key /var/lib/coffer/master.key /etc/credstore.encrypted/coffer.master-key 2>&1 |
    grep -v "not located on encrypted media" >>$out
rm -f /var/lib/coffer/master.key
cp /opt/coffer-test/master-key.conf /run/systemd/system/coffer.service.d/
cp /etc/coffer/config-credential.json /etc/coffer/config.json
systemctl daemon-reload
systemctl start coffer.service
check "master key from LoadCredentialEncrypted=: coffer.service $(show coffer.service ActiveState), $(show coffer.service StatusText)" '[[ $(show coffer.service StatusText) == serving ]] && journalctl -u coffer.service -o cat | grep -q "key source systemd-credential"'
key="/run/credentials/coffer.service/coffer.master-key"
check "the decrypted key: $(stat -c "%n %a %U" $key 2>&1)" '[[ -f $key && ! -e /var/lib/coffer/master.key ]]'
same=$(/usr/bin/python3 -c '
import hashlib, sys; sys.path.insert(0, "/opt/coffer-test")
from coffer_client import Client
with Client("/run/coffer/coffer.sock", timeout=10) as api:
    print(hashlib.sha256(api.get_secret_value("prod/myapp/db")["SecretString"].encode()).hexdigest())')
check "the same vault opens: the secret reads back" '[[ -n $expected && $same == "$expected" ]]'
score=$(systemd-analyze security coffer.service 2>&1 | sed -n "s/^→ Overall exposure level for coffer.service: \([0-9.]*\).*/\1/p")
check "systemd-analyze security (online) with master-key.conf: $score" 'systemd-analyze security --threshold=5 coffer.service >/dev/null 2>&1'
journal >/opt/coffer-results/journal.txt 2>&1
echo "done failed=$failed" >>$out
EOF

# A cofferd linked against a toolchain's Swift runtime (RUNPATH /opt/swift/...; see docs/SYSTEMD.md, "static
# stdlib") needs those libraries in the container too, which otherwise sees only the host's /usr.
runtime=()
while read -r library; do
    dir=$(dirname "$library")
    case $dir in /usr/* | /lib/* | /lib64/* | /lib | /lib64) ;; *) runtime+=("--bind-ro=$dir") ;; esac
done < <(ldd "$cofferd" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | xargs -r -n1 dirname | sort -u)
[[ ${#runtime[@]} == 0 ]] || echo "nspawn-test: cofferd loads libraries from outside /usr: ${runtime[*]#--bind-ro=}"

echo "nspawn-test: booting systemd $(systemd-nspawn --version | head -1 | cut -d' ' -f2) in a volatile container"
status=0
timeout --kill-after=10 "${NSPAWN_TIMEOUT:-240}" systemd-nspawn -D / --volatile=yes --boot --register=no --keep-unit --private-network \
    --bind-ro="$t/units:/etc/systemd/system" --bind-ro="$t/bin:/usr/local/bin" \
    --bind="$t/etc-coffer:/etc/coffer" --bind-ro="$t/sysusers:/etc/sysusers.d" \
    --bind="$t/var-lib-systemd:/var/lib/systemd" \
    --bind-ro="$t/test:/opt/coffer-test" --bind="$t/results:/opt/coffer-results" ${runtime[@]+"${runtime[@]}"} \
    systemd.unit=coffer-test.target systemd.firstboot=off >"$t/console.log" 2>&1 || status=$?
if [[ ! -f $t/results/report.txt ]]; then
    echo "nspawn-test: no report (nspawn exited $status); console:"
    tail -60 "$t/console.log"
    exit 1
fi
cat "$t/results/report.txt"
if ! grep -q '^done failed=0$' "$t/results/report.txt"; then
    echo "--- inside the container:"
    cat "$t/results/journal.txt" 2>/dev/null || tail -60 "$t/console.log"
    exit 1
fi
