#!/usr/bin/env bash
# Static checks of the unit files (make check-systemd; no systemd PID 1, no network needed):
#   1. `systemd-analyze verify --man=no` prints nothing for every unit and example drop-in. verify exits 0 on unknown
#      keys and unparsable values (it only warns), so any output at all fails the check.
#   2. `systemd-analyze security --offline=true --threshold=5` passes for coffer.service (exposure <= 0.5), also with
#      the master-key drop-in.
#   3. sysusers.d/coffer.conf creates the coffer user in a scratch root without complaint.
#
# verify insists that ExecStart= binaries exist. `--root=DIR` does not help on systemd 252: it then also needs the
# whole unit tree (sysinit.target, ...) and /bin/kill inside DIR. So verify runs on a copy of the units whose
# /usr/local/bin/cofferd is replaced by the built binary (the only path that differs from a host without Coffer).
#
# usage: check-units.sh COFFERD
set -euo pipefail
cofferd=$(realpath -e "${1:?usage: check-units.sh PATH/TO/cofferd}")
cd "$(dirname "$0")/.."
[[ -x $cofferd ]] || { echo "check-units: $cofferd is not executable" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "check-units: systemd-analyze is missing (apt-get install systemd)" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=1; }

# Runs verify on the given unit files; passes only if it exits 0 and prints nothing.
verify() {
    local label=$1 out
    shift
    if out=$(systemd-analyze verify --man=no "$@" 2>&1) && [[ -z $out ]]; then
        echo "ok   verify: $label"
    else
        fail "verify: $label"
        printf '%s\n' "$out" | sed 's/^/     /'
    fi
}

# The units as shipped, with the built cofferd.
units=$scratch/units
mkdir -p "$units"
for unit in coffer.service coffer.socket coffer-admin.socket coffer-credentials.socket; do
    sed "s#/usr/local/bin/cofferd#$cofferd#g" "$unit" >"$units/$unit"
done
verify "coffer.service, coffer.socket, coffer-admin.socket, coffer-credentials.socket" \
    "$units/coffer.service" "$units/coffer.socket" "$units/coffer-admin.socket" "$units/coffer-credentials.socket"

# A deliberately broken copy must fail, or the check above proves nothing.
sed 's/^ProtectSystem=strict/ProtectSystem=strikt/' "$units/coffer.service" >"$scratch/broken.service"
if out=$(systemd-analyze verify --man=no "$scratch/broken.service" 2>&1) && [[ -z $out ]]; then
    fail "verify: a unit with ProtectSystem=strikt passed (the check cannot see warnings)"
else
    echo "ok   verify: a unit with ProtectSystem=strikt is caught"
fi

# coffer.service with the master-key drop-in.
with_key=$scratch/with-key
mkdir -p "$with_key/coffer.service.d"
cp "$units"/* "$with_key/"
cp examples/coffer.service.d/master-key.conf "$with_key/coffer.service.d/"
verify "coffer.service + examples/coffer.service.d/master-key.conf" "$with_key/coffer.service"

# The drop-in directory next to a unit given by path is read (LoadCredentialEncrypted= adds /dev/tpmrm0 to the
# device ACL), so the verify above did see master-key.conf.
if [[ $(systemd-analyze security --offline=true "$with_key/coffer.service" 2>&1) == *"/dev/tpmrm0:rw"* ]]; then
    echo "ok   the drop-in was read (LoadCredentialEncrypted= adds /dev/tpmrm0:rw to DeviceAllow=)"
else
    fail "systemd-analyze did not read coffer.service.d/master-key.conf"
fi

# A consumer with the LoadCredential= drop-in (myapp.service itself is a stand-in).
consumer=$scratch/consumer
mkdir -p "$consumer/myapp.service.d"
cp "$units"/*.socket "$units/coffer.service" "$consumer/"
printf '[Unit]\nDescription=Example consumer\n\n[Service]\nExecStart=/bin/true\n' >"$consumer/myapp.service"
cp examples/myapp.service.d/coffer-secret.conf "$consumer/myapp.service.d/"
verify "myapp.service + examples/myapp.service.d/coffer-secret.conf" "$consumer/myapp.service"

# Exposure: the gate is 5 on analyze's 0-100 scale, which it prints as 0.5.
score() {
    systemd-analyze security --offline=true "$1" 2>&1 | sed -n 's/^→ Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
for unit in coffer.service:"$units/coffer.service" "coffer.service + master-key.conf":"$with_key/coffer.service"; do
    label=${unit%%:*}
    path=${unit#*:}
    if systemd-analyze security --offline=true --threshold=5 "$path" >/dev/null 2>&1; then
        echo "ok   security: $label exposure $(score "$path") (threshold 0.5)"
    else
        fail "security: $label exposure $(score "$path") is above 0.5"
        systemd-analyze security --offline=true "$path" 2>&1 | grep '^✗' | sed 's/^/     /'
    fi
done

# sysusers.d: creates the user in a scratch root, silently.
root=$scratch/root
mkdir -p "$root/etc"
if out=$(systemd-sysusers --root="$root" - <sysusers.d/coffer.conf 2>&1) && grep -q '^coffer:x:[0-9]*:[0-9]*:Coffer secrets vault:/var/lib/coffer:' "$root/etc/passwd" && grep -q '^coffer:' "$root/etc/group"; then
    echo "ok   sysusers.d/coffer.conf creates the coffer user and group ($(grep '^coffer:' "$root/etc/passwd" | cut -d: -f3,4))"
    [[ -z $out ]] || printf '%s\n' "$out" | sed 's/^/     /'
else
    fail "sysusers.d/coffer.conf"
    printf '%s\n' "$out" | sed 's/^/     /'
fi

# The configuration samples are valid JSON (the sandbox check also starts cofferd with each).
for json in config.json examples/config.json; do
    if python3 -m json.tool "$json" >/dev/null; then echo "ok   $json is JSON"; else fail "$json is not JSON"; fi
done

exit $failed
