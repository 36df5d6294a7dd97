#!/usr/bin/env bash
# The hub's pairing hook (storegw hub --pairing-hook / STOREGW_PAIRING_HOOK), on the broker
# host: keeps Mosquitto in step with the hub's CA.
#
# usage: broker-hook.sh paired STORE GATEWAY           the gateway's ACL block (no password)
#        broker-hook.sh decommissioned STORE GATEWAY   the CRL installed, the ACL block removed
#
# Environment: STOREGW_CRL (set by the hub: its <data dir>/pairing/crl.pem), STOREGW_MOSQUITTO_DIR
# (default /etc/mosquitto; the CRL goes to certs/storegw.crl there), STOREGW_BROKER_RESTART
# (default: systemctl restart mosquitto; Mosquitto reads its crlfile when it starts, so a
# decommissioning restarts it: connected gateways reconnect within seconds, nothing is lost).
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
    bash "$here/provision-gateway.sh" --remove "$store" "$gateway"
    ${STOREGW_BROKER_RESTART:-systemctl restart mosquitto}
    ;;
*)
    sed -n '5,6s/^# *//p' "$0" >&2
    exit 2
    ;;
esac
