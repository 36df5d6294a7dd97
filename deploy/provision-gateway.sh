#!/usr/bin/env bash
# On the broker host: give one gateway its own MQTT account and ACL block, reload Mosquitto,
# and print the gateway's edge.env (which holds its password: copy it over a secure channel).
#
# usage: provision-gateway.sh STORE GATEWAY [BROKER_HOST]   create, or rotate the password
#        provision-gateway.sh --cert STORE GATEWAY          ACL block only (a paired gateway)
#        provision-gateway.sh --remove STORE GATEWAY        decommission
#
# The account is "<store>/<gateway>" (a password on the 8884 listener, or, paired, the CN of
# the certificate the hub's CA signed, on 8883: no password then); its ACL block lets it
# publish and subscribe only under storegw/v1/<store>/<gateway>/… and read its own store's
# config (see deploy/README.md).
# Environment: STOREGW_MOSQUITTO_DIR (default /etc/mosquitto: storegw.passwd, storegw.acl),
# STOREGW_BROKER_RELOAD (default: systemctl reload mosquitto), STOREGW_CA_PATH (the CA
# certificate's path on the gateway, default /etc/storegw/ca.crt).
set -euo pipefail

remove=false cert=false
if [[ ${1:-} == --remove ]]; then
    remove=true
    shift
elif [[ ${1:-} == --cert ]]; then
    cert=true
    shift
fi
if [[ $# -lt 2 ]]; then
    sed -n '5,7s/^# *//p' "$0" >&2
    exit 2
fi
store=$1 gateway=$2 host=${3:-$(hostname -f)}

# the same rule as protocols/topics.py: never an MQTT wildcard, separator or space
id_re='^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
for id in "$store" "$gateway"; do
    if [[ ! $id =~ $id_re ]]; then
        echo "invalid id '$id': 1-64 of A-Z a-z 0-9 _ . - (starting alnum)" >&2
        exit 2
    fi
done
if [[ $store == hub ]]; then
    echo "'hub' is reserved (storegw/v1/hub/status is the hub's)" >&2
    exit 2
fi

dir=${STOREGW_MOSQUITTO_DIR:-/etc/mosquitto}
passwd=$dir/storegw.passwd acl=$dir/storegw.acl
user="${store}/${gateway}"
begin="# >>> gateway ${user}" end="# <<< gateway ${user}"

# drop this gateway's block (if any), then append the new one: re-running never duplicates it
tmp=$(mktemp "${acl}.XXXXXX")
awk -v b="$begin" -v e="$end" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' "$acl" >"$tmp"
if ! $remove; then
    t="storegw/v1/${store}/${gateway}"
    cat >>"$tmp" <<ACL
${begin}
user ${user}
topic write ${t}/events
topic write ${t}/status
topic write ${t}/snapshots
topic write ${t}/rpc/request
topic read ${t}/acks
topic read ${t}/rpc/reply
topic read storegw/v1/${store}/config/+
topic read storegw/v1/${store}/notices/+
topic read storegw/v1/hub/status
${end}
ACL
fi
chmod --reference="$acl" "$tmp" 2>/dev/null || true
chown --reference="$acl" "$tmp" 2>/dev/null || true
mv "$tmp" "$acl"

if $remove || $cert; then
    # decommissioned, or paired: a certificate replaces the password
    mosquitto_passwd -D "$passwd" "$user" 2>/dev/null || true
else
    [[ -e $passwd ]] || install -m 640 /dev/null "$passwd"
    pass=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    mosquitto_passwd -b "$passwd" "$user" "$pass"
fi

# Mosquitto re-reads the password file and the ACL on SIGHUP; connected clients keep their
# session, a removed account cannot connect again.
if ! ${STOREGW_BROKER_RELOAD:-systemctl reload mosquitto}; then
    echo "reload Mosquitto yourself (SIGHUP) for the change to take effect" >&2
fi

if ! $remove && ! $cert; then
    cat <<ENV
STOREGW_STORE=${store}
STOREGW_GATEWAY=${gateway}
STOREGW_MQTT_URL=mqtts://${host}:8884
STOREGW_MQTT_CA_FILE=${STOREGW_CA_PATH:-/etc/storegw/ca.crt}
STOREGW_MQTT_USERNAME=${user}
STOREGW_MQTT_PASSWORD=${pass}
ENV
fi
