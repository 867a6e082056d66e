#!/bin/sh
# check_scripts.sh SOURCE_DIR - every shell script of the tree parses with
# the shell that runs it: its #! line's, and POSIX sh for bench/shared.sh,
# which /bin/sh scripts source (a bash array there once broke
# bench/extract/run.sh and bench/dedup/run.sh without a test noticing).
set -u
cd "$1" || exit 2
status=0
check() {
	if ! "$1" -n "$2"; then
		echo "FAIL: $2 does not parse with $1"
		status=1
	fi
}
check sh bench/shared.sh
for f in bench/*/*.sh scripts/* tests/run-all .ci/run; do
	[ -f "$f" ] || continue
	case $(head -n 1 "$f") in
	*bash*) check bash "$f" ;;
	'#!'*sh*) check sh "$f" ;;
	esac
done
[ $status -eq 0 ] && echo "shell scripts: all parse"
exit $status
