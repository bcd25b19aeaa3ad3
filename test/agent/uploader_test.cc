#include "uploader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exit_status.h"
#include "test_util.h"

namespace sdp {
namespace {

// Records what the uploader sends; never fails.
class RecordingTransport : public ServerTransport {
 public:
  bool OpenBatch(const std::string&, const std::string&, const std::string&, const std::string&,
                 BatchInfo* out, TransportError*) override {
    ++opened;
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

void UploadContent(const std::string& content, Upload* u, size_t chunk_bytes = size_t{8} << 20) {
  testing::ScopedTempDir dir;
  UploadJob job;
  job.file = dir.File("t.csv");
  testing::WriteFile(job.file, content);
  job.client_id = "c";
  job.processing_type = "risk_scoring";
  job.chunk_bytes = chunk_bytes;
  UploadOutcome outcome;
  u->ok = UploadCsvFile(job, &u->transport, &outcome, &u->err, &u->exit_code);
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
