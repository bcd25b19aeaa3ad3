#include "agent/transport/uploader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "agent/support/exit_status.h"
#include "test/support/test_util.h"

namespace sdp {
namespace {

// Records what the uploader sends; never fails.
class RecordingTransport : public ServerTransport {
 public:
  bool OpenBatch(const std::string&, const std::string&, const std::string&, const std::string&,
                 const std::string& sent_manifest, BatchInfo* out, TransportError*) override {
    ++opened;
    manifest = sent_manifest;
    out->batch_id = "00000000-0000-4000-8000-000000000001";
    out->status = "UPLOADING";
    return true;
  }
  bool AppendChunk(const std::string&, int, std::string_view chunk, const std::string&,
                   int64_t* rows_so_far, TransportError* err) override {
    if (static_cast<int>(chunks.size()) == fail_at_chunk) {
      err->kind = fail_kind;
      err->code = fail_kind == TransportError::Kind::kRejected ? "PT413" : "08006";
      err->message = "refused";
      return false;
    }
    chunks.emplace_back(chunk);
    *rows_so_far = 0;
    return true;
  }
  bool AbortBatch(const std::string& batch_id, const std::string& reason, BatchInfo* out,
                  TransportError*) override {
    aborted.push_back(batch_id + " " + reason);
    out->status = "FAILED";
    return true;
  }
  bool SealBatch(const std::string&, int n, const std::string& sha, BatchInfo* out,
                 TransportError*) override {
    sealed_chunks = n;
    sealed_sha = sha;
    out->status = "RECEIVED";
    return true;
  }
  bool ProcessBatch(const std::string&, bool, BatchInfo*, TransportError*) override {
    return false;
  }
  bool GetBatch(const std::string&, BatchInfo*, TransportError*) override { return false; }
  bool FetchResultsCsv(const std::string&, std::string*, TransportError*) override { return false; }
  const char* name() const override { return "fake"; }

  int opened = 0;
  std::string manifest;
  std::vector<std::string> chunks;
  std::vector<std::string> aborted;
  int fail_at_chunk = -1;  // AppendChunk of this seq fails with fail_kind
  TransportError::Kind fail_kind = TransportError::Kind::kRejected;
  int sealed_chunks = -1;
  std::string sealed_sha;
};

struct Upload {
  bool ok = false;
  std::string err;
  int exit_code = 0;
  RecordingTransport transport;
};

void UploadContent(const std::string& content, Upload* u, size_t chunk_bytes = size_t{8} << 20,
                   const std::string& manifest = "") {
  testing::ScopedTempDir dir;
  UploadJob job;
  job.file = dir.File("t.csv");
  testing::WriteFile(job.file, content);
  job.client_id = "c";
  job.processing_type = "risk_scoring";
  job.chunk_bytes = chunk_bytes;
  job.manifest = manifest;
  UploadOutcome outcome;
  Failure failure;
  u->ok = UploadCsvFile(job, &u->transport, &outcome, &failure);
  u->err = failure.message;
  u->exit_code = failure.exit_code;
  // Paths are random: keep only the file name in the message.
  const size_t at = u->err.find("/t.csv");
  if (at != std::string::npos) u->err = u->err.substr(at + 1);
}

TEST(UploaderTest, ChunksAtRecordBoundariesAndHashesTheWholeFile) {
  std::string csv = "customer_id,note\n";
  for (int i = 0; i < 50; ++i) csv += "k" + std::to_string(i) + ",\"two\nlines\"\n";
  Upload u;
  UploadContent(csv, &u, 64);
  ASSERT_TRUE(u.ok) << u.err;
  EXPECT_EQ(u.transport.opened, 1);
  ASSERT_GT(u.transport.chunks.size(), 1u);
  std::string joined;
  for (const auto& c : u.transport.chunks) joined += c;
  EXPECT_EQ(joined, csv);
  EXPECT_EQ(u.transport.chunks[0].rfind("customer_id,note\nk0,", 0), 0u);
  for (const auto& c : u.transport.chunks) EXPECT_EQ(c.back(), '\n');
  EXPECT_EQ(u.transport.sealed_chunks, static_cast<int>(u.transport.chunks.size()));
  std::string sha;
  testing::ScopedTempDir dir;
  testing::WriteFile(dir.File("x"), csv);
  std::string err;
  ASSERT_TRUE(Sha256File(dir.File("x"), &sha, &err));
  EXPECT_EQ(u.transport.sealed_sha, sha);
}

// The manifest goes to the server with the open, where the PII firewall applies it to every chunk.
TEST(UploaderTest, SendsTheManifestWithTheOpen) {
  Upload u;
  UploadContent("customer_id,email\nk1,hAAAAAAAAAAAAAAAAAAAAAAAA\n", &u, size_t{8} << 20,
                R"({"email":{"transform":"HASH"}})");
  ASSERT_TRUE(u.ok) << u.err;
  EXPECT_EQ(u.transport.manifest, R"({"email":{"transform":"HASH"}})");
}

// A chunk the server refuses for good (PT413 at its size limit) aborts the batch, so the chunks
// accepted before do not stay staged; a transient failure keeps it for a re-run to resume.
TEST(UploaderTest, PermanentlyRefusedChunkAbortsTheBatchTransientOneKeepsIt) {
  std::string csv = "customer_id,age\n";
  for (int i = 0; i < 40; ++i) csv += "k" + std::to_string(i) + "," + std::to_string(i) + "\n";
  Upload rejected;
  rejected.transport.fail_at_chunk = 2;
  UploadContent(csv, &rejected, 32);
  ASSERT_FALSE(rejected.ok);
  EXPECT_EQ(rejected.exit_code, 5);
  EXPECT_EQ(rejected.transport.chunks.size(), 2u);
  ASSERT_EQ(rejected.transport.aborted.size(), 1u);
  EXPECT_EQ(rejected.transport.aborted[0],
            "00000000-0000-4000-8000-000000000001 chunk 2 refused: PT413");
  EXPECT_NE(rejected.err.find("failed at chunk 2 (batch 00000000-0000-4000-8000-000000000001 "
                              "aborted: FAILED, its rows deleted): PT413"),
            std::string::npos)
      << rejected.err;
  EXPECT_EQ(rejected.transport.sealed_chunks, -1);

  Upload transient;
  transient.transport.fail_at_chunk = 2;
  transient.transport.fail_kind = TransportError::Kind::kRetryable;
  UploadContent(csv, &transient, 32);
  ASSERT_FALSE(transient.ok);
  EXPECT_EQ(transient.exit_code, 4);
  EXPECT_TRUE(transient.transport.aborted.empty());
  EXPECT_EQ(transient.err.find("aborted"), std::string::npos) << transient.err;
}

// The server's side of a chunked upload, as sdp_batch_append and sdp_batch_seal behave: a
// stored seq with the same hash is a no-op, with another hash PT409; only the next seq is
// stored; the seal checks the chunk count and the whole content's SHA-256. The batch survives
// across runs (a re-run opens it again under the same idempotency key).
class ChunkServer : public ServerTransport {
 public:
  bool OpenBatch(const std::string&, const std::string&, const std::string&, const std::string&,
                 const std::string&, BatchInfo* out, TransportError*) override {
    out->batch_id = kId;
    out->status = status;
    out->accepted_records = rows;
    return true;
  }
  bool AppendChunk(const std::string&, int seq, std::string_view chunk, const std::string& sha,
                   int64_t* rows_so_far, TransportError* err) override {
    ++appends;
    if (fail_at_seq == seq) {
      fail_at_seq = -1;
      err->kind = TransportError::Kind::kRetryable;
      err->message = "connection lost";
      return false;
    }
    if (seq < static_cast<int>(chunks.size())) {
      if (Sha(chunks[seq]) == sha) {
        *rows_so_far = rows;
        return true;
      }
      return Conflict(err);
    }
    if (status != "UPLOADING" || seq != static_cast<int>(chunks.size())) return Conflict(err);
    chunks.emplace_back(chunk);
    rows += rows_added_by_another_upload;  // another run stored a chunk just before this one
    rows_added_by_another_upload = 0;
    for (char c : chunk) rows += c == '\n';
    if (seq == 0) --rows;  // the header
    *rows_so_far = rows;
    return true;
  }
  bool SealBatch(const std::string&, int n, const std::string& sha, BatchInfo* out,
                 TransportError* err) override {
    ++seals;
    std::string all;
    for (const auto& c : chunks) all += c;
    if (fail_seal || n != static_cast<int>(chunks.size()) || Sha(all) != sha) {
      fail_seal = false;
      err->kind = TransportError::Kind::kRejected;
      err->code = "22023";
      err->message = "seal refused";
      return false;
    }
    status = "RECEIVED";
    out->batch_id = kId;
    out->status = status;
    out->accepted_records = rows;
    return true;
  }
  bool AbortBatch(const std::string&, const std::string&, BatchInfo*, TransportError*) override {
    return false;
  }
  bool ProcessBatch(const std::string&, bool, BatchInfo*, TransportError*) override {
    return false;
  }
  bool GetBatch(const std::string&, BatchInfo* out, TransportError*) override {
    out->batch_id = kId;
    out->status = status;
    out->accepted_records = rows;
    return true;
  }
  bool FetchResultsCsv(const std::string&, std::string*, TransportError*) override { return false; }
  const char* name() const override { return "fake"; }

  static std::string Sha(const std::string& data) {
    testing::ScopedTempDir dir;
    testing::WriteFile(dir.File("x"), data);
    std::string hex, err;
    Sha256File(dir.File("x"), &hex, &err);
    return hex;
  }
  static bool Conflict(TransportError* err) {
    err->kind = TransportError::Kind::kConflict;
    err->code = "PT409";
    err->message = "conflict";
    return false;
  }

  static constexpr const char* kId = "00000000-0000-4000-8000-000000000002";
  std::vector<std::string> chunks;
  int64_t rows = 0;
  std::string status = "UPLOADING";
  int fail_at_seq = -1;  // this AppendChunk fails once as retryable (the run is cut off)
  bool fail_seal = false;
  int64_t rows_added_by_another_upload = 0;
  int appends = 0, seals = 0;
};

bool RunUpload(const std::string& file, size_t chunk_bytes, ChunkServer* server, std::string* err) {
  UploadJob job;
  job.file = file;
  job.client_id = "c";
  job.processing_type = "risk_scoring";
  job.chunk_bytes = chunk_bytes;
  UploadOutcome outcome;
  Failure failure;
  const bool ok = UploadCsvFile(job, server, &outcome, &failure);
  *err = failure.message;
  return ok;
}

// Issue 15: an upload cut off and run again with another --chunk-kb used to stop at PT409 for
// good (chunk 0 differs from the stored one). It now resumes after the stored rows, and the
// batch seals with exactly the file's content.
TEST(UploaderTest, ResumesABatchStartedWithAnotherChunkSize) {
  for (size_t second : {size_t{16}, size_t{200}, size_t{1} << 20}) {
    for (bool same_rows : {false, true}) {  // identical rows: a probe equal to a stored chunk
      std::string csv = "customer_id,age\n";
      for (int i = 0; i < 60; ++i) {
        csv += same_rows ? "k,1\n" : "k" + std::to_string(i) + "," + std::to_string(i) + "\n";
      }
      testing::ScopedTempDir dir;
      testing::WriteFile(dir.File("t.csv"), csv);
      ChunkServer server;
      server.fail_at_seq = 4;
      std::string err;
      ASSERT_FALSE(RunUpload(dir.File("t.csv"), same_rows ? 1 : 40, &server, &err));
      ASSERT_EQ(server.chunks.size(), 4u);
      ASSERT_TRUE(RunUpload(dir.File("t.csv"), second, &server, &err))
          << "second chunk size " << second << ": " << err;
      std::string stored;
      for (const auto& c : server.chunks) stored += c;
      EXPECT_EQ(stored, csv) << second;
      EXPECT_EQ(server.status, "RECEIVED");
      EXPECT_EQ(server.rows, 60);
    }
  }
}

// Another upload of the file adding rows while this one resumes: its probe row lands after
// theirs, which the row count shows; the run fails in one line instead of carrying on.
TEST(UploaderTest, ResumeNoticesAnotherUploadAddingRows) {
  std::string csv = "customer_id,age\n";
  for (int i = 0; i < 60; ++i) csv += "k" + std::to_string(i) + "," + std::to_string(i) + "\n";
  testing::ScopedTempDir dir;
  testing::WriteFile(dir.File("t.csv"), csv);
  ChunkServer server;
  server.fail_at_seq = 4;
  std::string err;
  ASSERT_FALSE(RunUpload(dir.File("t.csv"), 40, &server, &err));
  // The next chunk stored (the probe, after the conflict at chunk 0) comes after 3 other rows.
  server.rows_added_by_another_upload = 3;
  EXPECT_FALSE(RunUpload(dir.File("t.csv"), 200, &server, &err));
  EXPECT_NE(err.find("rows were added by another upload while this one resumed; fix: "),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_NE(server.status, "RECEIVED");
}

// Every row was stored by the first run, which stopped before sealing: the second run, with
// another chunk size, finds the chunk count for the seal.
TEST(UploaderTest, ResumesAnUnsealedCompleteBatchWithAnotherChunkSize) {
  std::string csv = "customer_id,age\n";
  for (int i = 0; i < 30; ++i) csv += "k" + std::to_string(i) + "," + std::to_string(i) + "\n";
  testing::ScopedTempDir dir;
  testing::WriteFile(dir.File("t.csv"), csv);
  ChunkServer server;
  server.fail_seal = true;
  std::string err;
  ASSERT_FALSE(RunUpload(dir.File("t.csv"), 30, &server, &err));
  const size_t stored_chunks = server.chunks.size();
  ASSERT_GT(stored_chunks, 3u);
  ASSERT_TRUE(RunUpload(dir.File("t.csv"), 1 << 20, &server, &err)) << err;
  EXPECT_EQ(server.status, "RECEIVED");
  EXPECT_EQ(server.chunks.size(), stored_chunks);
}

// Hostile inputs are refused before the server hears of the file: no batch is opened, so
// nothing is stored half-way. The error names the file and line, never the value.
TEST(UploaderTest, InvalidUtf8IsRefusedBeforeAnythingIsSent) {
  Upload u;
  UploadContent("customer_id,note\nk1,ok\nk2,caf\xe9 secret\n", &u);
  EXPECT_FALSE(u.ok);
  EXPECT_EQ(u.exit_code, kExitFailure);
  EXPECT_EQ(u.transport.opened, 0);
  EXPECT_EQ(u.err,
            "t.csv:3: field 2 ('note') is not valid UTF-8 (byte 0xe9 at offset 3 of the value); "
            "fix: re-encode the raw file as UTF-8 (e.g. iconv -f latin1 -t UTF-8) and tokenize it "
            "again");
  EXPECT_EQ(u.err.find("secret"), std::string::npos);
}

TEST(UploaderTest, Utf8ValidationFollowsRfc3629) {
  const char* good[] = {"\xc3\xa9",         "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                        "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xef\xbb\xbf"};
  for (const char* v : good) {
    Upload u;
    UploadContent(std::string("customer_id,v\nk,") + v + "\n", &u);
    EXPECT_TRUE(u.ok) << v << ": " << u.err;
  }
  const char* bad[] = {"\xc0\xaf",          // overlong '/'
                       "\xe0\x80\xaf",      // overlong
                       "\xed\xa0\x80",      // UTF-16 surrogate
                       "\xf4\x90\x80\x80",  // above U+10FFFF
                       "\xf8\x88\x80\x80",  // 5-byte form
                       "\xc3",              // truncated at the end of the value
                       "\xe2\x82",
                       "\x80",
                       "\xff"};
  for (const char* v : bad) {
    Upload u;
    UploadContent(std::string("customer_id,v\nk,") + v + "\n", &u);
    EXPECT_FALSE(u.ok) << v;
    EXPECT_EQ(u.transport.opened, 0);
    EXPECT_NE(u.err.find("t.csv:2: field 2 ('v') is not valid UTF-8"), std::string::npos) << u.err;
  }
  Upload h;
  UploadContent("customer_id,n\xe9\nk,1\n", &h);
  EXPECT_EQ(h.err.substr(0, 47), "t.csv:1: header field 2 is not valid UTF-8 (byt");
}

// Long ASCII runs are skipped a word (8 bytes) at a time: a bad byte after, inside or at the
// end of such runs is still found at its exact offset, and good sequences after them pass.
TEST(UploaderTest, Utf8ValidationOfLongValuesFindsTheExactOffset) {
  for (size_t prefix : {7u, 8u, 9u, 15u, 16u, 17u, 40u}) {
    const std::string ascii(prefix, 'a');
    Upload good;
    UploadContent("customer_id,v\nk," + ascii + "\xe2\x82\xac" + ascii + "\n", &good);
    EXPECT_TRUE(good.ok) << prefix << ": " << good.err;
    for (const char* bad : {"\xff", "\xc3", "\xed\xa0\x80"}) {
      Upload u;
      UploadContent("customer_id,v\nk," + ascii + bad + "tail-of-sixteen!\n", &u);
      EXPECT_FALSE(u.ok) << prefix;
      EXPECT_EQ(u.transport.opened, 0);
      EXPECT_NE(u.err.find("at offset " + std::to_string(prefix) + " of the value"),
                std::string::npos)
          << prefix << ": " << u.err;
    }
  }
}

// A file whose value at byte `pos` is `seq` followed by `after`: rows of ASCII before it, so
// that `pos` can sit on either side of the scan's read boundaries (1 MiB).
std::string FileWithBytesAt(size_t pos, const std::string& seq, const std::string& after) {
  std::string content = "customer_id,v\n";
  int k = 0;
  while (content.size() + 200 < pos) {
    content += "k" + std::to_string(k++) + "," + std::string(60, 'a') + "\n";
  }
  const std::string key = "k" + std::to_string(k) + ",";
  content += key + std::string(pos - content.size() - key.size(), 'a');
  return content + seq + after;
}

// The scan checks UTF-8 over the raw file, read in 1 MiB pieces, and names the cell only when
// that check saw a bad byte: a sequence cut by a read boundary must pass when it is whole and
// be refused, before anything is sent, when the byte after the boundary (or the end of the
// file) cuts it short.
TEST(UploaderTest, Utf8ValidationAcrossReadBoundaries) {
  const size_t boundary = size_t{1} << 20;
  for (size_t pos = boundary - 3; pos <= boundary + 1; ++pos) {
    const std::string good_file = FileWithBytesAt(pos, "\xf0\x9f\x98\x80", "tail\n");
    Upload good;
    UploadContent(good_file, &good);
    EXPECT_TRUE(good.ok) << pos << ": " << good.err;
    std::string sent;
    for (const std::string& c : good.transport.chunks) sent += c;
    EXPECT_EQ(sent, good_file) << pos;

    for (const std::string& after : {std::string("\n"), std::string("tail\n"), std::string()}) {
      for (const char* cut : {"\xf0\x9f\x98", "\xf0\x9f", "\xe2\x82", "\xc3"}) {
        Upload u;
        UploadContent(FileWithBytesAt(pos, cut, after), &u);
        EXPECT_FALSE(u.ok) << pos;
        EXPECT_EQ(u.transport.opened, 0) << pos;
        EXPECT_NE(u.err.find(": field 2 ('v') is not valid UTF-8 (byte 0x"), std::string::npos)
            << pos << ": " << u.err;
      }
    }
    // A whole sequence whose continuation is out of range (a surrogate), cut by the boundary.
    Upload s;
    UploadContent(FileWithBytesAt(pos, "\xed\xa0\x80", "tail\n"), &s);
    EXPECT_FALSE(s.ok) << pos;
    EXPECT_NE(s.err.find("is not valid UTF-8 (byte 0xed"), std::string::npos) << pos << s.err;
  }
}

// Chunk c + 1 is read and hashed on a second thread while chunk c is sent. A file cut short
// while it is uploaded is still refused with one line and never sealed, whichever of the two
// threads reads past the new end, and the reading thread is joined on that early return.
TEST(UploaderTest, FileCutShortDuringTheUploadIsRefusedAndNotSealed) {
  class TruncatingTransport : public RecordingTransport {
   public:
    bool AppendChunk(const std::string& batch_id, int seq, std::string_view chunk,
                     const std::string& sha, int64_t* rows_so_far, TransportError* err) override {
      if (seq == 1) {
        EXPECT_EQ(::truncate(path.c_str(), 0), 0);
      }
      return RecordingTransport::AppendChunk(batch_id, seq, chunk, sha, rows_so_far, err);
    }
    std::string path;
  };
  testing::ScopedTempDir dir;
  UploadJob job;
  job.file = dir.File("t.csv");
  std::string content = "customer_id,v\n";
  for (int i = 0; i < 400; ++i)
    content += "k" + std::to_string(i) + "," + std::string(40, 'x') + "\n";
  testing::WriteFile(job.file, content);
  job.client_id = "c";
  job.processing_type = "risk_scoring";
  job.chunk_bytes = 1024;  // ~20 chunks
  TruncatingTransport transport;
  transport.path = job.file;
  UploadOutcome outcome;
  Failure failure;
  EXPECT_FALSE(UploadCsvFile(job, &transport, &outcome, &failure));
  EXPECT_EQ(failure.exit_code, kExitFailure);
  const std::string& err = failure.message;
  EXPECT_NE(err.find("read failed: file shrank; fix: do not change the file while it is uploaded"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_EQ(transport.sealed_chunks, -1);
  EXPECT_GE(transport.chunks.size(), 2u);
  EXPECT_LE(transport.chunks.size(), 3u);
}

TEST(UploaderTest, EmptyAndHeaderOnlyFilesAreRefusedBeforeAnythingIsSent) {
  Upload empty;
  UploadContent("", &empty);
  EXPECT_FALSE(empty.ok);
  EXPECT_EQ(empty.transport.opened, 0);
  EXPECT_EQ(empty.err,
            "t.csv: the file is empty; fix: upload a CSV with a header line and at least one "
            "record");
  Upload header;
  UploadContent("customer_id,age\n\n", &header);
  EXPECT_FALSE(header.ok);
  EXPECT_EQ(header.transport.opened, 0);
  EXPECT_EQ(header.err,
            "t.csv: no data rows, only a header; fix: upload a CSV with at least one record "
            "after the header");
}

TEST(UploaderTest, MissingKeyColumnIsRefusedBeforeAnythingIsSent) {
  Upload u;
  UploadContent("id,age\nk1,1\n", &u);
  EXPECT_FALSE(u.ok);
  EXPECT_EQ(u.exit_code, kExitUsage);
  EXPECT_EQ(u.transport.opened, 0);
  EXPECT_EQ(u.err,
            "t.csv:1: key column 'customer_id' is not in the header; available columns: id, age; "
            "fix: pass --key-column with one of them");
}

TEST(UploaderTest, MalformedCsvIsRefusedBeforeAnythingIsSent) {
  for (const std::string& csv :
       {std::string("customer_id,age\nk1,1\nk2,\"2\n"), std::string("customer_id,age\rk1,1\r"),
        std::string("customer_id,age\nk1,1\0\n", 22)}) {
    Upload u;
    UploadContent(csv, &u);
    EXPECT_FALSE(u.ok);
    EXPECT_EQ(u.transport.opened, 0) << u.err;
    EXPECT_EQ(u.err.substr(0, 6), "t.csv:") << u.err;
  }
}

}  // namespace
}  // namespace sdp
