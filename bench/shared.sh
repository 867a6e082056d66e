# bench/shared.sh - sourced by the bench scripts after they set $root (the
# checkout): sets $shared to the shared folder that holds the development
# corpus and the scoring tools.  $SLUICE_SHARED wins; else ../shared next
# to the checkout; else /work/shared.
shared=${SLUICE_SHARED:-$root/../shared}
[ -d "$shared/corpus/extract-dev" ] || shared=/work/shared
