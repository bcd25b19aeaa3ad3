// ServerTransport over libpq: the embedded default (`postgresql://...`). Calls the sdp.sdp_*
// SQL functions directly. With SDP_API_KEY set, every call runs in a transaction that first
// authenticates as the client (sdp.sdp_authenticate), exactly as PostgREST's pre-request does,
// with the key handed to the session once per connection (HandOverKey) rather than written into
// each statement; without it the connecting role must be trusted by the extension (owner or
// sdp_admin). A remote server is only reached over verified TLS (PlanPgConnection).
#include "agent/transport/pg_transport.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "agent/support/log.h"
#include "agent/support/signals.h"
#include "agent/transport/http_transport.h"
#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};

struct ConninfoDeleter {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Conninfo = std::unique_ptr<PQconninfoOption, ConninfoDeleter>;

constexpr size_t kMaxServerText = 1000;  // bytes kept of one server message

// Value of `keyword` in a parsed conninfo, or "" when unset.
std::string ConninfoValue(const PQconninfoOption* options, const char* keyword) {
  for (const PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, keyword) == 0) return o->val != nullptr ? o->val : "";
  }
  return "";
}

// Server notices (RAISE NOTICE, warnings) go to the debug log as one cleaned, bounded field,
// never raw to stderr.
void LogServerNotice(void*, const char* message) {
  if (!log::Enabled(log::Level::kDebug)) return;
  const std::string text = ShownServerText(message != nullptr ? message : "", kMaxServerText);
  log::Event(log::Level::kDebug, "server_notice", "",
             "\"message\":" + nlohmann::json(text).dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace));
}

// A destination libpq connects to: a Unix socket directory ("/..." or, on Linux, an abstract
// "@..."), the default socket (empty) or a loopback address.
bool IsLocalDestination(const std::string& host) {
  return host.empty() || host[0] == '/' || host[0] == '@' || IsLoopbackHost(host);
}

// COPY text format: backslash, line breaks and tabs escaped.
std::string CopyTextField(const std::string& value) {
  std::string out;
  out.reserve(value.size() + 2);
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
  out += '\n';
  return out;
}

constexpr const char* kBatchColumns =
    "batch_id, client_id, processing_type, status, accepted_records, processed_records, "
    "coalesce(model_version, ''), coalesce(content_sha256, '')";

TransportError::Kind KindForSqlState(const std::string& state) {
  if (state == "PT401" || state == "PT403" || state == "42501" || state == "28P01" ||
      state == "28000") {
    return TransportError::Kind::kAuth;
  }
  if (state == "PT404") return TransportError::Kind::kNotFound;
  if (state == "PT409" || state == "23505") return TransportError::Kind::kConflict;
  // Connection trouble, server shutting down or starting, too many clients, lock/serialization
  // conflicts: the same call is safe to repeat (every call here is idempotent).
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
      state == "53300" || state == "40001" || state == "40P01" || state == "55P03") {
    return TransportError::Kind::kRetryable;
  }
  if (state.rfind("22", 0) == 0 || state == "PT413" || state == "PT415" || state == "PT422" ||
      state == "PT400") {
    return TransportError::Kind::kRejected;
  }
  return TransportError::Kind::kFatal;
}

class PgTransport : public ServerTransport {
 public:
  PgTransport(const TransportOptions& options, PgConnectionPlan plan)
      : options_(options), plan_(std::move(plan)), client_id_(options.client_id) {}

  ~PgTransport() override {
    // Best effort: the key copy in options_ is wiped rather than left in freed memory.
    OPENSSL_cleanse(options_.api_key.data(), options_.api_key.size());
  }

  bool OpenBatch(const std::string& client_id, const std::string& processing_type,
                 const std::string& key_column, const std::string& idempotency_key,
                 const std::string& manifest, BatchInfo* out, TransportError* err) override {
    client_id_ = client_id;
    if (manifest.empty()) {
      return BatchCall("sdp.sdp_batch_open($1, $2, $3, $4)",
                       {client_id, processing_type, key_column, idempotency_key}, out, err);
    }
    return BatchCall("sdp.sdp_batch_open($1, $2, $3, $4, $5::jsonb)",
                     {client_id, processing_type, key_column, idempotency_key, manifest}, out, err);
  }

  bool AppendChunk(const std::string& batch_id, int seq, std::string_view chunk,
                   const std::string& chunk_sha256, int64_t* rows_so_far,
                   TransportError* err) override {
    Result r;
    const std::string seq_text = std::to_string(seq);
    // The chunk (8 MiB by default) goes out as a binary-format parameter straight from the
    // caller's buffer: a text-format one would need a NUL-terminated copy and libpq's strlen
    // over it. text's binary input on the server validates the encoding exactly as its text
    // input does, so an invalid UTF-8 or NUL byte is refused the same way.
    const RawParam raw_chunk{2, chunk};
    if (!Call("SELECT sdp.sdp_batch_append($1::uuid, $2::int, $3::text, $4)",
              {batch_id, seq_text, std::string(), chunk_sha256}, &r, err, &raw_chunk)) {
      return false;
    }
    if (!HasShape(r.get(), 1, err)) return false;
    *rows_so_far = std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10);
    return true;
  }

  bool SealBatch(const std::string& batch_id, int chunks, const std::string& content_sha256,
                 BatchInfo* out, TransportError* err) override {
    return BatchCall("sdp.sdp_batch_seal($1::uuid, $2::int, $3)",
                     {batch_id, std::to_string(chunks), content_sha256}, out, err);
  }

  bool AbortBatch(const std::string& batch_id, const std::string& reason, BatchInfo* out,
                  TransportError* err) override {
    return BatchCall("sdp.sdp_batch_abort($1::uuid, $2)", {batch_id, reason}, out, err);
  }

  bool ProcessBatch(const std::string& batch_id, bool dev, BatchInfo* out,
                    TransportError* err) override {
    return BatchCall(
        dev ? "sdp.sdp_dev_process_batch($1::uuid)" : "sdp.sdp_process_batch($1::uuid)", {batch_id},
        out, err);
  }

  bool GetBatch(const std::string& batch_id, BatchInfo* out, TransportError* err) override {
    return BatchCall("sdp.sdp_batch_status($1::uuid)", {batch_id}, out, err);
  }

  bool FetchResultsCsv(const std::string& batch_id, std::string* csv,
                       TransportError* err) override {
    // COPY streams the rows of sdp_results() (tenant and integrity checks included) as CSV,
    // about ten times faster than building one text value server-side. COPY takes no
    // parameters, so the batch id is checked to be a plain UUID before it is spliced in.
    if (!IsCanonicalUuid(batch_id)) {
      err->kind = TransportError::Kind::kRejected;
      err->code = "22P02";
      err->message = "invalid batch id " + QuotedValue(batch_id) + ": expected a UUID";
      return false;
    }
    const std::string sql =
        "COPY (SELECT record_key, score, risk_band, model_version FROM sdp.sdp_results('" +
        batch_id + "'::uuid) ORDER BY row_no) TO STDOUT WITH (FORMAT csv, HEADER)";
    Result r;
    csv->clear();
    copy_target_ = csv;
    const bool ok = Call(sql.c_str(), {}, &r, err);
    copy_target_ = nullptr;
    if (!ok) csv->clear();  // never half a result
    return ok;
  }

  const char* name() const override { return "postgresql"; }

  bool RekeyBegin(const std::string& client_id, const std::string& domain, int from_version,
                  int to_version, const std::string& to_key_id, RekeyState* out,
                  TransportError* err) override {
    if (!client_id.empty()) client_id_ = client_id;
    return RekeyCall(
        "sdp.sdp_rekey_begin($1, $2, $3::int, $4::int, $5)",
        {client_id_, domain, std::to_string(from_version), std::to_string(to_version), to_key_id},
        out, err);
  }

  bool RekeyTokens(const std::string& rotation_id, const std::string& after, int max_tokens,
                   std::vector<std::string>* tokens, TransportError* err) override {
    tokens->clear();
    Result r;
    // "" is sent as NULL: the first page.
    if (!Call("SELECT t FROM sdp.sdp_rekey_tokens($1::uuid, $2, $3::int) AS t",
              {rotation_id, after, std::to_string(max_tokens)}, &r, err)) {
      return false;
    }
    if (PQnfields(r.get()) != 1 || PQntuples(r.get()) > max_tokens) {
      return HasShape(r.get(), 1, err);  // the wrong shape, reported as such
    }
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      tokens->emplace_back(PQgetvalue(r.get(), i, 0), PQgetlength(r.get(), i, 0));
    }
    return true;
  }

  bool RekeyPairs(const std::string& rotation_id, const std::string& pairs_csv, RekeyState* out,
                  TransportError* err) override {
    return RekeyCall("sdp.sdp_rekey_pairs($1::uuid, $2)", {rotation_id, pairs_csv}, out, err);
  }

  bool RekeyApply(const std::string& rotation_id, int max_rows, RekeyState* out,
                  TransportError* err) override {
    return RekeyCall("sdp.sdp_rekey_apply($1::uuid, $2::int)",
                     {rotation_id, std::to_string(max_rows)}, out, err);
  }

  bool RekeyFinish(const std::string& rotation_id, RekeyState* out, TransportError* err) override {
    return RekeyCall("sdp.sdp_rekey_finish($1::uuid)", {rotation_id}, out, err);
  }

  bool TokenVersions(const std::string& client_id, const std::string& domain,
                     std::vector<TokenVersionPair>* out, TransportError* err) override {
    out->clear();
    if (!client_id.empty()) client_id_ = client_id;
    Result r;
    if (!Call("SELECT old_token, new_token, from_version, to_version "
              "FROM sdp.sdp_token_versions($1, $2)",
              {client_id_, domain}, &r, err)) {
      return false;
    }
    if (PQnfields(r.get()) != 4) return HasShape(r.get(), 4, err);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      TokenVersionPair p;
      p.old_token.assign(PQgetvalue(r.get(), i, 0), PQgetlength(r.get(), i, 0));
      p.new_token.assign(PQgetvalue(r.get(), i, 1), PQgetlength(r.get(), i, 1));
      p.from_version = std::atoi(PQgetvalue(r.get(), i, 2));
      p.to_version = std::atoi(PQgetvalue(r.get(), i, 3));
      out->push_back(std::move(p));
    }
    return true;
  }

  bool RekeyStatus(const std::string& client_id, const std::string& domain, RekeyState* out,
                   TransportError* err) override {
    if (!client_id.empty()) client_id_ = client_id;
    return RekeyCall("sdp.sdp_rekey_status($1, $2)", {client_id_, domain}, out, err);
  }

 private:
  // One rotation function returning json: its text, parsed.
  bool RekeyCall(const std::string& call, const std::vector<std::string>& params, RekeyState* out,
                 TransportError* err) {
    Result r;
    const std::string sql = "SELECT (" + call + ")::text";
    if (!Call(sql.c_str(), params, &r, err)) return false;
    if (!HasShape(r.get(), 1, err)) return false;
    std::string why;
    if (!ParseRekeyJson(std::string_view(PQgetvalue(r.get(), 0, 0), PQgetlength(r.get(), 0, 0)),
                        out, &why)) {
      err->kind = TransportError::Kind::kFatal;
      err->code = "08P01";
      err->message = "unexpected reply from " + call.substr(0, call.find('(')) + ": " + why;
      return false;
    }
    return true;
  }

  bool Connect(TransportError* err) {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return true;
    // The URL first, then the plan's parameters, which override it (sslmode=verify-full,
    // sslrootcert, connect_timeout). The API key is never a connection parameter: libpq sends
    // those in the startup packet, in plain text unless TLS was negotiated first.
    std::vector<const char*> keywords = {"dbname"};
    std::vector<const char*> values = {options_.url.c_str()};
    for (const auto& [keyword, value] : plan_.overrides) {
      keywords.push_back(keyword.c_str());
      values.push_back(value.c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    conn_.reset(PQconnectStartParams(keywords.data(), values.data(), /*expand_dbname=*/1));
    if (conn_ && PQstatus(conn_.get()) != CONNECTION_BAD) {
      // Before the first byte from the server: libpq's default prints notices to stderr as
      // they come, control characters and all.
      PQsetNoticeProcessor(conn_.get(), LogServerNotice, nullptr);
      FinishConnecting(conn_.get(), plan_.connect_deadline_seconds);
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      err->kind = TransportError::Kind::kRetryable;
      err->code = "08001";
      std::string why = Scrub(ShownServerText(PQerrorMessage(conn_.get()), kMaxServerText));
      if (why.empty()) {
        why = "no connection within " + std::to_string(plan_.connect_deadline_seconds) +
              " s (connect_timeout)";
      }
      err->message = "cannot connect to " + RedactUrl(options_.url) + ": " + why;
      err->hint = "check SDP_SERVER_URL and that the server is running";
      conn_.reset();
      return false;
    }
    // Whatever the URL, a service file or an environment variable said: nothing more is sent on
    // a connection that is neither encrypted nor to this machine.
    const char* addr = PQhostaddr(conn_.get());
    const char* host = PQhost(conn_.get());
    const std::string peer = addr != nullptr && addr[0] != '\0' ? addr : (host ? host : "");
    // (GSSAPI encryption, when libpq negotiated it, authenticates the server too: Kerberos.)
    const bool encrypted = PQsslInUse(conn_.get()) != 0 || PQgssEncInUse(conn_.get()) != 0;
    if (!encrypted && !IsLocalDestination(peer)) {
      err->kind = TransportError::Kind::kFatal;
      err->code = "08P01";
      err->message = "refusing the unencrypted connection to " + ShownServerText(peer, 200) +
                     ": the API key and the data would travel in plain text";
      err->hint = "add sslmode=verify-full and sslrootcert=<CA file> to SDP_SERVER_URL";
      conn_.reset();
      return false;
    }
    if (!options_.api_key.empty() && !HandOverKey(err)) {
      conn_.reset();
      return false;
    }
    // Every call passes its values as parameters, and a chunk is one 8 MiB parameter. With the
    // default plan_cache_mode the server plans each call with the values inlined as constants,
    // copying the chunk (memcpy and page faults) before the function even runs; a generic plan
    // reads the parameter where it is. Only speed depends on this, so a refusal is not an error.
    PQclear(PQexec(conn_.get(), "SET plan_cache_mode = force_generic_plan"));
    return true;
  }

  // What PQconnectdbParams does after PQconnectStartParams, so that the notice processor is
  // in place first: drives the attempt (every host of the URL in turn) to its end, within
  // `deadline_seconds` in all (0 = no limit). On timeout the connection is left not OK.
  static void FinishConnecting(PGconn* conn, long deadline_seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_seconds);
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (state != PGRES_POLLING_OK && state != PGRES_POLLING_FAILED) {
      pollfd p{PQsocket(conn),
               static_cast<short>(state == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
      if (p.fd < 0 || Interrupted()) return;
      int wait_ms = 1000;
      if (deadline_seconds > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) return;
        wait_ms = static_cast<int>(std::min<int64_t>(left, 1000));
      }
      const int ready = ::poll(&p, 1, wait_ms);
      if (ready < 0 && errno != EINTR) return;
      if (ready <= 0) continue;  // not yet (or a signal): wait again, deadline permitting
      state = PQconnectPoll(conn);
    }
  }

  // Gives the API key to this session as the setting sdp_agent.api_key, read by Authenticate.
  // It travels as COPY data into a temporary table that is dropped at commit: COPY data is
  // never written to the server log, whereas a key in a statement, as a literal or a bind
  // parameter, is logged in full by log_statement, log_min_duration_statement and
  // log_parameter_max_length(_on_error), and a key in the connection options would be in the
  // startup packet. The setting lives in this backend's memory only.
  bool HandOverKey(TransportError* err) {
    Result r;
    if (!Exec("BEGIN", {}, &r, err) ||
        !Exec("CREATE TEMPORARY TABLE pg_temp.sdp_agent_key (k pg_catalog.text) ON COMMIT DROP", {},
              &r, err)) {
      return KeyNotHandedOver(err);
    }
    r.reset(PQexec(conn_.get(), "COPY pg_temp.sdp_agent_key (k) FROM STDIN"));
    if (!r || PQresultStatus(r.get()) != PGRES_COPY_IN) return KeyNotHandedOver(err, r.get());
    std::string line = CopyTextField(options_.api_key);
    const bool sent = PQputCopyData(conn_.get(), line.data(), static_cast<int>(line.size())) == 1 &&
                      PQputCopyEnd(conn_.get(), nullptr) == 1;
    OPENSSL_cleanse(line.data(), line.size());
    if (!sent) return KeyNotHandedOver(err);
    r.reset(PQgetResult(conn_.get()));
    const bool copied = r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
    while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
    if (!copied) return KeyNotHandedOver(err, r.get());
    // The length, not the value, comes back: the key is not copied into a result.
    if (!Exec("SELECT pg_catalog.length(pg_catalog.set_config('sdp_agent.api_key', k, false)) "
              "FROM pg_temp.sdp_agent_key",
              {}, &r, err) ||
        !Exec("COMMIT", {}, &r, err)) {
      return KeyNotHandedOver(err);
    }
    return true;
  }

  bool KeyNotHandedOver(TransportError* err, PGresult* failed = nullptr) {
    if (failed != nullptr) FillError(failed, err);
    if (err->message.empty()) {
      err->code = "08006";
      err->message = Scrub(ShownServerText(PQerrorMessage(conn_.get()), kMaxServerText));
    }
    err->message = "cannot hand the API key to the server session: " + err->message;
    if (err->code == "42501") {
      err->hint =
          "the login role needs the TEMPORARY privilege on the database (granted to PUBLIC by "
          "default): GRANT TEMPORARY ON DATABASE <db> TO <role>";
    }
    if (err->kind == TransportError::Kind::kNone) err->kind = TransportError::Kind::kFatal;
    return false;
  }

  // A reply of exactly one row of `columns` columns; anything else (a hostile or broken
  // server) is refused before a value is read.
  static bool HasShape(const PGresult* r, int columns, TransportError* err) {
    if (PQntuples(r) == 1 && PQnfields(r) == columns) return true;
    err->kind = TransportError::Kind::kFatal;
    err->code = "08P01";
    err->message = "unexpected reply: " + std::to_string(PQntuples(r)) + " rows of " +
                   std::to_string(PQnfields(r)) + " columns, expected 1 row of " +
                   std::to_string(columns);
    err->hint = "check that SDP_SERVER_URL names a database with the sdp extension";
    return false;
  }

  // The server's message fields, cleaned: one line, printable, bounded, no API key.
  void FillError(const PGresult* r, TransportError* err) const {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char* hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
    err->code = state ? Scrub(ShownServerText(state, 16)) : "08006";
    err->message =
        Scrub(ShownServerText(primary ? primary : PQerrorMessage(conn_.get()), kMaxServerText));
    err->hint = hint ? Scrub(ShownServerText(hint, kMaxServerText)) : "";
    err->kind = KindForSqlState(err->code);
  }

  // A server may echo what it was sent; the key never reaches a message.
  std::string Scrub(std::string text) const {
    const std::string& key = options_.api_key;
    if (key.size() < 4) return text;
    for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos)) {
      text.replace(pos, key.size(), "[redacted]");
    }
    return text;
  }

  // One parameter sent in binary format from memory the caller keeps alive, in place of
  // params[index] (which the caller leaves empty). An empty `data` is sent as SQL NULL.
  struct RawParam {
    size_t index;
    std::string_view data;
  };

  bool Exec(const char* sql, const std::vector<std::string>& params, Result* out,
            TransportError* err, const RawParam* raw = nullptr) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats(params.size(), 0);
    for (const auto& p : params) {
      values.push_back(p.empty() ? nullptr : p.c_str());  // "" -> SQL NULL (optional args)
      lengths.push_back(static_cast<int>(p.size()));
    }
    if (raw != nullptr && raw->index < params.size() && !raw->data.empty()) {
      values[raw->index] = raw->data.data();
      lengths[raw->index] = static_cast<int>(raw->data.size());
      formats[raw->index] = 1;
    }
    out->reset(PQexecParams(conn_.get(), sql, static_cast<int>(params.size()), nullptr,
                            values.data(), lengths.data(), formats.data(), 0));
    ExecStatusType status = out->get() ? PQresultStatus(out->get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COPY_OUT && copy_target_ != nullptr) {
      char* buffer = nullptr;
      int n;
      while ((n = PQgetCopyData(conn_.get(), &buffer, 0)) > 0) {
        if (static_cast<int64_t>(copy_target_->size()) + n > options_.max_response_bytes) {
          PQfreemem(buffer);
          // The rest of the COPY cannot be skipped cheaply: the connection is dropped.
          conn_.reset();
          copy_target_->clear();
          err->kind = TransportError::Kind::kFatal;
          err->code = "54000";
          err->message =
              "results larger than " + std::to_string(options_.max_response_bytes) + " bytes";
          err->hint = "check that SDP_SERVER_URL names the SDP server";
          return false;
        }
        copy_target_->append(buffer, static_cast<size_t>(n));
        PQfreemem(buffer);
      }
      out->reset(PQgetResult(conn_.get()));
      status = out->get() ? PQresultStatus(out->get()) : PGRES_FATAL_ERROR;
      // Drain to the end of the command so the connection is ready for the next one.
      while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
    }
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return true;
    if (status == PGRES_COPY_OUT || status == PGRES_COPY_IN || status == PGRES_COPY_BOTH) {
      // A COPY this statement never asked for (a hostile or broken server): the connection is
      // mid-COPY and useless, so it is dropped.
      conn_.reset();
      err->kind = TransportError::Kind::kFatal;
      err->code = "08P01";
      err->message = "unexpected COPY reply";
      err->hint = "check that SDP_SERVER_URL names a database with the sdp extension";
      return false;
    }
    FillError(out->get(), err);
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      err->kind = TransportError::Kind::kRetryable;
      conn_.reset();
    }
    return false;
  }

  // One call, authenticated if an API key is configured, retried while the failure is
  // retryable (connection lost, server restarting) with exponential backoff and jitter.
  bool Call(const char* sql, const std::vector<std::string>& params, Result* out,
            TransportError* err, const RawParam* raw = nullptr) {
    std::mt19937 jitter(std::random_device{}());
    for (int attempt = 0;; ++attempt) {
      *err = TransportError();
      if (copy_target_ != nullptr) copy_target_->clear();  // a retried COPY starts over
      if (CallOnce(sql, params, out, err, raw)) return true;
      if (err->kind != TransportError::Kind::kRetryable || attempt >= options_.max_retries) {
        return false;
      }
      const int base_ms = std::min(200 << attempt, 10000);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(base_ms / 2 + static_cast<int>(jitter() % base_ms)));
    }
  }

  // Every call authenticates with the key HandOverKey gave the session.
  bool Authenticate(TransportError* err) {
    Result ignored;
    return Exec(
        "SELECT sdp.sdp_authenticate("
        "pg_catalog.current_setting('sdp_agent.api_key', true), $1)",
        {client_id_}, &ignored, err);
  }

  bool CallOnce(const char* sql, const std::vector<std::string>& params, Result* out,
                TransportError* err, const RawParam* raw) {
    if (!Connect(err)) return false;
    if (options_.api_key.empty()) return Exec(sql, params, out, err, raw);
    Result ignored;
    if (!Exec("BEGIN", {}, &ignored, err)) return false;
    bool ok =
        Authenticate(err) && Exec(sql, params, out, err, raw) && Exec("COMMIT", {}, &ignored, err);
    if (!ok && conn_) {
      Result rollback;
      TransportError rollback_err;
      Exec("ROLLBACK", {}, &rollback, &rollback_err);
    }
    return ok;
  }

  bool BatchCall(const std::string& call, const std::vector<std::string>& params, BatchInfo* out,
                 TransportError* err) {
    Result r;
    const std::string sql = std::string("SELECT ") + kBatchColumns + " FROM " + call;
    if (!Call(sql.c_str(), params, &r, err)) return false;
    if (!HasShape(r.get(), 8, err)) return false;
    PGresult* res = r.get();
    // Bounded and printable like the HTTPS transport's replies: these reach stdout and logs.
    out->batch_id = ShownServerText(PQgetvalue(res, 0, 0), 36);
    out->client_id = ShownServerText(PQgetvalue(res, 0, 1), 64);
    out->processing_type = ShownServerText(PQgetvalue(res, 0, 2), 64);
    out->status = ShownServerText(PQgetvalue(res, 0, 3), 32);
    out->accepted_records = std::strtoll(PQgetvalue(res, 0, 4), nullptr, 10);
    out->processed_records = std::strtoll(PQgetvalue(res, 0, 5), nullptr, 10);
    out->model_version = ShownServerText(PQgetvalue(res, 0, 6), 64);
    out->content_sha256 = ShownServerText(PQgetvalue(res, 0, 7), 64);
    if (client_id_.empty()) client_id_ = out->client_id;
    return true;
  }

  TransportOptions options_;
  PgConnectionPlan plan_;
  std::unique_ptr<PGconn, ConnDeleter> conn_;
  std::string client_id_;
  std::string* copy_target_ = nullptr;  // receives COPY TO STDOUT data during FetchResultsCsv
};

}  // namespace

bool PlanPgConnection(const TransportOptions& options, PgConnectionPlan* plan, std::string* err) {
  *plan = PgConnectionPlan();
  char* parse_error = nullptr;
  Conninfo parsed(PQconninfoParse(options.url.c_str(), &parse_error));
  if (parse_error != nullptr) PQfreemem(parse_error);  // may quote the URL, password included
  if (!parsed) {
    *err = "invalid server URL " + RedactUrl(options.url) +
           ": libpq cannot parse it; fix: use postgresql://user@host:port/db with special "
           "characters percent-encoded";
    return false;
  }
  // libpq's defaults, environment variables (PGHOST, PGSSLMODE, ...) included.
  Conninfo defaults(PQconndefaults());
  auto effective = [&](const char* keyword) {
    std::string v = ConninfoValue(parsed.get(), keyword);
    return v.empty() ? ConninfoValue(defaults.get(), keyword) : v;
  };
  const std::vector<std::string> hosts = SplitOn(effective("host"), ',');
  const std::vector<std::string> addrs = SplitOn(effective("hostaddr"), ',');
  std::string remote;
  for (size_t i = 0; i < std::max(hosts.size(), addrs.size()); ++i) {
    // hostaddr, when given, is where libpq connects; host then only names the certificate.
    const std::string& addr = i < addrs.size() ? addrs[i] : addrs.back();
    const std::string& host = i < hosts.size() ? hosts[i] : hosts.back();
    const std::string destination = addr.empty() ? host : addr;
    if (!IsLocalDestination(destination) && remote.empty()) remote = destination;
  }
  plan->loopback_only = remote.empty();
  long timeout = std::max<long>(options.connect_timeout_seconds, 2);
  const std::string configured_timeout = effective("connect_timeout");
  if (configured_timeout.empty()) {
    plan->overrides.emplace_back("connect_timeout", std::to_string(timeout));
  } else {
    // As libpq reads it: 0 or less waits for ever, else at least 2 s.
    timeout = std::strtol(configured_timeout.c_str(), nullptr, 10);
    timeout = timeout <= 0 ? 0 : std::max<long>(timeout, 2);
  }
  plan->connect_deadline_seconds =
      timeout * static_cast<long>(std::max(hosts.size(), addrs.size()));
  const std::string sslmode = effective("sslmode");
  const bool has_root = !effective("sslrootcert").empty();
  if (plan->loopback_only) {
    // TLS on loopback is optional; when it is asked for, SDP_CA_BUNDLE is its CA as well.
    if ((sslmode == "verify-full" || sslmode == "verify-ca") && !has_root &&
        !options.ca_bundle.empty()) {
      plan->overrides.emplace_back("sslrootcert", options.ca_bundle);
    }
    return true;
  }
  remote = ShownServerText(remote, 200);
  if (sslmode != "verify-full") {
    *err = "refusing postgresql:// to " + remote + " with sslmode=" +
           (sslmode.empty() ? "prefer (the default)" : ShownServerText(sslmode, 32)) +
           ": the API key and the data could travel in plain text or to an impostor; fix: add "
           "sslmode=verify-full to SDP_SERVER_URL (postgresql://...?sslmode=verify-full) and "
           "set SDP_CA_BUNDLE to the CA that signed the server's certificate";
    return false;
  }
  plan->overrides.emplace_back("sslmode", "verify-full");
  if (!has_root) {
    if (options.ca_bundle.empty()) {
      *err = "refusing postgresql:// to " + remote +
             ": sslmode=verify-full without a CA to verify the server against; fix: set "
             "SDP_CA_BUNDLE (or sslrootcert= in SDP_SERVER_URL) to the PEM file of the CA that "
             "signed the server's certificate";
      return false;
    }
    plan->overrides.emplace_back("sslrootcert", options.ca_bundle);
  }
  return true;
}

std::unique_ptr<ServerTransport> NewPgTransport(const TransportOptions& options, std::string* err) {
  PgConnectionPlan plan;
  if (!PlanPgConnection(options, &plan, err)) return nullptr;
  return std::make_unique<PgTransport>(options, std::move(plan));
}

}  // namespace sdp
