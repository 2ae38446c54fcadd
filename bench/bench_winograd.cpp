// Winograd 3x3 convolution (stride 1, and stride 2 for the last layer) (core/kernels/winograd.h) against im2col + cblas_sgemm measured
// in the same run (alternating within each iteration), float32, pad 1. Arguments: layer, threads
// (xgrad::set_num_threads; both paths run on xgrad's pool with single-threaded BLAS per chunk),
// direction (0 forward with bias, 1 input gradient, 2 weight gradient, 3 all three) and the Winograd
// tile m of F(m x m, 3x3). Nominal FLOPs: 2*N*K*C*9*Ho*Wo per direction.
// Reference figures (LibTorch/oneDNN on this machine, forward + input grad + weight grad):
//   (64,32,14,14)->64: 13.3 ms 1 thread, 7.28 ms 2 threads (forward 3.99 / 2.33)
//   (8,256,14,14)->256: 47.5 ms 1 thread, 25.4 ms 2 threads (forward 15.1 / 7.94)
// Run e.g. with --benchmark_filter='tile:4'. At 1 thread the summary also prints the calling
// thread's CPU time, which other processes on a shared machine do not inflate; 2-thread wall
// times need a quiet machine.
#include <cblas.h>

#include <xgrad/threads.h>

#include <fmt/format.h>

#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "../core/kernels/winograd.h"
#include "../core/parallel.h"
#include "bench_util.h"

namespace {

namespace wino = xgrad::kernels::winograd;
using int64 = std::int64_t;
constexpr int64 kPad = 1;

struct Layer {
  int64 N, C, H, W, K;
  double torch_fwd_ms[2], torch_all_ms[2];  // 0 when unknown; [1 thread, 2 threads]
  int stride = 1;
  int64 Ho() const { return (H + 2 * kPad - 3) / stride + 1; }
  int64 Wo() const { return (W + 2 * kPad - 3) / stride + 1; }
};
const Layer kLayers[] = {
    {64, 32, 14, 14, 64, {3.99, 2.33}, {13.3, 7.28}},
    {8, 256, 14, 14, 256, {15.1, 7.94}, {47.5, 25.4}},
    {64, 1, 28, 28, 32, {0, 0}, {0, 0}},
    {32, 64, 16, 16, 128, {0, 0}, {0, 0}},
    // Smaller layers, for where worthwhile() draws the line.
    {64, 16, 14, 14, 16, {0, 0}, {0, 0}},
    {64, 64, 7, 7, 64, {0, 0}, {0, 0}},
    {64, 128, 4, 4, 128, {0, 0}, {0, 0}},
    {64, 8, 28, 28, 8, {0, 0}, {0, 0}},
    {32, 64, 16, 16, 128, {2.62, 1.75}, {8.68, 5.39}, 2},  // the strided layer of bench_conv
    {8, 64, 56, 56, 128, {0, 0}, {0, 0}, 2},               // larger images, for worthwhile()'s bound
    {2, 64, 112, 112, 128, {0, 0}, {0, 0}, 2},
};
const char* kDirection[] = {"fwd", "dx", "dw", "fwd+dx+dw"};

// CPU time of the calling thread: at 1 thread all the work runs on it, so this ignores time the
// scheduler gives to other processes on a shared machine (the summary prints both).
double thread_cpu_us() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

std::vector<float> randn(int64 n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = dist(gen);
  return v;
}

// The baseline: per image, col[C*9, Ho*Wo] (im2col) and one sgemm, images spread over the pool.
struct Im2col {
  const Layer& l;
  int64 Ho, Wo, P, R;  // P = Ho*Wo output pixels, R = C*9 rows of the column matrix
  std::vector<float> cols, partial;
  explicit Im2col(const Layer& layer)
      : l(layer), Ho(layer.Ho()), Wo(layer.Wo()), P(Ho * Wo), R(layer.C * 9),
        cols(static_cast<std::size_t>(layer.N * R * P)) {}

  void im2col(const float* x, float* col) const {
    for (int64 c = 0; c < l.C; ++c)
      for (int64 a = 0; a < 3; ++a)
        for (int64 b = 0; b < 3; ++b) {
          float* dst = col + ((c * 3 + a) * 3 + b) * P;
          for (int64 i = 0; i < Ho; ++i) {
            const int64 yy = i * l.stride + a - kPad;
            for (int64 j = 0; j < Wo; ++j) {
              const int64 xx = j * l.stride + b - kPad;
              dst[i * Wo + j] = yy >= 0 && yy < l.H && xx >= 0 && xx < l.W ? x[(c * l.H + yy) * l.W + xx] : 0.0f;
            }
          }
        }
  }
  void col2im(const float* col, float* gx) const {
    std::memset(gx, 0, sizeof(float) * l.C * l.H * l.W);
    for (int64 c = 0; c < l.C; ++c)
      for (int64 a = 0; a < 3; ++a)
        for (int64 b = 0; b < 3; ++b) {
          const float* src = col + ((c * 3 + a) * 3 + b) * P;
          for (int64 i = 0; i < Ho; ++i) {
            const int64 yy = i * l.stride + a - kPad;
            if (yy < 0 || yy >= l.H) continue;
            for (int64 j = 0; j < Wo; ++j) {
              const int64 xx = j * l.stride + b - kPad;
              if (xx >= 0 && xx < l.W) gx[(c * l.H + yy) * l.W + xx] += src[i * Wo + j];
            }
          }
        }
  }
  void forward(const float* x, const float* w, const float* bias, float* y) {
    xgrad::parallel::parallel_for(l.N, 1, [&](int64 begin, int64 end) {
      for (int64 n = begin; n < end; ++n) {
        float* col = cols.data() + n * R * P;
        im2col(x + n * l.C * l.H * l.W, col);
        float* yn = y + n * l.K * P;
        for (int64 k = 0; k < l.K; ++k) std::fill(yn + k * P, yn + (k + 1) * P, bias[k]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l.K, P, R, 1.0f, w, R, col, P, 1.0f, yn, P);
      }
    });
  }
  void backward_input(const float* gy, const float* w, float* gx) {
    xgrad::parallel::parallel_for(l.N, 1, [&](int64 begin, int64 end) {
      for (int64 n = begin; n < end; ++n) {
        float* col = cols.data() + n * R * P;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, P, l.K, 1.0f, w, R, gy + n * l.K * P, P, 0.0f, col,
                    P);
        col2im(col, gx + n * l.C * l.H * l.W);
      }
    });
  }
  void backward_weight(const float* x, const float* gy, float* gw) {
    const int chunks = xgrad::parallel::chunks_for(l.N, 1);
    partial.assign(static_cast<std::size_t>(chunks * l.K * R), 0.0f);
    xgrad::parallel::parallel_for_chunks(l.N, chunks, [&](int64 begin, int64 end, int chunk) {
      float* acc = partial.data() + chunk * l.K * R;
      for (int64 n = begin; n < end; ++n) {
        float* col = cols.data() + n * R * P;
        im2col(x + n * l.C * l.H * l.W, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l.K, R, P, 1.0f, gy + n * l.K * P, P, col, P, 1.0f, acc,
                    R);
      }
    });
    std::memcpy(gw, partial.data(), sizeof(float) * l.K * R);
    for (int c = 1; c < chunks; ++c)
      for (int64 i = 0; i < l.K * R; ++i) gw[i] += partial[c * l.K * R + i];
  }
};

void run(benchmark::State& state) {
  const Layer& l = kLayers[state.range(0)];
  const int threads = static_cast<int>(state.range(1));
  const int direction = static_cast<int>(state.range(2));
  const int tile = static_cast<int>(state.range(3));
  if (l.stride == 2 && tile == 2) {
    state.SkipWithError("stride 2 has F(4x4) only");
    return;
  }
  xgrad::set_num_threads(threads);
  const int64 Ho = l.Ho(), Wo = l.Wo();
  const auto x = randn(l.N * l.C * l.H * l.W, 1), w = randn(l.K * l.C * 9, 2), bias = randn(l.K, 3);
  const auto gy = randn(l.N * l.K * Ho * Wo, 4);
  std::vector<float> y(gy.size()), gx(x.size()), gw(w.size());
  Im2col base(l);
  const bool fwd = direction == 0 || direction == 3, dx = direction == 1 || direction == 3,
             dw = direction == 2 || direction == 3;
  std::vector<double> ours, raw, ours_cpu, raw_cpu;
  for (auto _ : state) {
    const double c0 = thread_cpu_us();
    const double t_ours = bench::time_us([&] {
      if (fwd) wino::conv3x3_forward(x.data(), w.data(), bias.data(), y.data(), l.N, l.C, l.H, l.W, l.K, kPad, kPad, tile,
                                     l.stride);
      if (dx) wino::conv3x3_backward_input(gy.data(), w.data(), gx.data(), l.N, l.C, l.H, l.W, l.K, kPad, kPad, tile,
                                     l.stride);
      if (dw) wino::conv3x3_backward_weight(x.data(), gy.data(), gw.data(), l.N, l.C, l.H, l.W, l.K, kPad, kPad, tile,
                                     l.stride);
      benchmark::ClobberMemory();
    });
    const double c1 = thread_cpu_us();
    const double t_raw = bench::time_us([&] {
      if (fwd) base.forward(x.data(), w.data(), bias.data(), y.data());
      if (dx) base.backward_input(gy.data(), w.data(), gx.data());
      if (dw) base.backward_weight(x.data(), gy.data(), gw.data());
      benchmark::ClobberMemory();
    });
    const double c2 = thread_cpu_us();
    ours.push_back(t_ours);
    raw.push_back(t_raw);
    ours_cpu.push_back(c1 - c0);
    raw_cpu.push_back(c2 - c1);
    state.SetIterationTime(t_ours * 1e-6);
  }
  const double o = bench::median(ours) * 1e-3, r = bench::median(raw) * 1e-3;  // ms
  const double gflop = (direction == 3 ? 3.0 : 1.0) * 2.0 * l.N * l.K * l.C * 9 * Ho * Wo * 1e-9;
  state.counters["wino_ms"] = o;
  state.counters["im2col_ms"] = r;
  state.counters["wino_GFLOPs"] = gflop / (o * 1e-3);
  state.counters["im2col_GFLOPs"] = gflop / (r * 1e-3);
  const double torch = direction == 0 ? l.torch_fwd_ms[threads - 1] : direction == 3 ? l.torch_all_ms[threads - 1] : 0;
  const std::string key = fmt::format("({},{},{},{})->{} s{} {} {}T F{}", l.N, l.C, l.H, l.W, l.K, l.stride,
                                      kDirection[direction], threads, tile);
  const double oc = bench::median(ours_cpu) * 1e-3, rc = bench::median(raw_cpu) * 1e-3;
  bench::note(key, o,
              fmt::format("wino {:7.2f} ms {:6.1f} GF/s | im2col {:7.2f} ms {:6.1f} GF/s | x{:.2f}{}{}", o,
                          gflop / o * 1e3, r, gflop / r * 1e3, r / o,
                          torch > 0 ? fmt::format(" | torch {:.2f} ms: x{:.2f}", torch, torch / o) : std::string(),
                          threads == 1 ? fmt::format(" | thread-CPU wino {:.2f} ms, im2col {:.2f} ms", oc, rc)
                                       : std::string()));
}

void BM_Winograd(benchmark::State& state) { run(state); }
BENCHMARK(BM_Winograd)
    ->ArgNames({"layer", "threads", "dir", "tile"})
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 2}, {0, 1, 2, 3}, {4, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.3);

}  // namespace

int main(int argc, char** argv) { return bench::run_and_summarise(argc, argv, "bench_winograd"); }
