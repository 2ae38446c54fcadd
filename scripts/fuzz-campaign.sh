#!/usr/bin/env bash
# Runs the fuzz test over calls [FIRST, FIRST + CALLS) and keeps going after a crash: each crash
# (sanitizer report, signal, watchdog) is logged with its call index and the run resumes at the
# next call. Prints every crash and the test's own failure report at the end.
#
#   scripts/fuzz-campaign.sh BINARY [CALLS] [SEED] [FIRST]
#   e.g. scripts/fuzz-campaign.sh build-sanitize/tests/xgrad_tests 20000
# Logs go to $FUZZ_LOG_DIR (default /tmp/xgrad-fuzz-<seed>).
set -uo pipefail

binary=${1:?usage: $0 BINARY [CALLS] [SEED] [FIRST]}
calls=${2:-20000}
seed=${3:-1}
first=${4:-0}
last=$((first + calls))
logs=${FUZZ_LOG_DIR:-/tmp/xgrad-fuzz-$seed}
mkdir -p "$logs"
: >"$logs/crashes.txt"
: >"$logs/failures.txt"

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run=0
while [ "$first" -lt "$last" ]; do
  run=$((run + 1))
  log="$logs/run-$run.log"
  XGRAD_FUZZ_SEED=$seed XGRAD_FUZZ_FIRST=$first XGRAD_FUZZ_CALLS=$((last - first)) \
    "$binary" -tc='fuzz: every*' >"$log" 2>&1
  status=$?
  # Failures are printed as they happen (a crash ends a run before its summary).
  grep -A1 '^fuzz failure: ' "$log" | grep -v '^--$' >>"$logs/failures.txt"
  crashed=$(grep -oE '\*\*\* .* (in )?fuzz call [0-9]+' "$log" | head -1 | grep -oE 'fuzz call [0-9]+' | grep -oE '[0-9]+$')
  if [ -z "$crashed" ]; then
    [ "$status" -ne 0 ] && ! grep -q 'failing calls of' "$log" && echo "run $run ended with status $status without naming a call: $log"
    break
  fi
  {
    grep -m1 -E '^\*\*\* ' "$log"
    grep -m1 -E '^(SUMMARY|.*runtime error|.*ERROR: AddressSanitizer)' "$log"
    grep -m1 -E '^    #[0-9]+ .* in xgrad::' "$log" || true
    echo
  } >>"$logs/crashes.txt"
  echo "crash at call $crashed (run $run, $log)"
  first=$((crashed + 1))
done

echo "==== crashes ($(grep -c '^\*\*\*' "$logs/crashes.txt"))"
cat "$logs/crashes.txt"
echo "==== failures reported by the test ($(grep -c '^fuzz failure' "$logs/failures.txt"))"
cat "$logs/failures.txt"
