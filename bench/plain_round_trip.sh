#!/usr/bin/env bash
# make bench, round-trip reference "no privacy": the SDP pipeline with the tokenization and the
# vault taken out, as one process tree so GNU time sees all of its CPU. The raw file goes to
# the server as it is, and the price of privacy is the SDP round trip's time over this one's.
#
#   1. sdp-agent upload-batch of the raw file (libpq chunks: a batch can only be filled
#      through the extension's ingest, which keeps its integrity MAC; it is the stream-in), with
#      the PII firewall off for it;
#   2. sdp.sdp_process_batch;
#   3. psql \copy of sdp.sdp_results out, in row order (what integrate-results fetches);
#   4. the local join alone (bench/tools/integrate_local.cc = sdp::IntegrateResults).
#
#   bench/plain_round_trip.sh RAW WORKDIR OUTPUT
#
# Expects PG* and SDP_PG_URL of the bench database, SDP_AGENT and BENCH_INTEGRATE_LOCAL.
set -euo pipefail
raw=$1 work=$2 out=$3
: "${SDP_AGENT:?}" "${BENCH_INTEGRATE_LOCAL:?}" "${SDP_PG_URL:?}"
# Raw PII on purpose: this session turns the PII firewall off (sdp.pii_firewall, superuser only,
# docs/pii_firewall.md), which would refuse the upload otherwise.
PGOPTIONS="${PGOPTIONS:-} -c sdp.pii_firewall=off" \
  "$SDP_AGENT" upload-batch --file "$raw" --client-id bench --processing-type risk_scoring \
  --server-url "$SDP_PG_URL" >"$work/plain_upload.json"
batch=$(sed -n 's/.*"batch_id" *: *"\([0-9a-f-]*\)".*/\1/p' "$work/plain_upload.json" | head -n 1)
[[ -n "$batch" ]] || { echo "plain_round_trip: error: no batch_id in the upload-batch output" >&2; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -o /dev/null \
  -c "SELECT sdp.sdp_process_batch('$batch')" \
  -c "\\copy (SELECT record_key, score, risk_band, model_version FROM sdp.sdp_results('$batch') ORDER BY row_no) TO '$work/plain_results.csv' WITH (FORMAT csv, HEADER)"
"$BENCH_INTEGRATE_LOCAL" "$raw" "$work/plain_results.csv" "$out" customer_id >/dev/null
