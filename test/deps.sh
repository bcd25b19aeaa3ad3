#!/usr/bin/env bash
# Installs the Debian packages SDP needs, only those missing: a warm machine pays one dpkg query.
# Run by `make deps` (and so by `make check`, `make demo`, `make bench`); `test/deps.sh citus`:
# what building Citus from its source needs (`make citus CITUS_SRC=...`, docs/scale.md).
set -euo pipefail

packages=(
  # build
  g++ make pkg-config clang-14 llvm-14
  # server
  postgresql-15 postgresql-server-dev-15 postgresql-contrib
  # agent libraries
  libpq-dev libssl-dev libcurl4-openssl-dev libyaml-cpp-dev libsqlite3-dev libcli11-dev
  nlohmann-json3-dev
  # sdp-agent scan: RE2 (linear-time patterns), ICU (NFKC), libphonenumber (phone validity)
  libre2-dev libicu-dev libphonenumber-dev
  # sdp-agent serve (JSON pseudonymization listeners): an HTTP server library from Debian
  libcpp-httplib-dev
  # tests
  libgtest-dev python3 sqlite3 iproute2 caddy openssl curl
  # the PII scan benchmark's oracle for valid/invalid identifiers (test/pii_bench/)
  python3-stdnum
  # fuzzing (make fuzz, test/e2e/fuzz_short.sh): libFuzzer, ASan and UBSan runtimes for clang
  libclang-rt-14-dev
  # observability e2e and promtool checks (test/e2e/observability.sh, docker/prometheus/)
  prometheus prometheus-postgres-exporter
  # HTTPS e2e: the test-only PostgREST double (test/gateway/), JSON checks, docker/ validation
  python3-psycopg2 jq docker-compose
  # bench (make bench): peers and the chart; GNU time for peak RSS; python3-cryptography for the
  # AES-GCM vault of the standard-tools round-trip peer (bench/py_vault_tokenize.py)
  python3-pandas python3-cryptography miller gnuplot-nox time
  # the web dashboard (make dashboard: Vite, from dashboard/package-lock.json) and its browser
  # tests (test/e2e/dashboard_browser.sh: playwright-core drives Debian's chromium, never a
  # downloaded browser; a font for the screenshots)
  nodejs chromium fonts-dejavu-core
)
if [[ "${1:-}" == citus ]]; then
  packages=(make gcc patch xz-utils postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev
    libcurl4-openssl-dev)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# npm: Debian packages it apart from nodejs; other builds of nodejs bundle it (no npm package).
[[ "${1:-}" == citus ]] || command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -ne 0 ]]; then
  echo "sdp deps: error: missing Debian packages: ${missing[*]}; fix: sudo apt-get update && sudo ${cmd[*]}" >&2
  exit 3
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent or stale on a fresh machine: refresh once, then install.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql-common creates and starts a "main" cluster on install; SDP never uses it
# (it runs its own under .sdp/), and it must not hold port 5432 on CI, so stop it if we started it.
if printf '%s\n' "${missing[@]}" | grep -qx 'postgresql-15'; then
  pg_ctlcluster 15 main stop 2>/dev/null || true
fi
echo "deps: done"
