#include "uploader.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "csv_reader.h"
#include "exit_status.h"
#include "hex.h"
#include "progress.h"
#include "signals.h"

namespace sdp {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return HexEncode(digest, len);
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
  Fd in;
  in.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd < 0) {
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
    const ssize_t n = ::read(in.fd, buf.data(), buf.size());
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
                   std::string* err, int* exit_code) {
  const auto start = std::chrono::steady_clock::now();
  *outcome = UploadOutcome();
  *exit_code = kExitFailure;
  std::string content_sha;
  if (!Sha256File(job.file, &content_sha, err)) return false;

  Fd data, scan;
  data.fd = ::open(job.file.c_str(), O_RDONLY | O_CLOEXEC);
  scan.fd = ::open(job.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (data.fd < 0 || scan.fd < 0) {
    *err = job.file + ": cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st;
  ::fstat(data.fd, &st);
  const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);

  // Same file, client, type and key column -> same key -> same batch on the server.
  const std::string idempotency_key =
      "sdp-agent:v1:" + Sha256Hex(job.client_id + '\0' + job.processing_type + '\0' +
                                  job.key_column + '\0' + content_sha);
  TransportError terr;
  BatchInfo batch;
  if (!transport->OpenBatch(job.client_id, job.processing_type, job.key_column, idempotency_key,
                            &batch, &terr)) {
    *exit_code = ExitCodeFor(terr);
    *err = DescribeTransportError("upload of " + job.file + " failed to open a batch", terr);
    return false;
  }
  if (batch.status != "UPLOADING") {
    // Sealed by an earlier run: nothing to send again.
    outcome->batch = batch;
    outcome->resumed = true;
    outcome->bytes = file_bytes;
    return true;
  }
  outcome->resumed = batch.accepted_records > 0;

  // Cut chunks at record ends: parse the file with the CSV reader (which also rejects a
  // malformed file before anything is sent) and send byte ranges read with pread.
  FdByteSource source(scan.fd);
  CsvReader reader(&source);
  CsvRow row;
  Progress progress("upload", file_bytes);
  uint64_t chunk_start = 0, last_end = 0, rows = 0;
  int seq = 0;
  std::string chunk;
  auto send = [&](uint64_t end) {
    if (!ReadRange(data.fd, chunk_start, end - chunk_start, &chunk, err)) return false;
    int64_t stored = 0;
    if (!transport->AppendChunk(batch.batch_id, seq, chunk, Sha256Hex(chunk), &stored, &terr)) {
      *exit_code = ExitCodeFor(terr);
      if (terr.kind == TransportError::Kind::kConflict && outcome->resumed) {
        // Resuming a batch whose chunks were cut differently (another --chunk-kb).
        terr.hint = "this upload resumes batch " + batch.batch_id +
                    ", started with another chunk size; re-run with the same --chunk-kb";
      }
      *err = DescribeTransportError(
          "upload of " + job.file + " failed at chunk " + std::to_string(seq), terr);
      return false;
    }
    ++seq;
    chunk_start = end;
    progress.Update(rows, end);
    return true;
  };
  for (;;) {
    if (Interrupted()) {
      *exit_code = kExitInterrupted;
      *err = "upload of " + job.file + " interrupted after " + std::to_string(seq) +
             " chunks; run the same command again to resume batch " + batch.batch_id;
      return false;
    }
    if (!reader.Next(&row, err)) {
      if (!err->empty()) {
        *err = job.file + ":" + (err->rfind("line ", 0) == 0 ? err->substr(5) : *err);
        return false;
      }
      break;
    }
    ++rows;
    const uint64_t end = reader.bytes_read();
    // Chunk 0 must hold the header and at least one row; later chunks at least one row.
    if (end - chunk_start > job.chunk_bytes && last_end > chunk_start && rows > 2) {
      if (!send(last_end)) return false;
    }
    last_end = end;
  }
  if (last_end > chunk_start && !send(last_end)) return false;
  if (!transport->SealBatch(batch.batch_id, seq, content_sha, &batch, &terr)) {
    *exit_code = ExitCodeFor(terr);
    *err = DescribeTransportError("upload of " + job.file + " failed to seal the batch", terr);
    return false;
  }
  outcome->batch = batch;
  outcome->chunks = seq;
  outcome->bytes = file_bytes;
  outcome->seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace sdp
