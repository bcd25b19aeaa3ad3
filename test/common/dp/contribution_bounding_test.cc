// Contribution bounding: the bound per unit, clamping, and the properties the release relies on
// (any input order gives the same tally; the kept rows are the keyed-priority smallest, checked
// against a brute-force reference).
#include "common/dp/contribution_bounding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace sdp::dp {
namespace {

const std::string kKey = "0123456789abcdef-bounding-key-32";

struct Row {
  std::string unit;
  bool unit_null;
  int64_t row_id;
  std::string group;
  double value;
};

std::vector<BoundedGroup> Tally(const std::vector<Row>& rows, uint32_t max_rows,
                                int64_t lower = -1000000, int64_t upper = 1000000) {
  ContributionTally t(kKey, max_rows, lower, upper, 2);
  for (const Row& r : rows) {
    t.Add(r.unit, r.unit_null, r.row_id, t.GroupId(r.group, false), t.Fixed(r.value));
  }
  return t.Finish([] {});
}

std::map<std::string, std::pair<int64_t, int64_t>> AsMap(const std::vector<BoundedGroup>& groups) {
  std::map<std::string, std::pair<int64_t, int64_t>> m;
  for (const BoundedGroup& g : groups) m[g.key] = {g.count, static_cast<int64_t>(g.sum)};
  return m;
}

std::vector<Row> RandomRows(std::mt19937_64& rng, size_t n, size_t units, size_t groups) {
  std::vector<Row> rows;
  for (size_t i = 0; i < n; ++i) {
    rows.push_back(Row{"unit-" + std::to_string(rng() % units), false, static_cast<int64_t>(i),
                       "g" + std::to_string(rng() % groups),
                       static_cast<double>(rng() % 20000) / 100.0});
  }
  return rows;
}

TEST(ContributionTallyTest, UnitsWithinTheirBoundCountEveryRow) {
  const auto m = AsMap(
      Tally({{"a", false, 1, "x", 1.5}, {"a", false, 2, "y", 2.25}, {"b", false, 3, "x", 10}}, 2));
  EXPECT_EQ(m.at("x"), std::make_pair(int64_t{2}, int64_t{1150}));
  EXPECT_EQ(m.at("y"), std::make_pair(int64_t{1}, int64_t{225}));
}

TEST(ContributionTallyTest, AUnitWithAMillionRowsMovesACountByAtMostItsBound) {
  ContributionTally t(kKey, 3, 0, 100000, 2);
  const uint32_t g = t.GroupId("all", false);
  t.Add("someone else", false, 0, g, 0);
  for (int64_t i = 1; i <= 1000000; ++i) t.Add("the same person", false, i, g, t.Fixed(1e9));
  const std::vector<BoundedGroup> out = t.Finish([] {});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].count, 4);
  EXPECT_EQ(out[0].sum, 3 * 100000);  // clamped to upper
}

TEST(ContributionTallyTest, RowsWithoutAUnitAreOneUnit) {
  std::vector<Row> rows;
  for (int i = 0; i < 50; ++i) rows.push_back(Row{"", true, i, "x", 1});
  EXPECT_EQ(AsMap(Tally(rows, 4)).at("x").first, 4);
}

TEST(ContributionTallyTest, ClampsAndRoundsToTheGranularity) {
  ContributionTally t(kKey, 1, -500, 500, 2);
  EXPECT_EQ(t.Fixed(1.234), 123);
  EXPECT_EQ(t.Fixed(-1.235), -124);
  EXPECT_EQ(t.Fixed(1e300), 500);
  EXPECT_EQ(t.Fixed(-1e300), -500);
  EXPECT_EQ(t.Fixed(std::nan("")), -500);
  EXPECT_EQ(t.FixedInteger(4), 400);
  EXPECT_EQ(t.FixedInteger(INT64_MAX), 500);
  EXPECT_EQ(t.FixedInteger(INT64_MIN), -500);
}

TEST(ContributionTallyTest, AnyInputOrderGivesTheSameTally) {
  std::mt19937_64 rng(7);
  std::vector<Row> rows = RandomRows(rng, 20000, 900, 7);
  const auto expected = AsMap(Tally(rows, 3));
  for (int round = 0; round < 5; ++round) {
    std::shuffle(rows.begin(), rows.end(), rng);
    EXPECT_EQ(AsMap(Tally(rows, 3)), expected) << "shuffle " << round;
  }
}

// The reference: per unit, sort its rows by (priority, row id) and keep the first max_rows.
TEST(ContributionTallyTest, KeepsTheRowsWithTheSmallestKeyedPriorities) {
  std::mt19937_64 rng(11);
  const std::vector<Row> rows = RandomRows(rng, 30000, 2000, 5);
  for (uint32_t max_rows : {1u, 2u, 5u, 40u}) {
    ContributionTally probe(kKey, max_rows, -1000000, 1000000, 2);
    std::map<std::string, std::vector<std::tuple<uint64_t, int64_t, const Row*>>> by_unit;
    for (const Row& r : rows) {
      by_unit[r.unit].emplace_back(probe.Priority(probe.UnitHash(r.unit, false), r.row_id),
                                   r.row_id, &r);
    }
    std::map<std::string, std::pair<int64_t, int64_t>> expected;
    for (auto& [unit, list] : by_unit) {
      std::sort(list.begin(), list.end());
      for (size_t i = 0; i < list.size() && i < max_rows; ++i) {
        const Row* r = std::get<2>(list[i]);
        expected[r->group].first += 1;
        expected[r->group].second += probe.Fixed(r->value);
      }
    }
    EXPECT_EQ(AsMap(Tally(rows, max_rows)), expected) << "max_rows " << max_rows;
  }
}

TEST(ContributionTallyTest, ADifferentKeyKeepsDifferentRows) {
  ContributionTally a(kKey, 1, 0, 1, 0), b("fedcba9876543210-another-key-32b", 1, 0, 1, 0);
  int differ = 0;
  for (int64_t row = 0; row < 64; ++row) {
    differ += (a.Priority(1, row) < a.Priority(1, row + 1)) !=
              (b.Priority(1, row) < b.Priority(1, row + 1));
  }
  EXPECT_GT(differ, 10);
}

TEST(ContributionTallyTest, GroupsComeBackSortedWithNullLast) {
  ContributionTally t(kKey, 10, 0, 100, 0);
  for (const char* g : {"zeta", "alpha", "mid"}) t.Add("u", false, 0, t.GroupId(g, false), 1);
  t.Add("v", false, 0, t.GroupId("", true), 1);
  t.Add("w", false, 0, t.GroupId("", false), 1);  // the empty string is not NULL
  const std::vector<BoundedGroup> out = t.Finish([] {});
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].key, "");
  EXPECT_FALSE(out[0].is_null);
  EXPECT_EQ(out[1].key, "alpha");
  EXPECT_EQ(out[3].key, "zeta");
  EXPECT_TRUE(out[4].is_null);
}

TEST(ContributionTallyTest, ManyGroupsAndTicks) {
  ContributionTally t(kKey, 1, 0, 100, 0);
  for (int i = 0; i < 300000; ++i) {
    t.Add("u" + std::to_string(i), false, i, t.GroupId(std::to_string(i % 5000), false), 1);
  }
  int ticks = 0;
  const std::vector<BoundedGroup> out = t.Finish([&] { ++ticks; });
  EXPECT_EQ(out.size(), 5000u);
  int64_t total = 0;
  for (const auto& g : out) total += g.count;
  EXPECT_EQ(total, 300000);
  EXPECT_GE(ticks, 4);
}

TEST(ContributionTallyTest, RefusesBadParameters) {
  EXPECT_THROW(ContributionTally("short", 1, 0, 1, 0), std::invalid_argument);
  EXPECT_THROW(ContributionTally(kKey, 0, 0, 1, 0), std::invalid_argument);
  EXPECT_THROW(ContributionTally(kKey, 1, 2, 1, 0), std::invalid_argument);
  EXPECT_THROW(ContributionTally(kKey, 1, 0, 1, 19), std::invalid_argument);
}

}  // namespace
}  // namespace sdp::dp
