#!/usr/bin/env bash
# RFC 9421 signatures made by clients this project did not write (`make
# httpsig-e2e`, part of `make test`): starts the local gateway on
# 127.0.0.1:$PORT with a fresh table, then signs requests to its /demo API with
# the Python http-message-signatures library (client.py) and with nothing but
# Go's standard crypto (goclient), and checks that they are allowed and that
# tampered ones are refused. Needs the local stack up (with-stack.sh starts it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

port="${PORT:-3000}"
venv="${VENV:-infra/.cache/venv}"
out="infra/.cache/httpsig"
mkdir -p "$out"
say() { printf 'httpsig: %s\n' "$*"; }

run_id="httpsig-$(date +%s)-$$"
secret="dev-$run_id"
# shellcheck source=../localstack/gateway.sh
. infra/localstack/gateway.sh
start_gateway "$run_id" "$out/gateway.log" "$secret"

export PAYKEYS_TOKEN
PAYKEYS_TOKEN="$(DEV_JWT_SECRET="$secret" infra/.cache/bin/gateway token -merchant m_httpsig -role admin -sub user_httpsig -ttl 1h)"
status=0
say "Python http-message-signatures"
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" infra/httpsig/client.py "http://127.0.0.1:$port" || status=1
say "Go standard crypto"
go run ./infra/httpsig/goclient "http://127.0.0.1:$port" || status=1
[ "$status" = 0 ] || say "failed (gateway log: $out/gateway.log)"
exit "$status"
