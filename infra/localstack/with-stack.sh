#!/usr/bin/env bash
# Runs a command with the local stack up and its endpoints in the environment
# (DYNAMODB_ENDPOINT, SECRETSMANAGER_ENDPOINT, AWS_REGION, test credentials),
# and exits with the command's status.
#
# If the stack was not running, it is started for the command and stopped
# afterwards, whether the command succeeds, fails or is interrupted (Ctrl-C).
# A stack that was already up (make stack-up) is left running.
#
# Ctrl-C (or SIGTERM, SIGHUP) reaches the command too. A command that shuts
# down cleanly on it and exits 0, as the dev gateway does, makes this exit 0
# as well: stopping a server is how it is meant to end. A command that dies of
# the signal, or a signal during startup, exits 128+signal (130 for Ctrl-C).
#
# Usage: with-stack.sh COMMAND [ARG...]
set -euo pipefail

stack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stack.sh"

if (($# == 0)); then
	echo "usage: $0 COMMAND [ARG...]" >&2
	exit 2
fi

started=0
cleanup() {
	local status=$?
	trap - EXIT INT TERM HUP
	if ((started)); then
		"$stack" down || status=$((status ? status : 1))
	fi
	exit "$status"
}
trap cleanup EXIT
# Bash runs these once the foreground command has finished, so a server
# stopped with Ctrl-C shuts down cleanly before the stack does. They only
# note the signal; what it means depends on how the command ended.
signalled=0
trap 'signalled=130' INT
trap 'signalled=143' TERM
trap 'signalled=129' HUP

if ! "$stack" status >/dev/null 2>&1; then
	started=1
fi
"$stack" up
eval "$("$stack" env)"
if ((signalled)); then
	exit "$signalled"
fi
status=0
"$@" || status=$?
exit "$status"
