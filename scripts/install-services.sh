#!/usr/bin/env bash
# Install the system services the tests use, if missing. Synapse comes from PyPI with the
# `lab` extra; the Slack, Discord and Telegram lab servers are ours (bridgebot/lab).
# Each network that needs a system package adds it to `need` here.
set -euo pipefail
need=()
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-services: need root to apt-get install ${need[*]}; run: sudo $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
