# Sourced by the scripts that test through a gateway of their own
# (infra/schemathesis/run.sh, infra/httpsig/run.sh): start_gateway RUN_ID LOG
# SECRET builds the local gateway and starts it in process on
# 127.0.0.1:$port, on a fresh table and secret prefix named after RUN_ID, with
# DEV_JWT_SECRET=SECRET, and waits until it is ready; the gateway stops when the
# calling script exits. Needs the local stack up and $port set.
start_gateway() {
	local run_id="$1" log="$2" secret="$3"
	go build -o infra/.cache/bin/gateway ./infra/gateway
	env DYNAMODB_ENDPOINT="http://127.0.0.1:${DYNAMODB_PORT:-8000}" \
		SECRETSMANAGER_ENDPOINT="http://127.0.0.1:${MOTO_PORT:-5000}" \
		AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
		PORT="$port" DEV_JWT_SECRET="$secret" TABLE_NAME="paykeys-$run_id" SECRET_PREFIX="paykeys-$run_id/" \
		ENVIRONMENT=test LOG_LEVEL=warn WEBHOOK_ALLOW_PRIVATE=loopback \
		infra/.cache/bin/gateway >"$log" 2>&1 &
	gateway=$!
	trap stop_gateway EXIT
	for _ in $(seq 1 150); do
		curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$gateway" 2>/dev/null || { cat "$log" >&2; echo "the gateway did not start" >&2; return 1; }
		sleep 0.2
	done
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the gateway is not ready" >&2; return 1; }
}

stop_gateway() {
	if kill -0 "$gateway" 2>/dev/null; then
		kill -TERM "$gateway" 2>/dev/null || true
		wait "$gateway" 2>/dev/null || true
	fi
}
