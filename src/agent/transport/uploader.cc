// Uploading a tokenized file in chunks, resumable, with UTF-8 and shape checks before anything is
// sent.
#include "agent/transport/uploader.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "agent/support/exit_status.h"
#include "agent/support/progress.h"
#include "agent/support/signals.h"
#include "common/csv_reader.h"
#include "common/hex.h"
#include "common/scoped_fd.h"
#include "common/shown_value.h"
#include "common/text.h"

namespace sdp {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode(digest, len);
}

// Offset of the first byte of `s` that is not part of a well-formed UTF-8 sequence (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF), or npos.
size_t InvalidUtf8At(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    // Most cells are ASCII: skip them eight bytes at a time (the scan reads every cell).
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Length of the UTF-8 sequence that lead byte `c` starts, 0 if `c` cannot start one.
size_t Utf8SequenceLength(unsigned char c) {
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// Checks that a byte stream fed in pieces is well-formed UTF-8, a sequence cut by the end of a
// piece included. The scan runs it over the raw file instead of over every cell: the CSV syntax
// (separators, quotes, line ends) is ASCII, so the file is valid UTF-8 exactly when every cell
// is, and the per-cell check, which names the line and field, only runs once this one has
// seen a bad byte. It reports the bad byte before the CSV reader can return the record holding
// it: the reader reads the bytes of a record before returning it, and a sequence cut at the
// end of a piece is judged when the next piece arrives (a byte that cannot continue it, a line
// end say, is bad at once) or at the end of the file.
class Utf8Stream {
 public:
  void Feed(const unsigned char* p, size_t n) {
    if (!clean_) return;
    size_t i = 0;
    if (pending_len_ > 0) {
      const size_t want = Utf8SequenceLength(pending_[0]);
      while (pending_len_ < want && i < n) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
          clean_ = false;
          return;
        }
        pending_[pending_len_++] = p[i++];
      }
      if (pending_len_ < want) return;
      if (InvalidUtf8At(std::string_view(reinterpret_cast<const char*>(pending_), want)) !=
          std::string_view::npos) {
        clean_ = false;
        return;
      }
      pending_len_ = 0;
    }
    const std::string_view rest(reinterpret_cast<const char*>(p + i), n - i);
    const size_t bad = InvalidUtf8At(rest);
    if (bad == std::string_view::npos) return;
    // Cut by the end of this piece: kept until the next one (InvalidUtf8At refused it only
    // for its length, or for a byte that the check above will refuse again).
    const size_t tail = rest.size() - bad;
    const size_t want = Utf8SequenceLength(static_cast<unsigned char>(rest[bad]));
    if (want > tail) {
      std::memcpy(pending_, rest.data() + bad, tail);
      pending_len_ = tail;
      for (size_t k = 1; k < tail; ++k) {
        if (pending_[k] < 0x80 || pending_[k] > 0xBF) clean_ = false;
      }
      return;
    }
    clean_ = false;
  }
  // The end of the stream: a sequence still cut short is bad.
  void Finish() {
    if (pending_len_ > 0) clean_ = false;
  }
  bool clean() const { return clean_; }

 private:
  unsigned char pending_[4] = {};
  size_t pending_len_ = 0;
  bool clean_ = true;
};

// Hashes every byte the CSV reader pulls through it and checks that the bytes are UTF-8.
class HashingByteSource : public ByteSource {
 public:
  HashingByteSource(int fd, EVP_MD_CTX* ctx) : inner_(fd), ctx_(ctx) {}
  long Read(char* buf, size_t n, std::string* err) override {
    const long got = inner_.Read(buf, n, err);
    if (got > 0) {
      EVP_DigestUpdate(ctx_, buf, static_cast<size_t>(got));
      utf8_.Feed(reinterpret_cast<const unsigned char*>(buf), static_cast<size_t>(got));
    } else if (got == 0) {
      utf8_.Finish();
    }
    return got;
  }
  // False once a byte read so far is not part of well-formed UTF-8 (see Utf8Stream).
  bool utf8_clean() const { return utf8_.clean(); }

 private:
  FdByteSource inner_;
  EVP_MD_CTX* ctx_;
  Utf8Stream utf8_;
};

// Where the chunks of a run of records end: a chunk closes before the record that would take it
// past `chunk_bytes`, so it holds whole records only (a quoted newline is never split) and at
// least one. The first upload cuts a whole file with it (ScanFile) and a resume cuts the rest of
// one (ChunkEndsAfterRecords), so both cut alike.
class ChunkCutter {
 public:
  ChunkCutter(size_t chunk_bytes, uint64_t start, std::vector<uint64_t>* ends)
      : chunk_bytes_(chunk_bytes), chunk_start_(start), last_end_(start), ends_(ends) {}

  // The next record ends at byte `end`. Returns true when the chunk was closed just before it;
  // `may_cut` false keeps it in the current chunk whatever its size.
  bool Record(uint64_t end, bool may_cut = true) {
    const bool cut = may_cut && end - chunk_start_ > chunk_bytes_ && last_end_ > chunk_start_;
    if (cut) Close(last_end_);
    last_end_ = end;
    return cut;
  }
  // Closes a chunk right after the record that ends at `end` (one that must stand alone).
  void CloseAfter(uint64_t end) {
    Close(end);
    last_end_ = end;
  }
  // Closes the last chunk, if it holds anything.
  void Finish() {
    if (last_end_ > chunk_start_) Close(last_end_);
  }

 private:
  void Close(uint64_t end) {
    ends_->push_back(end);
    chunk_start_ = end;
  }

  size_t chunk_bytes_;
  uint64_t chunk_start_;
  uint64_t last_end_;
  std::vector<uint64_t>* ends_;
};

// What the pre-upload scan learnt about the file.
struct ScannedFile {
  std::string sha256;
  std::vector<uint64_t> chunk_ends;  // byte offset where each chunk ends
  std::vector<uint64_t> rows_at;     // records read when each chunk ends (for progress)
};

// Reads the whole file once before anything is sent: hashes it, checks that it is well-formed
// CSV whose every cell is valid UTF-8 and that it has at least one data row, and decides where
// the chunks end (ChunkCutter; chunk 0 holds the header and at least one row). A hostile or
// broken file is refused here with its line, so the server never holds a half-uploaded batch of
// it. Values never appear in the error text.
bool ScanFile(const UploadJob& job, int fd, ScannedFile* out, Failure* failure) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Fail(failure, kExitFailure, "cannot initialise SHA-256");
  }
  HashingByteSource source(fd, ctx.get());
  CsvReader reader(&source);
  CsvRow row;
  std::vector<std::string> header;
  ChunkCutter cutter(job.chunk_bytes, 0, &out->chunk_ends);
  uint64_t rows = 0;
  std::string err;
  for (;;) {
    if (Interrupted()) {
      return Fail(
          failure, kExitInterrupted,
          "upload of " + job.file + " interrupted while checking the file; nothing was sent");
    }
    if (!reader.Next(&row, &err)) {
      if (!err.empty()) {
        return Fail(failure, kExitFailure,
                    job.file + ":" + (err.rfind("line ", 0) == 0 ? err.substr(5) : err));
      }
      break;
    }
    ++rows;
    // Cell by cell only once the stream check saw a bad byte: it finds the line and field.
    for (size_t i = 0; !source.utf8_clean() && i < row.size(); ++i) {
      const size_t bad = InvalidUtf8At(row.field(i));
      if (bad == std::string_view::npos) continue;
      const unsigned char byte = static_cast<unsigned char>(row.field(i)[bad]);
      std::string where = "field " + std::to_string(i + 1);
      if (rows == 1) {
        where = "header " + where;
      } else if (i < header.size() && InvalidUtf8At(header[i]) == std::string_view::npos) {
        where += " (" + QuotedValue(header[i]) + ")";
      }
      return Fail(failure, kExitFailure,
                  job.file + ":" + std::to_string(reader.line()) + ": " + where +
                      " is not valid UTF-8 (byte 0x" + HexEncode(&byte, 1) + " at offset " +
                      std::to_string(bad) +
                      " of the value); fix: re-encode the raw file as UTF-8 (e.g. iconv -f latin1 "
                      "-t UTF-8) and tokenize it again");
    }
    if (rows == 1) {
      bool has_key = false;
      for (size_t i = 0; i < row.size(); ++i) {
        header.emplace_back(row.field(i));
        has_key = has_key || header.back() == job.key_column;
      }
      if (!has_key) {
        // The server would refuse it at chunk 0, after the batch was opened.
        return Fail(failure, kExitUsage,
                    job.file + ":1: key column '" + job.key_column +
                        "' is not in the header; available columns: " + ColumnList(header, 20) +
                        "; fix: pass --key-column with one of them");
      }
    }
    // The header (record 1) and the first data row always share chunk 0.
    if (cutter.Record(reader.bytes_read(), /*may_cut=*/rows > 2)) out->rows_at.push_back(rows - 1);
  }
  if (!source.utf8_clean()) {
    // Not reached while the CSV syntax is ASCII (a bad byte then sits in a cell and the loop
    // above names it); kept so that no change to the reader can let such a file through.
    return Fail(failure, kExitFailure,
                job.file +
                    ": the file is not valid UTF-8; fix: re-encode the raw file as UTF-8 (e.g. "
                    "iconv -f latin1 -t UTF-8) and tokenize it again");
  }
  if (rows == 0) {
    return Fail(failure, kExitFailure,
                job.file +
                    ": the file is empty; fix: upload a CSV with a header line and at least one "
                    "record");
  }
  if (rows == 1) {
    return Fail(failure, kExitFailure,
                job.file +
                    ": no data rows, only a header; fix: upload a CSV with at least one record "
                    "after the header");
  }
  const size_t chunks_before = out->chunk_ends.size();
  cutter.Finish();
  if (out->chunk_ends.size() > chunks_before) out->rows_at.push_back(rows);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  out->sha256 = HexEncode(digest, len);
  return true;
}

bool ReadRange(int fd, uint64_t offset, uint64_t length, std::string* out, std::string* err) {
  out->resize(length);
  uint64_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, out->data() + done, length - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *err = std::string("read failed: ") + (n < 0 ? std::strerror(errno) : "file shrank");
      return false;
    }
    done += static_cast<uint64_t>(n);
  }
  return true;
}

// One chunk read from the file and hashed, ready to send.
struct PreparedChunk {
  std::string data;
  std::string sha256;
  std::string err;
  bool ok = false;

  void Load(int fd, uint64_t begin, uint64_t end) {
    err.clear();
    ok = ReadRange(fd, begin, end - begin, &data, &err);
    if (ok) sha256 = Sha256Hex(data);
  }
};

// A thread that is always joined: on every return path of its owner, before the data it
// works on goes away.
class JoiningThread {
 public:
  ~JoiningThread() { Join(); }
  template <typename F>
  void Start(F&& f) {
    Join();
    thread_ = std::thread(std::forward<F>(f));
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// Where the rest of a file goes when a batch resumes after `stored_records` data records: the
// byte offset just past them, then chunk ends from there. The first chunk holds one record only
// (it probes for the server's next chunk number, see ResumeWithOtherChunks); the others are cut
// by the ChunkCutter, as ScanFile cuts them. The CSV reader is the one the server parses chunks
// with, so records are counted alike.
bool ChunkEndsAfterRecords(const std::string& file, int64_t stored_records, size_t chunk_bytes,
                           uint64_t* resume_at, std::vector<uint64_t>* ends, std::string* err) {
  const ScopedFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    *err = file + ": cannot open: " + std::strerror(errno);
    return false;
  }
  FdByteSource source(in.get());
  CsvReader reader(&source);
  CsvRow row;
  int64_t records = -1;  // the header is record 0
  ends->clear();
  *resume_at = 0;
  ChunkCutter cutter(chunk_bytes, 0, ends);
  for (;;) {
    if (!reader.Next(&row, err)) {
      if (!err->empty()) return false;
      break;
    }
    ++records;
    const uint64_t end = reader.bytes_read();
    if (records < stored_records) continue;
    if (records == stored_records) {
      *resume_at = end;
      cutter = ChunkCutter(chunk_bytes, end, ends);
    } else if (records == stored_records + 1) {
      cutter.CloseAfter(end);  // the one-record probe chunk
    } else {
      cutter.Record(end);
    }
  }
  if (records < stored_records) {
    *err = file + ": the server holds " + std::to_string(stored_records) +
           " records of this batch but the file has " + std::to_string(records < 0 ? 0 : records);
    return false;
  }
  cutter.Finish();
  return true;
}

// The batch was started by a run with another --chunk-kb: chunk `conflict_seq` was stored with
// other bounds (PT409). The server holds the header and the first batch.accepted_records rows,
// in some number K of chunks that is not reported, so the rest of the file is sent from there:
// a one-record chunk is offered as seq conflict_seq+1, +2, ... Every seq below K answers PT409
// (that seq holds other rows; nothing is stored), and K takes it, which the returned row count
// shows (a chunk equal to a stored one is a no-op that leaves the count unchanged). When every
// row is stored already, the seal is offered the chunk counts in the same way (a wrong count is
// refused, nothing changes). The seal then checks the whole content's SHA-256 as always, so a
// miscount can never seal wrong content.
bool ResumeWithOtherChunks(const UploadJob& job, ServerTransport* transport, int fd,
                           const BatchInfo& opened, int conflict_seq,
                           const std::string& content_sha, UploadOutcome* outcome,
                           Failure* failure) {
  const std::string what = "upload of " + job.file + " (resuming batch " + opened.batch_id +
                           ", started with another --chunk-kb)";
  // The stored row count as it is now, not as it was when the batch was opened.
  BatchInfo batch;
  {
    TransportError terr;
    if (!transport->GetBatch(opened.batch_id, &batch, &terr)) {
      return Fail(failure, ExitCodeFor(terr),
                  DescribeTransportError(what + " failed to read the batch", terr));
    }
    batch.batch_id = opened.batch_id;
    if (batch.status != "UPLOADING" || batch.accepted_records <= 0) {
      return Fail(failure, kExitRejected,
                  what + ": the batch is " + batch.status + " with " +
                      std::to_string(batch.accepted_records) +
                      " rows; fix: run the same command again (another upload of this file may "
                      "be running)");
    }
  }
  uint64_t resume_at = 0;
  std::vector<uint64_t> ends;
  std::string err;
  if (!ChunkEndsAfterRecords(job.file, batch.accepted_records, job.chunk_bytes, &resume_at, &ends,
                             &err)) {
    return Fail(failure, kExitFailure,
                what + ": " + err + "; fix: upload the file the batch was started with");
  }
  // K <= the stored rows (every chunk holds at least one), so this many offers always suffice.
  const int64_t last_candidate = conflict_seq + 1 + batch.accepted_records;
  TransportError terr;
  BatchInfo sealed;
  auto fail = [&](const std::string& step) {
    return Fail(failure, ExitCodeFor(terr), DescribeTransportError(what + " failed " + step, terr));
  };
  int seq = conflict_seq + 1;
  std::string chunk;
  if (ends.empty()) {
    for (;; ++seq) {
      if (Interrupted() || seq > last_candidate) break;
      if (transport->SealBatch(batch.batch_id, seq, content_sha, &sealed, &terr)) {
        outcome->batch = sealed;
        outcome->chunks = seq;
        return true;
      }
      if (terr.kind != TransportError::Kind::kRejected) return fail("to seal the batch");
    }
    return fail("to seal the batch");
  }
  uint64_t chunk_start = resume_at;
  for (size_t c = 0; c < ends.size(); ++c) {
    if (Interrupted()) {
      return Fail(failure, kExitInterrupted,
                  what + " interrupted; run the same command again to resume");
    }
    if (!ReadRange(fd, chunk_start, ends[c] - chunk_start, &chunk, &err)) {
      return Fail(failure, kExitFailure,
                  job.file + ": " + err + "; fix: do not change the file while it is uploaded");
    }
    const std::string sha = Sha256Hex(chunk);
    for (;;) {
      int64_t stored = 0;
      const bool ok = transport->AppendChunk(batch.batch_id, seq, chunk, sha, &stored, &terr);
      if (c > 0) {
        if (!ok) return fail("at chunk " + std::to_string(seq));
        break;
      }
      // The probe: taken only when the row count grew, and then by exactly its one row (else
      // another upload of the file added rows meanwhile, and this one went in at the wrong
      // place: the seal will refuse the batch, and this run says so now).
      if (ok && stored == batch.accepted_records + 1) break;
      if (ok && stored > batch.accepted_records) {
        return Fail(failure, kExitFailure,
                    what +
                        ": rows were added by another upload while this one resumed; fix: let "
                        "one upload of the file run at a time");
      }
      if (!ok && terr.kind != TransportError::Kind::kConflict) {
        return fail("at chunk " + std::to_string(seq));
      }
      if (++seq > last_candidate || Interrupted()) {
        return fail("to find where the stored chunks end");
      }
      // Every conflict also comes from a batch that stopped taking chunks (sealed by another
      // run meanwhile): checked now and then rather than offering every possible number.
      if ((seq - conflict_seq) % 64 == 0) {
        BatchInfo now;
        TransportError status_err;
        if (transport->GetBatch(batch.batch_id, &now, &status_err) && now.status != "UPLOADING") {
          return fail("to find where the stored chunks end (the batch is now " + now.status + ")");
        }
      }
    }
    ++seq;
    chunk_start = ends[c];
  }
  if (!transport->SealBatch(batch.batch_id, seq, content_sha, &sealed, &terr)) {
    return fail("to seal the batch");
  }
  outcome->batch = sealed;
  outcome->chunks = seq;
  return true;
}

}  // namespace

int ExitCodeFor(const TransportError& err) {
  switch (err.kind) {
    case TransportError::Kind::kRetryable:
      return kExitRetryable;
    case TransportError::Kind::kRejected:
    case TransportError::Kind::kAuth:
    case TransportError::Kind::kNotFound:
    case TransportError::Kind::kConflict:
      return kExitRejected;
    default:
      return kExitFailure;
  }
}

bool Sha256File(const std::string& path, std::string* hex, std::string* err) {
  const ScopedFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    *err = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    *err = "cannot initialise SHA-256";
    return false;
  }
  std::vector<char> buf(size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *err = path + ": read failed: " + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  *hex = HexEncode(digest, len);
  return true;
}

bool UploadCsvFile(const UploadJob& job, ServerTransport* transport, UploadOutcome* outcome,
                   Failure* failure) {
  const auto start = std::chrono::steady_clock::now();
  *outcome = UploadOutcome();

  const ScopedFd data(::open(job.file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!data.valid()) {
    return Fail(failure, kExitFailure, job.file + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  ::fstat(data.get(), &st);
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);

  // One pass over the file before the server hears of it: hash, well-formedness, UTF-8, rows,
  // chunk boundaries (see ScanFile).
  ScannedFile scanned;
  {
    const ScopedFd scan(::open(job.file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!scan.valid()) {
      return Fail(failure, kExitFailure, job.file + ": cannot open: " + std::strerror(errno));
    }
    if (!ScanFile(job, scan.get(), &scanned, failure)) return false;
  }
  const std::string& content_sha = scanned.sha256;

  // Same file, client, type and key column -> same key -> same batch on the server.
  const std::string idempotency_key =
      "sdp-agent:v1:" + Sha256Hex(job.client_id + '\0' + job.processing_type + '\0' +
                                  job.key_column + '\0' + content_sha);
  TransportError terr;
  BatchInfo batch;
  if (!transport->OpenBatch(job.client_id, job.processing_type, job.key_column, idempotency_key,
                            job.manifest, &batch, &terr)) {
    return Fail(failure, ExitCodeFor(terr),
                DescribeTransportError("upload of " + job.file + " failed to open a batch", terr));
  }
  if (batch.status != "UPLOADING") {
    // Sealed by an earlier run: nothing to send again.
    outcome->batch = batch;
    outcome->resumed = true;
    outcome->bytes = file_bytes;
    return true;
  }
  outcome->resumed = batch.accepted_records > 0;

  // Send the byte ranges the scan decided on, read with pread. While the server stores chunk
  // c, a second thread reads and hashes chunk c + 1 (two buffers, used in turn), so the server
  // does not wait for the agent between chunks.
  Progress progress("upload", file_bytes);
  const size_t chunk_count = scanned.chunk_ends.size();
  PreparedChunk prepared[2];
  auto prepare = [&](size_t c) {
    const uint64_t begin = c == 0 ? 0 : scanned.chunk_ends[c - 1];
    prepared[c % 2].Load(data.get(), begin, scanned.chunk_ends[c]);
  };
  JoiningThread ahead;  // joined before prepared[] and this scope go away
  prepare(0);
  int seq = 0;
  for (size_t c = 0; c < chunk_count; ++c) {
    ahead.Join();
    PreparedChunk& current = prepared[c % 2];
    if (Interrupted()) {
      return Fail(failure, kExitInterrupted,
                  "upload of " + job.file + " interrupted after " + std::to_string(seq) +
                      " chunks; run the same command again to resume batch " + batch.batch_id);
    }
    if (!current.ok) {
      return Fail(
          failure, kExitFailure,
          job.file + ": " + current.err + "; fix: do not change the file while it is uploaded");
    }
    if (c + 1 < chunk_count) ahead.Start([&prepare, c] { prepare(c + 1); });
    const std::string& chunk = current.data;
    const uint64_t end = scanned.chunk_ends[c];
    int64_t stored = 0;
    if (!transport->AppendChunk(batch.batch_id, seq, chunk, current.sha256, &stored, &terr)) {
      ahead.Join();
      if (terr.kind == TransportError::Kind::kConflict && outcome->resumed) {
        // Resuming a batch whose chunks were cut differently (another --chunk-kb).
        if (!ResumeWithOtherChunks(job, transport, data.get(), batch, seq, content_sha, outcome,
                                   failure)) {
          return false;
        }
        outcome->bytes = file_bytes;
        outcome->seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return true;
      }
      std::string what = "upload of " + job.file + " failed at chunk " + std::to_string(seq);
      if (terr.kind == TransportError::Kind::kRejected) {
        // Refused for good (too large, malformed): sending it again fails the same way, so the
        // batch is given up and the rows of the chunks accepted so far are deleted on the
        // server. Best effort: when the abort itself fails, the refusal is still what is
        // reported.
        BatchInfo aborted;
        TransportError abort_err;
        const std::string reason =
            "chunk " + std::to_string(seq) + " refused: " + (terr.code.empty() ? "?" : terr.code);
        if (transport->AbortBatch(batch.batch_id, reason, &aborted, &abort_err)) {
          what += " (batch " + batch.batch_id + " aborted: FAILED, its rows deleted)";
        }
      }
      return Fail(failure, ExitCodeFor(terr), DescribeTransportError(what, terr));
    }
    ++seq;
    progress.Update(scanned.rows_at[c], end);
  }
  if (!transport->SealBatch(batch.batch_id, seq, content_sha, &batch, &terr)) {
    return Fail(
        failure, ExitCodeFor(terr),
        DescribeTransportError("upload of " + job.file + " failed to seal the batch", terr));
  }
  outcome->batch = batch;
  outcome->chunks = seq;
  outcome->bytes = file_bytes;
  outcome->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace sdp
