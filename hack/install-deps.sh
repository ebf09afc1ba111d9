#!/usr/bin/env bash
# Installs what a fresh machine lacks: Debian packages (from every apt-packages.txt
# of the project) and the Python venv. Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(cat hack/apt-packages.txt images/apt-packages.txt \
    src/virtkube/launcher/apt-packages.txt src/virtkube/local/net/apt-packages.txt \
    src/virtkube/local/realnode/apt-packages.txt src/virtkube/handler/network/apt-packages.txt \
    2>/dev/null | sed 's/#.*//' | awk 'NF' | sort -u)
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # No package starts a service of its own (docker-registry's would listen on :5000 of
    # every interface): the cluster runs its own instances under its home. policy-rc.d is
    # Debian's switch for that; one the machine already has is left as it is.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Nor at boot: docker-registry's init script and systemd unit are enabled by its postinst.
# Disabled once (the S links become K links), and stopped if an earlier install started it.
if compgen -G "/etc/rc[2345].d/S*docker-registry" >/dev/null \
        || [[ -e /etc/systemd/system/multi-user.target.wants/docker-registry.service ]]; then
    update-rc.d docker-registry disable >/dev/null 2>&1 || true
    deb-systemd-helper disable docker-registry.service >/dev/null 2>&1 || true
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
fi

PY=${PYTHON311:-python3.11}
if [[ ! -x .venv/bin/python ]]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -e $stamp ]]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    rm -f .venv/.installed-* && touch "$stamp"
fi
