#!/usr/bin/env bash
# What the distributed demo needs beyond scripts/setup.sh, idempotently: Debian's redis-server (the Celery broker)
# and postgresql (the metadata DB). The demo runs its own instances on free ports and stops them by PID, so the
# packages' system services are not started here (a policy-rc.d denies it during the install) and are stopped if
# something else started them.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server redis-tools)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing Debian's ${missing[*]}"
    policy=/usr/sbin/policy-rc.d
    placed=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
        as_root chmod 755 "$policy"
        placed=1
    fi
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { [ "$placed" -eq 1 ] && as_root rm -f "$policy"; exit 1; }
    [ "$placed" -eq 1 ] && as_root rm -f "$policy"
fi
command -v runuser >/dev/null 2>&1 || { echo "runuser (util-linux) is needed to run PostgreSQL as postgres" >&2; exit 1; }
# Services a package may have started (a machine with systemd): the demo uses private instances instead.
if command -v systemctl >/dev/null 2>&1; then
    for service in redis-server postgresql; do
        if systemctl is-active --quiet "$service" 2>/dev/null; then as_root systemctl stop "$service" || true; fi
    done
fi
