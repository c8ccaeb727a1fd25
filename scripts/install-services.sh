#!/usr/bin/env bash
# Install the system services the tests use, if missing. Synapse comes from PyPI with the
# `lab` extra; the Slack, Discord and Telegram lab servers are ours (bridgebot/lab).
# Each network that needs a system package adds it to `need` here.
set -euo pipefail
need=()
# Dovecot (IMAP + LMTP) for the email tests and the demo's list server
command -v dovecot >/dev/null 2>&1 || need+=(dovecot-imapd dovecot-lmtpd)
# Chromium for the browser tests of the demo and admin pages (Playwright drives it)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-services: need root to apt-get install ${need[*]}; run: sudo $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Packaged services must not start on install: the tests start their own instances.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
