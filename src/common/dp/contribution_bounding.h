// Contribution bounding for the privacy analytics: every privacy unit (the person a row is
// about) counts with at most max_rows rows, every value clamped to [lower, upper] in fixed point,
// before any noise is added. The result is the bounded count and int128 sum per group.
//
// Which rows of a unit over its bound count is decided by a keyed priority,
// SipHash-2-4(key, unit hash || row id): the max_rows smallest win, the same rows on every run and
// in any input order, and nobody without the key can tell which.
//
// Built for one pass over millions of rows (docs/privacy_analytics.md, "Cost"): Add() only hashes
// the unit and appends a 32-byte record to one of 1024 partitions chosen by the hash's top bits,
// in 2 MB blocks; Finish() bounds one partition at a time with a hash table that fits in the CPU
// cache. A giant table probed once per row costs a cache miss per row instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sdp::dp {

using int128 = __int128;

struct BoundedGroup {
  bool is_null = false;
  std::string key;
  int64_t count = 0;  // bounded rows
  int128 sum = 0;     // bounded, clamped fixed-point values
};

class ContributionTally {
 public:
  // key: at least 16 bytes (the first 16 key the priority, the next 8 seed the unit hash);
  // max_rows >= 1; [lower, upper] the fixed-point clamp range; scale: values are multiplied by
  // 10^scale before rounding. Throws std::invalid_argument on bad parameters.
  ContributionTally(std::string_view key, uint32_t max_rows, int64_t lower, int64_t upper,
                    int scale);
  ~ContributionTally();
  ContributionTally(const ContributionTally&) = delete;
  ContributionTally& operator=(const ContributionTally&) = delete;

  // The id of a group key (NULL is a group of its own), assigned on first sight.
  uint32_t GroupId(std::string_view key, bool is_null);
  // One row. unit_null: rows without a unit are treated as one unit (they may all be one
  // person's). fixed_value: the row's value at the granularity, already clamped (Fixed,
  // FixedInteger or NumericToFixed); 0 for count queries.
  void Add(std::string_view unit, bool unit_null, int64_t row_id, uint32_t group,
           int64_t fixed_value);
  // The bounded tally, groups sorted by (is_null, key). `tick` runs every few thousand rows (the
  // caller's interrupt check; it may throw).
  std::vector<BoundedGroup> Finish(const std::function<void()>& tick);

  uint64_t UnitHash(std::string_view unit, bool unit_null) const;
  uint64_t Priority(uint64_t unit_hash, int64_t row_id) const;
  // value * 10^scale rounded, clamped to [lower, upper]; NaN gives lower.
  int64_t Fixed(double value) const;
  // value * 10^scale exactly, clamped.
  int64_t FixedInteger(int64_t value) const;
  int scale() const { return scale_; }
  int64_t lower() const { return lower_; }
  int64_t upper() const { return upper_; }

 private:
  struct Record {
    uint64_t unit;
    int64_t row_id;
    int64_t value;
    uint32_t group;
    uint32_t unused;
  };
  // The write cursor of a partition; its pages are in pages_. Records are staged two at a time
  // in `staged`, one cache line, then written to the page with non-temporal stores: the pages
  // are not read before Finish, so fetching their lines into the cache (what an ordinary store
  // does first) would only cost time (software write-combining, as in radix-partitioned joins).
  struct alignas(64) Partition {
    Record staged[2];
  };
  struct Cursor {
    Record* next;
    Record* end;
    uint32_t staged;
  };
  static constexpr int kPartitionBits = 10;
  static constexpr uint32_t kPageRecords = 256;  // 8 KB pages, carved from 2 MB blocks

  Record* NewPage();
  void NextPage(size_t partition);

  uint8_t priority_key_[16];
  uint64_t seed_;
  uint32_t max_rows_;
  int64_t lower_;
  int64_t upper_;
  int scale_;
  double multiplier_;
  void FlushStaged();

  std::unique_ptr<Partition[]> partitions_;
  std::vector<Cursor> cursors_;
  std::vector<std::vector<Record*>> pages_;  // per partition, in order; the last one is cursor's
  std::vector<void*> blocks_;
  size_t pages_left_in_block_ = 0;
  Record* next_page_ = nullptr;
  // Group key -> id: open addressing over the keys' hashes (slot = id + 1, 0 empty), so a row's
  // group costs a hash of its key and a probe, never a std::string.
  std::vector<uint32_t> group_slots_;
  std::vector<uint64_t> group_hashes_;
  std::vector<std::string> group_keys_;
  uint32_t null_group_;
  uint32_t last_group_;
};

}  // namespace sdp::dp
