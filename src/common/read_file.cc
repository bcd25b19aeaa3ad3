// Reading a whole small file (read_file.h).
#include "common/read_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/scoped_fd.h"

namespace sdp {

namespace {

constexpr size_t kReadStep = size_t{64} << 10;

std::string Failed(const std::string& path, const char* action, int code, std::string_view fix) {
  return path + ": " + action + ": " + std::strerror(code) + "; fix: " + std::string(fix);
}

}  // namespace

bool ReadWholeFd(int fd, const std::string& path, std::string* text, std::string* err,
                 size_t max_bytes, std::string_view fix) {
  text->clear();
  // max_bytes + 1 bytes at most, without overflowing when there is no limit.
  const size_t limit = max_bytes == std::numeric_limits<size_t>::max() ? max_bytes : max_bytes + 1;
  // Sized once from the file's length: growing the string while reading would leave copies of
  // what was read so far in freed memory.
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    text->reserve(std::min(limit, static_cast<size_t>(st.st_size) + 1));
  }
  size_t used = 0;
  while (used < limit) {
    const size_t room = text->capacity() - used;
    const size_t step = std::min(limit - used, room > 0 ? room : kReadStep);
    text->resize(used + step);
    const ssize_t n = ::read(fd, &(*text)[used], step);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int code = errno;
      text->resize(used);
      *err = Failed(path, "cannot read", code, fix);
      return false;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  text->resize(used);
  return true;
}

bool ReadWholeFile(const std::string& path, std::string* text, std::string* err, size_t max_bytes,
                   std::string_view fix) {
  const ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    text->clear();
    *err = Failed(path, "cannot open", errno, fix);
    return false;
  }
  return ReadWholeFd(fd.get(), path, text, err, max_bytes, fix);
}

}  // namespace sdp
