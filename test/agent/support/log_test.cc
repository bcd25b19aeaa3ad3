#include "agent/support/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sdp::log {
namespace {

const char* kTs = "2026-01-02T03:04:05.678Z";

TEST(Log, JsonLineIsOneObjectWithExtraFields) {
  const std::string line = FormatLine(Format::kJson, kTs, Level::kInfo, "file_done", "a b.csv",
                                      "\"batch_id\":\"b-1\",\"rows\":3,\"seconds\":1.250");
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], kTs);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["event"], "file_done");
  EXPECT_EQ(j["file"], "a b.csv");
  EXPECT_EQ(j["batch_id"], "b-1");
  EXPECT_EQ(j["rows"], 3);
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, JsonWithoutFileOrFields) {
  EXPECT_EQ(FormatLine(Format::kJson, kTs, Level::kWarn, "watch_started", "", ""),
            "{\"event\":\"watch_started\",\"level\":\"warn\",\"ts\":\"2026-01-02T03:04:05.678Z\"}");
}

TEST(Log, TextLineKeepsFieldOrderAndQuotesWhenNeeded) {
  EXPECT_EQ(FormatLine(Format::kText, kTs, Level::kError, "file_failed", "x.csv",
                       "\"error\":\"server said: no\",\"batch_id\":\"b-2\",\"seconds\":0.5"),
            "2026-01-02T03:04:05.678Z ERROR file_failed file=x.csv error=\"server said: no\" "
            "batch_id=b-2 seconds=0.5");
  EXPECT_EQ(FormatLine(Format::kText, kTs, Level::kInfo, "resumed", "", "\"state\":\"uploaded\""),
            "2026-01-02T03:04:05.678Z INFO  resumed state=uploaded");
  // A newline in a value never splits the event over two lines.
  const std::string line =
      FormatLine(Format::kText, kTs, Level::kInfo, "e", "", "\"error\":\"a\\nb\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, ParseAndFilter) {
  Level level;
  Format format;
  EXPECT_TRUE(ParseLevel("debug", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("warning", &level));
  EXPECT_EQ(level, Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud", &level));
  EXPECT_TRUE(ParseFormat("text", &format));
  EXPECT_EQ(format, Format::kText);
  EXPECT_FALSE(ParseFormat("xml", &format));
  Configure(Format::kJson, Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
  Configure(Format::kJson, Level::kInfo);
  EXPECT_TRUE(Enabled(Level::kInfo));
  EXPECT_FALSE(Enabled(Level::kDebug));
}

// Attack: a file name or CSV header with invalid UTF-8 made the logger throw and the watch daemon
// exit. Every line stays valid JSON (or text), the bad bytes shown as U+FFFD.
TEST(Log, InvalidUtf8BecomesReplacementCharactersInsteadOfThrowing) {
  const std::string bad_name = "bad\xff\xfe.csv";
  const std::string bad_header = "column 'em\xc3(ail' not found";
  std::string line;
  ASSERT_NO_THROW(line = FormatLine(Format::kJson, "T", Level::kError, "file_failed", bad_name,
                                    "\"error\":" + JsonString(bad_header)));
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["file"], "bad\xef\xbf\xbd\xef\xbf\xbd.csv");
  EXPECT_EQ(parsed["error"], "column 'em\xef\xbf\xbd(ail' not found");
  ASSERT_NO_THROW(line = FormatLine(Format::kText, "T", Level::kError, "file_failed", bad_name,
                                    "\"error\":" + JsonString(bad_header)));
  EXPECT_EQ(line,
            "T ERROR file_failed file=bad\xef\xbf\xbd\xef\xbf\xbd.csv error=\"column "
            "'em\xef\xbf\xbd(ail' not found\"");
  EXPECT_EQ(JsonString("ok"), "\"ok\"");
}

}  // namespace
}  // namespace sdp::log
