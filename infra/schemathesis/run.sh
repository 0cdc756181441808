#!/usr/bin/env bash
# Fuzzes the management API with Schemathesis (`make api-fuzz`, part of
# `make test`): starts the local gateway on 127.0.0.1:$PORT with a fresh table,
# runs every operation of the OpenAPI document against it with a dev token,
# then stops the gateway. Needs the local stack up (with-stack.sh starts it).
#
# Bounded and repeatable: at most $FUZZ_EXAMPLES cases per operation and phase,
# one worker, a fixed $FUZZ_SEED, and a hard $FUZZ_TIMEOUT. $FUZZ_CHECKS replaces the
# list of checks.
#
# Webhook endpoints can only be on 127.0.0.1: the gateway runs with
# WEBHOOK_ALLOW_PRIVATE=loopback (no other host is accepted or dialled) and
# hooks.py points every endpoint the run registers at its own local receiver.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

port="${PORT:-3000}"
examples="${FUZZ_EXAMPLES:-10}"
seed="${FUZZ_SEED:-20261129}"
limit="${FUZZ_TIMEOUT:-900}"
venv="${VENV:-infra/.cache/venv}"
out="infra/.cache/schemathesis"
mkdir -p "$out"
say() { printf 'api-fuzz: %s\n' "$*"; }

export PYTHONDONTWRITEBYTECODE=1
# The hooks' own tests first: the secret check and the webhook URL rewrite.
(cd infra/schemathesis && "../../$venv/bin/python" -m unittest -q test_hooks)

run_id="fuzz-$(date +%s)-$$"
secret="fuzz-$run_id"
# shellcheck source=../localstack/gateway.sh
. infra/localstack/gateway.sh
start_gateway "$run_id" "$out/gateway.log" "$secret"

token="$(DEV_JWT_SECRET="$secret" infra/.cache/bin/gateway token -merchant m_fuzz -role admin -sub user_fuzz -ttl 2h)"
# No use_after_free: DELETE /v1/keys/{id} revokes a key, which stays readable
# (status revoked) by design, so that check's rule does not hold for keys.
# Deleted webhook endpoints staying gone is an integration test instead.
checks="${FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ensure_resource_availability,no_foreign_secret}"
cmd=(st run "http://127.0.0.1:$port/v1/openapi.json" --url "http://127.0.0.1:$port"
	--checks "$checks" --max-examples "$examples" --seed "$seed" --workers 1
	--generation-database none --request-timeout 30 --no-color --output-sanitize true)
say "${cmd[*]} -H 'Authorization: Bearer <dev token>'"
start=$SECONDS
status=0
# From $out, so that what Schemathesis and Hypothesis keep stays in the cache.
root="$PWD"
(cd "$out" && PYTHONPATH="$root/infra/schemathesis" SCHEMATHESIS_HOOKS=hooks timeout "$limit" \
	"$root/$venv/bin/${cmd[0]}" "${cmd[@]:1}" -H "Authorization: Bearer $token") || status=$?
say "done in $((SECONDS - start)) s, exit $status (gateway log: $out/gateway.log)"
exit "$status"
