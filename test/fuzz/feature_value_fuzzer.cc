// libFuzzer target for the scorer's feature parser and the logistic model (what
// sdp_process_batch runs on every untrusted cell of a batch).
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/common \
//     test/fuzz/feature_value_fuzzer.cc src/common/logistic_model.cc -o build/feature_value_fuzzer
//   build/feature_value_fuzzer -max_total_time=20 test/fuzz/corpus/feature_value
//
// Properties checked, besides "no crash / no sanitizer report":
//   1. A parsed value is finite, and parsing is stable: the value printed with %.17g parses
//      back to the same double.
//   2. Whatever four cells the input splits into, the demo_v1 score is within [0, 1], the band
//      is one of low/medium/high, and the defaulted count is between 0 and 4.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/logistic_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  double v = 0;
  if (sdp::ParseFeatureValue(input, &v)) {
    if (!std::isfinite(v)) std::abort();
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    double again = 0;
    if (!sdp::ParseFeatureValue(buf, &again) || again != v) std::abort();
  }

  sdp::LogisticModel m;
  m.weights = {-0.35, -0.9, -0.6, 0.55};
  m.bias = -0.9;
  m.center = {45, 60000, 15000, 40};
  m.scale = {15, 30000, 20000, 30};
  m.defaults = {45, 60000, 15000, 40};
  m.clip = 5;
  std::string_view cells[4];
  bool present[4] = {false, false, false, false};
  size_t start = 0;
  for (int i = 0; i < 4 && start <= input.size(); ++i) {
    size_t end = input.find(',', start);
    if (end == std::string_view::npos) end = input.size();
    cells[i] = input.substr(start, end - start);
    present[i] = true;
    start = end + 1;
  }
  int defaulted = 0;
  const double score = m.Score(cells, present, &defaulted);
  if (!(score >= 0 && score <= 1)) std::abort();
  if (defaulted < 0 || defaulted > 4) std::abort();
  const char* band = m.Band(score);
  if (std::strcmp(band, "low") != 0 && std::strcmp(band, "medium") != 0 &&
      std::strcmp(band, "high") != 0) {
    std::abort();
  }
  return 0;
}
