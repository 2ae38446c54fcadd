// The optimizer step's share of a training step, on the classic CNN of ../shared/ref-bench
// (libtorch_cnn: conv(1->32, 3x3, p1) ReLU maxpool2 -> conv(32->64, 3x3, p1) ReLU maxpool2 -> flatten
// -> linear(3136->128) ReLU -> linear(128->10) -> cross_entropy; 421,642 parameters; batch 64),
// written with xgrad ops. Each iteration times zero_grad + forward + backward, then step() alone;
// the summary prints the step's share of the whole train step (issue 11's target: < 3 %).
// Arguments: optimizer (0 SGD momentum 0.9, 1 Adam), threads. LibTorch's train step (SGD, b64,
// RESULTS.md) is 29.2 ms at 1 thread default, 15.95 ms at its best 2-thread configuration.
#include <cblas.h>

#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

#include <fmt/format.h>

#include <cmath>
#include <memory>

#include "bench_util.h"

namespace {

using xgrad::Tensor;

// PyTorch's default init: Kaiming-uniform with a = sqrt(5) gives weights in +-1/sqrt(fan_in), the
// bias the same bound.
Tensor init_uniform(const xgrad::Shape& shape, std::int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return xgrad::uniform(shape, -bound, bound, {.requires_grad = true});
}

struct ClassicCnn {
  Tensor conv1_w = init_uniform({32, 1, 3, 3}, 9), conv1_b = init_uniform({32}, 9);
  Tensor conv2_w = init_uniform({64, 32, 3, 3}, 288), conv2_b = init_uniform({64}, 288);
  Tensor fc1_w = init_uniform({128, 3136}, 3136), fc1_b = init_uniform({128}, 3136);
  Tensor fc2_w = init_uniform({10, 128}, 128), fc2_b = init_uniform({10}, 128);

  std::vector<Tensor> parameters() const { return {conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b}; }

  Tensor forward(const Tensor& x) const {
    Tensor h = xgrad::max_pool2d(xgrad::relu(xgrad::conv2d(x, conv1_w, conv1_b, 1, 1)), 2);
    h = xgrad::max_pool2d(xgrad::relu(xgrad::conv2d(h, conv2_w, conv2_b, 1, 1)), 2);
    h = xgrad::relu(xgrad::linear(xgrad::flatten(h, 1), fc1_w, fc1_b));
    return xgrad::linear(h, fc2_w, fc2_b);
  }
};

void BM_TrainStepShare(benchmark::State& state) {
  const bool adam = state.range(0) == 1;
  const int threads = static_cast<int>(state.range(1));
  const std::int64_t batch = 64;
  xgrad::set_num_threads(threads);
  xgrad::manual_seed(0);
  ClassicCnn net;
  std::int64_t num_params = 0;
  for (const auto& p : net.parameters()) num_params += p.numel();
  std::unique_ptr<xgrad::optim::Optimizer> optimizer;
  if (adam)
    optimizer = std::make_unique<xgrad::optim::Adam>(net.parameters(), xgrad::optim::AdamOptions{.lr = 1e-3});
  else
    optimizer = std::make_unique<xgrad::optim::SGD>(net.parameters(),
                                                    xgrad::optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
  const Tensor x = xgrad::rand({batch, 1, 28, 28});
  const Tensor y = xgrad::randint(0, 10, {batch});

  auto forward_backward = [&] {
    optimizer->zero_grad();
    Tensor loss = xgrad::cross_entropy(net.forward(x), y);
    loss.backward();
    benchmark::DoNotOptimize(loss.item());
  };
  for (int warm = 0; warm < 3; ++warm) {  // allocator cache, optimizer state, thread pool
    forward_backward();
    optimizer->step();
  }
  std::vector<double> fb_us, step_us, total_us;
  for (auto _ : state) {
    const double fb = bench::time_us(forward_backward);
    const double st = bench::time_us([&] { optimizer->step(); });
    fb_us.push_back(fb);
    step_us.push_back(st);
    total_us.push_back(fb + st);
    state.SetIterationTime((fb + st) * 1e-6);
  }
  const double total = bench::median(total_us) * 1e-3, step = bench::median(step_us) * 1e-3,
               fb = bench::median(fb_us) * 1e-3;  // ms
  const double share = 100.0 * step / total;
  state.counters["train_step_ms"] = total;
  state.counters["fwd_bwd_ms"] = fb;
  state.counters["opt_step_ms"] = step;
  state.counters["opt_share_pct"] = share;
  const std::string name = adam ? "Adam" : "SGD(momentum 0.9)";
  bench::note(fmt::format("cnn b64 {} {}T", name, threads), share,
              fmt::format("train step {:7.3f} ms (fwd+bwd {:7.3f}), step() {:6.3f} ms on {} params "
                          "({:.2f} GB/s of param+grad+state traffic) -> {:.2f} % of the train step (target < 3 %)",
                          total, fb, step, num_params,
                          (adam ? 7.0 : 5.0) * 4.0 * static_cast<double>(num_params) / (step * 1e6), share));
}

BENCHMARK(BM_TrainStepShare)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"adam", "threads"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(1);  // xgrad splits GEMMs over its own pool (docs/ARCHITECTURE.md)
  std::printf("OpenBLAS core: %s\n", openblas_get_corename());
  return bench::run_and_summarise(argc, argv, "bench_optim");
}
