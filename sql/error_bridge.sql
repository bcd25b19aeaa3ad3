-- The C++ <-> PostgreSQL error bridge (src/extension/pg_bridge.h).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;

-- C++ -> PostgreSQL: an sdp::Error arrives with its SQLSTATE, message, detail and hint.
SELECT code, message, detail, hint FROM regress.error_of($$SELECT sdp.sdp_selftest_throw('PT409', 'chunk 3 conflicts with the stored chunk', 'stored hash abc', 'resend the original chunk')$$);
SELECT code, message, detail, hint FROM regress.error_of($$SELECT sdp.sdp_selftest_throw('22P02', 'bad input', '', '')$$);
-- Messages longer than the bridge's buffer are truncated, not overflowed.
SELECT code, length(message), right(message, 6) FROM regress.error_of($$SELECT sdp.sdp_selftest_throw('22023', repeat('m', 10000), '', '')$$);

-- Standard exceptions: std::bad_alloc -> 53200, anything else -> XX000, never a crash.
\set VERBOSITY sqlstate
SELECT sdp.sdp_selftest_throw_std('bad_alloc');
SELECT sdp.sdp_selftest_throw_std('runtime_error');
SELECT sdp.sdp_selftest_throw_std('int');
SELECT sdp.sdp_selftest_throw_std('nonsense');
\set VERBOSITY default
SELECT sdp.sdp_selftest_throw_std('runtime_error');
-- An invalid SQLSTATE in an sdp::Error is reported as XX000 rather than trusted.
\set VERBOSITY sqlstate
SELECT sdp.sdp_selftest_throw('4x!', 'bad state', '', '');

-- The backend keeps working after each of them.
SELECT 1 + 1 AS still_alive;

-- PostgreSQL -> C++: a backend error caught in C++, with C++ objects intact and the backend clean.
\set VERBOSITY default
SELECT sdp.sdp_selftest_pg_error('abc');
SELECT sdp.sdp_selftest_pg_error('2147483648');
SELECT sdp.sdp_selftest_pg_error('42');
-- ... and one not caught: it travels PG -> C++ -> PG with its original SQLSTATE.
\set VERBOSITY sqlstate
SELECT sdp.sdp_selftest_pg_error_rethrow('abc');
SELECT sdp.sdp_selftest_pg_error_rethrow('7');

-- Inside a transaction and a savepoint the error aborts only what it should.
BEGIN;
CREATE TEMP TABLE bridge_t(x int);
INSERT INTO bridge_t VALUES (1);
SAVEPOINT s;
SELECT sdp.sdp_selftest_throw('PT413', 'too large', '', '');
ROLLBACK TO SAVEPOINT s;
INSERT INTO bridge_t VALUES (2);
COMMIT;
SELECT x FROM bridge_t ORDER BY x;

-- A cancel (statement_timeout) interrupts a C++ loop through CheckForInterrupts().
SET statement_timeout = '100ms';
SELECT sdp.sdp_selftest_spin();
RESET statement_timeout;
SELECT 'after cancel' AS still_alive;

-- 10,000 failing calls in each direction leak neither palloc memory nor C++ heap/handles.
CREATE FUNCTION pg_temp.context_bytes() RETURNS bigint LANGUAGE sql
  AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
CREATE FUNCTION pg_temp.rss_kb() RETURNS bigint LANGUAGE sql
  AS $$ SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmRSS:\s+(\d+)'))[1]::bigint $$;
CREATE FUNCTION pg_temp.fail_many(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    BEGIN
      PERFORM sdp.sdp_selftest_throw('PT409', 'conflict ' || i, 'detail', 'hint');
    EXCEPTION WHEN SQLSTATE 'PT409' THEN NULL;
    END;
    BEGIN
      PERFORM sdp.sdp_selftest_throw_std('runtime_error');
    EXCEPTION WHEN SQLSTATE 'XX000' THEN NULL;
    END;
    BEGIN
      PERFORM sdp.sdp_selftest_pg_error_rethrow('not a number');
    EXCEPTION WHEN invalid_text_representation THEN NULL;
    END;
    PERFORM sdp.sdp_selftest_pg_error('not a number');
  END LOOP;
END $$;
SELECT pg_temp.fail_many(200);  -- warm caches before measuring
CREATE TEMP TABLE mem_before AS SELECT pg_temp.context_bytes() AS ctx, pg_temp.rss_kb() AS rss;
SELECT pg_temp.fail_many(10000);
SELECT pg_temp.context_bytes() - ctx < 65536 AS contexts_did_not_grow,
       pg_temp.rss_kb() - rss < 4096 AS rss_grew_less_than_4mb
FROM mem_before;
