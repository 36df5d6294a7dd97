#!/usr/bin/env bash
# The hub's pairing hook (storegw hub --pairing-hook / STOREGW_PAIRING_HOOK), on the broker
# host: keeps Mosquitto in step with the hub's CA.
#
# usage: broker-hook.sh paired STORE GATEWAY           the gateway's ACL block (no password)
#        broker-hook.sh decommissioned STORE GATEWAY   the CRL installed, the ACL block removed
#
# Environment: STOREGW_CRL (set by the hub: its <data dir>/pairing/crl.pem), STOREGW_MOSQUITTO_DIR
# (default /etc/mosquitto; the CRL goes to certs/storegw.crl there), STOREGW_BROKER_RELOAD
# (default: systemctl reload mosquitto, i.e. SIGHUP: Mosquitto 2.0.11 re-reads the ACL and
# the listeners' CRL), STOREGW_BROKER_ADMIN_PORT (default 1883, the local listener) and
# STOREGW_BROKER_ADMIN_PASSWORD_FILE (default $STOREGW_MOSQUITTO_DIR/storegw-admin.password):
# the dynamic-security plugin's administrator, which disconnects the gateway's live session.
# No restart: the other gateways keep their connections.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
event=${1:-} store=${2:-} gateway=${3:-}
dir=${STOREGW_MOSQUITTO_DIR:-/etc/mosquitto}

case $event in
paired)
    bash "$here/provision-gateway.sh" --cert "$store" "$gateway"
    ;;
decommissioned)
    crl=$dir/certs/storegw.crl
    tmp=$(mktemp "${crl}.XXXXXX")
    cat "${STOREGW_CRL:?the hub sets STOREGW_CRL}" >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$crl"
    # the reload in --remove makes the broker re-read the ACL and the CRL: from now on the
    # certificate's handshake fails
    bash "$here/provision-gateway.sh" --remove "$store" "$gateway"
    # a reload keeps live sessions: creating a dynamic-security client of the gateway's name
    # disconnects every connection with that username ("disconnected by administrative
    # action"); deleting it leaves no account behind (its random password is never kept)
    admin=(-h 127.0.0.1 -p "${STOREGW_BROKER_ADMIN_PORT:-1883}" -u storegw-admin
        -P "$(cat "${STOREGW_BROKER_ADMIN_PASSWORD_FILE:-$dir/storegw-admin.password}")")
    mosquitto_ctrl "${admin[@]}" dynsec createClient "$store/$gateway" \
        -p "$(head -c 24 /dev/urandom | base64)" 2>/dev/null || true # left by a failed run
    mosquitto_ctrl "${admin[@]}" dynsec deleteClient "$store/$gateway" 2>/dev/null
    ;;
*)
    sed -n '5,6s/^# *//p' "$0" >&2
    exit 2
    ;;
esac
