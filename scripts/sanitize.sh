#!/usr/bin/env bash
# sanitize.sh — run corun's tests under memory checkers.
#
#   1. AddressSanitizer (+ LeakSanitizer): the corun unit and integration
#      tests (`--lib` and every tests/*.rs but examples.rs,
#      example_attacks.rs and interop.rs, which only drive
#      the example programs as separate processes; no doctests) built by nightly rustc with
#      -Zsanitizer=address, in their own target dir (<target>/asan). If
#      LeakSanitizer cannot run here (it stops threads with ptrace, which some
#      sandboxes forbid), the run is repeated with detect_leaks=0 and the
#      summary says so. This build passes `--cfg corun_no_slab`, so every
#      task cell is its own malloc and ASan sees a use-after-free of one
#      (the slab would recycle the memory silently).
#   2. valgrind memcheck: the same test binaries built normally (stable, dev
#      profile, <target>/valgrind, task slab on), each run with --test-threads=1 under
#      `valgrind --error-exitcode=1 --leak-check=full
#      --errors-for-leak-kinds=definite --show-leak-kinds=definite`.
#   3. Miri (nightly; `rustup +nightly component add miri` installs it):
#      the unit tests of the pure parts, `cargo +nightly miri test -p corun
#      --lib -- task:: sync:: segvec:: scheduler::core::ready::pure_tests` — the task cell and its harness
#      (task/raw/testing.rs), the slab, the wakers and slim wakers, the
#      join protocol, every channel and sync primitive, the SegVec, and
#      the ready queue's relinking (on cells made by that harness) —
#      with the slab on (under Miri its chunks come from the global
#      allocator, see task/slab.rs). Miri checks every pointer step
#      against Stacked Borrows, uninitialised reads, data races and leaks.
#      No Miri flags are needed; MIRIFLAGS passes extra ones through (for
#      instance -Zmiri-tree-borrows). Ignored under Miri, each with its
#      reason in its `#[cfg_attr(miri, ignore = ...)]`: tests that run a
#      scheduler (its process-wide ticker thread outlives the test, which
#      Miri reports as an error) and tests that read /proc or mmap. The
#      warnings "integer-to-pointer cast" are expected at the places that
#      reach a cell's owner word, trailer or slab chunk from a `&Header`,
#      or a vtable from its 4-byte offset, through exposed provenance
#      (task/raw.rs, task/slab.rs, task/vtable_ref.rs); the summary lists
#      where they came from, so a new one stands out.
#   4. loom: the models of the task cell's cross-thread protocol
#      (corun/src/task/protocol/loom_tests.rs: completion vs a kill, vs the
#      join waker's registration, vs the handle's drop, vs a kill and a drop
#      at once; the reference count freed once; remote wakes never lost),
#      `RUSTFLAGS="--cfg loom" cargo test -p corun --release --lib loom_`
#      in <target>/loom. Loom runs each model in every interleaving the
#      memory orderings allow and fails on a lost wake, a double drop or an
#      unordered access to the stage, the join waker or a freed cell.
#      LOOM_MAX_PREEMPTIONS passes through (default: unbounded).
#
# Usage:  scripts/sanitize.sh [asan|valgrind|miri|loom|all]     (default: all)
#
# Environment:
#   SANITIZE_TARGET_DIR  base of the target dirs (default: <repo>/target)
#   SANITIZE_LOG_DIR     where the logs go (default: $SANITIZE_TARGET_DIR/sanitize-logs)
#   SANITIZE_LIB_ONLY    if 1, asan and valgrind check the unit tests only
#                        (`--lib`), not the integration tests
#   VALGRIND_SKIP        space-separated test name filters passed as --skip
#                        (default: tests too slow under valgrind, see below)
#   VALGRIND_TIMEOUT     seconds allowed per test binary (default: 900); a
#                        binary that hangs is reported as TIMEOUT
#   MIRI_FILTERS         test name filters for Miri (default: task:: sync:: segvec:: scheduler::core::ready::pure_tests)
#   MIRI_TIMEOUT         seconds allowed for the Miri run (default: 1800)
#   MIRIFLAGS            extra Miri flags (default: none)
#
# Time on a 2-core machine:
#   asan      about 2–4 min to build from scratch, then about 1 min of tests
#   valgrind  about 2–4 min to build, then 3–6 min of runs (20–50x slower
#             than native)
#   miri      1–4 min to build (more on a busy machine), then about 3 min
#             of tests (67 selected, 66 run): task:: 15 s, sync:: 1 min,
#             segvec:: 2 min. Miri is roughly 1000x slower than native;
#             the cross-thread loops run a fiftieth of their rounds under
#             it (see sync::test_util::rounds).
#   loom      2–4 min to build from scratch (stable, release, its own
#             target dir), then 2 s for the six models (17 s while the
#             machine was busy); 131 s in all from scratch.
# Incremental runs skip most of the build time.
#
# Exit status: 0 if every binary is clean under each tool run, 1 otherwise.
# The per-binary verdicts and the paths of the full logs are printed last.

set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

mode="${1:-all}"
case "$mode" in
asan | valgrind | miri | loom | all) ;;
*)
    echo "usage: $0 [asan|valgrind|miri|loom|all]" >&2
    exit 2
    ;;
esac

target_base="${SANITIZE_TARGET_DIR:-$repo/target}"
log_dir="${SANITIZE_LOG_DIR:-$target_base/sanitize-logs}"
mkdir -p "$log_dir"

# Tests that take minutes under valgrind (a million timers, etc.), and
# tests valgrind cannot run as written (a_missing_program_is_not_found:
# under valgrind, posix_spawn cannot report a failed exec, so the spawn
# "succeeds" with exit 127); they still run under ASan.
default_skip="a_million_timers a_missing_program_is_not_found"
read -r -a valgrind_skip <<<"${VALGRIND_SKIP-$default_skip}"
valgrind_timeout="${VALGRIND_TIMEOUT:-900}"

summary=()
failed=0

note() { printf '\n=== %s\n' "$*"; }

# The test targets checked: the unit tests and every tests/*.rs except
# examples.rs, example_attacks.rs and interop.rs, which only drive the
# example programs as separate (uninstrumented) processes.
test_targets=(--lib)
if [[ "${SANITIZE_LIB_ONLY:-0}" != 1 ]]; then
    for f in corun/tests/*.rs; do
        t="$(basename "$f" .rs)"
        [[ "$t" == examples || "$t" == example_attacks || "$t" == interop ]] && continue
        test_targets+=(--test "$t")
    done
fi

# --- 1. AddressSanitizer -----------------------------------------------------

# Runs the ASan test build with the given detect_leaks value, logging to $1.
asan_run() {
    local leaks="$1" log="$2"
    local symbolizer=""
    symbolizer="$(command -v llvm-symbolizer || true)"
    RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes --cfg corun_no_slab" \
        RUSTDOCFLAGS="-Zsanitizer=address" \
        CARGO_TARGET_DIR="$target_base/asan" \
        ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=0:halt_on_error=1:symbolize=1" \
        ASAN_SYMBOLIZER_PATH="$symbolizer" \
        cargo +nightly test -p corun --target x86_64-unknown-linux-gnu \
        "${test_targets[@]}" --no-fail-fast 2>&1 | tee "$log"
}

# Prints "<binary> <verdict>" for each test binary of an ASan log; the
# verdict is "clean" or "UNCLEAN(<reasons>)".
asan_verdicts() {
    awk '
        function flush() {
            if (bin != "") print bin, (why == "" ? "clean" : "UNCLEAN(" substr(why, 2) ")")
        }
        /^ *Running / { flush(); bin = $2; why = "" }
        /ERROR: AddressSanitizer/ { why = why ",asan-error" }
        /ERROR: LeakSanitizer/ { why = why ",leak" }
        /^test result: FAILED/ { why = why ",test-failed" }
        /process didn.t exit successfully/ { why = why ",abnormal-exit" }
        END { flush() }
    ' "$1"
}

if [[ "$mode" == asan || "$mode" == all ]]; then
    note "AddressSanitizer (detect_leaks=1)"
    start=$SECONDS
    log="$log_dir/asan.log"
    asan_rc=0
    asan_run 1 "$log" || asan_rc=$?
    leaks_note="LeakSanitizer on"
    if grep -Eq 'LeakSanitizer has encountered a fatal error|LeakSanitizer does not work under ptrace' "$log"; then
        leaks_note="LeakSanitizer could NOT run here (ptrace refused); rerun with detect_leaks=0"
        note "$leaks_note"
        log="$log_dir/asan-noleaks.log"
        asan_rc=0
        asan_run 0 "$log" || asan_rc=$?
    fi
    while read -r bin verdict; do
        summary+=("asan      $verdict  $bin")
    done < <(asan_verdicts "$log")
    if [[ $asan_rc -ne 0 ]] || grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)' "$log"; then
        failed=1
        summary+=("asan      exit status $asan_rc; findings (if any) in $log")
    fi
    summary+=("asan      $leaks_note; $((SECONDS - start)) s; log $log")
fi

# --- 2. valgrind memcheck ------------------------------------------------------

if [[ "$mode" == valgrind || "$mode" == all ]]; then
    if ! command -v valgrind >/dev/null; then
        echo "valgrind not found" >&2
        exit 1
    fi
    note "valgrind: building the test binaries"
    start=$SECONDS
    json="$log_dir/valgrind-build.json"
    CARGO_TARGET_DIR="$target_base/valgrind" \
        cargo test -p corun "${test_targets[@]}" --no-run --message-format=json >"$json"
    mapfile -t bins < <(grep -o '"executable":"[^"]*"' "$json" | cut -d'"' -f4 | sort -u)
    if [[ ${#bins[@]} -eq 0 ]]; then
        echo "no test binaries found in $json" >&2
        exit 1
    fi
    skip_args=()
    for s in "${valgrind_skip[@]}"; do
        skip_args+=(--skip "$s")
    done
    for bin in "${bins[@]}"; do
        name="$(basename "$bin")"
        vlog="$log_dir/valgrind-$name.log"
        tlog="$log_dir/valgrind-$name.out"
        note "valgrind: $name (skipping: ${valgrind_skip[*]:-nothing})"
        t0=$SECONDS
        rc=0
        CORUN_TEST_SLOWDOWN=30 timeout "$valgrind_timeout" valgrind --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --show-leak-kinds=definite \
            --suppressions="$repo/scripts/valgrind.supp" \
            --log-file="$vlog" "$bin" --test-threads=1 "${skip_args[@]}" >"$tlog" 2>&1 || rc=$?
        tail -n 3 "$tlog"
        grep -E 'ERROR SUMMARY|definitely lost' "$vlog" || true
        case $rc in
        0) verdict="clean" ;;
        1) verdict="UNCLEAN (memcheck errors, see $vlog)" ;;
        124) verdict="TIMEOUT after ${valgrind_timeout}s (see $tlog)" ;;
        *) verdict="UNCLEAN (tests failed, exit $rc, see $tlog)" ;;
        esac
        [[ $rc -eq 0 ]] || failed=1
        summary+=("valgrind  $verdict  $name ($((SECONDS - t0)) s)")
    done
    summary+=("valgrind  total $((SECONDS - start)) s; logs in $log_dir")
fi

# --- 3. Miri ---------------------------------------------------------------------

if [[ "$mode" == miri || "$mode" == all ]]; then
    if ! cargo +nightly miri --version >/dev/null 2>&1; then
        echo "Miri not found: rustup +nightly component add miri" >&2
        exit 1
    fi
    read -r -a miri_filters <<<"${MIRI_FILTERS:-task:: sync:: segvec:: scheduler::core::ready::pure_tests}"
    note "Miri: ${miri_filters[*]} (MIRIFLAGS=${MIRIFLAGS:-})"
    start=$SECONDS
    log="$log_dir/miri.log"
    rc=0
    CARGO_TARGET_DIR="$target_base" MIRIFLAGS="${MIRIFLAGS:-}" \
        timeout "${MIRI_TIMEOUT:-1800}" \
        cargo +nightly miri test -p corun --lib -- "${miri_filters[@]}" >"$log" 2>&1 || rc=$?
    grep -E '^test result|^error' "$log" || true
    result="$(grep -E '^test result' "$log" | tail -n 1)"
    why=""
    grep -q 'Undefined Behavior' "$log" && why="$why,undefined-behavior"
    grep -q 'memory leaked' "$log" && why="$why,leak"
    grep -q 'unsupported operation' "$log" && why="$why,unsupported-operation"
    grep -q 'main thread terminated without waiting' "$log" && why="$why,thread-left-running"
    grep -q '^test result: FAILED' "$log" && why="$why,test-failed"
    [[ $rc -eq 124 ]] && why="$why,timeout"
    [[ $rc -ne 0 && -z "$why" ]] && why=",exit-$rc"
    if [[ -z "$why" ]]; then
        verdict="clean"
    else
        verdict="UNCLEAN(${why#,})"
        failed=1
    fi
    summary+=("miri      $verdict  ${result:-no test result}")
    # Where the exposed-provenance casts happened (expected: task/raw.rs,
    # task/slab.rs and task/vtable_ref.rs; see the header).
    casts="$(grep -A1 'warning: integer-to-pointer cast' "$log" | grep -o '[a-z_/]*\.rs:[0-9]*' | sort -u | tr '\n' ' ')"
    summary+=("miri      integer-to-pointer casts at: ${casts:-none}")
    summary+=("miri      $((SECONDS - start)) s; log $log")
fi

# --- 4. loom -----------------------------------------------------------------

if [[ "$mode" == loom || "$mode" == all ]]; then
    note "loom: the task protocol's models (loom_)"
    start=$SECONDS
    log="$log_dir/loom.log"
    rc=0
    # Its own target dir: `--cfg loom` rebuilds every crate, and would
    # otherwise throw away the plain build's artifacts.
    RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target_base/loom" \
        cargo test -p corun --release --lib loom_ >"$log" 2>&1 || rc=$?
    grep -E '^test |^test result' "$log" || true
    result="$(grep -E '^test result' "$log" | tail -n 1)"
    if [[ $rc -eq 0 ]] && grep -q '^test result: ok' "$log"; then
        verdict="clean"
    else
        verdict="UNCLEAN(exit $rc, see $log)"
        failed=1
    fi
    summary+=("loom      $verdict  ${result:-no test result}")
    summary+=("loom      $((SECONDS - start)) s; log $log")
fi

note "summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
