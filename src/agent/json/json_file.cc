// Pseudonymizing and repersonalizing JSON and NDJSON files.
#include "agent/json/json_file.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>

#include "agent/json/json_pseudonymizer.h"
#include "agent/support/signals.h"
#include "agent/vault/vault.h"
#include "common/atomic_file.h"
#include "common/scoped_fd.h"

namespace sdp {
namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool IsNdjson(const JsonFileJob& job) {
  if (job.format != JsonFormat::kAuto) return job.format == JsonFormat::kNdjson;
  return EndsWith(job.input, ".ndjson") || EndsWith(job.input, ".jsonl");
}

// Calls `each(line_number, document)` for every document of the input: the whole file, or each
// line of NDJSON (without its '\n'). Reads 1 MiB at a time; a line is held whole, up to the limit.
bool ForEachDocument(const std::string& path, bool ndjson,
                     const std::function<bool(uint64_t, std::string_view)>& each,
                     std::string* err) {
  const ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    *err = path + ": cannot open: " + std::strerror(errno) + "; fix: check the --input path";
    return false;
  }
  const size_t limit = ndjson ? kMaxLineBytes : kMaxJsonDocumentBytes;
  std::string buffer;
  size_t start = 0;  // first byte of the current line in buffer
  uint64_t line = 1;
  constexpr size_t kChunk = size_t{1} << 20;
  while (true) {
    if (Interrupted()) {
      *err = path + ": interrupted; nothing was written";
      return false;
    }
    if (start > 0 && start >= buffer.size() / 2) {
      buffer.erase(0, start);
      start = 0;
    }
    const size_t old = buffer.size();
    buffer.resize(old + kChunk);
    ssize_t n;
    do {
      n = ::read(fd.get(), &buffer[old], kChunk);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      *err = path + ": read error: " + std::strerror(errno) + "; fix: check the input file";
      return false;
    }
    buffer.resize(old + static_cast<size_t>(n));
    if (ndjson) {
      size_t nl;
      while ((nl = buffer.find('\n', start)) != std::string::npos) {
        if (!each(line, std::string_view(buffer).substr(start, nl - start))) return false;
        start = nl + 1;
        ++line;
      }
    }
    if (buffer.size() - start > limit) {
      *err = path + ":" + std::to_string(line) + ": " + (ndjson ? "line" : "document") +
             " is longer than the limit of " + std::to_string(limit >> 20) + " MiB; fix: " +
             (ndjson ? "split the document, or check that the file is NDJSON (one document a "
                       "line)"
                     : "split it into NDJSON (one document a line) and pass --format ndjson");
      return false;
    }
    if (n == 0) break;
  }
  if (start < buffer.size()) return each(line, std::string_view(buffer).substr(start));
  return true;
}

// Whether an NDJSON line holds no document (kept as it is: a blank line is not an error).
bool Blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

bool Write(ByteSink* sink, std::string_view data, std::string* err) {
  return sink->Write(data.data(), data.size(), err);
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "in.ndjson:3: <cause>; fix: ..." for a document the scanner or a tokenizer refused.
std::string DocumentError(const std::string& path, uint64_t line, bool ndjson,
                          const std::string& cause) {
  const bool malformed = cause.rfind("byte ", 0) == 0;
  return path + ":" + std::to_string(line) + ": " + cause +
         (cause.find("; fix:") != std::string::npos ? ""
          : malformed
              ? (ndjson ? "; fix: every line must be one JSON document (RFC 8259, UTF-8)"
                        : "; fix: the input must be one JSON document (RFC 8259, UTF-8); for "
                          "NDJSON pass --format ndjson")
              : "; fix: check the document against the rules");
}

}  // namespace

bool PseudonymizeJsonFile(const JsonFileJob& job, const JsonRules& rules, const KeyRing& keys,
                          JsonFileReport* report, std::string* err) {
  const auto started = std::chrono::steady_clock::now();
  *report = JsonFileReport();
  const bool ndjson = IsNdjson(job);
  JsonPseudonymizer pseudonymizer;
  if (!pseudonymizer.Init(rules, keys, err)) return false;
  Vault vault;
  if (!vault.Open(job.vault_path, Vault::Mode::kReadWrite, keys, err)) return false;
  AtomicOutputFile output, ids;
  if (!output.Open(job.output, err)) return false;
  if (!job.ids_output.empty() && !ids.Open(job.ids_output, err)) return false;
  const int64_t ttl = job.ttl_seconds > 0 ? job.ttl_seconds : rules.ttl_seconds;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string out;
  PseudonymRecord record;
  record.created_at = now;
  record.expires_at = ttl > 0 ? now + ttl : 0;
  const bool ok = ForEachDocument(
      job.input, ndjson,
      [&](uint64_t line, std::string_view doc) {
        if (ndjson && Blank(doc))
          return Write(output.sink(), doc, err) && Write(output.sink(), "\n", err);
        size_t fields = 0;
        std::string cause;
        if (!pseudonymizer.Pseudonymize(doc, &out, &record.originals, &fields, &cause)) {
          *err = DocumentError(job.input, line, ndjson, cause);
          return false;
        }
        record.fields = static_cast<uint32_t>(fields);
        record.mac = pseudonymizer.Mac(out);
        if (!NewPseudonymId(&record.id, err) || !vault.PutPseudonym(record, err)) return false;
        ++report->documents;
        report->fields += fields;
        if (!Write(output.sink(), out, err) || (ndjson && !Write(output.sink(), "\n", err))) {
          return false;
        }
        return ids.is_open() ? Write(ids.sink(), record.id + "\n", err) : true;
      },
      err);
  if (!record.originals.empty()) OPENSSL_cleanse(&record.originals[0], record.originals.size());
  if (!ok) return false;
  if (!ndjson && report->documents == 0) {
    *err = job.input + ": the file is empty; fix: pass a JSON document";
    return false;
  }
  // Records first: an output whose records are not durable could never be restored.
  if (!vault.Commit(err)) return false;
  if ((ids.is_open() && !ids.Commit(err)) || !output.Commit(err)) return false;
  report->seconds = Since(started);
  return true;
}

bool RepersonalizeJsonFile(const JsonFileJob& job, const JsonRules& rules, const KeyRing& keys,
                           JsonFileReport* report, std::string* err) {
  const auto started = std::chrono::steady_clock::now();
  *report = JsonFileReport();
  const bool ndjson = IsNdjson(job);
  JsonPseudonymizer pseudonymizer;
  if (!pseudonymizer.Init(rules, keys, err)) return false;
  Vault vault;
  if (!vault.Open(job.vault_path, Vault::Mode::kReadOnly, keys, err)) return false;
  AtomicOutputFile output;
  if (!output.Open(job.output, err)) return false;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string out;
  PseudonymRecord record;
  const bool ok = ForEachDocument(
      job.input, ndjson,
      [&](uint64_t line, std::string_view doc) {
        if (ndjson && Blank(doc))
          return Write(output.sink(), doc, err) && Write(output.sink(), "\n", err);
        bool found = false;
        if (!vault.FindPseudonymByMac(pseudonymizer.Mac(doc), now, &record, &found, err)) {
          return false;
        }
        // Not found by its bytes: a record the service made holds the MAC of the canonical
        // form (and a document re-serialized since the CLI made it is found this way only if
        // the service made its record).
        std::string canonical_mac, not_json;
        if (!found && pseudonymizer.CanonicalMac(doc, &canonical_mac, &not_json) &&
            !vault.FindPseudonymByMac(canonical_mac, now, &record, &found, err)) {
          return false;
        }
        if (!found) {
          *err = job.input + ":" + std::to_string(line) +
                 ": no pseudonym record for this document in vault " + job.vault_path +
                 " (changed since it was pseudonymized, expired, cleaned up, or pseudonymized "
                 "with another vault); fix: pass the unchanged output of `sdp-agent "
                 "pseudonymize` and its --vault";
          return false;
        }
        std::string cause;
        if (!pseudonymizer.Repersonalize(doc, record.originals, &out, &cause)) {
          *err = DocumentError(job.input, line, ndjson, cause);
          return false;
        }
        ++report->documents;
        report->fields += record.fields;
        const bool written =
            Write(output.sink(), out, err) && (!ndjson || Write(output.sink(), "\n", err));
        OPENSSL_cleanse(&out[0], out.size());
        return written;
      },
      err);
  if (!record.originals.empty()) OPENSSL_cleanse(&record.originals[0], record.originals.size());
  if (!ok) return false;
  if (!ndjson && report->documents == 0) {
    *err = job.input + ": the file is empty; fix: pass a pseudonymized JSON document";
    return false;
  }
  if (!output.Commit(err)) return false;
  report->seconds = Since(started);
  return true;
}

}  // namespace sdp
