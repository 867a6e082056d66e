#!/bin/sh
# bench/cluster/run.sh overhead|submit|failover|all [options] [BUILD_DIR]
# Cluster mode's benchmarks (README.md here); run.py does the work, with
# Python's standard library.  `run.sh --help` lists the options.
set -eu
exec python3 "$(dirname "$0")/run.py" "$@"
