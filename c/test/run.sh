#!/usr/bin/env bash
# Builds and runs each C test against build/libmcr.so (exit 0 pass, 1 fail,
# 77 skip), each under a timeout. Ends with "c-tests: N passed, M failed".
set -u
cd "$(dirname "$0")/../.."
mkdir -p build/c-tests
passed=0 failed=0
for src in c/test/*_test.c; do
  name=$(basename "$src" .c)
  if ! ${CC:-gcc} -O1 -g -Wall -Werror -o "build/c-tests/$name" "$src" -Lbuild -lmcr -lpthread -Wl,-rpath,"$PWD/build"; then
    echo "c-test $name: does not build"; failed=$((failed + 1)); continue
  fi
  timeout 20 "build/c-tests/$name"; rc=$?
  case $rc in
    0) echo "c-test $name: ok"; passed=$((passed + 1)) ;;
    77) echo "c-test $name: skipped" ;;
    *) echo "c-test $name: FAILED ($rc)"; failed=$((failed + 1)) ;;
  esac
done
echo "c-tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
