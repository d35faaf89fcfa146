#!/usr/bin/env bash
# Runs the whole suite: C tests, then every Deno test (unit, API, namespace
# tests under tests/root). Ends with a summary of the kernel capabilities
# this machine lacks and the tests skipped for them, then one line
# "N passed, N failed".
#
#   bash tests/run_all.sh                 # everything
#   bash tests/run_all.sh tests/config/   # some test files only (no C tests)
#
# MCR_KERNEL_LACKS=ip_mroute,vlan makes the tests behave as on a kernel
# without those options (src/tools/kernel_probe.ts).
set -uo pipefail
cd "$(dirname "$0")/.."
DENO=${DENO:-tools/deno/node_modules/@deno/linux-x64-glibc/deno}
export DENO_DIR=${DENO_DIR:-$PWD/.deno}
RUN_FLAGS="--allow-ffi --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys"
log=$(mktemp)
caps=$(mktemp)
trap 'rm -f "$log" "$caps"' EXIT

passed=0 failed=0

# C tests: c/test/run.sh prints "c-tests: N passed, M failed".
if [ $# -eq 0 ] && [ -f c/test/run.sh ]; then
  bash c/test/run.sh 2>&1 | tee -a "$log"
  line=$(grep -E '^c-tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$line" ]; then
    passed=$((passed + $(sed -E 's/^c-tests: ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
  else
    failed=$((failed + 1))
  fi
fi

# What the kernel can do, probed once for the whole run (every test module reads it).
"$DENO" run --allow-all src/tools/kernel_probe.ts >"$caps" 2>/dev/null || : >"$caps"
export MCR_KERNEL_CAPS="$caps"

: >"$log"
# Test files run one at a time (deno test is sequential without --parallel), so
# two namespace topologies never compete for the 2 CPUs.
"$DENO" test $RUN_FLAGS "${@:-tests/}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
if [ -n "$summary" ]; then
  passed=$((passed + $(sed -E 's/^[A-Z a-z]+\| ([0-9]+) passed.*/\1/' <<<"$summary")))
  failed=$((failed + $(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")))
elif [ "$rc" -ne 0 ]; then
  failed=$((failed + 1))
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

echo
"$DENO" run --allow-read --allow-env tests/helpers/run_summary.ts "$caps" "$log" ||
  echo "capability summary could not be made"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
