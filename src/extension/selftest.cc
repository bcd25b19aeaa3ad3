// Purpose-built functions that prove the error bridge in pg_regress (sql/error_bridge.sql).
// They live in schema sdp, are revoked from PUBLIC and have no effect besides their result.
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg_datum.h"

namespace {

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Holds heap memory and an OpenSSL handle while throwing, so a leak or a skipped destructor
// would show up in the 10,000-call loop of the regress test.
[[noreturn]] void ThrowWithLiveResources(const sdp::Error& error) {
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::vector<std::string> scratch(64, std::string(256, 'x'));
  if (!ctx || scratch.empty()) throw std::bad_alloc();
  throw error;
}

}  // namespace

SDP_PG_FUNCTION(sdp_selftest_throw) {
  ThrowWithLiveResources(sdp::Error(sdp::pg::TextArg(fcinfo, 0), sdp::pg::TextArg(fcinfo, 1),
                                    sdp::pg::TextArg(fcinfo, 2), sdp::pg::TextArg(fcinfo, 3)));
}

SDP_PG_FUNCTION(sdp_selftest_throw_std) {
  const std::string kind = sdp::pg::TextArg(fcinfo, 0);
  if (kind == "runtime_error") throw std::runtime_error("deliberate std::runtime_error");
  if (kind == "bad_alloc") throw std::bad_alloc();
  if (kind == "int") throw 42;
  throw sdp::Error(sdp::sqlstate::kInvalidParameter, "unknown exception kind \"" + kind + "\"", "",
                   "use runtime_error, bad_alloc or int");
}

// Calls int4in() through PgCall. On a backend error returns "caught <SQLSTATE>: <message>",
// proving the error reached C++ and the backend is usable afterwards.
SDP_PG_FUNCTION(sdp_selftest_pg_error) {
  const std::string input = sdp::pg::TextArg(fcinfo, 0);
  std::vector<std::string> alive_across_the_error(16, "kept");
  try {
    const Datum parsed = sdp::pg::PgCall(
        [&] { return DirectFunctionCall1(int4in, CStringGetDatum(input.c_str())); });
    return sdp::pg::TextDatum("parsed " + std::to_string(DatumGetInt32(parsed)));
  } catch (const sdp::Error& e) {
    return sdp::pg::TextDatum("caught " + e.sqlstate + ": " + e.message + " (" +
                              std::to_string(alive_across_the_error.size()) + " objects intact)");
  }
}

// Same call without catching: the backend error travels PG -> C++ -> shim -> PG unchanged.
SDP_PG_FUNCTION(sdp_selftest_pg_error_rethrow) {
  const std::string input = sdp::pg::TextArg(fcinfo, 0);
  std::vector<std::string> must_be_destroyed(16, std::string(128, 'y'));
  const Datum parsed =
      sdp::pg::PgCall([&] { return DirectFunctionCall1(int4in, CStringGetDatum(input.c_str())); });
  return Int32GetDatum(DatumGetInt32(parsed) + static_cast<int>(must_be_destroyed.size()) - 16);
}

// Loops until cancelled (statement_timeout): proves CheckForInterrupts() unwinds C++ frames.
SDP_PG_FUNCTION(sdp_selftest_spin) {
  std::vector<std::string> alive(8, "spin");
  for (unsigned long i = 0;; ++i) {
    if ((i & 0xFFFF) == 0) sdp::pg::CheckForInterrupts();
  }
  return Int32GetDatum(static_cast<int>(alive.size()));
}
