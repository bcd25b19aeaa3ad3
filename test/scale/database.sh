#!/usr/bin/env bash
# Creates database NAME on the Citus cluster of test/scale/cluster.sh, ready for SDP: the database
# on the coordinator and both workers, Citus in each, the nodes registered in it, sdp created on
# the coordinator (Citus creates it on the workers) and distributed with sdp_distribute().
# An existing database of that name is dropped first, on every node.
#
#   test/scale/database.sh NAME
#
# The e2e scripts call it through e2e_database (test/e2e/lib.sh) when SDP_E2E_DATABASE_SETUP
# names it, so the same scripts run against one node and against the cluster.
set -euo pipefail
db=$1
ports=("$PGPORT" "$SDP_WORKER1_PORT" "$SDP_WORKER2_PORT")
quiet=(-XAtq -v ON_ERROR_STOP=1)
export PGOPTIONS="-c client_min_messages=warning"
for p in "${ports[@]}"; do
  psql "${quiet[@]}" -p "$p" -d postgres \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  psql "${quiet[@]}" -p "$p" -d "$db" -c "CREATE EXTENSION citus"
done
psql "${quiet[@]}" -d "$db" \
  -c "SELECT citus_set_coordinator_host('127.0.0.1', $PGPORT)" \
  -c "SELECT citus_add_node('127.0.0.1', $SDP_WORKER1_PORT)" \
  -c "SELECT citus_add_node('127.0.0.1', $SDP_WORKER2_PORT)" \
  -c "CREATE EXTENSION sdp" \
  -c "SELECT count(*) FROM sdp.sdp_distribute()" >/dev/null
