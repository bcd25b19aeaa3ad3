#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
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

}  // namespace

AtomicOutputFile::~AtomicOutputFile() { Abort(); }

bool AtomicOutputFile::Open(const std::string& path, std::string* err, mode_t mode) {
  if (fd_ >= 0) {
    *err = "output file '" + path_ + "' is already open";
    return false;
  }
  if (path.empty() || path.back() == '/') {
    *err = "output path '" + path + "' is not a file name; fix: give a file path";
    return false;
  }
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
  fd_ = fd;
  if (::fchmod(fd_, mode) != 0) {
    *err = ErrnoText("setting permissions on", temp_path_);
    Abort();
    return false;
  }
  sink_.reset(new FdByteSink(fd_));
  return true;
}

bool AtomicOutputFile::Commit(std::string* err) {
  if (fd_ < 0) {
    *err = "output file is not open (already committed or aborted)";
    return false;
  }
  if (!sink_->Flush(err)) {
    *err = "writing '" + temp_path_ + "': " + *err + "; fix: check free disk space";
    Abort();
    return false;
  }
  if (::fsync(fd_) != 0) {
    *err = ErrnoText("fsync of", temp_path_) + "; fix: check the disk";
    Abort();
    return false;
  }
  int fd = fd_;
  fd_ = -1;
  sink_.reset();
  if (::close(fd) != 0) {
    *err = ErrnoText("closing", temp_path_);
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
    return false;
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    *err = ErrnoText("renaming temporary file to", path_) +
           "; fix: check that the target is not a directory and is writable";
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
    return false;
  }
  temp_path_.clear();
  // The rename is durable only once the directory entry is on disk.
  std::string dir = DirectoryOf(path_);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    *err = ErrnoText("opening directory", dir) + " for fsync";
    return false;
  }
  bool ok = ::fsync(dfd) == 0;
  if (!ok) *err = ErrnoText("fsync of directory", dir);
  ::close(dfd);
  return ok;
}

void AtomicOutputFile::Abort() {
  sink_.reset();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

}  // namespace sdp
