#!/bin/sh
# Quick accuracy check on the shared dev corpus (no timing baselines):
#   bench/extract/score.sh [build-dir]
# Needs ../shared (extract-run, extract-score, snippet-score).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
. "$root/bench/shared.sh"
corpus=$shared/corpus/extract-dev
out=${TMPDIR:-/tmp}/sluice-extract-score.$$
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
"$shared/bin/extract-run" "$corpus/html" -o "$out/run.json" \
    --jsonl-cmd "$build/sluice-extract --json {files}" 2>"$out/run.log"
grep -i "cpu" "$out/run.log" || cat "$out/run.log"
python3 - "$corpus" "$out" <<'PY'
import json, sys
corpus, out = sys.argv[1], sys.argv[2]
gt = json.load(open(corpus + "/ground-truth.json"))
human = {k: v for k, v in gt.items() if not k.startswith("rdb-")}
json.dump(human, open(out + "/human.json", "w"))
PY
echo "== all full-text pages"
"$shared/bin/extract-score" "$corpus/ground-truth.json" "$out/run.json" --ignore-extra | tail -n 6
echo "== human-annotated part (atf-*)"
"$shared/bin/extract-score" "$out/human.json" "$out/run.json" --ignore-extra | tail -n 6
echo "== snippets"
"$shared/bin/snippet-score" "$corpus/snippets.json" "$out/run.json" | tail -n 6
if [ -n "${KEEP:-}" ]; then cp "$out/run.json" "$KEEP"; fi
