#!/usr/bin/env bash
# fuzz.sh — fuzz the HTTP request-head parser of examples/http_server.rs
# (corun/examples/shared/http_head.rs) with cargo-fuzz / libFuzzer.
#
# Usage:  scripts/fuzz.sh [seconds]          (default: 60)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Seeds come from the committed corpus fuzz/corpus/http_head (read only);
# inputs libFuzzer finds go to fuzz/target/corpus-work/http_head (not
# committed; delete it to start over). A crash leaves its input under
# fuzz/artifacts/http_head/ and makes this script exit non-zero; replay it
# with `cargo +nightly fuzz run http_head <file>`.
#
# The last line is the verdict: inputs run, seconds, and PASS or FAIL.

set -euo pipefail

secs="${1:-60}"
case "$secs" in
  ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [seconds]" >&2; exit 2 ;;
esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

work="fuzz/target/corpus-work/http_head"
mkdir -p "$work"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

set +e
cargo +nightly fuzz run http_head "$work" fuzz/corpus/http_head -- \
  -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1
status=$?
set -e
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^==|panicked|^Done' "$log" || true

runs="$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1 || true)"
if [[ "$status" -eq 0 && -n "$runs" ]]; then
  echo "fuzz http_head: ${runs} inputs in ${secs} s, no panic: PASS"
else
  echo "fuzz http_head: FAIL (exit ${status}; see fuzz/artifacts/http_head/)"
  exit 1
fi
