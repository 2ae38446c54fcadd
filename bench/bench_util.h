#pragma once
// Shared by the benchmark programs: wall-clock timing of a body, medians, and a summary of
// xgrad-vs-baseline ratios printed after Google Benchmark's own table.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace bench {

inline double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
double time_us(F&& body) {
  const double t0 = now_us();
  body();
  return now_us() - t0;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One line per comparison, filled by the benchmarks and printed at exit.
struct SummaryLine {
  double value;
  std::string text;
};
inline std::map<std::string, SummaryLine>& summary() {
  static std::map<std::string, SummaryLine> lines;
  return lines;
}
inline void note(const std::string& key, double value, const std::string& text) { summary()[key] = {value, text}; }

inline int run_and_summarise(int argc, char** argv, const char* program) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::printf("\n== %s summary (medians of the timed iterations) ==\n", program);
  for (const auto& [key, line] : summary()) std::printf("%-34s %s\n", key.c_str(), line.text.c_str());
  return 0;
}

}  // namespace bench
