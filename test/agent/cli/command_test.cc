#include "agent/cli/command.h"

#include <gtest/gtest.h>

namespace sdp {
namespace {

const std::vector<std::string> kNames = {
    "tokenize-csv",      "tokenize-config", "detokenize", "upload-batch", "process-batch",
    "integrate-results", "status",          "watch",      "keygen",       "vault"};

TEST(CommandTest, RequestedCommandSkipsGlobalOptionsAndTheirValues) {
  const char* a[] = {"sdp-agent", "--log-level", "debug", "--env-file",
                     "x.env",     "tokenize",    "--in"};
  EXPECT_EQ(RequestedCommand(7, a), "tokenize");
  const char* b[] = {"sdp-agent", "--log-format=text", "--version"};
  EXPECT_EQ(RequestedCommand(3, b), "");
}

TEST(CommandTest, UnknownCommandIsNamedWithTheNearestOnes) {
  const std::vector<std::string> nearest = NearestCommands("tokenize", kNames);
  ASSERT_GE(nearest.size(), 2u);
  EXPECT_EQ(nearest[0], "tokenize-csv");
  EXPECT_EQ(nearest[1], "tokenize-config");
  EXPECT_EQ(NearestCommands("wacth", kNames), std::vector<std::string>{"watch"});
  EXPECT_TRUE(NearestCommands("frobnicate", kNames).empty());
  const std::string message = UnknownCommandMessage("tokenize", kNames);
  EXPECT_EQ(message.rfind("unknown command 'tokenize'; fix: did you mean tokenize-csv, ", 0), 0u)
      << message;
  EXPECT_EQ(UnknownCommandMessage("frobnicate", kNames),
            "unknown command 'frobnicate'; fix: see `sdp-agent --help` for the list of commands");
}

// A key pasted where the command goes is not echoed into the error (nor to a log collector).
TEST(CommandTest, WordThatIsNotACommandShapeIsNotEchoed) {
  const std::string key = "Miql-SH11OTpm4rFOh5QF7iNG2fPolSwwvvb1YceREw=";
  EXPECT_EQ(UnknownCommandMessage(key, kNames).find("Miql"), std::string::npos);
}

}  // namespace
}  // namespace sdp
