// Kernels called from several user threads at once share one thread pool: each call's results must
// equal a sequential run. The conv weight gradient used to sum the workers' thread-local partials
// after its job released the pool, while another thread's job reused them (wrong gradients, a
// heap-use-after-free under ASan). Also: set_num_threads while other threads compute.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../ops/conv_internal.h"

#include "test_util.h"

using namespace xgrad;

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kIterations = 12;  // sanitizers run the kernels 5-20x slower
#else
constexpr int kIterations = 100;
#endif

using test::ThreadCountGuard;

// Runs body(iteration) on `threads` std::threads, kIterations times each, and returns the number
// of iterations whose results were wrong; an exception counts as one, and its message is kept.
template <class Body>
int run_concurrently(int threads, Body body, std::string& first_error) {
  std::atomic<int> wrong{0};
  std::mutex mu;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        try {
          if (!body(i)) ++wrong;
        } catch (const std::exception& e) {
          ++wrong;
          std::lock_guard lock(mu);
          if (first_error.empty()) first_error = e.what();
        }
      }
    });
  for (auto& t : pool) t.join();
  return wrong.load();
}

// |a - b| <= tol * max |b| everywhere (tol 0: bitwise equal).
bool matches(const Tensor& a, const Tensor& b, double tol) {
  if (tol == 0) return equal(a, b);
  const double scale = max(abs(b)).to(Dtype::float64).item<double>();
  return a.shape() == b.shape() && max(abs(a - b)).to(Dtype::float64).item<double>() <= tol * scale;
}

struct ConvCase {
  const char* path;
  Shape x, w;
  std::int64_t stride, pad;
  Dtype dtype = Dtype::float32;
  // Winograd spreads blocks over threads dynamically and adds each thread's weight-gradient
  // partial sum, so the summation order of that gradient (only) varies from run to run.
  double weight_grad_tol = 0;
};

// Shapes that route to each conv path (core/kernels/conv.cpp: use_direct, use_winograd); batch 6
// and up, so every kernel splits over 2 threads.
const ConvCase kConvCases[] = {
    {"im2col 5x5", {6, 5, 9, 9}, {7, 5, 5, 5}, 1, 2},
    {"im2col 3x3 stride 2, few images per GEMM", {8, 3, 6, 7}, {4, 3, 3, 3}, 2, 1},
    {"im2col 1x1", {6, 12, 5, 5}, {10, 12, 1, 1}, 1, 0},
    {"im2col float64", {6, 8, 7, 7}, {8, 8, 3, 3}, 1, 1, Dtype::float64},
    {"winograd 3x3", {6, 8, 10, 10}, {8, 8, 3, 3}, 1, 1, Dtype::float32, 1e-5},
    {"winograd 3x3 stride 2", {6, 9, 11, 11}, {8, 9, 3, 3}, 2, 1, Dtype::float32, 1e-5},
    {"direct 2 channels", {6, 2, 10, 20}, {5, 2, 3, 3}, 1, 1},  // AVX-512 machines; im2col elsewhere
};

struct ConvResults {
  Tensor y, gx, gw;
};

struct ConvInputs {
  const ConvCase* c;
  Tensor x, w, b, gy;
  std::int64_t output_padding_h = 0, output_padding_w = 0;

  explicit ConvInputs(const ConvCase& cc) : c(&cc) {
    const TensorOptions opts{.dtype = cc.dtype};
    x = randn(cc.x, opts);
    w = randn(cc.w, opts);
    b = randn({cc.w[0]}, opts);
    NoGradGuard no_grad;
    gy = randn(conv2d(x, w, b, cc.stride, cc.pad).shape(), opts);
    // conv_transpose2d gives back x's size with this output padding.
    const std::int64_t k = cc.w[2];
    output_padding_h = cc.x[2] - ((gy.shape()[2] - 1) * cc.stride - 2 * cc.pad + k);
    output_padding_w = cc.x[3] - ((gy.shape()[3] - 1) * cc.stride - 2 * cc.pad + k);
  }
  ConvResults run() const {
    NoGradGuard no_grad;
    return {conv2d(x, w, b, c->stride, c->pad),
            conv_transpose2d(gy, w, Tensor(), c->stride, c->pad, Int2(output_padding_h, output_padding_w)),
            conv2d_weight_grad(x, gy, w.shape(), c->stride, c->pad)};
  }
  bool same(const ConvResults& got, const ConvResults& want, double tol_all = 0) const {
    return matches(got.y, want.y, tol_all) && matches(got.gx, want.gx, tol_all) &&
           matches(got.gw, want.gw, std::max(tol_all, c->weight_grad_tol));
  }
};

std::vector<ConvInputs> conv_inputs() {
  manual_seed(10);
  std::vector<ConvInputs> all;
  for (const ConvCase& c : kConvCases) all.emplace_back(c);
  return all;
}

}  // namespace

TEST_CASE("concurrent kernels: two threads running conv forward and both gradients get the sequential results") {
  ThreadCountGuard guard;
  set_num_threads(2);
  const std::vector<ConvInputs> inputs = conv_inputs();
  std::vector<ConvResults> reference;
  for (const ConvInputs& in : inputs) reference.push_back(in.run());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::string path = inputs[k].c->path;
    CAPTURE(path);
    CHECK(reference[k].gx.shape() == inputs[k].x.shape());
    CHECK(inputs[k].same(inputs[k].run(), reference[k]));  // sequentially repeatable first
  }
  std::string error;
  std::vector<std::atomic<int>> wrong(inputs.size());
  const int failed = run_concurrently(
      2,
      [&](int) {
        bool ok = true;
        for (std::size_t k = 0; k < inputs.size(); ++k)
          if (!inputs[k].same(inputs[k].run(), reference[k])) {
            ++wrong[k];
            ok = false;
          }
        return ok;
      },
      error);
  CHECK_MESSAGE(failed == 0, error);
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::string path = inputs[k].c->path;
    CAPTURE(path);
    CHECK(wrong[k].load() == 0);
  }
}

TEST_CASE("concurrent kernels: matmul, softmax, losses, pooling and normalization from two threads") {
  ThreadCountGuard guard;
  set_num_threads(2);
  manual_seed(11);
  // Sizes past each kernel's grain, so every one splits over the pool.
  const Tensor a = randn({512, 96}), b = randn({96, 128});  // 3 blocks of rows
  const Tensor logits = randn({4096, 24});
  const Tensor target = randint(0, 24, {4096}, {.dtype = Dtype::int64});
  const Tensor images = randn({8, 16, 32, 32});
  const Tensor mean = zeros({16}), var = ones({16}), gamma = randn({16}), beta = randn({16});
  const Tensor wide = randn({8, 16384}), wide_target = randn({8, 16384});
  auto compute = [&] {
    NoGradGuard no_grad;
    return std::vector<Tensor>{matmul(a, b),
                               log_softmax(logits, 1),
                               cross_entropy(logits, target),
                               cross_entropy(logits, target, Tensor(), -100, Reduction::mean, 0.1),
                               mse_loss(wide, wide_target),
                               max_pool2d(images, 2),
                               avg_pool2d(images, 3, 2, 1),
                               batch_norm(images, mean, var, gamma, beta, /*training=*/false),
                               layer_norm(images, {32, 32})};
  };
  const std::vector<Tensor> reference = compute();
  std::string error;
  const int failed = run_concurrently(
      2,
      [&](int) {
        const std::vector<Tensor> got = compute();
        for (std::size_t k = 0; k < got.size(); ++k)
          if (!equal(got[k], reference[k])) return false;
        return true;
      },
      error);
  CHECK_MESSAGE(failed == 0, error);
}

TEST_CASE("concurrent kernels: set_num_threads called repeatedly while two threads compute") {
  ThreadCountGuard guard;
  const std::vector<ConvInputs> inputs = conv_inputs();
  manual_seed(12);
  const Tensor a = randn({200, 64}), b = randn({64, 96});
  set_num_threads(1);
  std::vector<ConvResults> reference;
  for (const ConvInputs& in : inputs) reference.push_back(in.run());
  const Tensor product = matmul(a, b);
  std::atomic<bool> done{false};
  std::atomic<int> resizes{0};
  std::string resize_error;
  std::thread resizer([&] {
    try {
      for (int t = 0; !done.load(); t = (t + 1) % 3) {
        set_num_threads(t + 1);  // 1, 2, 3, 1, ...
        ++resizes;
      }
    } catch (const std::exception& e) {
      resize_error = e.what();
    }
  });
  std::string error;
  // The split changes with the thread count, and so the summation order of the weight
  // gradients and of the GEMMs' blocks: a tolerance instead of bitwise equality.
  const int failed = run_concurrently(
      2,
      [&](int) {
        bool ok = allclose(matmul(a, b), product, 1e-5, 1e-5);
        for (std::size_t k = 0; k < inputs.size(); ++k) ok = inputs[k].same(inputs[k].run(), reference[k], 1e-5) && ok;
        return ok;
      },
      error);
  done = true;
  resizer.join();
  CHECK_MESSAGE(failed == 0, error);
  CHECK(resize_error.empty());
  CHECK(resizes.load() > 0);
  const int final_threads = get_num_threads();
  CHECK((final_threads >= 1 && final_threads <= 3));
}
