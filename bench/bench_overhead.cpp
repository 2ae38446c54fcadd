// Per-op framework overhead: a chain of 1000 alternating add / mul ops on a 1-element tensor
// by 0-d constants (as ../shared/ref-bench/libtorch_overhead.cpp does), forward + backward and
// no-grad forward, reported in microseconds per op. LibTorch 1.13 here: 2.75 us/op fwd+bwd,
// 0.65 us/op no-grad (ref-bench/RESULTS.md). Target: <= 0.5 us/op fwd+bwd.
#include <xgrad/xgrad.h>

#include <fmt/format.h>

#include "bench_util.h"

namespace {

constexpr int kOps = 1000;
constexpr double kLibTorchGradUsPerOp = 2.75, kLibTorchNoGradUsPerOp = 0.65, kTargetUsPerOp = 0.5;

xgrad::Tensor chain(xgrad::Tensor y, const xgrad::Tensor& a, const xgrad::Tensor& m) {
  for (int i = 0; i < kOps; ++i) y = (i % 2 == 0) ? y + a : y * m;
  return y;
}

void BM_Overhead_FwdBwd(benchmark::State& state) {
  const auto a = xgrad::scalar_tensor(1.0001), m = xgrad::scalar_tensor(0.9999);
  std::vector<double> fwd, bwd;
  for (auto _ : state) {
    auto x = xgrad::ones({1}, {.requires_grad = true});
    xgrad::Tensor y;
    const double tf = bench::time_us([&] { y = chain(x, a, m); });
    const double tb = bench::time_us([&] {
      y.backward();
      benchmark::DoNotOptimize(x.grad().data<float>());
    });
    // Freeing the graph is part of the cost too: time it with the backward.
    const double tr = bench::time_us([&] { y = xgrad::Tensor(); });
    fwd.push_back(tf);
    bwd.push_back(tb + tr);
    state.SetIterationTime((tf + tb + tr) * 1e-6);
  }
  const double f = bench::median(fwd) / kOps, b = bench::median(bwd) / kOps, total = f + b;
  state.counters["us_per_op"] = total;
  state.counters["fwd_us_per_op"] = f;
  state.counters["bwd_us_per_op"] = b;
  state.counters["ratio_vs_libtorch"] = total / kLibTorchGradUsPerOp;
  bench::note("overhead fwd+bwd (1 element)", total,
              fmt::format("{:.3f} us/op (fwd {:.3f} + bwd {:.3f}); LibTorch 2.75 -> {:.2f}x of LibTorch; target "
                          "<= {} us/op: {}",
                          total, f, b, total / kLibTorchGradUsPerOp, kTargetUsPerOp,
                          total <= kTargetUsPerOp ? "met" : "MISSED"));
}
BENCHMARK(BM_Overhead_FwdBwd)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);

void BM_Overhead_NoGradFwd(benchmark::State& state) {
  xgrad::NoGradGuard no_grad;
  const auto a = xgrad::scalar_tensor(1.0001), m = xgrad::scalar_tensor(0.9999);
  const auto x = xgrad::ones({1});
  std::vector<double> times;
  for (auto _ : state) {
    const double t = bench::time_us([&] {
      auto y = chain(x, a, m);
      benchmark::DoNotOptimize(y.data<float>());
    });
    times.push_back(t);
    state.SetIterationTime(t * 1e-6);
  }
  const double per_op = bench::median(times) / kOps;
  state.counters["us_per_op"] = per_op;
  state.counters["ratio_vs_libtorch"] = per_op / kLibTorchNoGradUsPerOp;
  bench::note("overhead no-grad fwd (1 element)", per_op,
              fmt::format("{:.3f} us/op; LibTorch 0.65 -> {:.2f}x of LibTorch", per_op,
                          per_op / kLibTorchNoGradUsPerOp));
}
BENCHMARK(BM_Overhead_NoGradFwd)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) { return bench::run_and_summarise(argc, argv, "bench_overhead"); }
