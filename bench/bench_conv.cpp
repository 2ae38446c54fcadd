// conv2d float32 for the shapes of ../shared/ref-bench (libtorch_conv): xgrad forward and forward +
// backward (gradients of input, weight and bias, as LibTorch's benchmark computes them), against
// the raw GEMM work of an im2col convolution measured in the same run (just before, with OpenBLAS's own threads): 1 sgemm for
// the forward (Y = W col), 3 for forward + backward (+ dcol = W^T dY, dW = dY col^T), with the
// same thread count. FLOPs are nominal: 2 N K C F^2 Ho Wo for the forward, 3x that with backward.
// Arguments: shape index, threads. LibTorch's best configuration (RESULTS.md) is printed beside
// for orientation; rerun ../shared/ref-bench/libtorch_conv in the same session for real ratios.
#include <cblas.h>

#include <xgrad/xgrad.h>

#include <fmt/format.h>

#include <thread>

#include "bench_util.h"

namespace {

struct ConvShape {
  std::int64_t n, c, h, w, k, f, s, p;
  double libtorch_best_fwdbwd_ms[2];  // 1 and 2 threads, best configuration in RESULTS.md
};

const ConvShape kShapes[] = {
    {64, 1, 28, 28, 32, 3, 1, 1, {1.68, 1.24}},
    {64, 32, 14, 14, 64, 3, 1, 1, {13.3, 7.28}},
    {32, 3, 32, 32, 64, 5, 1, 2, {15.7, 10.9}},
    {32, 64, 16, 16, 128, 3, 2, 1, {8.68, 5.39}},
    {8, 256, 14, 14, 256, 3, 1, 1, {47.5, 25.4}},
};

void sgemm(bool ta, bool tb, int m, int n, int k, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a,
              ta ? m : k, b, tb ? k : n, 0.0f, c, n);
}

void run(benchmark::State& state, bool backward) {
  const ConvShape& s = kShapes[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  xgrad::set_num_threads(threads);
  const std::int64_t ho = (s.h + 2 * s.p - s.f) / s.s + 1, wo = (s.w + 2 * s.p - s.f) / s.s + 1;
  xgrad::manual_seed(0);
  auto x = xgrad::randn({s.n, s.c, s.h, s.w}, {.requires_grad = backward});
  auto w = xgrad::randn({s.k, s.c, s.f, s.f}) * 0.1;
  w.requires_grad_(backward);
  auto b = xgrad::randn({s.k}, {.requires_grad = backward});
  auto gy = xgrad::randn({s.n, s.k, ho, wo});
  // The im2col GEMMs: Y[K, N*Ho*Wo] = W[K, C*F*F] col[C*F*F, N*Ho*Wo] and its two gradients.
  const int gm = static_cast<int>(s.k), gn = static_cast<int>(s.n * ho * wo), gk = static_cast<int>(s.c * s.f * s.f);
  std::vector<float> col(static_cast<std::size_t>(gk) * gn, 0.5f), out(static_cast<std::size_t>(gm) * gn),
      dcol(col.size()), dw(static_cast<std::size_t>(gm) * gk), wt(static_cast<std::size_t>(gm) * gk, 0.1f);
  std::vector<double> ours, raw;
  // The raw baseline is the GEMMs with OpenBLAS's own T threads, timed before xgrad's iterations (not
  // alternated: OpenBLAS's idle threads spin for a while after each call and would steal xgrad's cores).
  openblas_set_num_threads(threads);
  for (int rep = 0; rep < 23; ++rep) {
    raw.push_back(bench::time_us([&] {
      sgemm(false, false, gm, gn, gk, wt.data(), col.data(), out.data());
      if (backward) {
        sgemm(true, false, gk, gn, gm, wt.data(), out.data(), dcol.data());
        sgemm(false, true, gm, gk, gn, out.data(), col.data(), dw.data());
      }
      benchmark::ClobberMemory();
    }));
  }
  raw.erase(raw.begin(), raw.begin() + 3);  // warm-up
  openblas_set_num_threads(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (auto _ : state) {
    const double t_ours = bench::time_us([&] {
      if (backward) {
        auto y = xgrad::conv2d(x, w, b, s.s, s.p);
        auto g = xgrad::grad({y}, {x, w, b}, {gy});
        benchmark::DoNotOptimize(g[0].data<float>());
      } else {
        xgrad::NoGradGuard no_grad;
        auto y = xgrad::conv2d(x, w, b, s.s, s.p);
        benchmark::DoNotOptimize(y.data<float>());
      }
    });
    ours.push_back(t_ours);
    state.SetIterationTime(t_ours * 1e-6);
  }
  const double o = bench::median(ours) * 1e-3, r = bench::median(raw) * 1e-3;  // ms
  const double flops = (backward ? 3.0 : 1.0) * 2.0 * s.n * s.k * s.c * s.f * s.f * ho * wo;
  state.counters["xgrad_ms"] = o;
  state.counters["gemm_ms"] = r;
  state.counters["xgrad_GFLOPs"] = flops / (o * 1e6);
  state.counters["ratio_vs_gemm"] = o / r;
  const std::string key = fmt::format("conv{} {} {}T", state.range(0), backward ? "fwd+bwd" : "fwd    ", threads);
  std::string text = fmt::format("({},{},{},{})->{} k{} s{} p{}: xgrad {:7.3f} ms {:6.1f} GFLOP/s, raw GEMM work {:7.3f} ms"
                                 " -> {:.2f}x",
                                 s.n, s.c, s.h, s.w, s.k, s.f, s.s, s.p, o, flops / (o * 1e6), r, o / r);
  if (backward && threads <= 2) {
    const double lt = s.libtorch_best_fwdbwd_ms[threads - 1];
    text += fmt::format("; LibTorch best (RESULTS.md) {:.2f} ms -> {:.2f}x of it", lt, o / lt);
  }
  bench::note(key, o, text);
}

void BM_Conv2d_Fwd(benchmark::State& state) { run(state, false); }
void BM_Conv2d_FwdBwd(benchmark::State& state) { run(state, true); }
void shapes_and_threads(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 5; ++shape)
    for (int threads : {1, 2}) b->Args({shape, threads});
}
BENCHMARK(BM_Conv2d_Fwd)->Apply(shapes_and_threads)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_Conv2d_FwdBwd)->Apply(shapes_and_threads)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) { return bench::run_and_summarise(argc, argv, "bench_conv"); }
