#!/usr/bin/env bash
# Installs what the audit integration tests use: rsyslog (with its OpenSSL
# driver, for the TLS test), openssl, e2fsprogs (chattr), and a Python venv
# with jsonschema and the official OpenTelemetry protobuf classes, in
# ${PORTCULLIS_PEERS:-.peers}/audit-venv (reinstalled when
# tests/audit_requirements.txt changes). Run from anywhere; apt needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
peers=${PORTCULLIS_PEERS:-$root/.peers}
mkdir -p "$peers"
if ! command -v rsyslogd >/dev/null || ! command -v openssl >/dev/null || ! command -v chattr >/dev/null \
  || [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so ]; then
  echo "audit_setup: apt packages (rsyslog, rsyslog-openssl, openssl, e2fsprogs)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-openssl openssl e2fsprogs >/dev/null
fi
want=$(sha256sum "$root/tests/audit_requirements.txt" | cut -c1-16)
if [ "$(cat "$peers/audit-venv/.stamp" 2>/dev/null)" != "$want" ]; then
  echo "audit_setup: Python virtualenv ($peers/audit-venv)"
  rm -rf "$peers/audit-venv"
  python3 -m venv "$peers/audit-venv"
  "$peers/audit-venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/audit_requirements.txt"
  echo "$want" > "$peers/audit-venv/.stamp"
fi
echo "audit_setup: ready"
