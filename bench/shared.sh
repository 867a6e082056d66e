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
