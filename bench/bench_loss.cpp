// cross_entropy float32 with int64 class targets, mean reduction, on the ref-bench shapes (256,10)
// and (4096,1000): xgrad forward (no grad) and forward + gradient wrt the logits, against a plain
// C++ loop doing the same arithmetic (row max, sum of exp, log, and for backward softmax - onehot)
// measured in the same run, one thread. Arguments: shape index, threads. LibTorch (RESULTS.md, best
// of def/mt) is printed beside; the target is at least as fast. Rerun ../shared/ref-bench/libtorch_ops
// in the same session for real ratios.
#include <cmath>

#include <xgrad/xgrad.h>

#include <fmt/format.h>

#include "bench_util.h"

namespace {

struct LossShape {
  std::int64_t n, c;
  double libtorch_fwd_ms[2], libtorch_fwdbwd_ms[2];
};
const LossShape kShapes[] = {{256, 10, {0.016, 0.016}, {0.038, 0.047}}, {4096, 1000, {3.58, 1.88}, {7.72, 4.80}}};

// The plain loop: loss (and the gradient) of a row-major [n, c] batch.
float plain_cross_entropy(const float* x, const std::int64_t* t, std::int64_t n, std::int64_t c, float* grad) {
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const float* row = x + i * c;
    float mx = row[0];
    for (std::int64_t j = 1; j < c; ++j) mx = std::max(mx, row[j]);
    float sum = 0;
    for (std::int64_t j = 0; j < c; ++j) sum += std::exp(row[j] - mx);
    const float lse = mx + std::log(sum);
    total += lse - row[t[i]];
    if (grad) {
      float* g = grad + i * c;
      for (std::int64_t j = 0; j < c; ++j) g[j] = std::exp(row[j] - lse) / static_cast<float>(n);
      g[t[i]] -= 1.0f / static_cast<float>(n);
    }
  }
  return static_cast<float>(total / static_cast<double>(n));
}

void run(benchmark::State& state, bool backward) {
  const LossShape& s = kShapes[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  xgrad::set_num_threads(threads);
  xgrad::manual_seed(0);
  auto x = xgrad::randn({s.n, s.c}, {.requires_grad = backward});
  std::vector<std::int64_t> labels(static_cast<std::size_t>(s.n));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>((i * 7919) % s.c);
  auto target = xgrad::tensor(labels, {s.n});
  std::vector<float> grad(static_cast<std::size_t>(s.n * s.c));
  std::vector<double> ours, plain;
  for (auto _ : state) {
    const double t_ours = bench::time_us([&] {
      if (backward) {
        auto loss = xgrad::cross_entropy(x, target);
        auto g = xgrad::grad({loss}, {x});
        benchmark::DoNotOptimize(g[0].data<float>());
      } else {
        xgrad::NoGradGuard no_grad;
        auto loss = xgrad::cross_entropy(x, target);
        benchmark::DoNotOptimize(loss.data<float>());
      }
    });
    const double t_plain = bench::time_us([&] {
      float l = plain_cross_entropy(x.data<float>(), labels.data(), s.n, s.c, backward ? grad.data() : nullptr);
      benchmark::DoNotOptimize(l);
      benchmark::ClobberMemory();
    });
    ours.push_back(t_ours);
    plain.push_back(t_plain);
    state.SetIterationTime(t_ours * 1e-6);
  }
  const double o = bench::median(ours) * 1e-3, p = bench::median(plain) * 1e-3;
  const double lt = (backward ? s.libtorch_fwdbwd_ms : s.libtorch_fwd_ms)[threads - 1];
  state.counters["xgrad_ms"] = o;
  state.counters["plain_loop_ms"] = p;
  state.counters["ratio_vs_libtorch"] = o / lt;
  bench::note(fmt::format("cross_entropy {}x{} {} {}T", s.n, s.c, backward ? "fwd+bwd" : "fwd    ", threads), o,
              fmt::format("xgrad {:.4f} ms, plain loop (1 thread) {:.4f} ms ({:.2f}x); LibTorch (RESULTS.md) {:.3f} ms "
                          "-> {:.2f}x of it{}",
                          o, p, o / p, lt, o / lt, o <= lt ? " (target: met)" : " (target: MISSED)"));
}

void BM_CrossEntropy_Fwd(benchmark::State& state) { run(state, false); }
void BM_CrossEntropy_FwdBwd(benchmark::State& state) { run(state, true); }
void shapes_and_threads(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 2; ++shape)
    for (int threads : {1, 2}) b->Args({shape, threads});
}
BENCHMARK(BM_CrossEntropy_Fwd)->Apply(shapes_and_threads)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_CrossEntropy_FwdBwd)->Apply(shapes_and_threads)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) { return bench::run_and_summarise(argc, argv, "bench_loss"); }
