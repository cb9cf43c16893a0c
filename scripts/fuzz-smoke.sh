#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/fuzz_targets for N seconds each (default 15).
#
#   scripts/fuzz-smoke.sh [SECONDS]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain
# (`rustup toolchain install nightly`): libFuzzer's sanitizer flags are nightly-only. If no
# nightly is installed, stable is used with RUSTC_BOOTSTRAP=1 and no sanitizer (`-s none`).
# Exits non-zero on the first target that crashes; crash inputs land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-15}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    run=(cargo +nightly fuzz run -O)
else
    echo "no nightly toolchain: stable with RUSTC_BOOTSTRAP=1, no sanitizer" >&2
    export RUSTC_BOOTSTRAP=1
    run=(cargo fuzz run -O -s none)
fi

for target in fuzz_targets/*.rs; do
    name="$(basename "$target" .rs)"
    echo "== fuzz $name for ${secs}s"
    mkdir -p "corpus/$name"
    log="$(mktemp)"
    status=0
    "${run[@]}" "$name" "corpus/$name" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '(DONE|stat::number_of_executed_units|^==[0-9]+==|SUMMARY|panicked)' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        echo "fuzz target $name failed (status $status; inputs in fuzz/artifacts/$name)" >&2
        exit 1
    fi
    rm -f "$log"
done
echo "fuzz smoke: all targets ran ${secs}s without a crash"
