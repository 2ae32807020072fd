#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against when they are missing:
# BIND 9 (RFC 2136), Prometheus' promtool, Chromium (dashboard). moto_server is preinstalled
# on mcml's machines (pip: "moto[server]"). Tests start and stop the servers themselves.
set -euo pipefail
need=()
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need+=(bind9)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Another apt/dpkg run (unattended upgrades, a parallel install) may hold the locks: wait
    # for it rather than fail (up to 10 minutes each).
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test-deps: missing ${need[*]}: run as root: apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "test-deps: moto_server is missing: pip install 'moto[server]'" >&2
  exit 1
fi
