-- sdp_distribute (docs/scale.md) on a single node: refused, Citus is not loaded; administrators
-- only. The cluster tests (test/scale/) run it on a Citus coordinator.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
SELECT code, message, hint FROM regress.error_of('SELECT * FROM sdp.sdp_distribute()');
SELECT code, message FROM regress.error_of('SELECT * FROM sdp.sdp_distribute(0)');
CREATE ROLE regress_scale_engineer IN ROLE sdp_engineer;
SET ROLE regress_scale_engineer;
SELECT code, message FROM regress.error_of('SELECT * FROM sdp.sdp_distribute()');
RESET ROLE;
DROP ROLE regress_scale_engineer;
-- Not a Citus worker, and nothing was distributed or audited.
SELECT sdp._citus_worker() AS citus_worker;
SELECT count(*) AS distribute_audited FROM sdp.audit_log WHERE event = 'distribute';
