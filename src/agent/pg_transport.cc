// ServerTransport over libpq: the embedded default (`postgresql://...`). Calls the sdp.sdp_*
// SQL functions directly. With SDP_API_KEY set, every call runs in a transaction that first
// authenticates as the client (sdp.sdp_authenticate), exactly as PostgREST's pre-request does;
// without it the connecting role must be trusted by the extension (owner or sdp_admin).
#include "pg_transport.h"

#include "log.h"

#include <libpq-fe.h>

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
    conn_.reset(PQconnectdb(options_.url.c_str()));
    quiet_auth_checked_ = false;
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

  // The API key travels as a bind parameter, which a server logging statements
  // (log_statement, log_min_duration_statement, log_min_error_statement) would write to its log
  // in full: a plaintext credential in a file that the server otherwise only knows a keyed hash
  // of. So the authentication statement runs with parameter logging off for that one statement
  // (SET LOCAL, restored before the real call, whose parameters are only tokenized data).
  // log_parameter_max_length is superuser-only unless granted (PG15: GRANT SET ON PARAMETER,
  // which the extension gives sdp_client); the _on_error twin is open to everyone.
  bool CheckQuietAuth(TransportError* err) {
    if (quiet_auth_checked_) return true;
    Result r;
    if (!Exec("SELECT pg_catalog.current_setting('log_parameter_max_length'), "
              "pg_catalog.current_setting('log_parameter_max_length_on_error'), "
              "pg_catalog.has_parameter_privilege('log_parameter_max_length', 'SET')",
              {}, &r, err)) {
      return false;
    }
    log_param_len_ = PQgetvalue(r.get(), 0, 0);
    log_param_len_on_error_ = PQgetvalue(r.get(), 0, 1);
    quiet_auth_ = std::strcmp(PQgetvalue(r.get(), 0, 2), "t") == 0;
    quiet_auth_checked_ = true;
    if (!quiet_auth_ && log_param_len_ != "0") {
      log::Event(log::Level::kWarn, "api_key_may_be_logged", "",
                 "\"reason\":\"this role may not set log_parameter_max_length; a server logging "
                 "statements with their parameters would log the API key\","
                 "\"fix\":\"GRANT SET ON PARAMETER log_parameter_max_length TO this role "
                 "(members of sdp_client have it)\"");
    }
    return true;
  }

  bool Authenticate(TransportError* err) {
    Result ignored;
    const bool quiet = quiet_auth_ && log_param_len_ != "0";
    const bool quiet_on_error = log_param_len_on_error_ != "0";
    if (quiet || quiet_on_error) {
      std::string sql = "SELECT ";
      if (quiet) sql += "pg_catalog.set_config('log_parameter_max_length', '0', true), ";
      sql += "pg_catalog.set_config('log_parameter_max_length_on_error', '0', true)";
      if (!Exec(sql.c_str(), {}, &ignored, err)) return false;
    }
    if (!Exec("SELECT sdp.sdp_authenticate($1, $2)", {options_.api_key, client_id_}, &ignored,
              err)) {
      return false;
    }
    if (!quiet && !quiet_on_error) return true;
    std::vector<std::string> restore;
    std::string sql = "SELECT ";
    if (quiet) {
      sql += "pg_catalog.set_config('log_parameter_max_length', $1, true), ";
      restore.push_back(log_param_len_);
    }
    sql += "pg_catalog.set_config('log_parameter_max_length_on_error', $" +
           std::to_string(restore.size() + 1) + ", true)";
    restore.push_back(log_param_len_on_error_);
    return Exec(sql.c_str(), restore, &ignored, err);
  }

  bool CallOnce(const char* sql, const std::vector<std::string>& params, Result* out,
                TransportError* err) {
    if (!Connect(err)) return false;
    if (options_.api_key.empty()) return Exec(sql, params, out, err);
    if (!CheckQuietAuth(err)) return false;
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
  // Per connection (CheckQuietAuth): may this role turn parameter logging off, and the
  // session's values to restore after the authentication statement.
  bool quiet_auth_checked_ = false;
  bool quiet_auth_ = false;
  std::string log_param_len_;
  std::string log_param_len_on_error_;
};

}  // namespace

std::unique_ptr<ServerTransport> NewPgTransport(const TransportOptions& options) {
  return std::make_unique<PgTransport>(options);
}

}  // namespace sdp
