-- sdp 0.1.0 -> 0.2.0 (ALTER EXTENSION sdp UPDATE). Every catalog change between the frozen
-- releases/sdp--0.1.0.sql and the install script of 0.2.0 (src/extension/sql/*.sql), so an updated
-- database and a fresh install are the same; test/e2e/upgrade.sh compares the two catalogs.
\echo Use "ALTER EXTENSION sdp UPDATE TO '0.2.0'" to load this file. \quit

-- The batch status enum had the name of the function sdp.sdp_batch_status(uuid): a one-argument
-- call with an untyped literal, sdp.sdp_batch_status('…'), was parsed as a cast to the enum and
-- failed with "invalid input value for enum". Columns and composite types refer to the type by
-- OID, so renaming it is the whole change; no function body names it.
ALTER TYPE sdp.sdp_batch_status RENAME TO batch_state;

NOTIFY pgrst, 'reload schema';
