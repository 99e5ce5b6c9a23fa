#!/usr/bin/env bash
# Installs what the audit integration tests use: rsyslog (with its OpenSSL
# driver for the TLS test), openssl, and a Python venv with jsonschema and the
# official OpenTelemetry protobuf classes. Run from the repository root.
set -euo pipefail
if ! command -v rsyslogd >/dev/null || ! command -v openssl >/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-openssl openssl >/dev/null
fi
if [ ! -x .venv-audit/bin/python ]; then
  python3 -m venv .venv-audit
fi
.venv-audit/bin/pip install -q jsonschema opentelemetry-proto
