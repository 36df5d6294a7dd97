#!/usr/bin/env bash
# On the broker host: create a gateway's MQTT credentials and print its edge.env.
# usage: provision-gateway.sh STORE GATEWAY [HUB_HOST]
set -euo pipefail
store=$1 gateway=$2 host=${3:-$(hostname -f)}
user="${store}/${gateway}"
pass=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
mosquitto_passwd -b /etc/mosquitto/storegw.passwd "$user" "$pass"
systemctl reload mosquitto 2>/dev/null || pkill -HUP -x mosquitto || true
cat <<ENV
STOREGW_STORE=${store}
STOREGW_GATEWAY=${gateway}
STOREGW_MQTT_URL=mqtts://$(printf %s "$user" | sed 's,/,%2F,g')@${host}:8883?ca=/etc/storegw/ca.crt
STOREGW_MQTT_PASSWORD=${pass}
ENV
