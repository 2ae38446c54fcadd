// max_pool2d 2x2 stride 2 on (64,32,28,28) float32, the ref-bench shape: xgrad forward (no grad)
// and forward + backward, against the memory floor measured in the same run (memcpy of the bytes
// the op must read and write: input + output forward; plus gradient in, gradient out backward).
// Argument: threads. LibTorch (RESULTS.md, best of def/mt) is printed beside; the target is 5x
// faster than LibTorch. Rerun ../shared/ref-bench/libtorch_ops in the same session for real ratios.
#include <cstring>

#include <xgrad/xgrad.h>

#include <fmt/format.h>

#include "bench_util.h"

namespace {

constexpr double kLibtorchFwdBwdMs[2] = {7.84, 4.05};
constexpr double kLibtorchFwdMs[2] = {7.29, 3.70};

void run(benchmark::State& state, bool backward) {
  const int threads = static_cast<int>(state.range(0));
  xgrad::set_num_threads(threads);
  xgrad::manual_seed(0);
  auto x = xgrad::randn({64, 32, 28, 28}, {.requires_grad = backward});
  auto gy = xgrad::randn({64, 32, 14, 14});
  const std::size_t in_bytes = 64 * 32 * 28 * 28 * 4, out_bytes = in_bytes / 4;
  std::vector<char> src(in_bytes, 1), dst(in_bytes);
  std::vector<double> ours, floor;
  for (auto _ : state) {
    const double t_ours = bench::time_us([&] {
      if (backward) {
        auto y = xgrad::max_pool2d(x, 2);
        auto g = xgrad::grad({y}, {x}, {gy});
        benchmark::DoNotOptimize(g[0].data<float>());
      } else {
        xgrad::NoGradGuard no_grad;
        auto y = xgrad::max_pool2d(x, 2);
        benchmark::DoNotOptimize(y.data<float>());
      }
    });
    const double t_floor = bench::time_us([&] {
      std::memcpy(dst.data(), src.data(), in_bytes);                  // read input
      std::memcpy(dst.data(), src.data(), out_bytes);                 // write output
      if (backward) std::memcpy(dst.data(), src.data(), in_bytes);    // read grad out, write grad in
      benchmark::ClobberMemory();
    });
    ours.push_back(t_ours);
    floor.push_back(t_floor);
    state.SetIterationTime(t_ours * 1e-6);
  }
  const double o = bench::median(ours) * 1e-3, f = bench::median(floor) * 1e-3;
  const double lt = (backward ? kLibtorchFwdBwdMs : kLibtorchFwdMs)[threads - 1];
  state.counters["xgrad_ms"] = o;
  state.counters["memcpy_floor_ms"] = f;
  state.counters["speedup_vs_libtorch"] = lt / o;
  bench::note(fmt::format("max_pool2d {} {}T", backward ? "fwd+bwd" : "fwd    ", threads), o,
              fmt::format("xgrad {:.3f} ms, memcpy floor {:.3f} ms ({:.2f}x); LibTorch (RESULTS.md) {:.2f} ms -> "
                          "{:.1f}x faster{}",
                          o, f, o / f, lt, lt / o, backward ? (lt / o >= 5 ? " (target 5x: met)" : " (target 5x: MISSED)") : ""));
}

void BM_MaxPool2x2_Fwd(benchmark::State& state) { run(state, false); }
void BM_MaxPool2x2_FwdBwd(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_MaxPool2x2_Fwd)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_MaxPool2x2_FwdBwd)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) { return bench::run_and_summarise(argc, argv, "bench_pool"); }
