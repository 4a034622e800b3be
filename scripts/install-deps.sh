#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs what a fresh Debian 12 machine lacks to build p11portal and run
# its whole test suite (dev and ASan+UBSan builds). Run as root. When every
# package is already installed it does nothing (no apt-get at all), so
# re-runs are fast.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git curl ca-certificates
    clang clang-format libclang-rt-14-dev
    libssl-dev openssl
    libsqlite3-dev sqlite3
    libp11-kit-dev p11-kit
    libcurl4-openssl-dev libcjson-dev libinih-dev libzip-dev
    softhsm2 opensc gnutls-bin libengine-pkcs11-openssl p11-kit-modules
    dpkg-dev man-db groff-base
    python3 python3-cryptography
    shellcheck
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or install them with sudo apt-get install)" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
