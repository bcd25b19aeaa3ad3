# SDP — Secure Data Pipeline.
#
#   make            build the extension (sdp.so) with PGXS
#   make install    install it into the PostgreSQL 15 found by $(PG_CONFIG)
#   make agent      build build/sdp-agent
#   make check      deps, build, GoogleTest, pg_regress on a temporary cluster, e2e  (CI runs this)
#   make stress     the same build and suites in their long forms (SDP_STRESS=1), < 30 min
#   make demo       deps, build, temporary cluster, the whole round trip
#   make bench      throughput against peers in the same run (see bench/README.md)
#   make deps       install the Debian packages that are missing (idempotent)
#   make dashboard  the web dashboard (dashboard/, Vite) into build/dashboard/ (docs/dashboard.md)
#   make citus CITUS_SRC=<citus tarball> [CITUS_PATCH=<patch>]
#                   build Citus from its source into $(PG_CONFIG)'s PostgreSQL (docs/scale.md)
#   make check-scale  the cluster tests on a Citus coordinator + 2 workers (builds Citus first
#                   when CITUS_SRC is given)

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" sdp.control)

# --- extension: PGXS, in its own makefile so that `make check` stays ours ------------------------
EXT_MAKE = $(MAKE) -f src/extension/extension.mk
.DEFAULT_GOAL := all
.PHONY: all install uninstall installcheck clean-extension
all:
	$(EXT_MAKE) all
install:
	$(EXT_MAKE) install
uninstall:
	$(EXT_MAKE) uninstall
installcheck:
	@mkdir -p build/regress
	$(EXT_MAKE) installcheck
clean-extension:
	$(EXT_MAKE) clean

# --- agent and tests (plain make, out of tree in $(BUILDDIR)) ------------------------------------
# SANITIZE=1 builds the agent and tests with ASan+UBSan, in their own directory so objects of
# the two kinds never mix.
ifeq ($(SANITIZE),1)
BUILDDIR ?= build-asan
SANITIZE_FLAGS ?= -fsanitize=address,undefined -fno-omit-frame-pointer
endif
BUILDDIR ?= build
export BUILDDIR
AGENT_CXX      ?= g++
AGENT_OPT      ?= -O2 -g
AGENT_CXXFLAGS = $(AGENT_OPT) -std=c++17 -Wall -Wextra -pthread -MMD -MP -Isrc \
                  -I$(shell $(PG_CONFIG) --includedir) \
                  -DSDP_VERSION=\"$(EXTVERSION)\" $(SDP_WERROR) $(SANITIZE_FLAGS)
# Tests find their data files through the source tree; the agent itself never knows where it
# was built (no path of the build machine in the binary, nothing to look for there at run time).
TEST_CXXFLAGS  = -I. -DSDP_SOURCE_DIR=\"$(CURDIR)\"
# scan: RE2 (linear-time patterns), ICU (NFKC), libphonenumber (phone validity; no .pc file).
SCAN_LDLIBS    = $(shell pkg-config --libs re2 icu-i18n icu-uc) -lphonenumber
AGENT_LDLIBS   = -lyaml-cpp -lcurl -lpq -lsqlite3 -lcpp-httplib -lssl -lcrypto $(SCAN_LDLIBS) -pthread
# cpp-httplib (sdp-agent serve) is compiled with the feature macros Debian built its library with,
# so the header's inline code matches the library's.
HTTPLIB_CFLAGS = -DCPPHTTPLIB_OPENSSL_SUPPORT -DCPPHTTPLIB_ZLIB_SUPPORT -DCPPHTTPLIB_BROTLI_SUPPORT
$(BUILDDIR)/obj/src/agent/json/json_http.o: AGENT_CXXFLAGS += $(HTTPLIB_CFLAGS)


AGENT_LIB_SRCS = $(filter-out src/agent/cli/main.cc,$(sort $(wildcard src/agent/*/*.cc))) $(sort $(wildcard src/common/*.cc src/common/*/*.cc))
TEST_SRCS      = $(sort $(wildcard test/agent/*/*_test.cc test/common/*_test.cc test/common/*/*_test.cc))
AGENT_LIB_OBJS = $(AGENT_LIB_SRCS:%.cc=$(BUILDDIR)/obj/%.o)
TEST_OBJS      = $(TEST_SRCS:%.cc=$(BUILDDIR)/obj/%.o)

$(BUILDDIR)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(AGENT_CXX) $(AGENT_CXXFLAGS) -c -o $@ $<

$(BUILDDIR)/obj/test/%.o: test/%.cc
	@mkdir -p $(dir $@)
	$(AGENT_CXX) $(AGENT_CXXFLAGS) $(TEST_CXXFLAGS) -c -o $@ $<

$(BUILDDIR)/libsdp_agent.a: $(AGENT_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/sdp-agent: $(BUILDDIR)/obj/src/agent/cli/main.o $(BUILDDIR)/libsdp_agent.a
	$(AGENT_CXX) $(AGENT_CXXFLAGS) -o $@ $^ $(AGENT_LDLIBS)

$(BUILDDIR)/sdp-tests: $(TEST_OBJS) $(BUILDDIR)/libsdp_agent.a
	$(AGENT_CXX) $(AGENT_CXXFLAGS) -o $@ $^ -lgtest -lgtest_main $(AGENT_LDLIBS)

# make bench's timer of the local join alone, built with the agent's flags (SANITIZE=1 included:
# an ASan library cannot be linked into a plain binary).
$(BUILDDIR)/bench/integrate-local: $(BUILDDIR)/obj/bench/tools/integrate_local.o $(BUILDDIR)/libsdp_agent.a
	@mkdir -p $(dir $@)
	$(AGENT_CXX) $(AGENT_CXXFLAGS) -o $@ $^ $(AGENT_LDLIBS)

-include $(AGENT_LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BUILDDIR)/obj/src/agent/cli/main.d \
         $(BUILDDIR)/obj/bench/tools/integrate_local.d

# SDP_VERSION comes from sdp.control: a version bump rebuilds the objects that compile it in.
$(BUILDDIR)/obj/src/agent/cli/main.o $(BUILDDIR)/obj/src/agent/transport/http_transport.o: sdp.control

# libFuzzer targets (test/fuzz/*_fuzzer.cc) built with clang, ASan and UBSan in build-fuzz/.
FUZZDIR  = build-fuzz
FUZZERS  = $(basename $(notdir $(wildcard test/fuzz/*_fuzzer.cc)))
FUZZ_SECONDS ?= 300
$(BUILDDIR)/fuzz/%: $(BUILDDIR)/obj/test/fuzz/%.o $(BUILDDIR)/libsdp_agent.a
	@mkdir -p $(dir $@)
	$(AGENT_CXX) $(AGENT_CXXFLAGS) -fsanitize=fuzzer -o $@ $^ $(AGENT_LDLIBS)

fuzz-build:
	$(MAKE) BUILDDIR=$(FUZZDIR) AGENT_CXX=clang++-14 AGENT_OPT="-O1 -g" \
	  SANITIZE_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	  $(FUZZERS:%=$(FUZZDIR)/fuzz/%)

# make fuzz FUZZ_SECONDS=300: every fuzzer for that long on a copy of its seed corpus.
fuzz: deps fuzz-build
	bash test/run_fuzzers.sh $(FUZZ_SECONDS)

.PHONY: agent sdp-tests bench-tools deps check stress demo bench format fuzz fuzz-build dashboard
.PHONY: citus check-scale
agent: $(BUILDDIR)/sdp-agent
sdp-tests: $(BUILDDIR)/sdp-tests
bench-tools: $(BUILDDIR)/bench/integrate-local

deps:
	@bash test/deps.sh

# The web dashboard: dependencies exactly as dashboard/package-lock.json pins them (npm ci; the
# local npm cache is used first), a type check, then Vite's production build into
# $(BUILDDIR)/dashboard/, which Caddy serves under /app/ (docs/dashboard.md).
dashboard:
	cd dashboard && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	cd dashboard && npx --no-install tsc --noEmit
	cd dashboard && npx --no-install vite build --logLevel warn --outDir $(abspath $(BUILDDIR))/dashboard

# The preamble of check, stress, demo and bench, written once: the extension built and installed
# into $(PG_CONFIG)'s PostgreSQL, then the agent-side targets named in $(1).
define build_installed
	$(MAKE) all
	$(MAKE) install
	$(MAKE) -j2 $(1)
endef

# --- Citus (docs/scale.md) -------------------------------------------------------------------------
# Citus is a separate program (AGPL-3.0) that the cluster tests run beside sdp; it is never linked
# into or shipped with sdp. Users install it from Citus's own packages. Where those are not
# reachable, `make citus CITUS_SRC=<citus-X.Y.Z source tarball> CITUS_PATCH=<patch, optional>`
# unpacks it into $(BUILDDIR)/citus, applies the patch, and builds and installs it into
# $(PG_CONFIG)'s PostgreSQL (needs root when that is the system's). Without CITUS_SRC it only
# checks that Citus is installed.
CITUS_SRC ?=
CITUS_PATCH ?=
CITUS_SO = $(shell $(PG_CONFIG) --pkglibdir)/citus.so
# A build of the same tarball and patch that is installed already is not repeated.
CITUS_STAMP = $(BUILDDIR)/citus.built
citus:
ifneq ($(strip $(CITUS_SRC)),)
	@bash test/deps.sh citus
	@if [ -f $(CITUS_SO) ] && [ -f $(CITUS_STAMP) ] && \
	    [ "$$(cat $(CITUS_SRC) $(CITUS_PATCH) | sha256sum)" = "$$(cat $(CITUS_STAMP))" ]; then \
	  echo "citus: already built from $(CITUS_SRC)"; \
	else \
	  $(MAKE) citus-build && cat $(CITUS_SRC) $(CITUS_PATCH) | sha256sum >$(CITUS_STAMP); \
	fi
else
	@test -f $(CITUS_SO) || { echo "citus: error: $(CITUS_SO) missing; fix: install Citus from its packages, or make citus CITUS_SRC=<citus source tarball>" >&2; exit 3; }
endif
	@echo "citus: $(CITUS_SO)"

.PHONY: citus-build
citus-build:
	rm -rf $(BUILDDIR)/citus && mkdir -p $(BUILDDIR)/citus
	tar -xf $(abspath $(CITUS_SRC)) -C $(BUILDDIR)/citus --strip-components=1
	$(if $(strip $(CITUS_PATCH)),cd $(BUILDDIR)/citus && patch -p1 < $(abspath $(CITUS_PATCH)))
	cd $(BUILDDIR)/citus && ./configure PG_CONFIG=$(PG_CONFIG) >configure.log
	$(MAKE) -C $(BUILDDIR)/citus -j2 >$(BUILDDIR)/citus/make.log
	$(MAKE) -C $(BUILDDIR)/citus install >$(BUILDDIR)/citus/install.log

# make check-scale: the cluster tests (test/scale/*.sh) on a Citus coordinator and two workers
# started by test/scale/cluster.sh, the extension built and installed first.
check-scale: deps
	$(call build_installed,agent)
	$(MAKE) citus
	bash test/run_checks.sh --only scale

# make check: everything CI runs. Installs the extension (root), then test/run_checks.sh runs
# GoogleTest, pg_regress on a temporary cluster and test/e2e/*.sh and prints one closing line.
# With CITUS_SRC (or Citus installed) it runs the cluster tests too (test/scale/, docs/scale.md);
# without Citus they are counted as skipped.
check: deps
	$(call build_installed,agent sdp-tests bench-tools)
	$(if $(strip $(CITUS_SRC)),$(MAKE) citus)
	$(MAKE) dashboard
	bash test/run_checks.sh

# make stress: what make check builds and runs, in the long forms (test/run_checks.sh with
# SDP_STRESS=1): e2e scripts on bigger inputs and more rounds (PII leak on 100,000 rows,
# concurrency rounds, fault injection), every fuzzer STRESS_FUZZ_SECONDS instead of 20. Sized to
# end within 30 minutes on a 2-core machine, with the same closing line "N passed, N failed"
# (measured on a loaded 2-core machine: 22 min for the suites with 90 s fuzzers, of which 12 min
# fuzzing, plus the build; 75 s keeps a margin).
STRESS_FUZZ_SECONDS ?= 75
stress: deps
	$(call build_installed,agent sdp-tests bench-tools)
	$(MAKE) dashboard
	SDP_STRESS=1 SDP_FUZZ_SECONDS=$(STRESS_FUZZ_SECONDS) bash test/run_checks.sh

demo: deps
	$(call build_installed,agent)
	SDP_PG_SETTINGS="sdp.auto_process=on;sdp.worker_naptime=200ms" bash test/with_pg.sh bash demo/demo.sh

bench: deps
	$(call build_installed,agent bench-tools)
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean: clean-extension
	rm -rf $(BUILDDIR)
.SECONDARY:
