#!/bin/sh
# bench/feeds/run.sh - the feed benchmarks (docs/benchmarks.md, "Feeds"):
#   1. feed-sim: a simulated week of 50 feeds, the adaptive schedule
#      against polling every 5 minutes, over 20 seeds;
#   2. bench-feed-parse: CPU and peak memory of parsing a 50,000-entry
#      sitemap, plain and gzipped, with same-run baselines;
#   3. daemon_poll.py: the same poll through the real sluiced (fetch,
#      parse, 50,000 entries submitted), against `submit -` of the URLs.
# Usage: bench/feeds/run.sh [BUILD_DIR]   (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
"$build/bench/feeds/feed-sim" --seeds 20
echo
"$build/bench/feeds/bench-feed-parse" 50000 9
echo
PYTHONPATH="$here/../../tests/integration:$here/../../tests/fixture" \
    SLUICE_BUILD="$build" SLUICE_SOURCE="$here/../.." \
    python3 "$here/daemon_poll.py" 5
