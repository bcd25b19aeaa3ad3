#!/usr/bin/env bash
# make bench: throughput of every SDP stage against its peers, same machine, same run, same data.
#
#   bench/run.sh              1M rows, 3 repetitions (median), exits 1 on any BELOW TARGET
#   QUICK=1 bench/run.sh      20k rows, 1 repetition: every stage must run and give numbers;
#                             ratios are printed but never fail (run inside `make check`)
#
# Knobs: BENCH_ROWS (small-size mode: e.g. BENCH_ROWS=50000 make bench; targets still enforced,
# figures noisy), BENCH_REPS (every contender, peers included, runs this many times), BENCH_SEED,
# SDP_AGENT (default $BUILDDIR/sdp-agent), BENCH_RESULTS (default bench/results, or
# $BUILDDIR/bench-quick for QUICK), BENCH_KEEP_DB=1, BENCH_TRACE=1 (bash -x of the stages).
# The customers file is generated once per (rows, seed, generator) and cached in bench/data/
# (git-ignored); the 5x file for the memory check is made from it with shell tools.
# Uses the PostgreSQL cluster of the caller when PGPORT is set (make check), otherwise starts a
# temporary one (test/with_pg.sh). See bench/README.md for what each figure means.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
builddir=${BUILDDIR:-build}
quick=${QUICK:-${BENCH_QUICK:-}}
[[ "$quick" == 0 ]] && quick=""
if [[ -n "$quick" ]]; then
  rows=${BENCH_ROWS:-20000}
  reps=${BENCH_REPS:-1}
  out=${BENCH_RESULTS:-$repo/$builddir/bench-quick}
  verify=$rows
  # The rekey stage on 2,000 rows: it checks that the stage works; throughput is make bench's.
  export BENCH_REKEY_ROWS=${BENCH_REKEY_ROWS:-2000}
else
  rows=${BENCH_ROWS:-1000000}
  reps=${BENCH_REPS:-3}
  out=${BENCH_RESULTS:-$repo/bench/results}
  verify=${BENCH_VERIFY_ROWS:-100000}
fi
seed=${BENCH_SEED:-20261129}
agent=${SDP_AGENT:-$repo/$builddir/sdp-agent}
py=/usr/bin/python3   # Debian's, with python3-pandas: the peers are what Debian ships

fail() { echo "bench: error: $1; fix: $2" >&2; exit 3; }
[[ -x "$agent" ]] || fail "no agent at $agent" "make agent (or set SDP_AGENT)"
[[ -x /usr/bin/time ]] || fail "GNU time (/usr/bin/time) is missing" "make deps"
command -v mlr >/dev/null || fail "Miller (mlr) is missing" "make deps"
command -v gnuplot >/dev/null || fail "gnuplot is missing" "make deps"
"$py" -c 'import pandas' 2>/dev/null || fail "python3-pandas is missing" "make deps"

start=$(date +%s)
# The machine as it was when we started: the figures mean little without it.
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$out" bench/data

# ---- data, cached -----------------------------------------------------------------------------
gen_id=$(sha256sum bench/gen_customers.py | cut -c1-8)
raw="$repo/bench/data/customers_${rows}_s${seed}_${gen_id}.csv"
if [[ ! -s "$raw" ]]; then
  echo "bench: generating $rows customers (once; cached as $raw)" >&2
  "$py" bench/gen_customers.py "$rows" "$raw.tmp" --seed "$seed"
  mv "$raw.tmp" "$raw"
fi
big_rows=$((rows * 5))
big="$repo/bench/data/customers_${rows}x5_s${seed}_${gen_id}.csv"
if [[ ! -s "$big" ]]; then
  # Header once, then the data rows five times (customer ids repeat; tokenize does not care).
  { cat "$raw"; for _ in 1 2 3 4; do tail -n +2 "$raw"; done; } >"$big.tmp"
  mv "$big.tmp" "$big"
fi

# ---- the local-join timer (bench/tools/integrate_local.cc), linked against the agent's library --
# (make bench and make check build it with the agent's flags, `make bench-tools`; this is the
# fallback for a bare `bash bench/run.sh`).
lib=${BENCH_AGENT_LIB:-$(dirname "$agent")/libsdp_agent.a}
[[ -f "$lib" ]] || fail "no agent library at $lib" "make agent (or set BENCH_AGENT_LIB)"
tool="$(dirname "$lib")/bench/integrate-local"
if [[ ! -x "$tool" || "$lib" -nt "$tool" || bench/tools/integrate_local.cc -nt "$tool" ]]; then
  mkdir -p "$(dirname "$tool")"
  g++ -O2 -std=c++17 -Isrc/agent -Isrc/common -Isrc -I"$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --includedir)" \
    -o "$tool" bench/tools/integrate_local.cc "$lib" -lyaml-cpp -lcurl -lpq -lsqlite3 -lssl -lcrypto -pthread ||
    fail "could not build $tool" "make agent, then run again"
fi

# ---- versions and machine -----------------------------------------------------------------------
pg_bin=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
{
  echo "rows=$rows"
  echo "big_rows=$big_rows"
  echo "reps=$reps"
  echo "quick=${quick:+1}"
  echo "seed=$seed"
  echo "nproc=$(nproc)"
  echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "mem_total=$(sed -n 's/^MemTotal: *//p' /proc/meminfo)"
  echo "load_at_start=$load_at_start"
  echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
  echo "kernel=$(uname -r)"
  echo "sdp_agent=$("$agent" --version 2>&1 | head -n 1)"
  echo "postgresql=$("$pg_bin/postgres" --version)"
  echo "python=$("$py" --version 2>&1)"
  echo "pandas=$("$py" -c 'import pandas; print(pandas.__version__)')"
  echo "miller=$(mlr --version)"
  echo "openssl=$(openssl version 2>/dev/null || echo unknown)"
  echo "compiler=$(g++ --version | head -n 1)"
  echo "gnuplot=$(gnuplot --version)"
} >"$out/meta.txt"

# ---- measure ------------------------------------------------------------------------------------
export BENCH_RAW=$raw BENCH_RAW_BIG=$big BENCH_ROWS=$rows BENCH_BIG_ROWS=$big_rows BENCH_REPS=$reps
export BENCH_OUT=$out BENCH_PYTHON=$py BENCH_VERIFY_ROWS=$verify SDP_AGENT=$agent BENCH_INTEGRATE_LOCAL=$tool
if [[ -n "${PGPORT:-}" && -n "${SDP_PG_DATA:-}" ]]; then
  bash bench/stages.sh
else
  bash test/with_pg.sh bash ${BENCH_TRACE:+-x} bench/stages.sh
fi
# The 2-worker Citus cluster against one node, same data (docs/scale.md): make bench only.
if [[ -z "$quick" ]]; then
  bash bench/citus_stage.sh "$raw" configs/customers_tokenization.yml "$out"
fi
echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/meta.txt"
echo "total_seconds=$(($(date +%s) - start))" >>"$out/meta.txt"

# ---- report -------------------------------------------------------------------------------------
"$py" bench/report.py --out "$out" ${quick:+--quick} ${BENCH_README:+--readme "$repo/bench/README.md"}
