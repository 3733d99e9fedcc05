# Support desk: build, test and run. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Go modules of the workspace (go.work), in dependency order. `go test ./...` at the repository root
# does not cross modules, so every target below loops over them.
MODULES  := pkg services/auth services/tickets services/audit services/gateway services/webhooks bench deploy
SERVICES := auth tickets audit webhooks gateway
# Modules outside go.work, built with GOWORK=off.
TOOL_MODULES := deploy/ferretdb

# Tests start bin/ferretdb as their MongoDB stand-in and an embedded NATS of their own; they use the
# PostgreSQL on 127.0.0.1:5432.
export FERRETDB_BIN := $(CURDIR)/bin/ferretdb
export REPO_ROOT := $(CURDIR)

# staticcheck, run from the module proxy at a version that builds with Go 1.26.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Build tags of the test suites outside `make test`; vetted with the rest.
comma := ,
TEST_TAGS := chaos$(comma)security$(comma)jaeger

# run-in-modules CMD: run CMD in every module; report every failing module, fail at the end.
define run-in-modules
	failed=(); \
	for m in $(MODULES); do \
		echo "==> $$m: $(1)"; \
		(cd "$$m" && $(1)) || failed+=("$$m"); \
	done; \
	if (( $${#failed[@]} )); then echo "FAILED in: $${failed[*]}" >&2; exit 1; fi
endef

.PHONY: help run build tools test test-race test-chaos test-scale test-jaeger test-security fuzz test-deps lint bench bench-go tidy clean

help:
	@echo "make run        run the whole system locally (deploy/run.sh)"
	@echo "make build      build the four services into bin/"
	@echo "make tools      build bin/ferretdb (MongoDB stand-in for local runs and tests)"
	@echo "make test       go test every module (needs PostgreSQL; started or installed if missing)"
	@echo "make test-race  the same with the race detector (slow)"
	@echo "make test-chaos     faults injected under load into a stack of its own; prints a table (about 5 min)"
	@echo "make test-scale     two replicas of tickets, audit and the gateway on a 3-node JetStream cluster, a node stopped under load (under a minute)"
	@echo "make test-jaeger    one trace across the system in a real Jaeger (builds bin/jaeger once: minutes)"
	@echo "make test-security  the OWASP API Top 10 attack battery through the gateway; prints cases per category (about 2 min)"
	@echo "make fuzz       every fuzz target for FUZZTIME each (default 30s)"
	@echo "make lint       gofmt, go vet, staticcheck and go mod tidy -diff in every module"
	@echo "make bench      the system's benchmark scenarios on a stack of their own: bench/results.{json,md} (about 40 min)"
	@echo "make bench-go   the Go micro-benchmarks of every module"
	@echo "make tidy       go mod tidy in every module"
	@echo "make clean      remove bin/ and coverage files (data/ is kept)"

run:
	deploy/run.sh

build:
	mkdir -p bin
	go build -o bin/ $(addprefix ./services/,$(SERVICES))

tools:
	deploy/deps.sh ensure_ferretdb_binary

test-deps:
	deploy/deps.sh ensure_postgres
	deploy/deps.sh ensure_ferretdb_binary

test: test-deps
	@$(call run-in-modules,go test -count=1 ./...)

test-race: test-deps
	@$(call run-in-modules,go test -count=1 -race ./...)

# The chaos suite and the attack battery start their own PostgreSQL cluster (initdb), NATS and FerretDB.
test-chaos: test-deps
	cd services/gateway && go test -tags chaos -count=1 -v -timeout 20m -run '^TestChaos$$' ./e2e

# Two replicas of tickets and audit and two gateways on a 3-node JetStream cluster (embedded), one
# node stopped and started under load.
test-scale: test-deps
	cd services/gateway && go test -tags chaos -count=1 -v -timeout 10m -run '^(TestScaleOut|TestLimitsAcrossReplicas)$$' ./e2e

# A real Jaeger (v2, built once from the Go module proxy into bin/jaeger; several minutes the first
# time) holding one trace across the system.
test-jaeger: test-deps
	deploy/deps.sh ensure_jaeger_binary
	cd services/gateway && go test -tags jaeger -count=1 -v -timeout 10m -run '^TestJaegerHoldsOneTrace$$' ./e2e

test-security: test-deps
	cd services/gateway && go test -tags security -count=1 -v -timeout 15m -run '^TestSecurity$$' ./e2e

FUZZTIME ?= 30s
fuzz: test-deps
	FUZZTIME=$(FUZZTIME) deploy/fuzz.sh

bench: test-deps
	go run ./bench

bench-go: test-deps
	@$(call run-in-modules,go test -count=1 -run '^$$' -bench . -benchmem ./...)

lint:
	@unformatted=$$(find . -name '*.go' -not -path './.git/*' -not -path './data/*' -print0 | xargs -0 -r gofmt -l); \
	if [[ -n $$unformatted ]]; then echo "gofmt would change:" >&2; echo "$$unformatted" >&2; exit 1; fi
	@$(call run-in-modules,go vet -tags $(TEST_TAGS) ./... && go run $(STATICCHECK) -tags $(TEST_TAGS) ./... && go mod tidy -diff)
	@for m in $(TOOL_MODULES); do echo "==> $$m: go vet ./..."; (cd "$$m" && GOWORK=off go vet ./...); done

tidy:
	@$(call run-in-modules,go mod tidy)
	@for m in $(TOOL_MODULES); do echo "==> $$m: go mod tidy"; (cd "$$m" && GOWORK=off go mod tidy); done

clean:
	rm -rf bin
	find . -name '*.coverprofile' -o -name 'coverage.out' -o -name 'coverage.html' | xargs -r rm -f
