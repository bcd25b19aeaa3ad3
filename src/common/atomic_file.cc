// Writing a file atomically: a temporary next to it, fsync, rename, directory fsync.
#include "common/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace sdp {

namespace {

std::string ErrnoText(const char* what, const std::string& path) {
  return std::string(what) + " '" + path + "' failed: " + std::strerror(errno);
}

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// FdByteSink over the temporary file, whose errors name the output and the fix: its own text
// ("write failed: No space left on device") says neither which file nor what to do.
class OutputSink : public ByteSink {
 public:
  OutputSink(int fd, std::string target) : sink_(fd), target_(std::move(target)) {}
  bool Write(const char* data, size_t n, std::string* err) override {
    return sink_.Write(data, n, err) || Explain(err);
  }
  bool Flush(std::string* err) override { return sink_.Flush(err) || Explain(err); }

 private:
  bool Explain(std::string* err) const {
    const int code = errno;  // still the failed write's: nothing since has failed
    const char* fix;
    switch (code) {
      case ENOSPC:
      case EDQUOT:
        fix = "free space on its file system or write the output elsewhere";
        break;
      case EFBIG:
        fix = "raise the file size limit (ulimit -f) or write the output elsewhere";
        break;
      default:
        fix = "check the output's file system";
        break;
    }
    *err = "cannot write '" + target_ + "': " + std::strerror(code) +
           " (nothing was written); fix: " + fix;
    return false;
  }

  FdByteSink sink_;
  std::string target_;
};

}  // namespace

int RemoveStaleTemporaries(const std::string& path) {
  const std::string dir = DirectoryOf(path);
  const std::string prefix = BaseName(path) + ".tmp.";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string temp = (dir == "/" ? "" : dir) + "/" + name;
    const ScopedFd fd(::open(temp.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd.valid()) continue;
    struct stat st;
    // A live writer holds the lock from just after creating its file; in between, its file is
    // empty and new, so an empty recent one is left alone and never even locked here.
    const bool candidate = ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) &&
                           (st.st_size > 0 || std::time(nullptr) - st.st_mtime > 60);
    if (candidate && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0 && ::unlink(temp.c_str()) == 0) {
      ++removed;
    }
  }
  ::closedir(d);
  return removed;
}

AtomicOutputFile::~AtomicOutputFile() { Abort(); }

bool AtomicOutputFile::Open(const std::string& path, std::string* err, mode_t mode) {
  if (fd_.valid()) {
    *err = "output file '" + path_ + "' is already open";
    return false;
  }
  if (path.empty() || path.back() == '/') {
    *err = "output path '" + path + "' is not a file name; fix: give a file path";
    return false;
  }
  RemoveStaleTemporaries(path);
  std::string templ = path + ".tmp.XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) {
    *err = ErrnoText("creating a temporary file for", path) +
           "; fix: check that the directory exists and is writable";
    return false;
  }
  temp_path_.assign(buf.data());
  path_ = path;
  fd_.reset(fd);
  if (::fchmod(fd_.get(), mode) != 0) {
    *err = ErrnoText("setting permissions on", temp_path_);
    Abort();
    return false;
  }
  // Held until the descriptor closes (Commit, Abort or the process's death): marks the
  // temporary as a live writer's for RemoveStaleTemporaries.
  if (::flock(fd_.get(), LOCK_EX) != 0) {
    *err = ErrnoText("locking", temp_path_);
    Abort();
    return false;
  }
  sink_.reset(new OutputSink(fd_.get(), path_));
  return true;
}

bool AtomicOutputFile::Commit(std::string* err) {
  if (!fd_.valid()) {
    *err = "output file is not open (already committed or aborted)";
    return false;
  }
  if (!sink_->Flush(err)) {  // the sink's error names the output and the fix
    Abort();
    return false;
  }
  if (::fsync(fd_.get()) != 0) {
    const int code = errno;
    *err = "cannot write '" + path_ + "': fsync failed: " + std::strerror(code) +
           " (nothing was written); fix: " +
           (code == ENOSPC || code == EDQUOT ? "free space on its file system" : "check the disk");
    Abort();
    return false;
  }
  // Renamed while still open, so still locked: no other writer's Open() can mistake the
  // temporary for a dead writer's between the two steps.
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    *err = ErrnoText("renaming temporary file to", path_) +
           "; fix: check that the target is not a directory and is writable";
    Abort();
    return false;
  }
  temp_path_.clear();
  sink_.reset();
  if (!fd_.Close()) {
    *err = ErrnoText("closing", path_);
    return false;
  }
  // The rename is durable only once the directory entry is on disk.
  std::string dir = DirectoryOf(path_);
  const ScopedFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd.valid()) {
    *err = ErrnoText("opening directory", dir) + " for fsync";
    return false;
  }
  const bool ok = ::fsync(dfd.get()) == 0;
  if (!ok) *err = ErrnoText("fsync of directory", dir);
  return ok;
}

void AtomicOutputFile::Abort() {
  sink_.reset();
  fd_.reset();
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

}  // namespace sdp
