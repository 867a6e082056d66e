#!/bin/sh
# Duplicate detection on the shared development corpus, all measured in
# this one run:
#
#   bench/dedup/run.sh [-s "N N ..."] [BUILD_DIR]
#	-s	stored-document counts for the LMDB figures
#		(default "10000 100000 1000000")
#
# Needs: a configured build (this script runs cmake --build -j2), python3,
# and ../shared (or /work/shared, or $SLUICE_SHARED) with
# corpus/extract-dev.  Prints:
#   - per variant kind (bench/dedup/make_pairs.py says what each is):
#     merges, recall, recall where the true 5-gram Jaccard is >= 0.8,
#     merges into the wrong document, and every false merge and miss;
#     overall precision and recall;
#   - CPU of dedup_signature per article, against 2.5 ms of cleaning;
#   - LMDB bytes per document and dedup_check_insert cost with 10k, 100k
#     and 1M documents stored (synthetic signatures: a lookup's work does
#     not depend on the text).
# Scratch data (about 1.5 GB at 1M documents) lives in
# BUILD_DIR/bench-tmp/dedup and is removed at the end.
set -eu
sizes="10000 100000 1000000"
while getopts s: opt; do
	case $opt in
	s) sizes=$OPTARG ;;
	*) sed -n '2,22p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
shared=${SLUICE_SHARED:-$root/../shared}
[ -d "$shared/corpus/extract-dev" ] || shared=/work/shared
corpus=$shared/corpus/extract-dev
[ -e "$corpus/ground-truth.json" ] ||
	{ echo "run.sh: missing $corpus/ground-truth.json" >&2; exit 1; }

cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null
bin=$build/bench/dedup/bench-dedup
if [ ! -x "$bin" ]; then
	# Until bench/CMakeLists.txt has add_subdirectory(dedup): the same
	# warning flags, linked against the build's library.
	bin=$build/bench-tmp/bench-dedup
	mkdir -p "$build/bench-tmp"
	# shellcheck disable=SC2046
	cc -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow \
	    -Wstrict-prototypes -Wmissing-prototypes -Werror \
	    -I"$root/include" "$root/bench/dedup/bench_dedup.c" \
	    "$build/libsluicecore.a" $(pkg-config --cflags --libs jansson \
	    lmdb libxxhash libutf8proc libcurl libevent libevent_pthreads \
	    libxml-2.0 libzstd libsystemd) -lpthread -lm -o "$bin"
fi

tmp=$build/bench-tmp/dedup
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "== dedup on $corpus ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
python3 "$root/bench/dedup/make_pairs.py" "$corpus" "$tmp"
"$bin" eval "$tmp/cases.jsonl" "$tmp"
# shellcheck disable=SC2086
"$bin" scale "$tmp" $sizes
