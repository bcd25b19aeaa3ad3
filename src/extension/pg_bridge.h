// The C++ <-> PostgreSQL error bridge (docs/style.md, extension 1-3).
//
// Two directions, two tools:
//
//  * C++ -> PostgreSQL: SDP_PG_FUNCTION(name) defines the SQL-callable symbol `name` as an
//    extern "C" shim that runs `name_impl` inside try/catch. An sdp::Error becomes ereport(ERROR)
//    with its SQLSTATE, message, detail and hint; std::bad_alloc becomes 53200; anything else
//    becomes XX000 with a log line. The ereport happens only after the catch block has ended, so
//    no longjmp ever crosses a C++ frame or an in-flight exception. The texts are copied into
//    fixed stack buffers inside the catch (no allocation that could itself ereport there).
//
//  * PostgreSQL -> C++: PgCall([&]{ return SomePgApi(...); }) runs a backend call under its own
//    sigsetjmp. If the backend raises, the error is copied out of ErrorContext, the error state
//    is flushed, PG_exception_stack / error_context_stack / CurrentMemoryContext are restored and
//    the error is rethrown as sdp::Error carrying the original SQLSTATE. The lambda passed in must
//    own nothing with a non-trivial destructor (PostgreSQL will longjmp out of it).
#pragma once

#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <type_traits>

#include "error.h"
#include "pg.h"

namespace sdp::pg {

// Turns a five-character SQLSTATE into PostgreSQL's packed error code.
int PackSqlState(const char* state);
// Inverse of PackSqlState.
std::string UnpackSqlState(int code);

// Raises ereport(ERROR) from texts already copied out of the exception. Never returns.
[[noreturn]] void RaiseCopiedError(int sqlerrcode, const char* message, const char* detail,
                                   const char* hint, bool log_internal);

// Copies `src` into a fixed buffer, truncating with "..." if needed. Used inside catch blocks,
// where we must not call anything that can ereport.
void CopyTruncated(char* dst, size_t cap, const std::string& src);

template <typename Impl>
Datum InvokeCpp(Impl impl, FunctionCallInfo fcinfo) {
  constexpr size_t kCap = 4096;
  char message[kCap];
  char detail[kCap];
  char hint[kCap];
  int code = 0;
  bool log_internal = false;
  try {
    return impl(fcinfo);
  } catch (const sdp::Error& e) {
    code = PackSqlState(e.sqlstate.c_str());
    CopyTruncated(message, kCap, e.message);
    CopyTruncated(detail, kCap, e.detail);
    CopyTruncated(hint, kCap, e.hint);
  } catch (const std::bad_alloc&) {
    code = PackSqlState(sqlstate::kOutOfMemory);
    CopyTruncated(message, kCap, "out of memory in sdp");
    detail[0] = hint[0] = '\0';
  } catch (const std::exception& e) {
    code = PackSqlState(sqlstate::kInternal);
    CopyTruncated(message, kCap, std::string("internal error in sdp: ") + e.what());
    detail[0] = hint[0] = '\0';
    log_internal = true;
  } catch (...) {
    code = PackSqlState(sqlstate::kInternal);
    CopyTruncated(message, kCap, "internal error in sdp: unknown exception");
    detail[0] = hint[0] = '\0';
    log_internal = true;
  }
  // Every C++ frame below us is gone and the exception object destroyed: safe to longjmp.
  RaiseCopiedError(code, message, detail, hint, log_internal);
}

// Converts the current backend error (we are in the sigsetjmp branch) into an sdp::Error and
// leaves the backend's error state clean. Defined in pg_bridge.cc.
sdp::Error TakeCurrentPgError(MemoryContext restore_to);

template <typename Fn>
auto PgCall(Fn&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  MemoryContext volatile saved_context = CurrentMemoryContext;
  sigjmp_buf* volatile saved_stack = PG_exception_stack;
  ErrorContextCallback* volatile saved_error_context = error_context_stack;
  sigjmp_buf local;
  if (sigsetjmp(local, 0) == 0) {
    PG_exception_stack = &local;
    if constexpr (std::is_void_v<Result>) {
      fn();
      PG_exception_stack = saved_stack;
      return;
    } else {
      Result result = fn();
      PG_exception_stack = saved_stack;
      return result;
    }
  }
  PG_exception_stack = saved_stack;
  error_context_stack = saved_error_context;
  throw TakeCurrentPgError(saved_context);
}

// How many rows or records a C++ loop handles between two CheckForInterrupts() calls
// (docs/style.md, extension 7): often enough for a prompt cancel, rare enough to cost nothing.
inline constexpr int kRowsBetweenInterruptChecks = 4096;

// CHECK_FOR_INTERRUPTS() for C++ frames: a cancel or terminate request becomes an sdp::Error
// (57014 / 57P01) that unwinds our destructors, then the shim re-raises it.
inline void CheckForInterrupts() {
  if (INTERRUPTS_PENDING_CONDITION()) PgCall([] { ProcessInterrupts(); });
}

}  // namespace sdp::pg

// Defines SQL-callable `name`; write the body as `Datum name_impl(FunctionCallInfo fcinfo)`.
#define SDP_PG_FUNCTION(name)                                                      \
  static Datum name##_impl(FunctionCallInfo fcinfo);                               \
  extern "C" {                                                                     \
  PG_FUNCTION_INFO_V1(name);                                                       \
  Datum name(PG_FUNCTION_ARGS) { return sdp::pg::InvokeCpp(name##_impl, fcinfo); } \
  }                                                                                \
  static Datum name##_impl(FunctionCallInfo fcinfo)
