// All-or-nothing output files: write to a temporary file next to the target,
// then flush, fsync, rename over the target and fsync the directory. Until
// Commit() succeeds the target is untouched, and a destroyed uncommitted file
// removes its temporary, so no half-written output survives an error, and
// readers of `path` see either the old file or the whole new one.
//
// A crash (kill -9, power loss) mid-write leaves a `<path>.tmp.XXXXXX` behind.
// The writer holds an flock on its temporary for as long as it is open, so the
// next Open() of the same path recognises a temporary nobody holds as the
// remains of a dead writer and removes it; a live writer's is never touched.
//
// Write errors (a full disk, EFBIG under `ulimit -f`) name the output and say
// how to fix them, ready for the agent's one error line.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/csv_writer.h"
#include "common/scoped_fd.h"

namespace sdp {

class AtomicOutputFile {
 public:
  AtomicOutputFile() = default;
  /// Unlinks the temporary file unless Commit() succeeded.
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  /// Creates `path + ".tmp.XXXXXX"` (mkstemp, so in the target's directory and
  /// on the same file system) with permissions `mode` (exactly, umask is not
  /// applied), locked for this writer, after removing the unlocked temporaries
  /// that crashed writers of `path` left. Fails if already open.
  bool Open(const std::string& path, std::string* err, mode_t mode = 0600);

  /// Buffered (1 MiB) sink over the temporary file; valid while open.
  ByteSink* sink() { return sink_.get(); }
  /// Raw descriptor of the temporary file, for callers that write directly
  /// (flush sink() first if both are used). -1 when not open.
  int fd() const { return fd_.get(); }

  /// Flush, fsync, close, rename over the target, fsync the directory. On
  /// failure the temporary file is removed and the target is left as it was
  /// (except if only the final directory fsync fails: the rename happened).
  bool Commit(std::string* err);
  /// Drops the temporary file now. Safe to call at any time.
  void Abort();

  bool is_open() const { return fd_.valid(); }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  ScopedFd fd_;
  std::unique_ptr<ByteSink> sink_;
};

/// Removes the `<path>.tmp.XXXXXX` files of writers that died before Commit()
/// (unlocked, and not just being created); returns how many. Open() calls it.
int RemoveStaleTemporaries(const std::string& path);

}  // namespace sdp
