// Bulk access to the two big tables, the way COPY FROM does it (copyfrom.c,
// CopyMultiInsertBuffer): rows are buffered in tuple slots, written with table_multi_insert()
// and their index entries added with ExecInsertIndexTuples().
//
// What this deliberately skips, and why that is safe here:
//  * Row-level security: the callers are the SECURITY DEFINER sdp_* functions, which check the
//    tenant explicitly (sdp.sdp_current_client()) before they get here.
//  * Triggers, including the foreign-key check triggers of batch_id: the parent batch row was
//    created or locked FOR UPDATE by the same transaction just before, so the reference holds.
//  * CHECK constraints of processed_result: scores are clamped to [0,1] and bands come from a
//    fixed set before a row is buffered.
// The column layout is resolved by name when a table is opened; an unexpected extra column is
// an error rather than a silently NULL value.
//
// Everything below is C-style backend code (it may ereport and owns nothing with a destructor):
// call it from C++ only through sdp::pg::PgCall with a trivial lambda.
#pragma once

#include "pg_bridge.h"

namespace sdp::pg {

struct BulkInserter;  // palloc'ed in a private memory context, see bulk_insert.cc

enum class BulkTable { kTokenizedRecord, kProcessedResult };

// Opens sdp.tokenized_record or sdp.processed_result for bulk insertion of rows of one batch.
// On a Citus coordinator, where the table is distributed and its local heap an empty shell, the
// rows go through a multi-row INSERT (SPI) that Citus routes to the client's shard instead.
// `model_version` is used only for processed_result (pass nullptr otherwise).
BulkInserter* BulkOpen(BulkTable table, const pg_uuid_t* batch_id, const char* client_id,
                       const char* model_version);
// Buffers one sdp.tokenized_record row: fields becomes a one-dimensional text[] without NULLs.
void BulkAddRecord(BulkInserter* b, int64 row_no, const char* key, int key_len, int nfields,
                   const char* const* fields, const int* field_lens);
// Buffers one sdp.processed_result row.
void BulkAddResult(BulkInserter* b, int64 row_no, const char* key, int key_len, double score,
                   const char* band, int defaulted_features);
// Writes what is buffered and releases everything BulkOpen took. If an error interrupts the
// load instead, transaction abort releases the relation, buffer pins and memory.
void BulkFinish(BulkInserter* b);

// Ordered read of the rows of one batch from sdp.tokenized_record through its primary key.
struct RecordScan;
// `wanted` lists field positions (0-based) the caller needs from each row's fields array.
// `client_id` is the batch's client: on a Citus coordinator the scan reads that client's shard
// through SQL instead of the local heap (bulk_insert.cc, IsCitusTable).
RecordScan* RecordScanOpen(const pg_uuid_t* batch_id, const char* client_id, int nwanted,
                           const int* wanted);
// Fetches the next row; false at the end. Pointers stay valid until the next call. A wanted
// position beyond the row's array gets *len = -1.
bool RecordScanNext(RecordScan* s, int64* row_no, const char** key, int* key_len,
                    const char** values, int* value_lens);
void RecordScanClose(RecordScan* s);

}  // namespace sdp::pg
