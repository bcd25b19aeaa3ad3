// COPY-style bulk insertion and ordered batch scans (see bulk_insert.h).
#include "bulk_insert.h"

#include <cstring>

#include "integrity_crypto.h"
#include "pg_datum.h"

namespace sdp::pg {

namespace {

// Like COPY's MAX_BUFFERED_TUPLES / MAX_BUFFERED_BYTES, a bit larger: our rows are small and
// uniform, and bigger groups mean fewer heap_multi_insert calls.
constexpr int kMaxBuffered = 1000;
constexpr Size kMaxBufferedBytes = 512 * 1024;
constexpr int kMaxColumns = 9;

Oid SdpRelid(const char* name) {
  Oid nsp = get_namespace_oid("sdp", false);
  Oid relid = get_relname_relid(name, nsp);
  if (!OidIsValid(relid)) {
    ereport(ERROR,
            (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation sdp.%s does not exist", name)));
  }
  return relid;
}

// Whether relid is a Citus table (a row in pg_catalog.pg_dist_partition; false without Citus).
// On a Citus coordinator the relation itself is an empty shell and its rows live in shards on the
// workers: writing its heap directly would store rows Citus never sees, and reading it would find
// none. Callers ask once per load or scan, not per row.
bool IsCitusTable(Oid relid) {
  Oid dist = get_relname_relid("pg_dist_partition", get_namespace_oid("pg_catalog", false));
  if (!OidIsValid(dist)) return false;
  Relation rel = table_open(dist, AccessShareLock);
  ScanKeyData key;
  ScanKeyInit(&key, 1 /* logicalrelid */, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
  SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
  const bool found = HeapTupleIsValid(systable_getnext(scan));
  systable_endscan(scan);
  table_close(rel, AccessShareLock);
  return found;
}

// Maps the logical columns `names` to attribute positions of rel; refuses extra live columns.
void ResolveColumns(Relation rel, const char* const* names, int n, int* positions) {
  TupleDesc desc = RelationGetDescr(rel);
  for (int i = 0; i < n; ++i) positions[i] = -1;
  for (int a = 0; a < desc->natts; ++a) {
    Form_pg_attribute att = TupleDescAttr(desc, a);
    if (att->attisdropped) continue;
    int found = -1;
    for (int i = 0; i < n; ++i) {
      if (strcmp(NameStr(att->attname), names[i]) == 0) found = i;
    }
    if (found < 0) {
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("sdp: unexpected column \"%s\" in %s", NameStr(att->attname),
                             RelationGetRelationName(rel)),
                      errhint("The bulk loader in src/extension/bulk_insert.cc must learn it.")));
    }
    positions[found] = a;
  }
  for (int i = 0; i < n; ++i) {
    if (positions[i] < 0) {
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("sdp: column \"%s\" missing from %s", names[i],
                             RelationGetRelationName(rel))));
    }
  }
}

const char* const kRecordColumns[] = {"batch_id",   "row_no", "client_id",
                                      "record_key", "fields", "integrity_hmac"};
const char* const kResultColumns[] = {
    "batch_id",  "row_no",        "client_id",          "record_key",    "score",
    "risk_band", "model_version", "defaulted_features", "integrity_hmac"};

// Reads the 32-byte integrity key from sdp.integrity_secret (owner-only table, 77_integrity.sql)
// straight from the heap: the loader runs inside the SECURITY DEFINER sdp_* functions.
void ReadIntegrityKey(sdp::integrity::IntegrityKey* key) {
  Relation rel = table_open(SdpRelid("integrity_secret"), AccessShareLock);
  AttrNumber att = get_attnum(RelationGetRelid(rel), "secret");
  TupleTableSlot* slot = table_slot_create(rel, nullptr);
  TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, nullptr);
  bool ok = false;
  if (att != InvalidAttrNumber && table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
    bool isnull = true;
    Datum d = slot_getattr(slot, att, &isnull);
    if (!isnull) {
      bytea* secret = DatumGetByteaPP(d);
      if (VARSIZE_ANY_EXHDR(secret) == sdp::integrity::kKeyBytes) {
        sdp::integrity::InitKey(key, reinterpret_cast<const uint8_t*>(VARDATA_ANY(secret)),
                                sdp::integrity::kKeyBytes);
        ok = true;
      }
    }
  }
  table_endscan(scan);
  ExecDropSingleTupleTableSlot(slot);
  table_close(rel, NoLock);
  if (!ok) {
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("sdp: the integrity key in sdp.integrity_secret is missing or invalid")));
  }
}

// A one-dimensional text[] without NULLs, laid out exactly as construct_array() would (4-byte
// varlena headers, int alignment), in one palloc instead of one per element plus a copy.
Datum MakeTextArray(int n, const char* const* fields, const int* lens) {
  Size data = 0;
  for (int i = 0; i < n; ++i) data += INTALIGN(VARHDRSZ + lens[i]);
  const Size header = ARR_OVERHEAD_NONULLS(1);
  ArrayType* array = static_cast<ArrayType*>(palloc(header + data));
  std::memset(array, 0, header);
  SET_VARSIZE(array, header + data);
  array->ndim = 1;
  array->dataoffset = 0;
  array->elemtype = TEXTOID;
  ARR_DIMS(array)[0] = n;
  ARR_LBOUND(array)[0] = 1;
  char* p = ARR_DATA_PTR(array);
  for (int i = 0; i < n; ++i) {
    const Size size = VARHDRSZ + lens[i];
    const Size padded = INTALIGN(size);
    SET_VARSIZE(p, size);
    std::memcpy(p + VARHDRSZ, fields[i], lens[i]);
    if (padded > size) std::memset(p + size, 0, padded - size);
    p += padded;
  }
  return PointerGetDatum(array);
}

}  // namespace

struct BulkInserter {
  BulkTable table;
  MemoryContext cxt;        // everything below lives here
  MemoryContext batch_cxt;  // datums of the buffered rows, reset after every flush
  Relation rel;
  EState* estate;
  ResultRelInfo* rri;
  BulkInsertState bistate;
  CommandId cid;
  bool citus;  // a Citus distributed table: rows go through SQL (FlushSql), not the heap
  int ncolumns;
  int natts;
  int pos[kMaxColumns];
  TupleTableSlot* slots[kMaxBuffered];
  int nbuffered;
  Size buffered_bytes;
  Datum batch_id;
  Datum client_id;
  Datum model_version;
  // Integrity MAC inputs (see integrity_crypto.h): keyed states and the per-batch constants.
  sdp::integrity::IntegrityKey key;
  uint8_t batch_bytes[16];
  const char* client;
  int client_len;
  const char* model;
  int model_len;
};

BulkInserter* BulkOpen(BulkTable table, const pg_uuid_t* batch_id, const char* client_id,
                       const char* model_version) {
  MemoryContext cxt =
      AllocSetContextCreate(CurrentMemoryContext, "sdp bulk insert", ALLOCSET_DEFAULT_SIZES);
  MemoryContext old = MemoryContextSwitchTo(cxt);
  BulkInserter* b = static_cast<BulkInserter*>(palloc0(sizeof(BulkInserter)));
  b->table = table;
  b->cxt = cxt;
  b->batch_cxt = AllocSetContextCreate(cxt, "sdp bulk insert rows", ALLOCSET_DEFAULT_SIZES);
  const bool records = table == BulkTable::kTokenizedRecord;
  b->rel =
      table_open(SdpRelid(records ? "tokenized_record" : "processed_result"), RowExclusiveLock);
  if (records) {
    ResolveColumns(b->rel, kRecordColumns, 6, b->pos);
  } else {
    ResolveColumns(b->rel, kResultColumns, 9, b->pos);
  }
  b->ncolumns = records ? 6 : 9;
  b->citus = IsCitusTable(RelationGetRelid(b->rel));
  b->natts = RelationGetDescr(b->rel)->natts;
  b->estate = CreateExecutorState();
  b->rri = makeNode(ResultRelInfo);
  InitResultRelInfo(b->rri, b->rel, 1, nullptr, 0);
  ExecOpenIndices(b->rri, false);
  b->bistate = GetBulkInsertState();
  b->cid = GetCurrentCommandId(true);
  for (int i = 0; i < kMaxBuffered; ++i) b->slots[i] = table_slot_create(b->rel, nullptr);
  pg_uuid_t* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
  std::memcpy(id, batch_id, sizeof(pg_uuid_t));
  b->batch_id = UUIDPGetDatum(id);
  b->client_id = CStringGetTextDatum(client_id);
  b->model_version = model_version ? CStringGetTextDatum(model_version) : (Datum)0;
  ReadIntegrityKey(&b->key);
  std::memcpy(b->batch_bytes, batch_id->data, 16);
  b->client = pstrdup(client_id);
  b->client_len = static_cast<int>(strlen(client_id));
  b->model = model_version ? pstrdup(model_version) : "";
  b->model_len = model_version ? static_cast<int>(strlen(model_version)) : 0;
  MemoryContextSwitchTo(old);
  return b;
}

// The Citus path: the buffered rows as one multi-row INSERT through SPI, which Citus routes to
// the shard of the batch's client (every row of a load has the same client_id). Same values,
// MACs included, as the heap path.
static void FlushSql(BulkInserter* b) {
  const bool records = b->table == BulkTable::kTokenizedRecord;
  const char* const* names = records ? kRecordColumns : kResultColumns;
  static const Oid kRecordTypes[] = {UUIDOID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, BYTEAOID};
  static const Oid kResultTypes[] = {UUIDOID, INT8OID, TEXTOID, TEXTOID, FLOAT8OID,
                                     TEXTOID, TEXTOID, INT4OID, BYTEAOID};
  const Oid* types = records ? kRecordTypes : kResultTypes;
  const int nc = b->ncolumns;
  const int nargs = b->nbuffered * nc;
  MemoryContext old = MemoryContextSwitchTo(b->batch_cxt);
  StringInfoData sql;
  initStringInfo(&sql);
  appendStringInfo(&sql, "INSERT INTO sdp.%s (", records ? "tokenized_record" : "processed_result");
  for (int c = 0; c < nc; ++c) appendStringInfo(&sql, "%s%s", c ? ", " : "", names[c]);
  appendStringInfoString(&sql, ") VALUES ");
  Oid* argtypes = static_cast<Oid*>(palloc(sizeof(Oid) * nargs));
  Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * nargs));
  char* nulls = static_cast<char*>(palloc(nargs + 1));
  for (int r = 0; r < b->nbuffered; ++r) {
    appendStringInfoString(&sql, r ? ", (" : "(");
    for (int c = 0; c < nc; ++c) {
      const int arg = r * nc + c;
      appendStringInfo(&sql, "%s$%d", c ? ", " : "", arg + 1);
      argtypes[arg] = types[c];
      values[arg] = b->slots[r]->tts_values[b->pos[c]];
      nulls[arg] = b->slots[r]->tts_isnull[b->pos[c]] ? 'n' : ' ';
    }
    appendStringInfoChar(&sql, ')');
  }
  nulls[nargs] = '\0';
  if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "sdp: SPI_connect failed");
  const int rc = SPI_execute_with_args(sql.data, nargs, argtypes, values, nulls, false, 0);
  if (rc != SPI_OK_INSERT) elog(ERROR, "sdp: bulk INSERT into a Citus table failed: %d", rc);
  SPI_finish();
  MemoryContextSwitchTo(old);
}

static void Flush(BulkInserter* b) {
  if (b->nbuffered == 0) return;
  if (b->citus) {
    FlushSql(b);
    for (int i = 0; i < b->nbuffered; ++i) ExecClearTuple(b->slots[i]);
    MemoryContextReset(b->batch_cxt);
    b->nbuffered = 0;
    b->buffered_bytes = 0;
    return;
  }
  // table_multi_insert and the index AMs leak into the current context: make it the row context.
  MemoryContext old = MemoryContextSwitchTo(b->batch_cxt);
  table_multi_insert(b->rel, b->slots, b->nbuffered, b->cid, 0, b->bistate);
  for (int i = 0; i < b->nbuffered; ++i) {
    List* recheck =
        ExecInsertIndexTuples(b->rri, b->slots[i], b->estate, false, false, nullptr, NIL);
    list_free(recheck);
  }
  MemoryContextSwitchTo(old);
  for (int i = 0; i < b->nbuffered; ++i) ExecClearTuple(b->slots[i]);
  ResetPerTupleExprContext(b->estate);
  MemoryContextReset(b->batch_cxt);
  b->nbuffered = 0;
  b->buffered_bytes = 0;
}

static TupleTableSlot* NextSlot(BulkInserter* b) {
  TupleTableSlot* slot = b->slots[b->nbuffered];
  ExecClearTuple(slot);
  for (int a = 0; a < b->natts; ++a) slot->tts_isnull[a] = true;  // dropped columns stay NULL
  return slot;
}

static void Store(BulkInserter* b, TupleTableSlot* slot, Size bytes) {
  ExecStoreVirtualTuple(slot);
  ++b->nbuffered;
  b->buffered_bytes += bytes;
  if (b->nbuffered == kMaxBuffered || b->buffered_bytes >= kMaxBufferedBytes) Flush(b);
}

static inline void Set(TupleTableSlot* slot, int pos, Datum value) {
  slot->tts_values[pos] = value;
  slot->tts_isnull[pos] = false;
}

// The first four columns of both tables (kRecordColumns, kResultColumns): batch_id, row_no,
// client_id, record_key.
static inline void SetRowIdentity(BulkInserter* b, TupleTableSlot* slot, int64 row_no,
                                  const char* key, int key_len) {
  Set(slot, b->pos[0], b->batch_id);
  Set(slot, b->pos[1], Int64GetDatum(row_no));
  Set(slot, b->pos[2], b->client_id);
  Set(slot, b->pos[3], PointerGetDatum(cstring_to_text_with_len(key, key_len)));
}

void BulkAddRecord(BulkInserter* b, int64 row_no, const char* key, int key_len, int nfields,
                   const char* const* fields, const int* field_lens) {
  TupleTableSlot* slot = NextSlot(b);
  MemoryContext old = MemoryContextSwitchTo(b->batch_cxt);
  SetRowIdentity(b, slot, row_no, key, key_len);
  Datum array = MakeTextArray(nfields, fields, field_lens);
  Set(slot, b->pos[4], array);
  uint8_t mac[sdp::integrity::kMacBytes];
  sdp::integrity::RecordMac(b->key, b->batch_bytes, row_no, {b->client, size_t(b->client_len)},
                            {key, size_t(key_len)}, nfields, fields, field_lens, mac);
  Set(slot, b->pos[5], PointerGetDatum(NewBytea(mac, sizeof(mac))));
  MemoryContextSwitchTo(old);
  Store(b, slot, VARSIZE(DatumGetPointer(array)) + key_len + 64);
}

void BulkAddResult(BulkInserter* b, int64 row_no, const char* key, int key_len, double score,
                   const char* band, int defaulted_features) {
  TupleTableSlot* slot = NextSlot(b);
  MemoryContext old = MemoryContextSwitchTo(b->batch_cxt);
  SetRowIdentity(b, slot, row_no, key, key_len);
  Set(slot, b->pos[4], Float8GetDatum(score));
  Set(slot, b->pos[5], CStringGetTextDatum(band));
  Set(slot, b->pos[6], b->model_version);
  Set(slot, b->pos[7], Int32GetDatum(defaulted_features));
  uint8_t mac[sdp::integrity::kMacBytes];
  sdp::integrity::ResultMac(b->key, b->batch_bytes, row_no, {b->client, size_t(b->client_len)},
                            {key, size_t(key_len)}, score, band, {b->model, size_t(b->model_len)},
                            defaulted_features, mac);
  Set(slot, b->pos[8], PointerGetDatum(NewBytea(mac, sizeof(mac))));
  MemoryContextSwitchTo(old);
  Store(b, slot, key_len + 96);
}

void BulkFinish(BulkInserter* b) {
  Flush(b);
  table_finish_bulk_insert(b->rel, 0);
  FreeBulkInsertState(b->bistate);
  for (int i = 0; i < kMaxBuffered; ++i) ExecDropSingleTupleTableSlot(b->slots[i]);
  ExecCloseIndices(b->rri);
  FreeExecutorState(b->estate);
  table_close(b->rel, NoLock);  // keep the lock until the end of the transaction
  sdp::integrity::Wipe(&b->key);
  MemoryContextDelete(b->cxt);
}

// ---- ordered scan ------------------------------------------------------------------------

namespace {
constexpr int kMaxWanted = 64;
constexpr long kFetchRows = 1000;
}  // namespace

struct RecordScan {
  MemoryContext cxt;
  MemoryContext row_cxt;  // detoasted values of the current row
  Relation rel;
  Relation index;
  IndexScanDesc scan;
  TupleTableSlot* slot;
  ScanKeyData key;
  int pos[6];
  // The Citus path: an SPI cursor over the batch's rows, fetched kFetchRows at a time into
  // fetch_cxt (the cursor's portal outlives each short SPI connection).
  bool citus;
  char* portal;
  MemoryContext fetch_cxt;
  TupleDesc desc;
  HeapTuple* rows;
  uint64 nrows;
  uint64 next;
  int nwanted;
  int wanted[kMaxWanted];
  int max_wanted;
};

RecordScan* RecordScanOpen(const pg_uuid_t* batch_id, const char* client_id, int nwanted,
                           const int* wanted) {
  if (nwanted > kMaxWanted) {
    ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                    errmsg("a model may use at most %d features", kMaxWanted)));
  }
  MemoryContext cxt =
      AllocSetContextCreate(CurrentMemoryContext, "sdp record scan", ALLOCSET_DEFAULT_SIZES);
  MemoryContext old = MemoryContextSwitchTo(cxt);
  RecordScan* s = static_cast<RecordScan*>(palloc0(sizeof(RecordScan)));
  s->cxt = cxt;
  s->row_cxt = AllocSetContextCreate(cxt, "sdp record scan row", ALLOCSET_SMALL_SIZES);
  s->rel = table_open(SdpRelid("tokenized_record"), AccessShareLock);
  ResolveColumns(s->rel, kRecordColumns, 6, s->pos);
  s->nwanted = nwanted;
  s->max_wanted = -1;
  for (int i = 0; i < nwanted; ++i) {
    s->wanted[i] = wanted[i];
    if (wanted[i] > s->max_wanted) s->max_wanted = wanted[i];
  }
  s->citus = IsCitusTable(RelationGetRelid(s->rel));
  if (s->citus) {
    // The client's shard only (client_id is the distribution column), in row order.
    s->fetch_cxt = AllocSetContextCreate(cxt, "sdp record scan rows", ALLOCSET_DEFAULT_SIZES);
    pg_uuid_t* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
    std::memcpy(id, batch_id, sizeof(pg_uuid_t));
    Oid types[2] = {TEXTOID, UUIDOID};
    Datum values[2] = {CStringGetTextDatum(client_id), UUIDPGetDatum(id)};
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "sdp: SPI_connect failed");
    Portal portal = SPI_cursor_open_with_args(
        nullptr,
        "SELECT row_no, record_key, fields FROM sdp.tokenized_record "
        "WHERE client_id OPERATOR(pg_catalog.=) $1 AND batch_id OPERATOR(pg_catalog.=) $2 "
        "ORDER BY row_no",
        2, types, values, nullptr, true, CURSOR_OPT_NO_SCROLL);
    MemoryContextSwitchTo(cxt);
    s->portal = pstrdup(portal->name);
    SPI_finish();
    MemoryContextSwitchTo(old);
    return s;
  }
  Oid pk = RelationGetPrimaryKeyIndex(s->rel);
  if (!OidIsValid(pk)) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("sdp.tokenized_record has no primary key")));
  }
  s->index = index_open(pk, AccessShareLock);
  s->slot = table_slot_create(s->rel, nullptr);
  pg_uuid_t* id = static_cast<pg_uuid_t*>(palloc(sizeof(pg_uuid_t)));
  std::memcpy(id, batch_id, sizeof(pg_uuid_t));
  ScanKeyInit(&s->key, 1, BTEqualStrategyNumber, F_UUID_EQ, UUIDPGetDatum(id));
  s->scan = index_beginscan(s->rel, s->index, GetActiveSnapshot(), 1, 0);
  index_rescan(s->scan, &s->key, 1, nullptr, 0);
  MemoryContextSwitchTo(old);
  return s;
}

// The next row of the Citus cursor, fetching the next group when the last one is used up.
static bool FetchNext(RecordScan* s, Datum* row_no, Datum* key, Datum* fields, bool* fields_null) {
  if (s->next >= s->nrows) {
    MemoryContextReset(s->fetch_cxt);
    s->rows = nullptr;
    s->nrows = 0;
    s->next = 0;
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "sdp: SPI_connect failed");
    Portal portal = GetPortalByName(s->portal);
    if (!PortalIsValid(portal)) elog(ERROR, "sdp: record cursor %s is gone", s->portal);
    SPI_cursor_fetch(portal, true, kFetchRows);
    MemoryContext old = MemoryContextSwitchTo(s->fetch_cxt);
    if (s->desc == nullptr) {
      MemoryContextSwitchTo(s->cxt);
      s->desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
      MemoryContextSwitchTo(s->fetch_cxt);
    }
    s->nrows = SPI_processed;
    s->rows = static_cast<HeapTuple*>(palloc(sizeof(HeapTuple) * (s->nrows + 1)));
    for (uint64 i = 0; i < s->nrows; ++i) s->rows[i] = heap_copytuple(SPI_tuptable->vals[i]);
    MemoryContextSwitchTo(old);
    SPI_finish();
    if (s->nrows == 0) return false;
  }
  HeapTuple t = s->rows[s->next++];
  bool isnull = false;
  *row_no = heap_getattr(t, 1, s->desc, &isnull);
  *key = heap_getattr(t, 2, s->desc, &isnull);
  *fields = heap_getattr(t, 3, s->desc, fields_null);
  return true;
}

bool RecordScanNext(RecordScan* s, int64* row_no, const char** key, int* key_len,
                    const char** values, int* value_lens) {
  MemoryContextReset(s->row_cxt);
  Datum row_datum, key_datum, fields;
  bool isnull = false;
  if (s->citus) {
    if (!FetchNext(s, &row_datum, &key_datum, &fields, &isnull)) return false;
  } else {
    if (!index_getnext_slot(s->scan, ForwardScanDirection, s->slot)) return false;
    bool ignored = false;
    row_datum = slot_getattr(s->slot, s->pos[1] + 1, &ignored);
    key_datum = slot_getattr(s->slot, s->pos[3] + 1, &ignored);
    fields = slot_getattr(s->slot, s->pos[4] + 1, &isnull);
  }
  MemoryContext old = MemoryContextSwitchTo(s->row_cxt);
  *row_no = DatumGetInt64(row_datum);
  struct varlena* k = pg_detoast_datum_packed((struct varlena*)DatumGetPointer(key_datum));
  *key = VARDATA_ANY(k);
  *key_len = static_cast<int>(VARSIZE_ANY_EXHDR(k));
  for (int i = 0; i < s->nwanted; ++i) value_lens[i] = -1;
  if (!isnull && s->max_wanted >= 0) {
    ArrayType* array = DatumGetArrayTypeP(fields);  // detoasts into row_cxt if needed
    if (ARR_NDIM(array) == 1 && !ARR_HASNULL(array) && ARR_ELEMTYPE(array) == TEXTOID) {
      const int n = ARR_DIMS(array)[0];
      const char* p = ARR_DATA_PTR(array);
      for (int e = 0; e < n && e <= s->max_wanted; ++e) {
        for (int i = 0; i < s->nwanted; ++i) {
          if (s->wanted[i] == e) {
            values[i] = VARDATA_ANY(p);
            value_lens[i] = static_cast<int>(VARSIZE_ANY_EXHDR(p));
          }
        }
        p = att_addlength_pointer(p, -1, p);
        p = (const char*)att_align_nominal(p, TYPALIGN_INT);
      }
    }
  }
  MemoryContextSwitchTo(old);
  return true;
}

void RecordScanClose(RecordScan* s) {
  if (s->citus) {
    Portal portal = GetPortalByName(s->portal);
    if (PortalIsValid(portal)) SPI_cursor_close(portal);
    table_close(s->rel, NoLock);
    MemoryContextDelete(s->cxt);
    return;
  }
  index_endscan(s->scan);
  ExecDropSingleTupleTableSlot(s->slot);
  index_close(s->index, NoLock);
  table_close(s->rel, NoLock);
  MemoryContextDelete(s->cxt);
}

}  // namespace sdp::pg
