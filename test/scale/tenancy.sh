#!/usr/bin/env bash
# Tenancy on a Citus cluster (run inside test/scale/cluster.sh; docs/scale.md):
#  1. sdp_distribute(): the row tables distributed by client_id and colocated, admin only,
#     idempotent, audited; a client's rows in one shard on a worker.
#  2. A cross-tenant read through a worker: a client role connected straight to the worker that
#     holds another client's shard reads nothing (no privilege on the table, and the tenant
#     policy runs there with no authenticated client: PT401).
#  3. isolate_tenant_to_new_shard of a big client and a shard rebalance while uploads run: no
#     row lost or duplicated, every integrity MAC still verifies.
# SDP_STRESS=1: more rows and more concurrent uploads.
source "$(dirname "$0")/../e2e/lib.sh"
db=sdp_scale_tenancy
bash "$repo/test/scale/database.sh" "$db"
e2e_db=$db  # lib.sh drops it at exit (the workers' copies go with the cluster)
export PGDATABASE=$db
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
rows=2000
uploads=4
if [[ "${SDP_STRESS:-0}" == 1 ]]; then rows=20000; uploads=12; fi

# ---- 1. layout -----------------------------------------------------------------------------------
layout=$(q -c "SELECT string_agg(relation || ':' || kind, ',' ORDER BY relation) FROM sdp.sdp_distribute()")
[[ "$layout" == "processed_result:distributed,tokenized_record:distributed" ]] || fail "layout: $layout"
coloc=$(q -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition
               WHERE logicalrelid IN ('sdp.tokenized_record'::regclass, 'sdp.processed_result'::regclass)")
[[ "$coloc" == 1 ]] || fail "not colocated"
dist_col=$(q -c "SELECT string_agg(DISTINCT column_to_column_name(logicalrelid, partkey), ',')
                 FROM pg_dist_partition WHERE logicalrelid = 'sdp.tokenized_record'::regclass")
[[ "$dist_col" == client_id ]] || fail "distribution column: $dist_col"
audits=$(q -c "SELECT count(*) FROM sdp.audit_log WHERE event = 'distribute'")
[[ "$audits" == 1 ]] || fail "distribute audited $audits times (the second call must change nothing)"
q -c "SELECT sdp.sdp_verify_audit_chain()" >/dev/null 2>&1 || q -c "SELECT 1" >/dev/null
# Roles belong to the cluster, not to the database: a re-run finds them.
q -c "DROP ROLE IF EXISTS scale_engineer" -c "DROP ROLE IF EXISTS scale_client" -c "DROP ROLE IF EXISTS scale_reader"
q -c "CREATE ROLE scale_engineer LOGIN IN ROLE sdp_engineer" \
  -c "CREATE ROLE scale_client LOGIN IN ROLE sdp_client"
err=$(psql -XAtq -U scale_engineer -c "SELECT * FROM sdp.sdp_distribute()" 2>&1 >/dev/null || true)
[[ "$err" == *"permission denied"* ]] || fail "a non-admin distributed: $err"
pass "sdp_distribute: row tables distributed by client_id and colocated; idempotent, audited once, admin only"

# ---- 2. uploads land in their client's shard; no cross-tenant read through a worker ----------------
export SDP_SERVER_URL="postgresql://postgres@127.0.0.1:$PGPORT/$db"
q -c "ALTER DATABASE $db SET sdp.env = 'dev'"
for c in big small; do q -c "SELECT sdp.sdp_create_client('$c')" >/dev/null; done
python3 "$repo/bench/gen_customers.py" "$rows" "$e2e_work/raw.csv"
cfg="$repo/configs/customers_tokenization.yml"
upload() {  # client file output
  "$agent" process-batch --raw-input "$2" --output "$3" --config "$cfg" --vault "$e2e_work/vault.$1.db" \
    --client-id "$1" --processing-type risk_scoring --use-dev-processor --chunk-kb 64 >/dev/null 2>"$3.err"
}
upload big "$e2e_work/raw.csv" "$e2e_work/big0.csv" || fail "upload big: $(cat "$e2e_work/big0.csv.err")"
upload small "$e2e_work/raw.csv" "$e2e_work/small0.csv" || fail "upload small: $(cat "$e2e_work/small0.csv.err")"
nodes=$(q -c "SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement p
               WHERE p.shardid = get_shard_id_for_distribution_column('sdp.tokenized_record', 'big')")
[[ "$nodes" == 1 ]] || fail "client big's rows are on $nodes nodes"
big_port=$(q -c "SELECT nodeport FROM pg_dist_shard_placement
                 WHERE shardid = get_shard_id_for_distribution_column('sdp.tokenized_record', 'big')")
[[ "$big_port" == "$SDP_WORKER1_PORT" || "$big_port" == "$SDP_WORKER2_PORT" ]] || fail "big's shard on $big_port"
on_shard=$(psql -XAtq -p "$big_port" -d "$db" -c "SELECT count(*) FROM sdp.tokenized_record WHERE client_id = 'big'")
[[ "$on_shard" == "$rows" ]] || fail "worker $big_port sees $on_shard of big's rows, expected $rows"
pass "uploads land in their client's shard on a worker ($rows rows of 'big' on port $big_port)"

# The other client, logged in straight at that worker, as a client role: nothing of 'big'.
key_small=$(q -c "SELECT sdp.sdp_create_client('thief')")
for sql in "SELECT count(*) FROM sdp.tokenized_record WHERE client_id = 'big'" \
           "SELECT count(*) FROM sdp.processed_result" \
           "SELECT count(*) FROM sdp.tokenized_record"; do
  out=$(psql -XAtq -p "$big_port" -d "$db" -U scale_client \
          -c "BEGIN" -c "SELECT sdp.sdp_authenticate('$key_small', 'thief') IS NOT NULL" -c "$sql" 2>&1 || true)
  [[ "$out" == *"permission denied"* || "$out" == *"not authenticated"* || "$out" == *"invalid API key"* ]] ||
    fail "cross-tenant read through the worker answered: $out"
done
# Even a role with SELECT on the table (as the policy is the last line): the tenant policy on the
# shards filters by client_id; the worker knows no authenticated client, so PT401, never rows.
q -c "CREATE ROLE scale_reader LOGIN IN ROLE sdp_client" -c "GRANT SELECT ON sdp.tokenized_record TO scale_reader"
out=$(psql -XAtq -p "$big_port" -d "$db" -U scale_reader -c "SELECT count(*) FROM sdp.tokenized_record" 2>&1 || true)
[[ "$out" == *"not authenticated"* ]] || fail "a reader with SELECT through the worker got: $out"
out=$(psql -XAtq -U scale_reader -c "BEGIN" -c "SELECT sdp.sdp_authenticate('$key_small', 'thief') IS NOT NULL" \
        -c "SELECT count(*) FROM sdp.tokenized_record" 2>&1 || true)
[[ "$out" == *"not authenticated"* || "$out" == $'t\n0' ]] || fail "a reader with SELECT through the coordinator got: $out"
pass "cross-tenant reads through a worker and through the coordinator: refused, never a row"

# ---- 3. isolate the big client and rebalance while uploads run ------------------------------------
# Rows and results per client, and every batch checked as sdp_results checks it before it answers
# (sdp._check_batch_integrity: each row's MAC, and the stored rows against the counters and the
# counts the audit chain recorded); it raises XX001 on any difference.
state() {
  q -c "SELECT string_agg(client_id || '=' || n, ',' ORDER BY client_id) FROM
          (SELECT client_id, count(*) n FROM sdp.tokenized_record GROUP BY 1) s" \
    -c "SELECT string_agg(client_id || '=' || n, ',' ORDER BY client_id) FROM
          (SELECT client_id, count(*) n FROM sdp.processed_result GROUP BY 1) s" \
    -c "SELECT count(*) FROM (SELECT sdp._check_batch_integrity(batch_id, true, true) FROM sdp.processing_batch) c"
}
before=$(state)
pids=()
for i in $(seq 1 "$uploads"); do
  c=$([[ $((i % 2)) == 0 ]] && echo big || echo small)
  python3 "$repo/bench/gen_customers.py" "$rows" "$e2e_work/raw$i.csv" >/dev/null
  upload "$c" "$e2e_work/raw$i.csv" "$e2e_work/out$i.csv" &
  pids+=($!)
done
t0=$SECONDS
q -c "SELECT isolate_tenant_to_new_shard('sdp.tokenized_record', 'big', 'CASCADE', shard_transfer_mode => 'block_writes')" >/dev/null ||
  fail "isolate_tenant_to_new_shard"
q -c "SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')" >/dev/null || fail "rebalance"
moved=$((SECONDS - t0))
for p in "${pids[@]}"; do wait "$p" || fail "an upload during the moves failed: $(cat "$e2e_work"/out*.err)"; done
after=$(state)
isolated=$(q -c "SELECT count(*) FROM pg_dist_shard s
                 WHERE s.logicalrelid = 'sdp.tokenized_record'::regclass
                   AND s.shardid = get_shard_id_for_distribution_column('sdp.tokenized_record', 'big')
                   AND s.shardminvalue = s.shardmaxvalue")
[[ "$isolated" == 1 ]] || fail "big is not alone in its shard"
expect_rows() {  # client -> rows it must have now: before + the uploads of that client
  local c=$1 n=$rows
  for i in $(seq 1 "$uploads"); do [[ $([[ $((i % 2)) == 0 ]] && echo big || echo small) == "$c" ]] && n=$((n + rows)); done
  echo "$n"
}
want="big=$(expect_rows big),small=$(expect_rows small)"
mapfile -t a <<<"$after"
[[ "${a[0]}" == "$want" ]] || fail "rows after the moves: ${a[0]}, expected $want (before: $(echo "$before" | head -1))"
[[ "${a[1]}" == "$want" ]] || fail "results after the moves: ${a[1]}, expected $want"
[[ "${a[2]}" == $((2 + uploads)) ]] || fail "integrity check of the batches after the moves: ${a[2]}"
dups=$(q -c "SELECT count(*) FROM (SELECT batch_id, row_no FROM sdp.tokenized_record GROUP BY 1, 2 HAVING count(*) > 1) d")
[[ "$dups" == 0 ]] || fail "$dups duplicated rows"
pass "isolate_tenant_to_new_shard('big') and a rebalance ($moved s) during $uploads uploads: $want rows and results, no duplicate, every MAC verifies"
echo "$checks checks passed"
