#!/bin/sh
# bench/submit/run.sh [SECONDS] - durable submission rates and memory.
# Builds first; puts the state on the same disk as the build directory.
set -eu
cd "$(dirname "$0")/../.."
cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null
mkdir -p build/bench-tmp
exec build/bench/submit/bench-submit build/sluiced "$PWD/build/bench-tmp" "${1:-5}"
