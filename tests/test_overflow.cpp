// Extreme sizes and parameters (issue 10): each raises an xgrad::Error naming the op and the
// offending value, or gives the right answer; nothing wraps, crashes or allocates absurdly.
// Run under ASan + UBSan too (build-sanitize): no report may appear.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>

#include <xgrad/xgrad.h>

using namespace xgrad;

namespace {

constexpr std::int64_t kMax = INT64_MAX;
constexpr std::int64_t kMin = INT64_MIN;

// Runs f, which must raise an xgrad::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, std::initializer_list<std::string> parts) {
  std::string message;
  try {
    f();
  } catch (const Error& e) {
    message = e.what();
  }
  REQUIRE_MESSAGE(!message.empty(), "no xgrad::Error raised");
  if (std::getenv("XGRAD_PRINT_ERRORS")) std::printf("%s\n", message.c_str());  // for reviewing messages
  for (const auto& part : parts) CHECK_MESSAGE(message.find(part) != std::string::npos, message, " lacks ", part);
}

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

// ---- sizes

TEST_CASE("overflow: factories with sizes whose bytes or element counts overflow raise, naming op and size") {
  expect_error([] { zeros({std::int64_t{1} << 61}, {.dtype = float64}); }, {"zeros", str(std::int64_t{1} << 61), "cannot allocate 16 EiB"});
  expect_error([] { empty({kMax}); }, {"empty", str(kMax), "cannot allocate"});
  expect_error([] { zeros({std::int64_t{1} << 32, std::int64_t{1} << 32}); }, {"zeros", "[4294967296, 4294967296]", "too many elements"});
  expect_error([] { ones({std::int64_t{1} << 40}); }, {"ones", str(std::int64_t{1} << 40), "cannot allocate 4 TiB"});
  expect_error([] { linspace(0, 1, std::int64_t{1} << 62); }, {"linspace", str(std::int64_t{1} << 62)});
  expect_error([] { eye(std::int64_t{1} << 40, std::int64_t{1} << 40); }, {"eye", str(std::int64_t{1} << 40), "too many elements"});
  expect_error([] { eye(kMax); }, {"eye", str(kMax)});
  expect_error([] { rand({std::int64_t{1} << 40}); }, {"rand", str(std::int64_t{1} << 40)});
  expect_error([] { randn({3, std::int64_t{1} << 62}); }, {"randn", str(std::int64_t{1} << 62)});
  expect_error([] { uniform({kMax}, 0, 1); }, {"uniform", str(kMax)});
  expect_error([] { randint(0, 10, {std::int64_t{1} << 62}); }, {"randint", str(std::int64_t{1} << 62)});
  expect_error([] { tensor(std::vector<double>{1.0}, Shape{std::int64_t{1} << 32, std::int64_t{1} << 32}); }, {"tensor", "4294967296"});
}

TEST_CASE("overflow: negative sizes are rejected by every factory") {
  expect_error([] { zeros({2, -1}); }, {"zeros", "-1"});
  expect_error([] { empty({-5}); }, {"empty", "-5"});
  expect_error([] { rand({3, -2}); }, {"rand", "-2"});
  expect_error([] { randint(0, 3, {-7}); }, {"randint", "-7"});
  expect_error([] { eye(-3, 2); }, {"eye", "-3"});
  expect_error([] { linspace(0, 1, -4); }, {"linspace", "-4"});
  expect_error([] { full({kMin}, 1.0); }, {"full", str(kMin)});
}

TEST_CASE("overflow: broadcast_to, expand, reshape, broadcasting ops with huge targets raise") {
  expect_error([] { broadcast_to(scalar_tensor(1.0), {kMax}); }, {"broadcast_to", str(kMax)});
  expect_error([] { expand(scalar_tensor(1.0), {std::int64_t{1} << 40, std::int64_t{1} << 40}); }, {"expand", str(std::int64_t{1} << 40)});
  expect_error([] { reshape(zeros({0}), {std::int64_t{1} << 32, std::int64_t{1} << 32, 0}); }, {"reshape", "4294967296"});
  expect_error([] { reshape(zeros({4}), {std::int64_t{1} << 62, 4, std::int64_t{1} << 62}); }, {"reshape", str(std::int64_t{1} << 62)});
  // [2^20, 1] + [1, 2^20] would be a 4 TiB result.
  expect_error([] { add(zeros({std::int64_t{1} << 20, 1}), zeros({1, std::int64_t{1} << 20})); }, {"add", "[1048576, 1048576]", "4 TiB"});
  expect_error([] { matmul(zeros({std::int64_t{1} << 20, 0}), zeros({0, std::int64_t{1} << 20})); }, {"matmul", "[1048576, 1048576]"});
  // Empty operands whose broadcast shape has too many elements (its strides would overflow).
  expect_error([] { mul(zeros({std::int64_t{1} << 40, 1, 0}), zeros({1, std::int64_t{1} << 40, 0})); },
               {"mul", "[1099511627776, 1099511627776, 0]", "too many elements"});
  expect_error([] { mse_loss(zeros({std::int64_t{1} << 40, 1, 0}), zeros({1, std::int64_t{1} << 40, 0})); },
               {"mse_loss", "1099511627776", "too many elements"});
}

TEST_CASE("overflow: the same legal edge cases still work: size-0 dims, 0-d, a million elements") {
  CHECK(zeros({0, 5}).numel() == 0);
  CHECK(zeros({0, std::int64_t{1} << 62}).numel() == 0);
  CHECK(empty({}).numel() == 1);
  CHECK(scalar_tensor(3.0).item<float>() == 3.0f);
  CHECK(sum(ones({1000, 1000})).item<float>() == 1e6f);
  CHECK(sum(zeros({1000000}, {.dtype = float64})).item<double>() == 0.0);
  CHECK(reshape(zeros({0, 3}), {3, 0}).shape() == Shape{3, 0});
  CHECK(reshape(zeros({2, 3, 4}), {4, -1}).shape() == Shape{4, 6});
  CHECK(arange(5).numel() == 5);
  CHECK(arange(0.0, 1.0, 0.25).numel() == 4);
  CHECK(linspace(0, 1, 0).numel() == 0);
  CHECK(eye(3, 0).numel() == 0);
  CHECK(eye(0).numel() == 0);
  CHECK(broadcast_to(scalar_tensor(2.0), {3, 0}).shape() == Shape{3, 0});
  CHECK(matmul(zeros({3, 0}), zeros({0, 2})).shape() == Shape{3, 2});
  CHECK(cat({zeros({0, 2}), ones({3, 2})}, 0).shape() == Shape{3, 2});
}

TEST_CASE("overflow: arange counts its elements without overflow") {
  expect_error([] { arange(-1e308, 1e308, 1e-300); }, {"arange", "too many elements"});
  expect_error([] { arange(0.0, 1e300, 1.0); }, {"arange", "too many elements"});
  expect_error([] { arange(0.0, 1e18, 1.0); }, {"arange", "cannot allocate"});
  expect_error([] { arange(0.0, NAN, 1.0); }, {"arange", "nan"});
  expect_error([] { arange(0.0, INFINITY, 1.0); }, {"arange", "inf"});
  expect_error([] { arange(0.0, 1.0, 0.0); }, {"arange", "step=0"});
  expect_error([] { arange(0.0, 1.0, -1.0); }, {"arange", "step -1"});
}

// ---- parameters

TEST_CASE("overflow: conv with extreme dilation, stride, padding or kernel raises or is right") {
  const Tensor x = arange(10.0).reshape({1, 1, 10});
  const Tensor w = ones({1, 1, 2});
  // Used to return a [1, 1, 11] tensor: the dilated kernel D(K-1)+1 wrapped.
  expect_error([&] { conv1d(x, w, Tensor(), 1, 0, kMax); }, {"conv1d", str(kMax), "larger than the padded input"});
  expect_error([&] { conv1d(x, w, Tensor(), 1, 0, std::int64_t{1} << 62); }, {"conv1d", str(std::int64_t{1} << 62)});
  expect_error([&] { conv2d(zeros({1, 1, 4, 4}), ones({1, 1, 2, 2}), Tensor(), 1, 0, Int2(kMax, 1)); },
               {"conv2d", str(kMax)});
  // Padding so large the output size leaves int64 (or memory).
  expect_error([&] { conv1d(x, w, Tensor(), 1, kMax); }, {"conv1d", str(kMax)});
  expect_error([&] { conv1d(x, w, Tensor(), 1, std::int64_t{1} << 40); }, {"conv1d", "cannot allocate"});
  // Stride 2^32 + 1 used to size 16 GiB of stride phase planes for a 10-element input; one output
  // reads one window, whatever the stride.
  const Tensor y = conv1d(x, w, Tensor(), (std::int64_t{1} << 32) + 1);
  CHECK(y.shape() == Shape{1, 1, 1});
  CHECK(y.item<float>() == 1.0f);  // 0 + 1
  CHECK(conv1d(x, w, Tensor(), kMax).item<float>() == 1.0f);
  // Huge stride and padding together: 3 outputs, but the phase planes would be 4 TiB.
  expect_error([&] { conv1d(x, w, Tensor(), std::int64_t{1} << 40, std::int64_t{1} << 40); }, {"conv1d", str(std::int64_t{1} << 40), "scratch"});
  // A huge but legal (mostly padding) 1x1 conv: each output is one input value or 0.
  const Tensor z = conv1d(x + 1.0, ones({1, 1, 1}), Tensor(), std::int64_t{1} << 20, std::int64_t{1} << 20);
  CHECK(z.shape() == Shape{1, 1, 3});
  CHECK(z.to_vector<float>() == std::vector<float>{0, 1, 0});
  // Transposed: the output size (W-1)S - 2P + D(K-1) + 1 leaves int64 or memory.
  expect_error([&] { conv_transpose1d(x, w, Tensor(), kMax); }, {"conv_transpose1d", str(kMax)});
  expect_error([&] { conv_transpose1d(x, w, Tensor(), 1, 0, 0, 1, kMax); }, {"conv_transpose1d", str(kMax)});
  expect_error([&] { conv_transpose1d(x, w, Tensor(), std::int64_t{1} << 40); }, {"conv_transpose1d", "cannot allocate"});
  expect_error([&] { conv1d(x, w, Tensor(), 1, 0, 1, kMax); }, {"conv1d", str(kMax)});  // groups
  expect_error([&] { conv1d(x, w, Tensor(), 0); }, {"conv1d", "stride", "0"});
  expect_error([&] { conv1d(x, w, Tensor(), 1, kMin); }, {"conv1d", "padding", str(kMin)});
}

TEST_CASE("overflow: pooling with extreme kernel, stride, padding or dilation raises or is right") {
  const Tensor x = arange(10.0).reshape({1, 1, 10});
  // Kernel 2^31 with padding 2^30 is legal (padding <= kernel / 2): one window covering the input.
  // It used to allocate 32 GiB of per-tap tables and loop over 2^31 taps.
  const Tensor a = avg_pool1d(x, std::int64_t{1} << 31, std::nullopt, std::int64_t{1} << 30, false, false);
  CHECK(a.shape() == Shape{1, 1, 1});
  CHECK(a.item<float>() == doctest::Approx(4.5));
  const Tensor a_pad = avg_pool1d(x, std::int64_t{1} << 31, std::nullopt, std::int64_t{1} << 30);  // the divisor counts the padding
  CHECK(a_pad.item<double>() == doctest::Approx(45.0 / static_cast<double>(std::int64_t{1} << 31)));
  CHECK(max_pool1d(x, std::int64_t{1} << 31, std::nullopt, std::int64_t{1} << 30).item<float>() == 9.0f);
  CHECK(max_pool1d(x, std::int64_t{1} << 31, 1, std::int64_t{1} << 30).shape() == Shape{1, 1, 11});
  expect_error([&] { avg_pool1d(x, std::int64_t{1} << 31); }, {"avg_pool1d", str(std::int64_t{1} << 31)});
  expect_error([&] { avg_pool1d(x, std::int64_t{1} << 31, std::int64_t{1} << 30, std::int64_t{1} << 30, true); }, {"avg_pool1d", str(std::int64_t{1} << 31), "padding"});
  expect_error([&] { max_pool1d(x, 2, std::nullopt, 0, kMax); }, {"max_pool1d", str(kMax)});
  expect_error([&] { max_pool1d(x, kMax, std::nullopt, kMax / 2); }, {"max_pool1d", str(kMax / 2), "too large"});
  expect_error([&] { max_pool2d(zeros({1, 4, 4}), Int2(2, 2), Int2(kMax, kMax), Int2(0, 0), Int2(kMax, 1)); },
               {"max_pool2d", str(kMax)});
  // A stride far beyond the input gives one window.
  CHECK(max_pool1d(x, 3, kMax).item<float>() == 2.0f);
  CHECK(avg_pool1d(x, 2, kMax).item<float>() == 0.5f);
  expect_error([&] { adaptive_avg_pool1d(x, std::int64_t{1} << 62); }, {"adaptive_avg_pool1d", str(std::int64_t{1} << 62)});
  expect_error([&] { adaptive_avg_pool1d(x, kMax); }, {"adaptive_avg_pool1d", str(kMax)});
  // Kernel 1 makes any dilation legal: rows 0 and 2 of a 4-row plane, with their flat indices.
  // The tap loop stepped past INT64_MAX and wrapped to negative rows (found by the fuzz test).
  for (const Dtype d : {Dtype::float32, Dtype::float64}) {
    const Tensor plane = arange(28.0, {.dtype = d}).reshape({1, 1, 4, 7});
    const auto [y, indices] = max_pool2d_with_indices(plane, Int2(1, 1), Int2(2, 1), Int2(0, 0), Int2(kMax, 1));
    const Tensor expected = cat({slice(plane, 2, 0, 1), slice(plane, 2, 2, 3)}, 2);
    CHECK(y.to_vector<double>() == expected.to_vector<double>());
    CHECK(indices.to_vector<std::int64_t>() == expected.to_vector<std::int64_t>());
  }
}

TEST_CASE("overflow: chunk, split, slice, narrow, pad, cat, stack with extreme values") {
  const Tensor x = arange(5.0);
  // chunk(x, INT64_MAX) looped until out of memory: PyTorch gives 5 chunks of 1.
  const TensorList c = chunk(x, kMax);
  CHECK(c.size() == 5);
  expect_error([] { chunk(zeros({0}), kMax); }, {"chunk", str(kMax), "pieces"});
  expect_error([] { chunk(zeros({0, std::int64_t{1} << 50}), kMax, 1); }, {"chunk", str(std::int64_t{1} << 50), "pieces"});
  CHECK(split(x, kMax).size() == 1);
  expect_error([] { split(zeros({0, std::int64_t{1} << 50}), 1, 1); }, {"split", str(std::int64_t{1} << 50), "pieces"});
  expect_error([&] { split(x, std::vector<std::int64_t>{kMax, kMax, 2}); }, {"split", str(kMax)});
  const Tensor s = slice(x, 0, 1, std::nullopt, kMax);
  CHECK(s.to_vector<float>() == std::vector<float>{1});
  CHECK(slice(x, 0, kMin, kMax, kMax).to_vector<float>() == std::vector<float>{0});
  expect_error([&] { narrow(x, 0, 1, kMax); }, {"narrow", str(kMax)});
  expect_error([&] { pad(x, {kMax, kMax}); }, {"pad", str(kMax)});
  expect_error([&] { pad(x, {kMin, kMin}); }, {"pad", str(kMin)});
  expect_error([&] { pad(x, {std::int64_t{1} << 40, 0}); }, {"pad", "cannot allocate"});
  const Tensor wide = zeros({0, std::int64_t{1} << 62});
  expect_error([&] { cat({wide, wide}, 1); }, {"cat", str(std::int64_t{1} << 62)});
  expect_error([&] { stack({wide, wide}); }, {"stack", str(std::int64_t{1} << 62)});
  CHECK(cat({wide, wide}, 0).shape() == Shape{0, std::int64_t{1} << 62});
  // Negative padding crops; INT64_MIN would have no negation for the gradient (fuzz finding).
  expect_error([] { pad(zeros({2, 7}), {kMax - 1, kMin}); }, {"pad", str(kMin), "out of range"});
  const Tensor seven = arange(7.0, {.requires_grad = true});
  const Tensor cropped = pad(seven, {-2, -3});
  CHECK(cropped.to_vector<double>() == std::vector<double>{2, 3});
  cropped.sum().backward();
  CHECK(seven.grad().to_vector<double>() == std::vector<double>{0, 0, 1, 1, 0, 0, 0});
}

TEST_CASE("overflow: var and std with an extreme correction divide by max(0, N - correction) exactly") {
  const Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, {.dtype = float64});
  // Sum of squared deviations 5; N - correction = 4 + 2^63.
  CHECK(var(x, {0}, kMin).item<double>() == doctest::Approx(5.0 / (4.0 + 9223372036854775808.0)));
  CHECK(std::isinf(var(x, {0}, kMax).item<double>()));
  auto v = x.detach().requires_grad_(true);
  var(v, {0}, kMin).backward();
  CHECK(std::isfinite(v.grad().to_vector<double>()[0]));
}

TEST_CASE("overflow: randint draws exact integers from low to high - 1, even near the int64 limits") {
  manual_seed(7);
  const std::int64_t low = (std::int64_t{1} << 62) - 5, high = (std::int64_t{1} << 62) + 3;
  const auto near = randint(low, high, {2000}, {.dtype = int64}).to_vector<std::int64_t>();
  bool seen_low = false, seen_top = false;
  for (auto v : near) {
    REQUIRE(v >= low);
    REQUIRE(v < high);
    seen_low |= v == low;
    seen_top |= v == high - 1;
  }
  CHECK(seen_low);
  CHECK(seen_top);
  const auto full_range = randint(kMin, kMax, {1000}, {.dtype = int64}).to_vector<std::int64_t>();
  for (auto v : full_range) REQUIRE(v < kMax);
  const auto top = randint(kMax - 1, kMax, {10}, {.dtype = int64}).to_vector<std::int64_t>();
  for (auto v : top) CHECK(v == kMax - 1);
  expect_error([] { randint(5, 5, {2}); }, {"randint", "low=5", "high=5"});
  expect_error([] { randint(kMax, kMin, {2}); }, {"randint", str(kMax)});
}

// ---- memory

namespace {
long resident_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  return -1;
}
}  // namespace

TEST_CASE("overflow: when a graph of a million ops dies, its memory goes back to the system") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  MESSAGE("skipped: the sanitizer's allocator keeps freed memory in quarantine");
#else
  empty_cache();
  const long before = resident_mb();
  long built = 0;
  {
    Tensor x = scalar_tensor(1.0, {.requires_grad = true});
    const Tensor one = scalar_tensor(1.0);
    Tensor y = x;
    for (int i = 0; i < 1'000'000; ++i) y = (i % 2) ? y * one : y + one;
    built = resident_mb();
    y.backward();
    CHECK(x.grad().item<float>() == 1.0f);
  }  // the graph dies here, with no call to empty_cache()
  const long after = resident_mb();
  CAPTURE(before);
  CAPTURE(built);
  CAPTURE(after);
  REQUIRE(before > 0);
  CHECK(built - before > 300);        // the graph held hundreds of MB (754 MB measured)
  CHECK(after - before < (built - before) / 10);  // and nearly all of it was returned
#endif
}

TEST_CASE("overflow: the caching allocator is bounded after a long graph dies, and empty_cache empties it") {
  empty_cache();
  {
    // 200,000 ops on 32-float tensors (128-byte buffers, above the inline size): every output and
    // saved tensor of the chain is alive until the graph dies.
    Tensor x = ones({32}, {.requires_grad = true});
    Tensor y = x;
    for (int i = 0; i < 200000; ++i) y = i % 2 == 0 ? y * 1.0001 : y + 0.5;
    sum(y).backward();
    CHECK(x.grad().numel() == 32);
  }
  // About 50 MB went through 128-byte buffers: the cache keeps at most 4 MiB of one small size.
  CHECK(cached_bytes() <= (std::size_t{8} << 20));
  CHECK(cached_bytes() <= cache_limit());
  empty_cache();
  CHECK(cached_bytes() == 0);

  // A lower limit trims at once and bounds what gets cached; 0 turns caching off.
  const std::size_t old_limit = cache_limit();
  { Tensor big = zeros({1 << 20}); }  // 4 MiB, cached on free (unless ASan turns caching off)
  set_cache_limit(1 << 20);
  CHECK(cached_bytes() <= (std::size_t{1} << 20));
  { Tensor big = zeros({1 << 20}); }
  CHECK(cached_bytes() <= (std::size_t{1} << 20));
  set_cache_limit(0);
  CHECK(cached_bytes() == 0);
  set_cache_limit(old_limit);
  CHECK(cache_limit() == old_limit);
}
