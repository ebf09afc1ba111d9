#!/usr/bin/env bash
# Installs what a fresh machine lacks: Debian packages (from every apt-packages.txt
# of the project) and the Python venv. Idempotent and quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(cat hack/apt-packages.txt images/apt-packages.txt \
    src/virtkube/launcher/apt-packages.txt src/virtkube/local/node/apt-packages.txt \
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
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
