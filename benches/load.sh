#!/usr/bin/env bash
# Builds the release binaries and runs the load comparison (see benches/load.py).
# Needs oha: cargo install oha --locked
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin portcullis --example bench-upstream --example bench-rmcp-upstream --example floor-proxy
exec python3 benches/load.py "$@"
