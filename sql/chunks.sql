-- Chunked, resumable upload: sdp_batch_open -> sdp_batch_append -> sdp_batch_seal.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS sdp;
INSERT INTO sdp.api_client (client_id) VALUES ('chunks_a'), ('chunks_b') ON CONFLICT DO NOTHING;

CREATE FUNCTION pg_temp.sha(t text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') $$;

\set c0 'customer_id,age,note\nc1,30,plain\nc2,40,"with, comma"\n'
\set c1 'c3,50,"two\nlines"\nc4,60,x\n'
\set c2 'c5,70,last'

-- Open: an UPLOADING batch with no rows. The same idempotency key returns it again.
SELECT batch_id AS b1, status, accepted_records FROM sdp.sdp_batch_open('chunks_a', 'risk_scoring', idempotency_key => 'file-1') \gset
SELECT :'status' AS status, :accepted_records AS accepted_records;
SELECT batch_id = :'b1' AS same_batch, status FROM sdp.sdp_batch_open('chunks_a', 'risk_scoring', idempotency_key => 'file-1');
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_batch_open('chunks_a', 'risk_scoring', key_column => 'age', idempotency_key => 'file-1')$$);

-- Chunk 0 carries the header; the answer is the number of rows stored so far.
SELECT sdp.sdp_batch_append(:'b1', 0, :'c0', pg_temp.sha(:'c0')) AS rows_so_far;
-- The same chunk again (a retry after a lost answer) is a no-op.
SELECT sdp.sdp_batch_append(:'b1', 0, :'c0', upper(pg_temp.sha(:'c0'))) AS rows_so_far;
-- Same seq, different content: conflict. A gap: conflict. A damaged chunk: 22023.
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 0, %L, %L)$$, :'b1', E'customer_id\nzz\n', pg_temp.sha(E'customer_id\nzz\n')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 2, %L, %L)$$, :'b1', :'c2', pg_temp.sha(:'c2')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, %L, %L)$$, :'b1', :'c1', pg_temp.sha('something else')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, %L, 'abc')$$, :'b1', :'c1'));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, -1, %L, %L)$$, :'b1', :'c1', pg_temp.sha(:'c1')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, '', %L)$$, :'b1', pg_temp.sha('')));
-- Later chunks are whole rows without a header: a ragged row names the chunk and its line.
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, %L, %L)$$, :'b1', E'c3,50,ok\nc4,60\n', pg_temp.sha(E'c3,50,ok\nc4,60\n')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, %L, %L)$$, :'b1', E'c3,50,"open\n', pg_temp.sha(E'c3,50,"open\n')));
-- Failed appends stored nothing.
SELECT accepted_records, chunks FROM sdp.processing_batch WHERE batch_id = :'b1';
-- Processing is refused until the batch is sealed.
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_process_batch(%L)$$, :'b1'));
SELECT sdp.sdp_batch_append(:'b1', 1, :'c1', pg_temp.sha(:'c1')) AS rows_so_far;
SELECT sdp.sdp_batch_append(:'b1', 2, :'c2', pg_temp.sha(:'c2')) AS rows_so_far;
SELECT seq, chunk_sha256 = pg_temp.sha(CASE seq WHEN 0 THEN :'c0' WHEN 1 THEN :'c1' ELSE :'c2' END) AS sha_ok,
       bytes, records, first_row_no
  FROM sdp.batch_chunk WHERE batch_id = :'b1' ORDER BY seq;
SELECT status, accepted_records FROM sdp.sdp_batch_status(:'b1'::uuid);

-- Seal checks the chunk count and the SHA-256 of all chunks concatenated in seq order.
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 2, %L)$$, :'b1', pg_temp.sha(:'c0' || :'c1' || :'c2')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 3, %L)$$, :'b1', pg_temp.sha(:'c1' || :'c0' || :'c2')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 3, 'xyz')$$, :'b1'));
SELECT status, accepted_records, content_sha256 = pg_temp.sha(:'c0' || :'c1' || :'c2') AS sha_ok
  FROM sdp.sdp_batch_seal(:'b1', 3, pg_temp.sha(:'c0' || :'c1' || :'c2'));
-- A retried seal returns the batch; a different seal, or a new chunk, is a conflict; a retried
-- chunk is still a no-op.
SELECT status, accepted_records FROM sdp.sdp_batch_seal(:'b1', 3, pg_temp.sha(:'c0' || :'c1' || :'c2'));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 2, %L)$$, :'b1', pg_temp.sha(:'c0' || :'c1')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 3, %L, %L)$$, :'b1', E'c9,1,x\n', pg_temp.sha(E'c9,1,x\n')));
SELECT sdp.sdp_batch_append(:'b1', 2, :'c2', pg_temp.sha(:'c2')) AS rows_so_far;
-- Rows are numbered across chunks, in order.
SELECT row_no, record_key, fields FROM sdp.tokenized_record WHERE batch_id = :'b1' ORDER BY row_no;
SELECT status, columns, chunks, received_bytes = octet_length(:'c0' || :'c1' || :'c2') AS bytes_ok, hash_state IS NULL AS hash_state_cleared
  FROM sdp.processing_batch WHERE batch_id = :'b1';
-- And the sealed batch processes like any other.
SELECT status, processed_records FROM sdp.sdp_process_batch(:'b1');

-- Chunk 0 may be the header alone; a batch without any data row cannot be sealed.
SELECT batch_id AS b2 FROM sdp.sdp_batch_open('chunks_a', 'risk_scoring') \gset
SELECT sdp.sdp_batch_append(:'b2', 0, E'customer_id,age\n', pg_temp.sha(E'customer_id,age\n')) AS rows_so_far;
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 1, %L)$$, :'b2', pg_temp.sha(E'customer_id,age\n')));
SELECT sdp.sdp_batch_append(:'b2', 1, E'k1,1\r\nk2,2', pg_temp.sha(E'k1,1\r\nk2,2')) AS rows_so_far;
SELECT status, accepted_records FROM sdp.sdp_batch_seal(:'b2', 2, pg_temp.sha(E'customer_id,age\nk1,1\r\nk2,2'));
-- Chunk 0 must name the key column.
SELECT batch_id AS b3 FROM sdp.sdp_batch_open('chunks_a', 'risk_scoring') \gset
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 0, %L, %L)$$, :'b3', E'id,age\n1,2\n', pg_temp.sha(E'id,age\n1,2\n')));

-- Size: all chunks together must fit in sdp.max_batch_bytes.
SET sdp.max_batch_bytes = 40;
SELECT sdp.sdp_batch_append(:'b3', 0, E'customer_id,age\nk1,1\n', pg_temp.sha(E'customer_id,age\nk1,1\n')) AS rows_so_far;
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, %L, %L)$$, :'b3', E'k2,2\nk3,3\nk4,4\nk5,5\n', pg_temp.sha(E'k2,2\nk3,3\nk4,4\nk5,5\n')));
RESET sdp.max_batch_bytes;

-- Another client's batch does not exist for it (PT404), for every chunk call.
BEGIN;
SET LOCAL sdp.client_id = 'chunks_b';
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 1, %L, %L)$$, :'b3', E'k2,2\n', pg_temp.sha(E'k2,2\n')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 1, %L)$$, :'b3', pg_temp.sha('x')));
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_batch_open('chunks_a', 'risk_scoring')$$);
ROLLBACK;

-- Abort: the chunked upload that hit the limit (b3, one chunk of rows staged) is given up by
-- its client: FAILED, its staged rows and chunk records deleted, its idempotency key released.
-- Another client cannot abort it (PT404, like every chunk call); the batch is untouched then.
BEGIN;
SET LOCAL sdp.client_id = 'chunks_b';
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_abort(%L)$$, :'b3'));
ROLLBACK;
SELECT status, accepted_records, chunks,
       (SELECT count(*) FROM sdp.tokenized_record r WHERE r.batch_id = :'b3') AS records
  FROM sdp.processing_batch WHERE batch_id = :'b3';
BEGIN;
SET LOCAL sdp.client_id = 'chunks_a';
SELECT status, accepted_records FROM sdp.sdp_batch_abort(:'b3', E'chunk 1 refused: PT413\n');
COMMIT;
SELECT status, accepted_records, chunks, received_bytes, hash_state IS NULL AS no_hash_state, error,
       (SELECT count(*) FROM sdp.tokenized_record r WHERE r.batch_id = :'b3') AS records,
       (SELECT count(*) FROM sdp.batch_chunk k WHERE k.batch_id = :'b3') AS chunk_rows
  FROM sdp.processing_batch WHERE batch_id = :'b3';
-- Aborting it again returns it unchanged; chunks and seal are refused; processing returns it
-- FAILED as it is (like any FAILED batch).
SELECT status FROM sdp.sdp_batch_abort(:'b3');
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_append(%L, 0, %L, %L)$$, :'b3', E'customer_id,age\nk1,1\n', pg_temp.sha(E'customer_id,age\nk1,1\n')));
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_seal(%L, 0, %L)$$, :'b3', pg_temp.sha('')));
SELECT status, accepted_records FROM sdp.sdp_process_batch(:'b3');
-- A sealed batch cannot be aborted (PT409); an unknown one is PT404.
SELECT code, message FROM regress.error_of(format($$SELECT sdp.sdp_batch_abort(%L)$$, :'b1'));
SELECT code, message FROM regress.error_of($$SELECT sdp.sdp_batch_abort('00000000-0000-4000-8000-000000000000')$$);
-- The idempotency key is released: the same upload started again opens a new batch.
SELECT batch_id AS b4 FROM sdp.sdp_batch_open('chunks_a', 'risk_scoring', idempotency_key => 'file-abort') \gset
SELECT sdp.sdp_batch_append(:'b4', 0, :'c0', pg_temp.sha(:'c0')) AS rows_so_far;
SELECT status, accepted_records FROM sdp.sdp_batch_abort(:'b4');
SELECT batch_id <> :'b4' AS new_batch, status, accepted_records
  FROM sdp.sdp_batch_open('chunks_a', 'risk_scoring', idempotency_key => 'file-abort');
