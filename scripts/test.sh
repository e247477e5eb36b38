#!/usr/bin/env bash
# The whole test suite: `npm test`.
#
# Integration tests use real servers from Debian's packages: Prometheus and promtool
# (`prometheus`), Alertmanager and amtool (`prometheus-alertmanager`) and PostgreSQL
# (`postgresql`). When one is missing and we may install (root, or passwordless sudo), this
# script installs it with apt-get; otherwise it says what to install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  echo "npm test: installing Debian packages the integration tests use: ${need[*]}"
  if [[ $(id -u) -eq 0 ]]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "npm test: cannot install ${need[*]} (not root, no passwordless sudo). Install them and run again." >&2
    exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The packages start system services we do not use; tests start their own instances.
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter postgresql; do
    $sudo systemctl stop "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# Integration tests run the built preload (`node --require ./dist/tracing.js`).
npx tsc -p tsconfig.build.json
npx vitest run "$@"
