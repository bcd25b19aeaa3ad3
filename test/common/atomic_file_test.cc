#include "common/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <vector>

#include "test/support/test_util.h"

namespace sdp {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  std::vector<std::string> List() const {
    std::vector<std::string> names;
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    return names;
  }
  std::string ReadAll(const std::string& path) const {
    return testing::FileExists(path) ? testing::ReadFile(path) : "<missing>";
  }
  testing::ScopedTempDir temp_;
  const std::string dir_ = temp_.path();
};

TEST_F(AtomicFileTest, CommitRenamesWithMode) {
  std::string path = dir_ + "/out.csv";
  AtomicOutputFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, &err)) << err;
  EXPECT_EQ(f.temp_path().substr(0, path.size() + 5), path + ".tmp.");
  ASSERT_TRUE(f.sink()->Write("hello\n", 6, &err));
  EXPECT_EQ(ReadAll(path), "<missing>");  // nothing visible before Commit
  ASSERT_TRUE(f.Commit(&err)) << err;
  EXPECT_EQ(ReadAll(path), "hello\n");
  EXPECT_EQ(List(), std::vector<std::string>{"out.csv"});
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(f.is_open());
  EXPECT_FALSE(f.Commit(&err));
  EXPECT_EQ(err, "output file is not open (already committed or aborted)");
}

TEST_F(AtomicFileTest, CustomModeIgnoresUmask) {
  std::string path = dir_ + "/pub.csv";
  mode_t old = umask(077);
  AtomicOutputFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, &err, 0644)) << err;
  ASSERT_TRUE(f.Commit(&err)) << err;
  umask(old);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(AtomicFileTest, DestructorWithoutCommitLeavesNothing) {
  std::string path = dir_ + "/out.csv";
  {
    AtomicOutputFile f;
    std::string err;
    ASSERT_TRUE(f.Open(path, &err)) << err;
    ASSERT_TRUE(f.sink()->Write("partial", 7, &err));
    ASSERT_TRUE(f.sink()->Flush(&err));
    EXPECT_EQ(List().size(), 1u);  // the temp file exists meanwhile
  }
  EXPECT_TRUE(List().empty());
}

TEST_F(AtomicFileTest, FailedRunKeepsOldFile) {
  std::string path = dir_ + "/out.csv";
  {
    AtomicOutputFile f;
    std::string err;
    ASSERT_TRUE(f.Open(path, &err));
    ASSERT_TRUE(f.sink()->Write("old\n", 4, &err));
    ASSERT_TRUE(f.Commit(&err));
  }
  {
    AtomicOutputFile f;
    std::string err;
    ASSERT_TRUE(f.Open(path, &err));
    ASSERT_TRUE(f.sink()->Write("new but broken", 14, &err));
    f.Abort();
    f.Abort();  // idempotent
  }
  EXPECT_EQ(ReadAll(path), "old\n");
  EXPECT_EQ(List(), std::vector<std::string>{"out.csv"});
}

TEST_F(AtomicFileTest, ReplacesExistingFile) {
  std::string path = dir_ + "/out.csv";
  for (const char* content : {"one", "two"}) {
    AtomicOutputFile f;
    std::string err;
    ASSERT_TRUE(f.Open(path, &err));
    ASSERT_TRUE(f.sink()->Write(content, 3, &err));
    ASSERT_TRUE(f.Commit(&err)) << err;
  }
  EXPECT_EQ(ReadAll(path), "two");
}

TEST_F(AtomicFileTest, MissingDirectory) {
  AtomicOutputFile f;
  std::string err;
  std::string path = dir_ + "/nope/out.csv";
  EXPECT_FALSE(f.Open(path, &err));
  EXPECT_EQ(err, "creating a temporary file for '" + path +
                     "' failed: No such file or directory; fix: check that the directory exists "
                     "and is writable");
  EXPECT_FALSE(f.Open(dir_ + "/", &err));
}

TEST_F(AtomicFileTest, RenameOntoDirectoryFailsAndCleansUp) {
  std::string path = dir_ + "/sub";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  AtomicOutputFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, &err)) << err;
  ASSERT_TRUE(f.sink()->Write("x", 1, &err));
  EXPECT_FALSE(f.Commit(&err));
  EXPECT_NE(err.find("renaming temporary file to '" + path + "' failed"), std::string::npos) << err;
  EXPECT_EQ(List(), std::vector<std::string>{"sub"});
  rmdir(path.c_str());
}

TEST_F(AtomicFileTest, RelativePathUsesCurrentDirectory) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  AtomicOutputFile f;
  std::string err;
  bool ok = f.Open("rel.csv", &err) && f.Commit(&err);
  ASSERT_EQ(chdir(cwd), 0);
  EXPECT_TRUE(ok) << err;
  EXPECT_EQ(List(), std::vector<std::string>{"rel.csv"});
}

TEST_F(AtomicFileTest, DoubleOpenFails) {
  AtomicOutputFile f;
  std::string err;
  ASSERT_TRUE(f.Open(dir_ + "/a", &err));
  EXPECT_FALSE(f.Open(dir_ + "/b", &err));
  EXPECT_EQ(err, "output file '" + dir_ + "/a' is already open");
}

TEST_F(AtomicFileTest, RemovesTemporariesOfDeadWritersOnly) {
  const std::string path = dir_ + "/out.csv";
  auto write_file = [](const std::string& p, const std::string& content) {
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
  };
  write_file(path + ".tmp.dead01", "half a file from a writer killed by kill -9");
  write_file(path + ".tmp.new000", "");              // a writer between mkstemp and its lock
  write_file(path + ".tmp.other_name", "not ours");  // not a mkstemp name
  write_file(dir_ + "/other.csv.tmp.dead02", "another output's");
  AtomicOutputFile live;
  std::string err;
  ASSERT_TRUE(live.Open(path, &err)) << err;
  ASSERT_TRUE(live.sink()->Write("live", 4, &err));
  ASSERT_TRUE(live.sink()->Flush(&err));
  std::vector<std::string> names = List();
  std::sort(names.begin(), names.end());
  const std::string live_name = live.temp_path().substr(dir_.size() + 1);
  std::vector<std::string> want = {"other.csv.tmp.dead02", "out.csv.tmp.new000",
                                   "out.csv.tmp.other_name", live_name};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names, want);
  // A second writer of the same output leaves the first one's (locked) temporary alone.
  EXPECT_EQ(RemoveStaleTemporaries(path), 0);
  AtomicOutputFile second;
  ASSERT_TRUE(second.Open(path, &err)) << err;
  ASSERT_TRUE(second.Commit(&err)) << err;
  ASSERT_TRUE(live.Commit(&err)) << err;
  EXPECT_EQ(ReadAll(path), "live");
}

TEST_F(AtomicFileTest, WriteErrorNamesTheOutputAndTheFix) {
  const std::string path = dir_ + "/big.csv";
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);  // as the agent does: EFBIG instead of a signal
  struct rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::string err;
  bool written;
  {
    AtomicOutputFile f;
    ASSERT_TRUE(f.Open(path, &err)) << err;
    const std::string data(8192, 'x');
    written = f.sink()->Write(data.data(), data.size(), &err) && f.Commit(&err);
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(written);
  EXPECT_EQ(err, "cannot write '" + path +
                     "': File too large (nothing was written); fix: raise the file size limit "
                     "(ulimit -f) or write the output elsewhere");
  EXPECT_TRUE(List().empty());
}

}  // namespace
}  // namespace sdp
