# bench/shared.sh - sourced by the bench scripts after they set $root (the
# checkout): sets $shared to the shared folder that holds the development
# corpus and the scoring tools.  $SLUICE_SHARED wins; else ../shared next
# to the checkout; else /work/shared.
shared=${SLUICE_SHARED:-$root/../shared}
[ -d "$shared/corpus/extract-dev" ] || shared=/work/shared

# --- processes a benchmark starts: nginx, sluiced, a long child -------------
# The caller sets $out (its work folder, with nginx's pid file in
# $out/www/nginx.pid) and records the pids in nginx_pid, daemon_pid and
# child; setup_traps stops all three however the script ends.
nginx_pid='' daemon_pid='' child=''

stop_nginx() {
	[ -n "$nginx_pid" ] || return 0
	kill -QUIT "$nginx_pid" 2>/dev/null || true
	# nginx removes its pid file as it exits (its exit status goes to
	# whoever adopted it, so the pid may linger as a zombie).
	for _ in $(seq 50); do
		[ -e "$out/www/nginx.pid" ] || { nginx_pid=; return 0; }
		sleep 0.1
	done
	kill -TERM "$nginx_pid" 2>/dev/null || true
	nginx_pid=
}

stop_daemon() {
	[ -n "$daemon_pid" ] || return 0
	kill -TERM "$daemon_pid" 2>/dev/null || true
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=
}

stop_child() {
	[ -n "$child" ] || return 0
	kill -TERM "$child" 2>/dev/null || true
	wait "$child" 2>/dev/null || true
}

setup_traps() {
	trap 'stop_child; stop_daemon; stop_nginx' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Long commands run in the background and are waited for: bash runs a trap
# only once its foreground command ends, but interrupts `wait` at once.
# Under timeout(1), which passes a TERM on to everything it started.
run_child() {
	local rc=0
	"$@" &
	child=$!
	wait "$child" || rc=$?
	child=
	return "$rc"
}

# Waits for the sluiced just started ($daemon_pid, its log in
# DIR/sluiced.log) to answer on SOCK; dies with its log if it does not.
wait_daemon() {
	local dir=$1 sock=$2
	for _ in $(seq 100); do
		"$build/sluicectl" -s "$sock" -t 2 status >/dev/null 2>&1 &&
		    return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$dir/sluiced.log" >&2
	die "sluiced did not come up"
}

# When not every page is done, shows what the daemon in DIR says about it.
# (POSIX sh: the dash-run scripts source this file too.)
daemon_post_mortem() {
	local dir=$1
	echo "    --- sluicectl status"
	"$build/sluicectl" -s "$dir/state/control.sock" -t 10 status |
	    sed 's/^/    /' || true
	echo "    --- sluicectl hosts"
	"$build/sluicectl" -s "$dir/state/control.sock" -t 10 hosts |
	    head -n 20 | sed "s/^/    /" || true
	echo "    --- sluicectl jobs --state failed (first 10)"
	"$build/sluicectl" -s "$dir/state/control.sock" -t 10 jobs \
	    --state failed --limit 10 | sed 's/^/    /' || true
	echo "    --- end of $dir/sluiced.log"
	tail -n 20 "$dir/sluiced.log" | sed 's/^/    /'
}
