# relapse: pinned, repeatable reproductions of container-runtime bugs.
#
#   make repro RUNC=rc93     one scenario, one version: verdict + report
#   make repro RUNC=rc93 ENGINE=docker                      the seed's docker run loop
#   make repro SCENARIO=containerd-metrics-deadlock CONTAINERD=1.6.2
#   make test                unit tests + the fast suites (real runc)
#   make matrix              the scenario at every pinned version (nightly)
#   make bench               time to verdict, detection latency, start overhead
#   make deps                install the Debian packages relapse needs

GO        ?= go
SCENARIO  ?= runc-pipe-hang
# Versions: RUNC=rc93, CONTAINERD=1.6.2 (`make versions`); a scenario picks
# defaults for the components its bug is not about.
RUNC      ?=
CONTAINERD ?=
# ENGINE=runc|docker for runc-pipe-hang (how runc is driven).
ENGINE    ?=
PARAMS    ?=
REPORTS   ?= $(CURDIR)/reports
BIN       := $(CURDIR)/bin
RELAPSE   := $(BIN)/relapse
# Builds use the installed Go; a toolchain switch mid-experiment would change what is measured.
export GOTOOLCHAIN := local

.PHONY: all deps build repro matrix repair scenarios versions test unit suites bench vet clean

all: build

deps:
	@ci/deps.sh

build: deps
	$(GO) build -o $(RELAPSE) ./cmd/relapse

# No shell metacharacters in the recipe: make execs relapse directly, so
# relapse's parent-death signal fires if make itself is killed.
repro: build
	$(RELAPSE) repro --scenario $(SCENARIO) --reports $(REPORTS) $(if $(RUNC),--version runc=$(RUNC)) $(if $(CONTAINERD),--version containerd=$(CONTAINERD)) $(if $(ENGINE),--param engine=$(ENGINE)) $(addprefix --param ,$(PARAMS))

# The regression matrix: the scenario at every pinned version; exits 4 on a
# verdict that contradicts the bug's affected range.
matrix: build
	$(RELAPSE) matrix --scenario $(SCENARIO) --reports $(REPORTS) $(addprefix --param ,$(PARAMS))

repair: build
	$(RELAPSE) repair

scenarios versions: build
	$(RELAPSE) $@

test: deps vet unit suites

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 ./harness/... ./fixtures/... ./cmd/...

# The Ginkgo suites (every package under suites/ but the benchmarks and the
# shared kit). They run real runc (root needed). -p 1: they share the host's sysctls.
SUITES = $(filter-out %/bench %/suitekit,$(shell $(GO) list ./suites/...))

suites:
	$(GO) test -count=1 -p 1 -timeout 25m $(SUITES) -ginkgo.v -ginkgo.label-filter='!slow'

bench: build
	$(GO) test -count=1 -p 1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./suites/bench/

clean:
	rm -rf $(BIN)
