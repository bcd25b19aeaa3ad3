// Contribution bounding: partitioned appends while scanning, per-partition bounding at the end
// (why: contribution_bounding.h).
#include "common/dp/contribution_bounding.h"

#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "common/siphash.h"

namespace sdp::dp {
namespace {

constexpr uint32_t kNoGroup = UINT32_MAX;
constexpr size_t kBlockBytes = size_t{2} << 20;
constexpr size_t kTickRows = 1 << 16;

// 64-bit hash of a unit's or group's bytes (MurmurHash64A's mixing), seeded from the key. Not a
// PRF: a collision merges two units, which only lowers their joint contribution (the bound still
// holds for each), and the seed is secret, so collisions cannot be aimed.
uint64_t HashBytes(const uint8_t* p, size_t n, uint64_t seed) {
  const uint64_t m = 0xc6a4a7935bd1e995ULL;
  uint64_t h = seed ^ (n * m);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k;
    std::memcpy(&k, p + i, 8);
    k *= m;
    k ^= k >> 47;
    k *= m;
    h ^= k;
    h *= m;
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < n; ++j) tail |= static_cast<uint64_t>(p[i + j]) << (8 * j);
  if (n % 8 != 0) {
    h ^= tail;
    h *= m;
  }
  h ^= h >> 47;
  h *= m;
  h ^= h >> 47;
  return h;
}

size_t PowerOfTwoAtLeast(size_t n) {
  size_t p = 16;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

ContributionTally::ContributionTally(std::string_view key, uint32_t max_rows, int64_t lower,
                                     int64_t upper, int scale)
    : max_rows_(max_rows),
      lower_(lower),
      upper_(upper),
      scale_(scale),
      multiplier_(std::pow(10.0, scale)),
      partitions_(new Partition[size_t{1} << kPartitionBits]),
      cursors_(size_t{1} << kPartitionBits, Cursor{nullptr, nullptr, 0}),
      pages_(size_t{1} << kPartitionBits),
      group_slots_(16, 0),
      null_group_(kNoGroup),
      last_group_(kNoGroup) {
  if (key.size() < 16 || max_rows < 1 || lower > upper || scale < 0 || scale > 18) {
    throw std::invalid_argument("bad contribution-bounding parameters");
  }
  std::memcpy(priority_key_, key.data(), 16);
  uint64_t seed = 0;
  std::memcpy(&seed, key.data() + 8, std::min<size_t>(8, key.size() - 8));
  seed_ = seed;
}

ContributionTally::~ContributionTally() {
  for (void* b : blocks_) std::free(b);
}

ContributionTally::Record* ContributionTally::NewPage() {
  constexpr size_t kPageBytes = kPageRecords * sizeof(Record);
  if (pages_left_in_block_ == 0) {
    void* block = std::aligned_alloc(kBlockBytes, kBlockBytes);
    if (block == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    // One page fault per 2 MB instead of 512: the records are written once, in order.
    madvise(block, kBlockBytes, MADV_HUGEPAGE);
#endif
    blocks_.push_back(block);
    next_page_ = static_cast<Record*>(block);
    pages_left_in_block_ = kBlockBytes / kPageBytes;
  }
  Record* page = next_page_;
  next_page_ += kPageRecords;
  --pages_left_in_block_;
  return page;
}

uint64_t ContributionTally::UnitHash(std::string_view unit, bool unit_null) const {
  if (unit_null) return seed_ * 0x9E3779B97F4A7C15ULL + 1;
  return HashBytes(reinterpret_cast<const uint8_t*>(unit.data()), unit.size(), seed_);
}

uint64_t ContributionTally::Priority(uint64_t unit_hash, int64_t row_id) const {
  uint8_t msg[16];
  for (int i = 0; i < 8; ++i) {
    msg[i] = static_cast<uint8_t>(unit_hash >> (8 * i));
    msg[8 + i] = static_cast<uint8_t>(static_cast<uint64_t>(row_id) >> (8 * i));
  }
  return SipHash24(priority_key_, msg, sizeof msg);
}

int64_t ContributionTally::Fixed(double v) const {
  const double x = v * multiplier_;
  // NaN compares false: it becomes lower, like any value below the range.
  if (!(x >= static_cast<double>(lower_))) return lower_;
  if (x >= static_cast<double>(upper_)) return upper_;
  return std::clamp<int64_t>(std::llround(x), lower_, upper_);
}

int64_t ContributionTally::FixedInteger(int64_t value) const {
  __int128 x = value;
  for (int i = 0; i < scale_; ++i) x *= 10;  // |value| * 10^18 < 2^127
  return static_cast<int64_t>(std::clamp<__int128>(x, lower_, upper_));
}

uint32_t ContributionTally::GroupId(std::string_view key, bool is_null) {
  if (is_null) {
    if (null_group_ == kNoGroup) {
      null_group_ = static_cast<uint32_t>(group_keys_.size());
      group_keys_.emplace_back();
      group_hashes_.push_back(0);
    }
    return null_group_;
  }
  if (last_group_ != kNoGroup && last_group_ != null_group_ && group_keys_[last_group_] == key) {
    return last_group_;
  }
  const uint64_t h = HashBytes(reinterpret_cast<const uint8_t*>(key.data()), key.size(), seed_);
  size_t mask = group_slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint32_t slot = group_slots_[i];
    if (slot == 0) break;
    if (group_hashes_[slot - 1] == h && slot - 1 != null_group_ && group_keys_[slot - 1] == key) {
      return last_group_ = slot - 1;
    }
  }
  const uint32_t id = static_cast<uint32_t>(group_keys_.size());
  group_keys_.emplace_back(key);
  group_hashes_.push_back(h);
  if ((group_keys_.size() + 1) * 2 > group_slots_.size()) {
    group_slots_.assign(group_slots_.size() * 2, 0);
    mask = group_slots_.size() - 1;
    for (uint32_t g = 0; g < group_keys_.size(); ++g) {
      if (g == null_group_) continue;
      size_t i = group_hashes_[g] & mask;
      while (group_slots_[i] != 0) i = (i + 1) & mask;
      group_slots_[i] = g + 1;
    }
  } else {
    size_t i = h & mask;
    while (group_slots_[i] != 0) i = (i + 1) & mask;
    group_slots_[i] = id + 1;
  }
  return last_group_ = id;
}

void ContributionTally::NextPage(size_t partition) {
  Record* page = NewPage();
  pages_[partition].push_back(page);
  cursors_[partition].next = page;
  cursors_[partition].end = page + kPageRecords;
}

void ContributionTally::Add(std::string_view unit, bool unit_null, int64_t row_id, uint32_t group,
                            int64_t fixed_value) {
  static_assert(sizeof(Record) == 32 && sizeof(Partition) == 64, "one cache line = two records");
  const uint64_t h = UnitHash(unit, unit_null);
  const size_t partition = h >> (64 - kPartitionBits);
  Cursor& c = cursors_[partition];
  Partition& staging = partitions_[partition];
  staging.staged[c.staged] = Record{h, row_id, fixed_value, group, 0};
  if (++c.staged < 2) return;
  c.staged = 0;
  if (c.next == c.end) NextPage(partition);
#if defined(__SSE2__)
  // Pages are 8 KB aligned and hold whole lines: c.next is 64-byte aligned.
  const __m128i* from = reinterpret_cast<const __m128i*>(staging.staged);
  __m128i* to = reinterpret_cast<__m128i*>(c.next);
  _mm_stream_si128(to, _mm_load_si128(from));
  _mm_stream_si128(to + 1, _mm_load_si128(from + 1));
  _mm_stream_si128(to + 2, _mm_load_si128(from + 2));
  _mm_stream_si128(to + 3, _mm_load_si128(from + 3));
#else
  std::memcpy(c.next, staging.staged, sizeof staging.staged);
#endif
  c.next += 2;
}

void ContributionTally::FlushStaged() {
  for (size_t part = 0; part < cursors_.size(); ++part) {
    Cursor& c = cursors_[part];
    if (c.staged == 0) continue;
    if (c.next == c.end) NextPage(part);
    *c.next++ = partitions_[part].staged[0];
    c.staged = 0;
  }
#if defined(__SSE2__)
  _mm_sfence();  // the streamed lines are visible to the loads of Finish
#endif
}

std::vector<BoundedGroup> ContributionTally::Finish(const std::function<void()>& tick) {
  FlushStaged();
  std::vector<int64_t> counts(group_keys_.size(), 0);
  std::vector<int128> sums(group_keys_.size(), 0);
  struct Slot {
    uint64_t unit;
    uint32_t rows;  // saturates
    uint32_t used;
  };
  std::vector<Slot> table;
  struct Ranked {
    uint64_t unit;
    uint64_t priority;
    int64_t row_id;
    const Record* record;
  };
  std::vector<Ranked> over;
  size_t done = 0;
  for (size_t part = 0; part < pages_.size(); ++part) {
    const std::vector<Record*>& pages = pages_[part];
    if (pages.empty()) continue;
    const size_t last_fill = static_cast<size_t>(cursors_[part].next - pages.back());
    const size_t n = (pages.size() - 1) * kPageRecords + last_fill;
    auto for_each = [&](auto&& f) {
      for (size_t pg = 0; pg < pages.size(); ++pg) {
        const size_t len = pg + 1 == pages.size() ? last_fill : kPageRecords;
        for (size_t i = 0; i < len; ++i) f(pages[pg][i]);
      }
    };
    table.assign(PowerOfTwoAtLeast(n * 2), Slot{0, 0, 0});
    const size_t mask = table.size() - 1;
    auto find = [&](uint64_t unit) -> Slot& {
      // The partition took the top bits; the table takes the low ones.
      size_t i = unit & mask;
      while (table[i].used != 0 && table[i].unit != unit) i = (i + 1) & mask;
      return table[i];
    };
    for_each([&](const Record& r) {
      Slot& s = find(r.unit);
      s.unit = r.unit;
      s.used = 1;
      if (s.rows != UINT32_MAX) ++s.rows;
    });
    over.clear();
    for_each([&](const Record& r) {
      if (find(r.unit).rows <= max_rows_) {
        counts[r.group] += 1;
        sums[r.group] += r.value;
      } else {
        over.push_back(Ranked{r.unit, 0, r.row_id, &r});
      }
    });
    if (!over.empty()) {
      for (Ranked& r : over) r.priority = Priority(r.unit, r.row_id);
      std::sort(over.begin(), over.end(), [](const Ranked& a, const Ranked& b) {
        if (a.unit != b.unit) return a.unit < b.unit;
        if (a.priority != b.priority) return a.priority < b.priority;
        return a.row_id < b.row_id;
      });
      uint32_t taken = 0;
      for (size_t i = 0; i < over.size(); ++i) {
        if (i == 0 || over[i].unit != over[i - 1].unit) taken = 0;
        if (taken++ < max_rows_) {
          counts[over[i].record->group] += 1;
          sums[over[i].record->group] += over[i].record->value;
        }
      }
    }
    done += n;
    if (done >= kTickRows) {
      done = 0;
      tick();
    }
  }
  std::vector<BoundedGroup> out(group_keys_.size());
  for (uint32_t g = 0; g < group_keys_.size(); ++g) {
    out[g].is_null = g == null_group_;
    out[g].key = group_keys_[g];
    out[g].count = counts[g];
    out[g].sum = sums[g];
  }
  std::sort(out.begin(), out.end(), [](const BoundedGroup& a, const BoundedGroup& b) {
    if (a.is_null != b.is_null) return b.is_null;
    return a.key < b.key;
  });
  return out;
}

}  // namespace sdp::dp
