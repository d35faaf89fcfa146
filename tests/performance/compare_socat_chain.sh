#!/usr/bin/env bash
# The seed's chain comparison: gen-ns -> relay-ns -> sink-ns, mcr vs socat vs
# the kernel (smcroute), scored at the receiver. Root required.
#   sudo PACKET_COUNT=500000 SEND_RATE=100000 PACKET_SIZE=1024 ./tests/performance/compare_socat_chain.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PACKET_COUNT=${PACKET_COUNT:-100000} SEND_RATE=${SEND_RATE:-50000} PACKET_SIZE=${PACKET_SIZE:-1024}
export WORKLOADS=seed-chain REPS=${REPS:-3}
exec make bench
