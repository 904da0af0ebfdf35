# relapse: pinned, repeatable reproductions of container-runtime bugs.
#
#   make repro RUNC=rc93     one scenario, one version: verdict + report
#   make repro RUNC=rc93 ENGINE=docker                      the seed's docker run loop
#   make repro SCENARIO=containerd-metrics-deadlock CONTAINERD=1.6.2
#   make test                unit tests + the fast suites (real runc)
#   make test-fresh          .ci/run in a fresh clone with empty caches, under load
#   make fuzz                fuzz the parsers of untrusted input (FUZZTIME=30s each)
#   make matrix              the scenario at every pinned version
#   make nightly             ci/nightly.yaml's fast cells, merged into history, dashboard
#   make bench               time to verdict, detection latency, start overhead
#   make fuzz                fuzz the parsers of untrusted input (FUZZTIME=30s each)
#   make deps                install the Debian packages relapse needs
#   make repro PROVIDER=qemu KERNEL=6.12 RUNC=rc93          inside a VM with its own kernel
#   make repro PROVIDER=qemu SCENARIO=systemd-cookie-overrun
#   make test-vm             the VM suites (qemu and Vagrant nodes; slow)
#   make repro PROVIDER=qemu SCENARIO=systemd-cookie-overrun SYSTEMD=source:252.39-1~deb12u2 \
#        PATCH=systemd=fixtures/patches/systemd/revert-11818-252.39.patch      systemd built from Debian source
#   make test-debsrc         the seeds' own systems built from Debian source (slow: ~1 h cold)
#   make repro SCENARIO=kubelet-extra-sandbox KUBERNETES=1.19.3 CLUSTER=kind   on a kind cluster
#   make test-k8s            the Kubernetes suites (bare and kind clusters; slow)
#   make test-slow           the host suites' slow specs (bisect over commits, reproducer interrupts)

GO        ?= go
SCENARIO  ?= runc-pipe-hang
# Versions: RUNC=rc93, CONTAINERD=1.6.2 (`make versions`); a scenario picks
# defaults for the components its bug is not about.
RUNC      ?=
CONTAINERD ?=
KUBERNETES ?=
# ENGINE=runc|docker|containerd for runc-pipe-hang, runc|podman for
# cri-o-4491 (how runc is driven).
ENGINE    ?=
# CLUSTER=bare|kind for the cluster scenarios (who makes the cluster).
CLUSTER   ?=
PARAMS    ?=
# REPEAT=N runs N independent repetitions for a rate with its interval.
REPEAT    ?=
# PATCH="runc=FILE ..." patches a component before building it; SOURCE="runc=DIR"
# builds it from a local tree or git checkout.
PATCH     ?=
SOURCE    ?=
# Nodes: PROVIDER=local|qemu|vagrant, KERNEL=6.1|6.12|<Debian ABI>|<bzImage>|source:<Debian version>,
# BOX=<vagrant box>, SYSTEMD=source:<Debian version> (a qemu node's systemd built from
# Debian source; with PATCH=linux=FILE or systemd=FILE for what those builds apply).
PROVIDER  ?=
KERNEL    ?=
SYSTEMD   ?=
BOX       ?=
REPORTS   ?= $(CURDIR)/reports
BIN       := $(CURDIR)/bin
RELAPSE   := $(BIN)/relapse
# Builds use the installed Go; a toolchain switch mid-experiment would change what is measured.
export GOTOOLCHAIN := local

.PHONY: chaos fuzz test-debsrc actionlint nightly bisect all deps deps-base deps-engines deps-podman deps-vm deps-k8s test-noisy test-fresh test-slow test-k8s test-k8s-vm build generate lint repro matrix repair scenarios versions test unit suites test-vm bench vet clean

all: build

# Each target installs only the groups it needs (ci/deps.sh names them):
# make repro RUNC=rc93 needs a compiler and libseccomp, not dockerd or a browser.
deps:
	@ci/deps.sh

deps-base:
	@ci/deps.sh base

# dockerd and Debian's containerd: ENGINE=docker|containerd and the containerd scenarios.
deps-engines:
	@ci/deps.sh engines

# podman and conmon from Debian: ENGINE=podman of cri-o-4491 (the kit's r.Podman).
deps-podman:
	@ci/deps.sh podman

# VM nodes need qemu, debootstrap and friends; Vagrant nodes libvirt and vagrant.
deps-vm:
	@ci/deps.sh vm

# Bare clusters need etcd, CNI plugins and containerd from Debian.
deps-k8s:
	@ci/deps.sh k8s

# The scenarios' link file (harness/scenarios/zz_link.go) follows the
# directories under harness/scenarios: a new scenario is only its package.
generate:
	$(GO) generate ./harness/scenarios

# The link file is regenerated when a scenario package appears (its
# doc.go is newer), and relapse rebuilt only when a Go file changed: a warm
# `make repro` spends its time on the experiment, not on checking builds.
SCENARIO_LINK := harness/scenarios/zz_link.go
$(SCENARIO_LINK): $(wildcard harness/scenarios/*/doc.go) harness/scenarios/internal/linkgen/main.go
	$(GO) generate ./harness/scenarios
	@touch $@

RELAPSE_SOURCES := $(SCENARIO_LINK) $(shell find cmd harness fixtures -type f -not -name '*_test.go' 2>/dev/null) go.mod go.sum

$(RELAPSE): $(RELAPSE_SOURCES)
	$(GO) build -o $(RELAPSE) ./cmd/relapse

# `make repro` runs a lean relapse (-tags relapse_lean) unless the scenario
# or engine needs the cluster, Docker or containerd clients: ~190 packages
# to compile instead of ~930, about 40 s instead of 3.5 min on a fresh
# 2-core machine. It links the scenarios that drive runc alone (the link
# file zz_link_lean.go says which) and says so when asked for another.
RELAPSE_LEAN := $(BIN)/relapse-lean
$(RELAPSE_LEAN): $(RELAPSE_SOURCES)
	$(GO) build -tags relapse_lean -o $(RELAPSE_LEAN) ./cmd/relapse

# kubernetes-%: the kubelet bugs declared with the kit (harness/scenarios/kubeletbugs).
CLUSTER_SCENARIOS := pleg-not-healthy kubelet-extra-sandbox runc-pipe-hang-k8s kubernetes-%
ENGINE_CLIENTS = $(filter docker containerd,$(ENGINE))$(filter containerd-%,$(SCENARIO))
REPRO_BIN = $(if $(ENGINE_CLIENTS)$(filter $(CLUSTER_SCENARIOS),$(SCENARIO)),$(RELAPSE),$(RELAPSE_LEAN))

build: deps-base $(RELAPSE)

# golangci-lint v2 from the module proxy, with the repository's .golangci.yml.
GOLANGCI_LINT_VERSION = v2.15.0
$(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

lint: deps-base $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
	$(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION) run ./...

# The GitHub Actions workflow under ci/github, checked by actionlint from the
# module proxy (part of make test: a broken workflow only shows at night).
ACTIONLINT_VERSION = v1.7.12
$(BIN)/actionlint-$(ACTIONLINT_VERSION):
	GOBIN=$(BIN) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mv $(BIN)/actionlint $@

actionlint: $(BIN)/actionlint-$(ACTIONLINT_VERSION)
	$(BIN)/actionlint-$(ACTIONLINT_VERSION) ci/github/*.yml

# No shell metacharacters in the recipe: make execs relapse directly, so
# relapse's parent-death signal fires if make itself is killed.
NODE_FLAGS = $(if $(PROVIDER),--provider $(PROVIDER)) $(if $(KERNEL),--kernel $(KERNEL)) $(if $(SYSTEMD),--systemd $(SYSTEMD)) $(if $(BOX),--box $(BOX))

repro: deps-base $(REPRO_BIN) $(if $(ENGINE_CLIENTS),deps-engines) $(if $(filter podman,$(ENGINE)),deps-podman) $(if $(filter qemu vagrant,$(PROVIDER)),deps-vm) $(if $(filter $(CLUSTER_SCENARIOS),$(SCENARIO)),deps-k8s)
	$(REPRO_BIN) repro --scenario $(SCENARIO) --reports $(REPORTS) $(if $(RUNC),--version runc=$(RUNC)) $(if $(CONTAINERD),--version containerd=$(CONTAINERD)) $(if $(KUBERNETES),--version kubernetes=$(KUBERNETES)) $(if $(ENGINE),--param engine=$(ENGINE)) $(if $(CLUSTER),--param cluster=$(CLUSTER)) $(addprefix --param ,$(PARAMS)) $(if $(REPEAT),--repeat $(REPEAT)) $(addprefix --patch ,$(PATCH)) $(addprefix --source ,$(SOURCE)) $(NODE_FLAGS)

# The regression matrix: the scenario at every pinned version; exits 4 on a
# verdict that contradicts the bug's affected range.
matrix: deps build
	$(RELAPSE) matrix --scenario $(SCENARIO) --reports $(REPORTS) $(addprefix --param ,$(PARAMS)) $(NODE_FLAGS)

# The nightly matrix's fast cells here (ci/nightly.yaml), merged as tonight
# into the history store, compared with earlier nights, and the dashboard
# written to $(STORE)/dashboard.html. Exits 4 on a RELAPSE: the file's canary
# (runc 1.1.14 with runc#2871 reverted) is one on purpose; CANARY_OK=1 counts
# it as the night working, and then 5 means the canary did not relapse or did not run.
# NIGHTLY_SOURCES=runc=DIR,containerd=DIR names the checkouts the file's
# git:upstream@main cells build (absolute paths to git repositories);
# without one those cells are INCONCLUSIVE, skipped with the reason.
# A RELAPSE in a selector row is bisected at once; BISECT_DEADLINE (3h)
# bounds all of the night's bisections.
STORE     ?= $(CURDIR)/results-store
CANARY_OK ?=
NIGHTLY   ?= ci/nightly.yaml
SPEED     ?= fast
NIGHTLY_SOURCES ?=
BISECT_DEADLINE ?=
nightly: deps build
	$(RELAPSE) nightly --file $(NIGHTLY) --speed $(SPEED) --store $(STORE) --lock-wait 30m $(if $(CANARY_OK),--canary-ok) $(if $(NIGHTLY_SOURCES),--sources $(NIGHTLY_SOURCES)) $(if $(BISECT_DEADLINE),--bisect-deadline $(BISECT_DEADLINE))

# The chaos explorer: seeded schedules of workloads and faults against a
# pinned stack under generic invariants (make chaos CONTAINERD=1.6.2
# RUNC=1.1.1 BUDGET=15m SEED=1; without RUNC, the runc containerd pins in
# its script/setup/runc-version). Exits 1 with a confirmed finding, 0 with
# none; DRAFT=DIR writes a draft kit declaration of a new one.
BUDGET ?= 15m
SEED   ?= 1
DRAFT  ?=
chaos: deps deps-engines $(if $(KUBERNETES),deps-k8s) build
	$(RELAPSE) chaos $(if $(CONTAINERD),--containerd $(CONTAINERD)) $(if $(RUNC),--runc $(RUNC)) $(if $(KUBERNETES),--kubernetes $(KUBERNETES)) --budget $(BUDGET) --seed $(SEED) --reports $(REPORTS) --lock-wait 30m $(if $(DRAFT),--draft $(DRAFT))

# Bisection: make bisect COMPONENT=runc GOOD="rc92 1.3.0" BAD=rc93 (over
# releases), or with BISECT_SOURCE=DIR over the commits of a checkout.
COMPONENT ?= runc
GOOD      ?=
BAD       ?=
BISECT_SOURCE ?=
bisect: deps build
	$(RELAPSE) bisect --scenario $(SCENARIO) --component $(COMPONENT) --reports $(REPORTS) $(addprefix --good ,$(GOOD)) $(addprefix --bad ,$(BAD)) $(if $(BISECT_SOURCE),--source $(BISECT_SOURCE)) $(addprefix --param ,$(PARAMS)) $(if $(REPEAT),--repeat $(REPEAT)) $(NODE_FLAGS)

repair: build
	$(RELAPSE) repair

scenarios versions: build
	$(RELAPSE) $@

# gotestsum from the module proxy runs go test -json and ends with every
# skipped test and its reason; make test lists the skips of unit and suites
# together last. No `generate` here: link_test fails on stale link files
# rather than make rewriting them before it looks.
GOTESTSUM_VERSION = v1.13.0
GOTESTSUM = $(BIN)/gotestsum-$(GOTESTSUM_VERSION)
$(GOTESTSUM):
	GOBIN=$(BIN) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)
	mv $(BIN)/gotestsum $@
TEST_EVENTS ?= $(REPORTS)/go-test

test: deps vet actionlint unit suites
	@echo "make test: passed; the tests it skipped, with their reasons:"
	@$(GOTESTSUM) --format dots --raw-command -- cat $(TEST_EVENTS)/unit.json $(TEST_EVENTS)/suites.json

vet:
	$(GO) vet ./...
	$(GO) vet -tags relapse_k8s ./harness/cluster/kind ./harness/versions

# Unit tests run with the race detector; harness/layers fails when a
# package imports one above it.
unit: $(GOTESTSUM)
	@mkdir -p $(TEST_EVENTS)
	$(GOTESTSUM) --format pkgname --jsonfile $(TEST_EVENTS)/unit.json -- -race -count=1 ./harness/... ./fixtures/... ./cmd/... ./suites/suitekit

# Fuzzing of the parsers that read untrusted input, each target for
# FUZZTIME (Go's native fuzzing, one target per `go test -fuzz`; -parallel
# caps the fuzz workers). A target is package:FuzzName. Inputs that fail
# are written to the package's testdata/fuzz/<FuzzName>/ and, committed,
# run with the seeds in every `make unit` (plain `go test` runs each
# Fuzz function over its seeds and testdata corpus). The first run builds
# the packages with coverage instrumentation (~15 min on 2 busy cores for
# the matrix parser, which links every scenario); later runs are cached.
# Minimizing a new input is capped at 5 s: the default minute would spend
# a short run on one input.
FUZZTIME     ?= 30s
FUZZPARALLEL ?= 1
FUZZ_TARGETS  = harness/matrix:FuzzParse harness/matrix:FuzzParseShard harness/versions:FuzzParsePatch harness/versions:FuzzNormalize \
                harness/results:FuzzParseStarted harness/results:FuzzParseFinished harness/results:FuzzReadCell harness/textutil:FuzzLogLine

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $${t#*:} in ./$${t%%:*} for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel $(FUZZPARALLEL) ./$${t%%:*}; \
	done

# The Ginkgo suites (every package under suites/ but the benchmarks and the
# shared kit). They run real runc (root needed). -p 1: they share the host's sysctls.
SUITES = $(filter-out %/bench %/suitekit,$(shell $(GO) list ./suites/...))

suites: $(GOTESTSUM)
	@mkdir -p $(TEST_EVENTS)
	$(GOTESTSUM) --format standard-verbose --jsonfile $(TEST_EVENTS)/suites.json -- -count=1 -p 1 -timeout 25m $(SUITES) -ginkgo.v -ginkgo.label-filter='!slow'

# The slow specs of the suites that need only this host (the VM and
# Kubernetes suites have targets of their own).
test-slow: deps $(GOTESTSUM)
	$(GOTESTSUM) --format standard-verbose -- -count=1 -p 1 -timeout 60m $(filter-out %/vm %/kubernetes,$(SUITES)) -ginkgo.v -ginkgo.label-filter='slow'

# .ci/run as CI and a new user's machine run it: a fresh clone of HEAD,
# empty relapse, Go build and module caches, under load; prints its wall
# time (ci/test-fresh.sh; TEST_FRESH_KEEP=1 keeps the clone and caches).
test-fresh:
	ci/test-fresh.sh

# The fast suites again with both cores saturated by CPU and I/O load
# (stress-ng): a verdict that flips under load is a bug in relapse.
test-noisy: deps
	ci/noisy.sh $(MAKE) test

# VM nodes boot under software emulation here (~15-40 s each): ~12 min warm,
# +~3 min for a cold cache (root filesystem, kernels, Vagrant box).
test-vm: deps deps-vm
	$(GO) test -count=1 -p 1 -timeout 60m ./suites/vm -ginkgo.v -ginkgo.label-filter='vm && !debsrc'

# The seeds' own systems, built from Debian source with one upstream change
# reverted and booted in qemu nodes: linux 6.1 with 1-page pipes (rc93 with
# Docker's default profile) and systemd 252 with systemd#11818 reverted (the
# cookie overrun). Cold: a kernel (~25 min) and systemd (~30 min) on 2 cores,
# one build at a time; warm (cached builds): ~10 min.
test-debsrc: deps deps-vm
	$(GO) test -count=1 -p 1 -timeout 150m ./suites/vm -ginkgo.v -ginkgo.label-filter='debsrc'

# Kubernetes clusters: the first run builds five binaries per version
# (~7-14 min each version on 2 cores, then cached); the PLEG spec alone
# waits out the 3-minute threshold (~6 min warm). Ginkgo cuts a suite at
# 1 h unless told: its timeout sits just under go test's, so an overrun
# ends in Ginkgo's interrupt (cleanups run, the host is restored), not a panic.
test-k8s: deps deps-k8s
	$(GO) test -count=1 -p 1 -timeout 80m ./suites/kubernetes -ginkgo.v -ginkgo.timeout=78m -ginkgo.label-filter='k8s || (component:kubernetes && !k8s-vm)'
	$(GO) test -count=1 -tags relapse_k8s -run '^TestK8sHost' -timeout 60m -v ./harness/cluster/kind ./harness/versions

# Bare clusters on a qemu VM node (software emulation here): the cluster
# scenarios with kubelet inside the VM, ~25 min warm.
test-k8s-vm: deps deps-vm deps-k8s
	$(GO) test -count=1 -p 1 -timeout 90m ./suites/kubernetes -ginkgo.v -ginkgo.timeout=88m -ginkgo.label-filter='k8s-vm'

# Benchmarks: results kept under $(BENCH_OUT) in Go's benchmark format and
# compared with ci/bench-baseline.txt by benchstat (ratios per metric).
# BENCH=regexp picks benchmarks (the VM and cluster ones take minutes each);
# BENCH_COUNT=5 gives each figure an interval.
BENCH      ?= .
BENCH_OUT  ?= $(CURDIR)/bench-results
BENCH_BASELINE ?= ci/bench-baseline.txt
PERF_VERSION = v0.0.0-20260908200009-22c9c6c9d4da
$(BIN)/benchstat-$(PERF_VERSION):
	GOBIN=$(BIN) $(GO) install golang.org/x/perf/cmd/benchstat@$(PERF_VERSION)
	mv $(BIN)/benchstat $@

bench: build $(BIN)/benchstat-$(PERF_VERSION)
	@ci/deps.sh bench
	ci/bench.sh $(BIN)/benchstat-$(PERF_VERSION) $(BENCH_OUT) $(BENCH_BASELINE) '$(BENCH)'

clean:
	rm -rf $(BIN)
