# PGXS build of the extension sdp.so. Driven by the top-level Makefile (`make`, `make install`,
# `make installcheck`), which keeps its own `check` target: PGXS's would refuse to run.
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
EXTENSION  = sdp
EXTVERSION = $(shell sed -n "s/^default_version *= *'\\(.*\\)'/\\1/p" sdp.control)

# Shared, PostgreSQL-free code from src/common that the server needs (the CSV parser and the text
# helpers it uses, how values are echoed in errors, SHA-256, the model, base64url, the
# differential-privacy samplers, mechanisms, contribution bounding and fixed point, SipHash, the
# PII firewall's cell check and the validators it uses) is compiled into sdp.so as well;
# everything else in src/common is agent-only.
EXT_COMMON = src/common/csv_reader.cc src/common/sha256.cc src/common/logistic_model.cc \
             src/common/text.cc src/common/shown_value.cc src/common/base64url.cc \
             src/common/dp/exact_sampler.cc src/common/dp/mechanisms.cc \
             src/common/dp/contribution_bounding.cc src/common/dp/fixed_point.cc \
             src/common/siphash.cc src/common/luhn.cc src/common/iban.cc \
             src/common/pii/firewall.cc src/common/pii/fold.cc src/common/pii/validators.cc
EXT_SRCS   = $(sort $(wildcard src/extension/*.cc)) $(wildcard $(EXT_COMMON))
MODULE_big = sdp
OBJS       = $(EXT_SRCS:.cc=.o)
# The install script of the current version is assembled from src/extension/sql/NN_*.sql (one
# file per concern, in name order). Released versions are frozen: their install scripts are kept
# in src/extension/releases/ exactly as they were generated, so `CREATE EXTENSION sdp VERSION`
# an older release keeps working, and upgrade scripts sdp--A--B.sql are kept as written
# (docs/releases.md).
INSTALL_SQL = src/extension/sdp--$(EXTVERSION).sql
DATA_built  = $(INSTALL_SQL)
DATA        = $(wildcard src/extension/sdp--*--*.sql) \
              $(filter-out %/sdp--$(EXTVERSION).sql,$(wildcard src/extension/releases/sdp--*.sql))
PGFILEDESC = "sdp - Secure Data Pipeline"

# pg_regress: one file per concern in sql/ with its output in expected/; the schedule is the
# list of files (test/run_checks.sh fails on a sql/*.sql that is not listed).
REGRESS      = $(shell cat test/regress_schedule 2>/dev/null)
REGRESS_OPTS = --inputdir=. --outputdir=build/regress
NO_INSTALLCHECK =

SHLIB_LINK += -lstdc++ -lssl -lcrypto

# C++17 for our sources. PostgreSQL headers use `register`, hence -Wno-register; they are pulled
# in with -isystem so their own warnings do not drown ours.
override PG_CPPFLAGS += -Isrc -Isrc/common -Isrc/extension -isystem $(shell $(PG_CONFIG) --includedir-server)
override PG_CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-register -Wno-unused-parameter -fno-omit-frame-pointer \
                        -DSDP_VERSION=\"$(EXTVERSION)\" $(SDP_WERROR)

# PGXS compiles every object to LLVM bitcode with clang when the server was built --with-llvm,
# but only with BITCODE_CXXFLAGS and CPPFLAGS: without these lines -std=c++17 and our include
# paths are missing there and the build breaks (pg_duckdb PR #248). PGXS also has no .cc rule.
COMPILE.cxx.bc = $(CLANG) -xc++ -Wno-ignored-attributes -Wno-register $(BITCODE_CXXFLAGS) $(CPPFLAGS) $(PG_CPPFLAGS) -std=c++17 -DSDP_VERSION=\"$(EXTVERSION)\" -flto=thin -emit-llvm -c

# The makefile is not in the top directory; paths in here are relative to it, not to this file.
VPATH = .
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# No NOTIFY pgrst at the end: telling PostgREST to reload its schema cache is the deployment's
# step, after CREATE or ALTER EXTENSION has committed (docs/releases.md).
$(INSTALL_SQL): $(sort $(wildcard src/extension/sql/*.sql)) src/extension/extension.mk
	{ echo '-- Generated from src/extension/sql/*.sql by src/extension/extension.mk; edit those files.'; \
	  echo '\\echo Use "CREATE EXTENSION sdp" to load this file. \\quit'; \
	  for f in $(sort $(wildcard src/extension/sql/*.sql)); do echo; echo "-- ==== $$f"; cat $$f; done; } > $@

%.bc : %.cc
	$(COMPILE.cxx.bc) -o $@ $<

# Automatic header dependencies for the extension objects.
override CXXFLAGS += -MMD -MP
-include $(OBJS:.o=.d)

# SDP_VERSION comes from sdp.control: a version bump must rebuild what compiles it in, or
# sdp_version() keeps returning the old version and sdp_ready() reports a mismatch.
src/extension/module.o src/extension/module.bc: sdp.control

