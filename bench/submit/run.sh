#!/bin/sh
# bench/submit/run.sh [SECONDS]     durable submission rates and memory
# bench/submit/run.sh --sustained   batch intake over 10,000 hosts from an
#                                   empty queue to 1,000,000 queued
# Builds first; puts the state on the same disk as the build directory.
# SLUICE_BENCH_SET=KEY=VALUE adds one setting to sluiced's (for diagnosis;
# the figures are taken without it).
set -eu
cd "$(dirname "$0")/../.."
cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null
mkdir -p build/bench-tmp
if [ "${1:-}" = --sustained ]; then
	exec build/bench/submit/bench-submit --sustained build/sluiced \
	    "$PWD/build/bench-tmp"
fi
exec build/bench/submit/bench-submit build/sluiced "$PWD/build/bench-tmp" "${1:-5}"
