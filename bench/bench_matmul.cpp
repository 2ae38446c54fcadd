// matmul 512x512 float32: xgrad forward (+ backward) against the raw cblas_sgemm calls the same
// work needs (1 for the forward, 3 for forward + backward: C = AB, dA = dC B^T, dB = A^T dC) into
// preallocated buffers, alternating within each iteration. The argument is the OpenBLAS thread
// count. Target: fwd+bwd within 1.1x of raw.
#include <cblas.h>

#include <xgrad/xgrad.h>

#include <fmt/format.h>

#include <thread>

#include "bench_util.h"

namespace {

constexpr int kN = 512;
constexpr double kTarget = 1.1;

void raw_gemm(bool ta, bool tb, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, kN, kN, kN, 1.0f, a,
              kN, b, kN, 0.0f, c, kN);
}

void run(benchmark::State& state, bool backward) {
  const int threads = static_cast<int>(state.range(0));
  xgrad::set_num_threads(threads);
  xgrad::manual_seed(0);
  auto a = xgrad::randn({kN, kN}, {.requires_grad = backward});
  auto b = xgrad::randn({kN, kN}, {.requires_grad = backward});
  const auto gy = xgrad::randn({kN, kN});
  std::vector<float> c(kN * kN), da(kN * kN), db(kN * kN);
  std::vector<double> ours, raw;
  // The raw baseline is the GEMMs with OpenBLAS's own T threads, timed before xgrad's iterations (not
  // alternated: OpenBLAS's idle threads spin for a while after each call and would steal xgrad's cores).
  openblas_set_num_threads(threads);
  for (int rep = 0; rep < 23; ++rep) {
    raw.push_back(bench::time_us([&] {
      raw_gemm(false, false, a.data<float>(), b.data<float>(), c.data());
      if (backward) {
        raw_gemm(false, true, gy.data<float>(), b.data<float>(), da.data());
        raw_gemm(true, false, a.data<float>(), gy.data<float>(), db.data());
      }
      benchmark::ClobberMemory();
    }));
  }
  raw.erase(raw.begin(), raw.begin() + 3);  // warm-up
  openblas_set_num_threads(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (auto _ : state) {
    const double t_ours = bench::time_us([&] {
      auto y = xgrad::matmul(a, b);
      if (backward) {
        y.backward(gy);
        benchmark::DoNotOptimize(a.grad().data<float>());
        benchmark::DoNotOptimize(b.grad().data<float>());
        a.zero_grad();
        b.zero_grad();
      } else {
        benchmark::DoNotOptimize(y.data<float>());
      }
    });
    ours.push_back(t_ours);
    state.SetIterationTime(t_ours * 1e-6);
  }
  const double o = bench::median(ours), r = bench::median(raw), ratio = o / r;
  const double flops = (backward ? 3.0 : 1.0) * 2.0 * kN * kN * kN;
  state.counters["xgrad_us"] = o;
  state.counters["raw_us"] = r;
  state.counters["ratio_vs_raw"] = ratio;
  state.counters["xgrad_GFLOPs"] = flops / (o * 1e3);
  const std::string what = fmt::format("matmul 512 {} ({} thr)", backward ? "fwd+bwd" : "fwd", threads);
  bench::note(what, ratio,
              fmt::format("xgrad {:.0f} us, raw {} sgemm {:.0f} us -> ratio {:.3f}x{}", o, backward ? 3 : 1, r, ratio,
                          backward ? fmt::format(" (target <= {}): {}", kTarget, ratio <= kTarget ? "met" : "MISSED")
                                   : std::string()));
}

void BM_Matmul512_Fwd_vs_sgemm(benchmark::State& state) { run(state, false); }
void BM_Matmul512_FwdBwd_vs_3sgemm(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_Matmul512_Fwd_vs_sgemm)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_Matmul512_FwdBwd_vs_3sgemm)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) { return bench::run_and_summarise(argc, argv, "bench_matmul"); }
