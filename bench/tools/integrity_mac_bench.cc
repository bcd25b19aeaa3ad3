// Per-row cost of the integrity MACs (src/extension/integrity_crypto.h), isolated from
// PostgreSQL: the CPU the bulk loader adds per stored record / result.
//   g++ -O2 -std=c++17 -Isrc/extension bench/tools/integrity_mac_bench.cc
//       src/extension/integrity_crypto.cc -lcrypto -o /tmp/integrity_mac_bench
//   /tmp/integrity_mac_bench
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "integrity_crypto.h"

int main() {
  namespace integrity = sdp::integrity;
  integrity::IntegrityKey key;
  const uint8_t secret[integrity::kKeyBytes] = {1, 2, 3};
  integrity::InitKey(&key, secret, sizeof secret);
  const uint8_t batch[16] = {7};
  uint8_t mac[integrity::kMacBytes];
  // A row shaped like the demo data: customer_id,age,income,balance,num_transactions.
  const char* fields[5] = {"c123456", "45", "61000", "3000", "12"};
  const int lens[5] = {7, 2, 5, 4, 2};
  constexpr int kRows = 2000000;
  unsigned sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRows; ++i) {
    integrity::RecordMac(key, batch, i, "bank_demo", "c123456", 5, fields, lens, mac);
    sink += mac[0];
  }
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRows; ++i) {
    integrity::ResultMac(key, batch, i, "bank_demo", "c123456", 0.25, "low", "demo_v1", 0, mac);
    sink += mac[0];
  }
  const auto t2 = std::chrono::steady_clock::now();
  const auto ns = [](auto d) {
    return std::chrono::duration<double, std::nano>(d).count() / kRows;
  };
  std::printf("record MAC %.0f ns/row, result MAC %.0f ns/row (%u)\n", ns(t1 - t0), ns(t2 - t1),
              sink & 1);
  integrity::Wipe(&key);
  return 0;
}
