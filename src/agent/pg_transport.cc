// ServerTransport over libpq: the embedded default (`postgresql://...`). Calls the sdp.sdp_*
// SQL functions directly. With SDP_API_KEY set, every call runs in a transaction that first
// authenticates as the client (sdp.sdp_authenticate), exactly as PostgREST's pre-request does,
// with the key taken from a connection option rather than from the statement (Authenticate);
// without it the connecting role must be trusted by the extension (owner or sdp_admin).
#include "pg_transport.h"

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

namespace sdp {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};

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
  explicit PgTransport(const TransportOptions& options)
      : options_(options), client_id_(options.client_id) {}

  bool OpenBatch(const std::string& client_id, const std::string& processing_type,
                 const std::string& key_column, const std::string& idempotency_key, BatchInfo* out,
                 TransportError* err) override {
    client_id_ = client_id;
    return BatchCall("sdp.sdp_batch_open($1, $2, $3, $4)",
                     {client_id, processing_type, key_column, idempotency_key}, out, err);
  }

  bool AppendChunk(const std::string& batch_id, int seq, std::string_view chunk,
                   const std::string& chunk_sha256, int64_t* rows_so_far,
                   TransportError* err) override {
    Result r;
    const std::string seq_text = std::to_string(seq);
    if (!Call("SELECT sdp.sdp_batch_append($1::uuid, $2::int, $3, $4)",
              {batch_id, seq_text, std::string(chunk), chunk_sha256}, &r, err)) {
      return false;
    }
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
    if (!IsUuid(batch_id)) {
      err->kind = TransportError::Kind::kRejected;
      err->code = "22P02";
      err->message = "invalid batch id \"" + batch_id + "\": expected a UUID";
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
    return ok;
  }

  static bool IsUuid(const std::string& s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }

  const char* name() const override { return "postgresql"; }

 private:
  bool Connect(TransportError* err) {
    if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return true;
    if (options_.api_key.empty()) {
      conn_.reset(PQconnectdb(options_.url.c_str()));
    } else {
      std::string options, parse_error;
      if (!KeyOptions(&options, &parse_error)) {
        err->kind = TransportError::Kind::kFatal;
        err->code = "08001";
        err->message = "invalid server URL " + RedactUrl(options_.url) + ": " + parse_error;
        err->hint = "check SDP_SERVER_URL";
        return false;
      }
      const char* keywords[] = {"dbname", "options", nullptr};
      const char* values[] = {options_.url.c_str(), options.c_str(), nullptr};
      conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
      OPENSSL_cleanse(options.data(), options.size());
    }
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      err->kind = TransportError::Kind::kRetryable;
      err->code = "08001";
      std::string msg = PQerrorMessage(conn_.get());
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      err->message = "cannot connect to " + RedactUrl(options_.url) + ": " + msg;
      err->hint = "check SDP_SERVER_URL and that the server is running";
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

  bool Exec(const char* sql, const std::vector<std::string>& params, Result* out,
            TransportError* err) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const auto& p : params) {
      values.push_back(p.empty() ? nullptr : p.c_str());  // "" -> SQL NULL (optional args)
      lengths.push_back(static_cast<int>(p.size()));
    }
    out->reset(PQexecParams(conn_.get(), sql, static_cast<int>(params.size()), nullptr,
                            values.data(), lengths.data(), nullptr, 0));
    ExecStatusType status = out->get() ? PQresultStatus(out->get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COPY_OUT && copy_target_ != nullptr) {
      char* buffer = nullptr;
      int n;
      while ((n = PQgetCopyData(conn_.get(), &buffer, 0)) > 0) {
        copy_target_->append(buffer, static_cast<size_t>(n));
        PQfreemem(buffer);
      }
      out->reset(PQgetResult(conn_.get()));
      status = out->get() ? PQresultStatus(out->get()) : PGRES_FATAL_ERROR;
      // Drain to the end of the command so the connection is ready for the next one.
      while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
    }
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return true;
    const char* state = out->get() ? PQresultErrorField(out->get(), PG_DIAG_SQLSTATE) : nullptr;
    const char* primary =
        out->get() ? PQresultErrorField(out->get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const char* hint = out->get() ? PQresultErrorField(out->get(), PG_DIAG_MESSAGE_HINT) : nullptr;
    err->code = state ? state : "08006";
    err->message = primary ? primary : PQerrorMessage(conn_.get());
    while (!err->message.empty() && err->message.back() == '\n') err->message.pop_back();
    err->hint = hint ? hint : "";
    err->kind = KindForSqlState(err->code);
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
      err->kind = TransportError::Kind::kRetryable;
      conn_.reset();
    }
    return false;
  }

  // One call, authenticated if an API key is configured, retried while the failure is
  // retryable (connection lost, server restarting) with exponential backoff and jitter.
  bool Call(const char* sql, const std::vector<std::string>& params, Result* out,
            TransportError* err) {
    std::mt19937 jitter(std::random_device{}());
    for (int attempt = 0;; ++attempt) {
      *err = TransportError();
      if (copy_target_ != nullptr) copy_target_->clear();  // a retried COPY starts over
      if (CallOnce(sql, params, out, err)) return true;
      if (err->kind != TransportError::Kind::kRetryable || attempt >= options_.max_retries) {
        return false;
      }
      const int base_ms = std::min(200 << attempt, 10000);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(base_ms / 2 + static_cast<int>(jitter() % base_ms)));
    }
  }

  // The API key reaches the server in the connection's startup packet, as the session setting
  // sdp_agent.api_key (connection option "-c"), and every call authenticates with
  // sdp.sdp_authenticate(current_setting('sdp_agent.api_key'), client_id). Never as a bind
  // parameter or literal: those are written to the server log in full by log_statement,
  // log_min_duration_statement and log_parameter_max_length_on_error, so a server logging
  // statements would hold the plaintext key it otherwise only knows a keyed hash of. Startup
  // options are not logged (log_connections names user, database and application only), need
  // no privilege, and the setting lives in this backend's memory only.
  bool Authenticate(TransportError* err) {
    Result ignored;
    return Exec(
        "SELECT sdp.sdp_authenticate("
        "pg_catalog.current_setting('sdp_agent.api_key', true), $1)",
        {client_id_}, &ignored, err);
  }

  // Connection options for the API key: "-c sdp_agent.api_key=KEY" after any options the URL
  // already has, with backslash and whitespace escaped as libpq's options syntax requires.
  bool KeyOptions(std::string* options, std::string* err) {
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(options_.url.c_str(), &parse_error);
    if (parsed == nullptr) {
      *err = parse_error ? parse_error : "cannot parse the server URL";
      if (parse_error) PQfreemem(parse_error);
      return false;
    }
    options->clear();
    for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
      if (std::strcmp(o->keyword, "options") == 0 && o->val != nullptr) *options = o->val;
    }
    PQconninfoFree(parsed);
    if (!options->empty()) *options += ' ';
    *options += "-c sdp_agent.api_key=";
    for (char c : options_.api_key) {
      if (c == '\\' || std::isspace(static_cast<unsigned char>(c))) *options += '\\';
      *options += c;
    }
    return true;
  }

  bool CallOnce(const char* sql, const std::vector<std::string>& params, Result* out,
                TransportError* err) {
    if (!Connect(err)) return false;
    if (options_.api_key.empty()) return Exec(sql, params, out, err);
    Result ignored;
    if (!Exec("BEGIN", {}, &ignored, err)) return false;
    bool ok = Authenticate(err) && Exec(sql, params, out, err) && Exec("COMMIT", {}, &ignored, err);
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
    if (PQntuples(r.get()) != 1) {
      err->kind = TransportError::Kind::kFatal;
      err->message = "unexpected reply: " + std::to_string(PQntuples(r.get())) + " rows";
      return false;
    }
    PGresult* res = r.get();
    out->batch_id = PQgetvalue(res, 0, 0);
    out->client_id = PQgetvalue(res, 0, 1);
    out->processing_type = PQgetvalue(res, 0, 2);
    out->status = PQgetvalue(res, 0, 3);
    out->accepted_records = std::strtoll(PQgetvalue(res, 0, 4), nullptr, 10);
    out->processed_records = std::strtoll(PQgetvalue(res, 0, 5), nullptr, 10);
    out->model_version = PQgetvalue(res, 0, 6);
    out->content_sha256 = PQgetvalue(res, 0, 7);
    if (client_id_.empty()) client_id_ = out->client_id;
    return true;
  }

  TransportOptions options_;
  std::unique_ptr<PGconn, ConnDeleter> conn_;
  std::string client_id_;
  std::string* copy_target_ = nullptr;  // receives COPY TO STDOUT data during FetchResultsCsv
};

}  // namespace

std::unique_ptr<ServerTransport> NewPgTransport(const TransportOptions& options) {
  return std::make_unique<PgTransport>(options);
}

}  // namespace sdp
