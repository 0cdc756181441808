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

go build -o infra/.cache/bin/gateway ./infra/gateway
run_id="httpsig-$(date +%s)-$$"
secret="dev-$run_id"
env DYNAMODB_ENDPOINT="http://127.0.0.1:${DYNAMODB_PORT:-8000}" \
	SECRETSMANAGER_ENDPOINT="http://127.0.0.1:${MOTO_PORT:-5000}" \
	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	PORT="$port" DEV_JWT_SECRET="$secret" TABLE_NAME="paykeys-$run_id" SECRET_PREFIX="paykeys-$run_id/" \
	ENVIRONMENT=test LOG_LEVEL=warn WEBHOOK_ALLOW_PRIVATE=loopback \
	infra/.cache/bin/gateway >"$out/gateway.log" 2>&1 &
gateway=$!
stop() {
	if kill -0 "$gateway" 2>/dev/null; then
		kill -TERM "$gateway" 2>/dev/null || true
		wait "$gateway" 2>/dev/null || true
	fi
}
trap stop EXIT

for _ in $(seq 1 150); do
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	kill -0 "$gateway" 2>/dev/null || { cat "$out/gateway.log" >&2; say "the gateway did not start"; exit 1; }
	sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { say "the gateway is not ready"; exit 1; }

export PAYKEYS_TOKEN
PAYKEYS_TOKEN="$(DEV_JWT_SECRET="$secret" infra/.cache/bin/gateway token -merchant m_httpsig -role admin -sub user_httpsig -ttl 1h)"
status=0
say "Python http-message-signatures"
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" infra/httpsig/client.py "http://127.0.0.1:$port" || status=1
say "Go standard crypto"
go run ./infra/httpsig/goclient "http://127.0.0.1:$port" || status=1
[ "$status" = 0 ] || say "failed (gateway log: $out/gateway.log)"
exit "$status"
