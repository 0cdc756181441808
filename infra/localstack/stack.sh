#!/usr/bin/env bash
# Starts and stops the local stack the tests and `make dev` use:
#
#   DynamoDB Local   java ServerRunner -inMemory -sharedDb, port $DYNAMODB_PORT (8000)
#   Secrets Manager  moto_server -H 127.0.0.1, port $MOTO_PORT (5000)
#
# Usage: stack.sh up|down|status|env
#
#   up      start whatever is not running and wait until both answer requests;
#           a no-op when both are up already
#   down    stop both and wait until they are gone; a no-op when they are not running
#   status  say what runs where; exit 0 when both are up, 1 otherwise
#   env     print export lines for the endpoints: eval "$(stack.sh env)"
#
# `make tools` installs what this needs into infra/.cache. Process ids and logs
# are kept in infra/.cache/run. Both services keep their data in memory only, so
# every `up` after a `down` starts empty.
#
# Environment:
#   DYNAMODB_PORT, MOTO_PORT   ports (8000, 5000)
#   STACK_START_TIMEOUT        seconds to wait for each service to answer (90)
#   DYNAMODB_JAVA_OPTS         extra JVM options for DynamoDB Local
#   JAVA                       the java command (java)
#   PAYKEYS_CACHE              the tools folder (infra/.cache)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${PAYKEYS_CACHE:-$root/infra/.cache}"
run="$cache/run"
dynamodb_lib="$cache/dynamodb/lib"
moto_bin="$cache/venv/bin/moto_server"
java="${JAVA:-java}"

dynamodb_port="${DYNAMODB_PORT:-8000}"
moto_port="${MOTO_PORT:-5000}"
start_timeout="${STACK_START_TIMEOUT:-90}"
stop_timeout=15

# A syntactically valid SigV4 header: neither emulator checks the signature,
# but both want one to route the request.
sigv4() {
	printf 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=0' "$1"
}

log() { printf 'stack: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# --- per-service facts ------------------------------------------------------

# port SERVICE: the port a service runs on (the recorded one if it is running).
port() {
	local f="$run/$1.port"
	if [[ -s $f ]] && pid_of "$1" >/dev/null; then
		cat "$f"
	elif [[ $1 == dynamodb ]]; then
		echo "$dynamodb_port"
	else
		echo "$moto_port"
	fi
}

# requested_port SERVICE: the port asked for in the environment.
requested_port() {
	if [[ $1 == dynamodb ]]; then echo "$dynamodb_port"; else echo "$moto_port"; fi
}

# signature SERVICE: a string the service's command line contains, so that a
# recycled process id is never taken for ours.
signature() {
	if [[ $1 == dynamodb ]]; then echo "ServerRunner"; else echo "moto_server"; fi
}

# pid_of SERVICE: print the pid of our running process, or fail.
pid_of() {
	local f="$run/$1.pid" pid
	[[ -s $f ]] || return 1
	pid="$(<"$f")"
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# A zombie or a recycled pid is not ours.
	[[ -r /proc/$pid/cmdline ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(signature "$1")" || return 1
	echo "$pid"
}

# answers SERVICE PORT: does the service answer an API call on 127.0.0.1:PORT?
answers() {
	local url="http://127.0.0.1:$2/"
	if [[ $1 == dynamodb ]]; then
		curl -fsS -o /dev/null --max-time 2 -X POST "$url" \
			-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
			-H 'Content-Type: application/x-amz-json-1.0' \
			-H "$(sigv4 dynamodb)" -d '{}' 2>/dev/null
	else
		curl -fsS -o /dev/null --max-time 2 -X POST "$url" \
			-H 'X-Amz-Target: secretsmanager.ListSecrets' \
			-H 'Content-Type: application/x-amz-json-1.1' \
			-H "$(sigv4 secretsmanager)" -d '{}' 2>/dev/null
	fi
}

# port_taken PORT: is anything listening on 127.0.0.1:PORT?
port_taken() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

log_tail() {
	local f="$run/$1.log"
	if [[ -s $f ]]; then
		log "last lines of $f:"
		tail -n 30 "$f" | sed 's/^/    /' >&2
	fi
}

# --- start and stop ---------------------------------------------------------

# alive PID: is the process there and not a zombie waiting to be reaped?
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	local state
	state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
	[[ -n $state && $state != Z ]]
}

# launch SERVICE PORT COMMAND...: start COMMAND detached from this shell (own
# session, stdin from /dev/null, output to the log, no inherited descriptors),
# so that it outlives make and never holds a caller's pipe open.
launch() {
	local name="$1" p="$2"
	shift 2
	local logfile="$run/$name.log"
	: >"$logfile"
	(
		for fd in /proc/"$BASHPID"/fd/*; do
			fd="${fd##*/}"
			if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
		done
		exec setsid "$@" </dev/null >>"$logfile" 2>&1
	) &
	local pid=$!
	echo "$pid" >"$run/$name.pid"
	echo "$p" >"$run/$name.port"
}

# wait_ready SERVICE PORT: poll until it answers; fail with its log otherwise.
wait_ready() {
	local name="$1" p="$2" deadline=$((SECONDS + start_timeout))
	while ! answers "$name" "$p"; do
		if ! pid_of "$name" >/dev/null; then
			log_tail "$name"
			rm -f "$run/$name.pid" "$run/$name.port"
			die "$name exited before it answered on port $p (log: $run/$name.log)"
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$name"
			stop "$name"
			die "$name did not answer on port $p within ${start_timeout}s (log: $run/$name.log)"
		fi
		sleep 0.2
	done
}

start() {
	local name="$1" p pid
	p="$(requested_port "$name")"
	if pid="$(pid_of "$name")"; then
		local running
		running="$(<"$run/$name.port")"
		if [[ $running != "$p" ]]; then
			die "$name is already running on port $running (pid $pid), not $p; run '$0 down' first"
		fi
		wait_ready "$name" "$p"
		log "$name already up on port $p (pid $pid)"
		return
	fi
	rm -f "$run/$name.pid" "$run/$name.port"
	if port_taken "$p"; then
		die "port $p is in use by another process; stop it, or choose another port with ${name^^}_PORT=..."
	fi
	case "$name" in
	dynamodb)
		[[ -d $dynamodb_lib ]] || die "DynamoDB Local is not installed in $dynamodb_lib; run 'make tools'"
		command -v "$java" >/dev/null || die "java not found; run 'make tools'"
		# shellcheck disable=SC2086 # DYNAMODB_JAVA_OPTS is a list of options
		launch dynamodb "$p" "$java" ${DYNAMODB_JAVA_OPTS:-} \
			"-Djava.library.path=$dynamodb_lib" -cp "$dynamodb_lib/*" \
			software.amazon.dynamodb.services.local.main.ServerRunner \
			-inMemory -sharedDb -disableTelemetry -port "$p"
		;;
	moto)
		[[ -x $moto_bin ]] || die "moto is not installed in $cache/venv; run 'make tools'"
		launch moto "$p" "$moto_bin" -H 127.0.0.1 -p "$p"
		;;
	esac
	local t0=$SECONDS
	wait_ready "$name" "$p"
	log "$name up on port $p (pid $(<"$run/$name.pid"), $((SECONDS - t0))s)"
}

# stop SERVICE...: TERM each one's process group, wait for all of them, then
# KILL whatever is left after a while.
stop() {
	local name pid pids=() names=()
	for name in "$@"; do
		if pid="$(pid_of "$name")"; then
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
			names+=("$name")
		else
			rm -f "$run/$name.pid" "$run/$name.port"
		fi
	done
	local i deadline=$((SECONDS + stop_timeout))
	for i in "${!pids[@]}"; do
		pid="${pids[$i]}"
		name="${names[$i]}"
		while alive "$pid" && ((SECONDS < deadline)); do
			sleep 0.1
		done
		if alive "$pid"; then
			log "$name (pid $pid) ignored SIGTERM for ${stop_timeout}s; killing it"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			while alive "$pid"; do sleep 0.1; done
		fi
		rm -f "$run/$name.pid" "$run/$name.port"
		log "$name stopped"
	done
}

# --- commands ---------------------------------------------------------------

locked() {
	mkdir -p "$run"
	exec 9>"$run/lock"
	flock -w 120 9 || die "another stack.sh holds $run/lock"
}

cmd_up() {
	locked
	command -v curl >/dev/null || die "curl not found; run 'make tools'"
	start dynamodb
	start moto
}

cmd_down() {
	locked
	stop moto dynamodb
}

cmd_status() {
	local ok=0 name pid
	for name in dynamodb moto; do
		if pid="$(pid_of "$name")"; then
			if answers "$name" "$(port "$name")"; then
				echo "$name: up on http://127.0.0.1:$(port "$name") (pid $pid)"
			else
				echo "$name: starting or not answering on port $(port "$name") (pid $pid)"
				ok=1
			fi
		else
			echo "$name: down"
			ok=1
		fi
	done
	return "$ok"
}

cmd_env() {
	cat <<EOF
export DYNAMODB_ENDPOINT=http://127.0.0.1:$(port dynamodb)
export SECRETSMANAGER_ENDPOINT=http://127.0.0.1:$(port moto)
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
EOF
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
*)
	echo "usage: $0 up|down|status|env" >&2
	exit 2
	;;
esac
