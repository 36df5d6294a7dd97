#!/usr/bin/env bash
# Turn a fresh Raspberry Pi OS (or Debian) machine into a store gateway, as root:
#   the `storegw` system user, its directories with their modes, the package from a wheel in
#   /opt/storegw, udev rules giving the profiled USB devices stable names and the service's
#   group (/dev/storegw-scale, -scanner, -printer), and storegw-edge.service enabled.
#
# usage: sudo deploy/provision-pi.sh WHEEL [EDGE_ENV]
#   WHEEL     dist/storegw-*.whl (built from a checkout: python3 -m pip wheel --no-deps -w dist .)
#   EDGE_ENV  the gateway's edge.env as deploy/provision-gateway.sh printed it on the broker
#             host (store, gateway, broker account); without it the service is enabled but
#             not started until /etc/storegw/edge.env is in place.
# Idempotent: run it again to upgrade the package or regenerate the rules. ROOT_PREFIX (for a
# dry run into a directory) prefixes every path written; SYSTEMCTL and UDEVADM may be set to
# `true` where there is no systemd or udev to tell.
set -euo pipefail

if [[ $# -lt 1 || ! -f $1 ]]; then
    sed -n '7,11s/^# *//p' "$0" >&2
    exit 2
fi
wheel=$(realpath "$1")
edge_env=${2:-}
here=$(dirname "$(realpath "$0")")
root=${ROOT_PREFIX:-}
systemctl=${SYSTEMCTL:-systemctl}
udevadm=${UDEVADM:-udevadm}
user=storegw

if [[ -z $root && $(id -u) != 0 ]]; then
    echo "run as root (sudo)" >&2
    exit 1
fi

# --- packages: venv for the package, gcc and headers for evdev (built from source on ARM) ---
if [[ -z $root ]] && command -v apt-get >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq python3-venv python3-dev gcc fonts-wqy-microhei >/dev/null
fi

# --- the user: a system account without a shell; the device groups for unprofiled devices ---
if [[ -z $root ]] && ! id "$user" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/storegw --no-create-home \
        --shell /usr/sbin/nologin --groups dialout,plugdev,input "$user"
fi
# who owns what (under ROOT_PREFIX, the one running the dry run)
admin=root service=$user group=$user
if [[ -n $root ]]; then
    admin=$(id -un) service=$(id -un) group=$(id -gn)
fi

# --- directories: config readable by the service only, data its own ---
install -d -m 0755 "$root/opt/storegw" "$root/usr/local/bin" "$root/etc/systemd/system" \
    "$root/etc/udev/rules.d"
install -d -m 0750 -o "$admin" -g "$group" "$root/etc/storegw"
install -d -m 0750 -o "$service" -g "$group" "$root/var/lib/storegw"
if [[ -n $edge_env ]]; then
    # it holds the broker password: root writes it, the service reads it
    install -m 0640 -o "$admin" -g "$group" "$edge_env" "$root/etc/storegw/edge.env"
fi

# --- the package: its own venv, the gateway's extra only ---
if [[ ! -x $root/opt/storegw/bin/python ]]; then
    python3 -m venv "$root/opt/storegw"
fi
"$root/opt/storegw/bin/pip" install -q --disable-pip-version-check "${wheel}[edge]"
# the gateway runs under -OO (storegw/cli.py) and cannot write /opt (ProtectSystem=strict): its
# .opt-2.pyc files are compiled here, else every start compiles every module from source again
"$root/opt/storegw/bin/python" -OO -m compileall -q -j 0 "$root/opt/storegw/lib" >/dev/null
ln -sf /opt/storegw/bin/storegw "$root/usr/local/bin/storegw"

# --- udev: generated from the installed profiles, so names follow the profiles ---
rules=$root/etc/udev/rules.d/70-storegw.rules
"$root/opt/storegw/bin/storegw" udev-rules --group "$user" >"$rules.tmp"
mv "$rules.tmp" "$rules"
chmod 0644 "$rules"
$udevadm control --reload-rules
$udevadm trigger --action=add --subsystem-match=tty --subsystem-match=input \
    --subsystem-match=hidraw --subsystem-match=usb

# --- the service: Type=notify with a watchdog (deploy/systemd/storegw-edge.service) ---
install -m 0644 "$here/systemd/storegw-edge.service" "$root/etc/systemd/system/"
$systemctl daemon-reload
if [[ -f $root/etc/storegw/edge.env ]]; then
    $systemctl enable --now storegw-edge.service
    echo "storegw-edge running: curl http://127.0.0.1:8080/health"
else
    $systemctl enable storegw-edge.service
    echo "put the gateway's edge.env at /etc/storegw/edge.env, then: systemctl start storegw-edge"
fi
