// make bench helper: times the local part of `sdp-agent integrate-results`, i.e. exactly
// sdp::IntegrateResults (the function the command calls once it has fetched the results), on a
// results CSV already on disk. The whole command (fetch over libpq included) is measured too, by
// bench/stages.sh; this isolates the join the target is about.
//
//   integrate-local RAW RESULTS_CSV OUTPUT [KEY_COLUMN]
//
// Prints "rows matched seconds" on stdout. Built by bench/run.sh against $BUILDDIR/libsdp_agent.a;
// never shipped.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/pipeline/integrate.h"

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: integrate-local RAW RESULTS_CSV OUTPUT [KEY_COLUMN]\n");
    return 2;
  }
  sdp::IntegrateJob job;
  job.raw_input = argv[1];
  job.output = argv[3];
  if (argc == 5) job.key_column = argv[4];
  {
    // Reading the fetched results into memory is part of what the command does after the fetch.
    std::ifstream in(argv[2], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "integrate-local: cannot read %s\n", argv[2]);
      return 1;
    }
    std::ostringstream s;
    s << in.rdbuf();
    job.results_csv = s.str();
  }
  sdp::IntegrateReport report;
  std::string err;
  if (!sdp::IntegrateResults(job, &report, &err)) {
    std::fprintf(stderr, "integrate-local: %s\n", err.c_str());
    return 1;
  }
  std::printf("%llu %llu %.6f\n", static_cast<unsigned long long>(report.raw_rows),
              static_cast<unsigned long long>(report.matched_rows), report.seconds);
  return 0;
}
