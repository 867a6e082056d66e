#!/bin/sh
# Duplicate detection on the shared development corpus, all measured in
# this one run:
#
#   bench/dedup/run.sh [-s "N N ..."] [-c REV] [BUILD_DIR]
#	-s	stored-document counts for the LMDB figures
#		(default "10000 100000 1000000")
#	-c	also build bench-dedup at git revision REV (say main) and
#		run it on the same cases, each part right before this
#		tree's: a before/after in one run on one machine (with
#		this tree's bench-dedup.c if it builds against REV's
#		dedup code, so both read the same kinds of cases)
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
# Scratch data (about 1.5 GB at 1M documents, twice that with -c) lives
# in BUILD_DIR/bench-tmp/dedup and is removed at the end.
set -eu
sizes="10000 100000 1000000"
rev=
while getopts s:c: opt; do
	case $opt in
	s) sizes=$OPTARG ;;
	c) rev=$OPTARG ;;
	*) sed -n '2,25p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
. "$root/bench/shared.sh"
corpus=$shared/corpus/extract-dev
[ -e "$corpus/ground-truth.json" ] ||
	{ echo "run.sh: missing $corpus/ground-truth.json" >&2; exit 1; }

cmake -S "$root" -B "$build" >/dev/null
cmake --build "$build" -j2 >/dev/null
bin=$build/bench/dedup/bench-dedup

tmp=$build/bench-tmp/dedup
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT INT TERM
old=
if [ -n "$rev" ]; then
	# The revision's own sources and build: its bench against its
	# library, whatever their formats.
	mkdir -p "$tmp/rev"
	git -C "$root" archive "$rev" | tar -x -C "$tmp/rev"
	cp "$tmp/rev/bench/dedup/bench_dedup.c" "$tmp/rev/bench_dedup.c.rev"
	cp "$root/bench/dedup/bench_dedup.c" "$tmp/rev/bench/dedup/"
	cmake -S "$tmp/rev" -B "$tmp/rev/build" >/dev/null
	cmake --build "$tmp/rev/build" -j2 --target bench-dedup \
	    >/dev/null 2>&1 || {
		echo "run.sh: $rev's own bench-dedup (this tree's does not" \
		    "build against it)"
		cp "$tmp/rev/bench_dedup.c.rev" "$tmp/rev/bench/dedup/"
		cmake --build "$tmp/rev/build" -j2 --target bench-dedup \
		    >/dev/null
	}
	old=$tmp/rev/build/bench/dedup/bench-dedup
fi
echo "== dedup on $corpus ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
python3 "$root/bench/dedup/make_pairs.py" "$corpus" "$tmp"
# eval_part|scale_part BENCH LABEL DIR: one bench binary's accuracy and CPU
# figures, or its LMDB figures, with scratch data in DIR.
eval_part() {
	echo "== accuracy and CPU: $2"
	mkdir -p "$3"
	"$1" eval "$tmp/cases.jsonl" "$3"
	rm -rf "$3"
}
scale_part() {
	echo "== LMDB: $2"
	mkdir -p "$3"
	# shellcheck disable=SC2086
	"$1" scale "$3" $sizes
	rm -rf "$3"
}
[ -z "$old" ] || eval_part "$old" "$rev" "$tmp/rev-run"
eval_part "$bin" "this tree" "$tmp/run"
[ -z "$old" ] || scale_part "$old" "$rev" "$tmp/rev-run"
scale_part "$bin" "this tree" "$tmp/run"
