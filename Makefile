# paykeys: build, test and run locally. `make` lists the targets.
#
# Everything `make tools` installs (a Python venv with moto and the SAM CLI,
# DynamoDB Local, Maven's downloads) lives in infra/.cache, which git ignores;
# each install leaves a stamp file there, so a second run does nothing.
# Nothing here needs Docker.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

export GOFLAGS := $(strip $(filter-out -buildvcs=%,$(GOFLAGS)) -buildvcs=false)
export SAM_CLI_TELEMETRY := 0

# Lambda functions: logical ID <Name>Function in template.yaml, code in
# functions/<name>. Add a function here and in template.yaml.
FUNCTIONS := Create Keys Reset Verify Authorize Demo Webhooks Webhook Rotate Portal Claims

# Fuzz tests `make test` runs, as package:FuzzName.
FUZZ_TARGETS := ./internal/key:FuzzParseSecret ./internal/signature:FuzzParse ./internal/signature:FuzzCanonicalQuery ./internal/signature:FuzzParseMessageSignature
# A count of executions (about 10 s each here), not a duration: a duration
# races Go's fuzzing coordinator at its deadline and can fail with "context
# deadline exceeded" on a loaded machine, having found nothing.
FUZZTIME ?= 150000x

# Local stack ports (127.0.0.1) and the settings `make dev` passes on.
DYNAMODB_PORT ?= 8000
MOTO_PORT ?= 5000
PORT ?= 3000
DEV_JWT_SECRET ?= local-dev-secret
TABLE_NAME ?= paykeys-local
SECRET_PREFIX ?= paykeys/
ENVIRONMENT ?= test
LOG_LEVEL ?= info
WORKER_INTERVAL ?= 1s
ROTATE_INTERVAL ?= 30s
MAX_KEYS_PER_MERCHANT ?= 500
# Where new secrets go: secretsmanager (one secret per key) or envelope
# (ciphertexts in DynamoDB under a KEK in Secrets Manager). make dev, the
# tools and the tests all use it; `make test` runs SECRET_PACKAGES a second
# time on the other store.
SECRET_STORE ?= secretsmanager
OTHER_SECRET_STORE = $(if $(filter envelope,$(SECRET_STORE)),secretsmanager,envelope)
SECRET_PACKAGES ?= ./internal/secret/... ./internal/api/... ./internal/authorizer/... ./internal/delivery/... ./internal/rotate/...
BRAND ?= paykeys
# Leak reports (POST /v1/leaks): the policy for live keys; LEAK_REPORT_KEYS
# (the scanner's keys, JSON) passes through from the environment as it is.
LEAK_POLICY ?= disable
MERCHANT ?= m_demo
ROLE ?= admin
SUB ?= user_dev
export DYNAMODB_PORT MOTO_PORT

LOCAL_ENV := \
	DYNAMODB_ENDPOINT=http://127.0.0.1:$(DYNAMODB_PORT) \
	SECRETSMANAGER_ENDPOINT=http://127.0.0.1:$(MOTO_PORT) \
	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test SECRET_STORE=$(SECRET_STORE)
DEV_ENV := $(LOCAL_ENV) \
	PORT=$(PORT) DEV_JWT_SECRET=$(DEV_JWT_SECRET) TABLE_NAME=$(TABLE_NAME) \
	SECRET_PREFIX=$(SECRET_PREFIX) ENVIRONMENT=$(ENVIRONMENT) LOG_LEVEL=$(LOG_LEVEL) \
	WEBHOOK_ALLOW_PRIVATE=true WORKER_INTERVAL=$(WORKER_INTERVAL) ROTATE_INTERVAL=$(ROTATE_INTERVAL) \
	MAX_KEYS_PER_MERCHANT=$(MAX_KEYS_PER_MERCHANT) BRAND=$(BRAND) \
	LEAK_POLICY=$(LEAK_POLICY)

PYTHON ?= python3
CACHE := infra/.cache
VENV := $(CACHE)/venv
DYNAMODB_LOCAL := $(CACHE)/dynamodb
VENV_STAMP := $(VENV)/.installed
DYNAMODB_STAMP := $(DYNAMODB_LOCAL)/.installed
SAM := $(VENV)/bin/sam
LOCALSTACK := infra/localstack
STACK := $(LOCALSTACK)/stack.sh
WITH_STACK := $(LOCALSTACK)/with-stack.sh
SAM_TEMPLATE := template.yaml

# sq quotes a value for the shell: $(call sq,it's) is 'it'\''s'.
sq = '$(subst ','\'',$(1))'
lc = $(shell printf '%s' '$(1)' | tr '[:upper:]' '[:lower:]')
ucfirst = $(shell printf '%s' '$(1)' | awk '{ print toupper(substr($$0, 1, 1)) substr($$0, 2) }')

.PHONY: help
help: ## List the targets
	@echo 'Usage: make <target> [VAR=value ...]'
	@echo
	@awk 'BEGIN { FS = ":[^#]*## " } /^[a-zA-Z0-9_%-]+:[^#]*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo 'Variables: DYNAMODB_PORT=$(DYNAMODB_PORT) MOTO_PORT=$(MOTO_PORT) PORT=$(PORT) FUZZTIME=$(FUZZTIME)'
	@echo '           MERCHANT=$(MERCHANT) ROLE=$(ROLE) SUB=$(SUB) (token), EVENT=<file> (invoke-%), GUIDED=1 (deploy)'
	@echo '           KEYS=$(KEYS) DUE=$(DUE) (rotate-load), RIE_POOL=$(RIE_POOL) INPROCESS=1 (dev), SECRET_STORE=$(SECRET_STORE) (secretsmanager|envelope)'
	@echo 'SAM builds each function with build-<Name>Function (ARTIFACTS_DIR, default bin/<name>).'

# --- tools -----------------------------------------------------------------

.PHONY: tools
tools: $(VENV_STAMP) $(DYNAMODB_STAMP) ## Install the pinned local tools into infra/.cache (fast when done)

# Java 17+, Maven, curl, python3-venv and Chromium from Debian's packages, only when missing.
.PHONY: system-tools
system-tools:
	@$(LOCALSTACK)/system-tools.sh $(PYTHON)

# install-tools.sh says what each step installs and how long it took, with
# one line per package or downloaded jar.
$(VENV_STAMP): $(LOCALSTACK)/requirements.txt $(LOCALSTACK)/constraints.txt | system-tools
	@$(LOCALSTACK)/install-tools.sh venv $(PYTHON) $(VENV) $(LOCALSTACK)/requirements.txt $(LOCALSTACK)/constraints.txt
	@touch $@

$(DYNAMODB_STAMP): $(LOCALSTACK)/pom.xml | system-tools
	@rm -rf $(DYNAMODB_LOCAL)
	@$(LOCALSTACK)/install-tools.sh dynamodb $(abspath $(CACHE)/m2) $(LOCALSTACK)/pom.xml
	@test -f $(DYNAMODB_LOCAL)/lib/libsqlite4java-linux-amd64-1.0.392.so
	@touch $@

.PHONY: tools-lock
tools-lock: ## Re-resolve infra/localstack/constraints.txt from requirements.txt
	rm -rf $(CACHE)/lock-venv
	$(PYTHON) -m venv $(CACHE)/lock-venv
	$(CACHE)/lock-venv/bin/python -m pip install --no-input --quiet -r $(LOCALSTACK)/requirements.txt
	{ sed -n '/^#/p' $(LOCALSTACK)/constraints.txt; \
	  $(CACHE)/lock-venv/bin/python -m pip freeze --all | grep -vE '^(pip|setuptools|wheel)=='; \
	} > $(LOCALSTACK)/constraints.txt.new
	mv $(LOCALSTACK)/constraints.txt.new $(LOCALSTACK)/constraints.txt
	rm -rf $(CACHE)/lock-venv

# --- local stack -----------------------------------------------------------

.PHONY: stack-up stack-down stack-status
stack-up: tools ## Start DynamoDB Local and moto (Secrets Manager) on 127.0.0.1
	$(STACK) up
	@$(STACK) env

stack-down: ## Stop the local stack
	$(STACK) down

stack-status: ## Say whether the local stack is up
	@$(STACK) status || true

# --- build, lint, test -----------------------------------------------------

.PHONY: build
build: ## go build ./...
	go build ./...

.PHONY: functions
functions: $(addprefix build-,$(addsuffix Function,$(FUNCTIONS))) ## Build every Lambda bootstrap into bin/<name> (linux/arm64)

# build-<Name>Function is the target `sam build` runs for each function
# (Metadata: BuildMethod: makefile); SAM sets ARTIFACTS_DIR.
define lambda_build
.PHONY: build-$(1)Function
build-$(1)Function: ARTIFACTS_DIR ?= bin/$(call lc,$(1))
build-$(1)Function:
	GOOS=linux GOARCH=$$(or $$(GOARCH_OVERRIDE),arm64) CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' \
		-o $$(ARTIFACTS_DIR)/bootstrap ./functions/$(call lc,$(1))
endef
$(foreach f,$(FUNCTIONS),$(eval $(call lambda_build,$(f))))

# The same binaries for this machine's architecture, which the Lambda Runtime
# Interface Emulator runs under make dev, make invoke-<fn> and the end-to-end
# test: $(HOST_BIN)/<name>/bootstrap.
HOST_ARCH := $(shell go env GOHOSTARCH 2>/dev/null || echo amd64)
HOST_BIN := $(CACHE)/bin/lambda
RIE_ARCH := $(if $(filter arm64,$(HOST_ARCH)),arm64,x86_64)
RIE_POOL ?= 2
# The emulator ships in the SAM CLI wheel; $(call rie) finds it once the venv exists.
rie = $(firstword $(wildcard $(VENV)/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-$(RIE_ARCH)))

.PHONY: functions-host
functions-host: ## Build every Lambda bootstrap for this machine into infra/.cache/bin/lambda/<name> (make dev runs them)
	@for f in $(call lc,$(FUNCTIONS)); do \
		$(MAKE) build-$$(printf '%s' "$$f" | awk '{ print toupper(substr($$0, 1, 1)) substr($$0, 2) }')Function \
			GOARCH_OVERRIDE=$(HOST_ARCH) ARTIFACTS_DIR=$(abspath $(HOST_BIN))/$$f; \
	done

.PHONY: vet
vet: ## go vet, integration tests included
	go vet -tags integration ./...

# staticcheck, pinned, installed once into infra/.cache by go install.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(CACHE)/staticcheck/$(STATICCHECK_VERSION)/staticcheck
$(STATICCHECK):
	GOBIN=$(abspath $(@D)) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: lint
lint: vet sam-validate $(STATICCHECK) ## go vet, gofmt, staticcheck, go mod tidy -diff and sam validate --lint
	@unformatted=$$(find . -path ./.git -prune -o -path ./$(CACHE) -prune -o -name '*.go' -type f -print | xargs gofmt -l); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(STATICCHECK) -tags integration ./...
	go mod tidy -diff

.PHONY: sam-validate
sam-validate: $(VENV_STAMP) ## sam validate --lint
	$(SAM) validate --lint --region us-east-1 --template $(SAM_TEMPLATE)

.PHONY: sam-build
sam-build: $(VENV_STAMP) ## sam build: arm64 bootstrap binaries in .aws-sam/build (no Docker)
	$(SAM) build --template $(SAM_TEMPLATE) --build-in-source

.PHONY: test
test: tools ## CI: lint (vet, gofmt, staticcheck, go mod tidy -diff, sam validate), go test -tags integration and Schemathesis on the local stack, fuzz, sam build
	$(MAKE) lint
	$(WITH_STACK) $(MAKE) test-go api-fuzz httpsig-e2e
	$(MAKE) fuzz sam-build

.PHONY: test-go
test-go: functions-host ## go test -tags integration ./... against a running stack (make stack-up)
	$(LOCAL_ENV) $(if $(call rie),RIE=$(abspath $(call rie))) LAMBDA_BIN=$(abspath $(HOST_BIN)) \
		go test -tags integration -count=1 $(GOTESTFLAGS) ./...
	@echo "go test: SECRET_PACKAGES again on SECRET_STORE=$(OTHER_SECRET_STORE)"
	$(LOCAL_ENV) SECRET_STORE=$(OTHER_SECRET_STORE) $(if $(call rie),RIE=$(abspath $(call rie))) LAMBDA_BIN=$(abspath $(HOST_BIN)) \
		go test -tags integration -count=1 $(GOTESTFLAGS) $(SECRET_PACKAGES)

# Schemathesis against a gateway of its own on 127.0.0.1:PORT (the stack must
# be up): FUZZ_EXAMPLES cases per operation, seed FUZZ_SEED.
.PHONY: api-fuzz
api-fuzz: $(VENV_STAMP) ## Fuzz the API from its OpenAPI document with Schemathesis (stack up; make test runs it)
	PORT=$(PORT) infra/schemathesis/run.sh

# RFC 9421 signatures made by clients this project did not write (the Python
# http-message-signatures library, and Go's standard crypto alone) through a
# gateway of its own on 127.0.0.1:PORT (the stack must be up).
.PHONY: httpsig-e2e
httpsig-e2e: $(VENV_STAMP) ## Sign /demo requests with http-message-signatures and Go's crypto; tampered ones must fail
	PORT=$(PORT) infra/httpsig/run.sh

.PHONY: cover
cover: tools ## Tests on the local stack with coverage into coverage.out
	$(WITH_STACK) env $(LOCAL_ENV) go test -tags integration -count=1 -coverprofile=coverage.out ./...
	go tool cover -func=coverage.out | tail -n 1

.PHONY: fuzz
fuzz: ## Run each of FUZZ_TARGETS for FUZZTIME
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "go test -run '^\$$' -fuzz '^$$name\$$' -fuzztime $(FUZZTIME) $$pkg"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
	done

.PHONY: bench
bench: ## go test -bench . -benchmem ./...
	go test -run '^$$' -bench . -benchmem ./...

# --- run locally -----------------------------------------------------------

# The gateway is built, not go run: go run exits 1 when it is interrupted,
# even after the gateway shut down cleanly. Ctrl-C stops the gateway (in-flight
# requests finish), then the stack, and the recipe exits 0; make itself still
# reports the interrupt, as GNU make always does when it gets SIGINT.
#
# By default every function runs as its real bootstrap (built for this
# machine) under the Lambda Runtime Interface Emulator, RIE_POOL emulators per
# function; INPROCESS=1 runs the handlers inside the gateway instead, to debug
# them with breakpoints (1, true or yes; anything else is emulator mode).
IN_PROCESS := $(filter 1 true yes,$(INPROCESS))
EMULATOR_ENV = RIE=$(or $(abspath $(call rie)),$(error no aws-lambda-rie-$(RIE_ARCH) in $(VENV); run make tools)) \
	LAMBDA_BIN=$(abspath $(HOST_BIN)) RIE_POOL=$(RIE_POOL)
.PHONY: dev
dev: tools $(if $(IN_PROCESS),,functions-host) ## Serve the API on 127.0.0.1:PORT (3000) against the local stack; Ctrl-C stops both (INPROCESS=1: handlers in-process)
	go build -o $(CACHE)/bin/gateway ./infra/gateway
	$(WITH_STACK) env $(DEV_ENV) $(if $(IN_PROCESS),,$(EMULATOR_ENV)) $(CACHE)/bin/gateway

# Built rather than go run, so that a refusal (ROLE=bogus) is the tool's own
# message and exit status. MERCHANT=, ROLE= or SUB= (empty) leaves that claim
# out. SUB names the portal user, so two users of one merchant can be tried.
.PHONY: token
token: ## Print a dev JWT for make dev (MERCHANT=m_demo ROLE=admin SUB=user_dev; ROLE is root, admin, developer or viewer)
	@go build -o $(CACHE)/bin/gateway-token ./infra/gateway
	@DEV_JWT_SECRET=$(call sq,$(DEV_JWT_SECRET)) $(CACHE)/bin/gateway-token token -merchant=$(call sq,$(MERCHANT)) -role=$(call sq,$(ROLE)) -sub=$(call sq,$(SUB))

# Load run of the rotate job: KEYS keys bulk-written into a fresh table,
# the fraction DUE of them due, then one timed run.
KEYS ?= 100000
DUE ?= 0.1
.PHONY: rotate-load
rotate-load: ## Time one rotate run over KEYS (100000) keys in DynamoDB Local, DUE (0.1) of them due
	$(WITH_STACK) env $(LOCAL_ENV) go run ./infra/gateway rotate-load -keys $(KEYS) -due $(DUE)

# Bulk create and reset throughput on SECRET_STORE: BULK_KEYS keys created
# through the key service, then each reset, then a pass of creates cut off
# halfway (BULK_CUT creates in, 0: BULK_KEYS/2) and the table checked
# against the secret store; the local services' CPU per operation shows
# where the time goes.
BULK_KEYS ?= 10000
BULK_CONCURRENCY ?= 16
BULK_CUT ?= 0
.PHONY: secrets-load
secrets-load: ## Keys/s and p50/p99 of BULK_KEYS (10000) creates and resets on SECRET_STORE, and no half-made key after a cut-off
	$(WITH_STACK) env $(LOCAL_ENV) go run ./infra/gateway secrets-load -keys $(BULK_KEYS) -c $(BULK_CONCURRENCY) -cut $(BULK_CUT) -stack-run $(CACHE)/run

# A KEK rotation the way an operator asks for one in AWS: one invocation of
# the rotate function's real bootstrap with {"rotate_kek":true} in the event
# detail, against make dev's table; that run and the next ones re-wrap the
# ciphertexts and retire the old KEK. Needs SECRET_STORE=envelope.
.PHONY: kek-rotate
kek-rotate: ## Rotate the envelope store's KEK through the rotate function (SECRET_STORE=envelope)
	$(MAKE) invoke-rotate EVENT=events/rotate/with-rotate-kek.json

# One invocation of a function's real bootstrap (built for this machine)
# under the Runtime Interface Emulator, with make dev's settings, against the
# local stack (so on make dev's table while it runs). No Docker.
invoke-%: tools ## Invoke a function's binary once: make invoke-rotate, make invoke-authorize EVENT=events/authorize/http-hmac.json
	@test -d functions/$* || { echo "no function $* (functions/$*)"; exit 2; }
	$(MAKE) build-$(call ucfirst,$*)Function GOARCH_OVERRIDE=$(HOST_ARCH) ARTIFACTS_DIR=$(abspath $(HOST_BIN))/$*
	go build -o $(CACHE)/bin/gateway ./infra/gateway
	$(WITH_STACK) env $(DEV_ENV) $(EMULATOR_ENV) $(CACHE)/bin/gateway invoke $* \
		-event $(or $(EVENT),$(firstword $(sort $(wildcard events/$*/*.json))),$(error no sample event in events/$*/; pass EVENT=<file>))

# Every function's bootstrap beside a hello-world aws-lambda-go one (the
# floor), built the same way for this machine's architecture and started
# fresh under the Lambda Runtime Interface Emulator from the SAM CLI's wheel;
# the emulator listens on PORT+1000 and PORT+1001, the init timer on PORT+1002. COLDSTART_FLAGS passes
# flags on (-runs, -warm, -functions, -v).
COLDSTART_FLAGS ?=
.PHONY: coldstart
coldstart: tools ## Binary size and cold start of every function under the Lambda emulator, beside a hello-world floor
	$(WITH_STACK) env $(LOCAL_ENV) go run ./infra/coldstart \
		-addr 127.0.0.1:$$(($(PORT) + 1000)) -runtime-api 127.0.0.1:$$(($(PORT) + 1001)) -own-api 127.0.0.1:$$(($(PORT) + 1002)) $(COLDSTART_FLAGS)

# The traffic model (infra/sim): SCALE multiplies keys, requests and changes;
# SIM_FLAGS sets the rest (go run ./infra/sim -h lists them).
SCALE ?= 1,10,100,1000
.PHONY: simulate
simulate: ## Predict cache hit rate, DynamoDB reads and the first limit that throttles as traffic grows (SCALE=1,10,100,1000)
	go run ./infra/sim -scale $(call sq,$(SCALE)) $(SIM_FLAGS)

# The cost model (infra/cost): monthly AWS cost from list prices for both
# secret stores. KEYS is shared with rotate-load; COST_FLAGS=-table prints
# the README's table at 10k, 100k and 1M keys.
RPS ?= 100
HMAC_SHARE ?= 0.2
CONTAINERS ?= 10
.PHONY: cost
cost: ## Monthly AWS cost of KEYS keys at RPS decisions/s, HMAC_SHARE signed, CONTAINERS warm authorizers, for both secret stores
	go run ./infra/cost -keys $(call sq,$(KEYS)) -rps $(call sq,$(RPS)) -hmac-share $(call sq,$(HMAC_SHARE)) -containers $(call sq,$(CONTAINERS)) $(COST_FLAGS)

# --- deploy and clean ------------------------------------------------------

.PHONY: deploy
deploy: sam-build ## sam deploy with samconfig.toml (GUIDED=1 asks for every setting)
	$(SAM) deploy $(if $(GUIDED),--guided)

.PHONY: clean
clean: ## Remove build and test outputs
	rm -rf .aws-sam bin coverage.out
	find . -path ./.git -prune -o -path ./$(CACHE) -prune -o -name '*.test' -type f -print -exec rm -f {} +

.PHONY: clean-tools
clean-tools: ## Stop the local stack and remove infra/.cache
	-$(STACK) down
	rm -rf $(CACHE)
