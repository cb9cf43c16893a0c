#!/usr/bin/env bash
# The README's test command: installs what is missing, then checks formatting, lints,
# and runs every test (tests that need hardware this machine lacks report themselves skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
command -v cargo >/dev/null 2>&1 || export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/punktfunk/target}"
export CARGO_TERM_COLOR=never
ulimit -l unlimited 2>/dev/null || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== fuzz targets build (run them with scripts/fuzz-smoke.sh)"
cargo check --manifest-path fuzz/Cargo.toml --bins --locked
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast -- --test-threads=2 2>&1 | tee "${TEST_LOG:-/tmp/punktfunk-test.log}"
