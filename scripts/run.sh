#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and runs punktfunk-host on its
# embedded default: a synthetic video source (moving test pattern, x264-encoded for Moonlight;
# the punktfunk/1 synthetic test stream for native clients), serving both protocols.
# Extra arguments go to punktfunk-host (e.g. --xdp eth0, --no-gamestream, --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/punktfunk/target}"
ulimit -l unlimited 2>/dev/null || true
cargo build --release --locked -p punktfunk-host -p punktfunk-client
echo
echo "punktfunk-host starting (Ctrl-C stops it). Pair a client:"
echo "  Moonlight:  add this machine, start pairing, then run: $CARGO_TARGET_DIR/release/punktfunk-host pin <PIN>"
echo "  native:     $CARGO_TARGET_DIR/release/punktfunk-client pair --pin <PIN printed below>"
echo
exec "$CARGO_TARGET_DIR/release/punktfunk-host" --source synthetic "$@"
