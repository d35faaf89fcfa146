#!/usr/bin/env bash
# The seed's dual-bridge comparison, with generator, relay, receiver and the
# bridges each in their own namespace (one namespace would make the kernel
# drop locally sourced packets as martians and fake a 100% socat loss).
#   sudo PACKET_COUNT=1000000 SEND_RATE=150000 ./tests/performance/compare_socat_bridge.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PACKET_COUNT=${PACKET_COUNT:-1000000} SEND_RATE=${SEND_RATE:-150000} PACKET_SIZE=${PACKET_SIZE:-1024}
export WORKLOADS=seed-bridge REPS=${REPS:-3}
exec make bench
