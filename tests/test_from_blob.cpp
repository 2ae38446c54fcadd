// from_blob: a zero-copy tensor over the caller's memory. Aliasing both ways, the deleter's timing,
// the caching allocator leaving the buffer alone, ops and gradients on it, and its errors.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "test_util.h"

using namespace xgrad;

namespace {
using test::error_of;
using V = std::vector<double>;
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("from_blob: the tensor aliases the caller's buffer both ways") {
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  Tensor t = from_blob(buf.data(), {2, 3});
  CHECK(t.dtype() == float32);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.data<float>() == buf.data());  // no copy
  CHECK(values(t) == V{1, 2, 3, 4, 5, 6});
  buf[4] = 50;  // the caller writes, the tensor sees it
  CHECK(t.at<float>({1, 1}) == 50);
  t.mul_(2.0);  // the tensor writes, the caller sees it
  CHECK(buf == std::vector<float>{2, 4, 6, 8, 100, 12});
  t.index_put_({1, 0}, -1.0);
  CHECK(buf[3] == -1);
  // Views share it too.
  t.reshape({6}).fill_(0.5);
  CHECK(buf == std::vector<float>(6, 0.5f));
  std::vector<std::int64_t> ints = {7, 8};
  CHECK(from_blob(ints.data(), {2}, {.dtype = int64}).sum().item<std::int64_t>() == 15);
  CHECK(empty({4}, {.dtype = boolean}).to_vector<bool>() == std::vector<bool>(4, false));  // never garbage bytes
  bool flags[3] = {true, false, true};
  CHECK(from_blob(flags, {3}, {.dtype = boolean}).sum().item<std::int64_t>() == 2);
}

TEST_CASE("from_blob: the deleter runs once, when the last tensor using the buffer dies") {
  int calls = 0;
  void* seen = nullptr;
  auto* data = new double[4]{1, 2, 3, 4};
  auto deleter = [&](void* p) {
    ++calls;
    seen = p;
    delete[] static_cast<double*>(p);
  };
  Tensor view;
  {
    Tensor t = from_blob(data, {2, 2}, {.dtype = float64}, deleter);
    view = t.reshape({4});  // shares the buffer
    Tensor d = t.detach();
    CHECK(values(d) == V{1, 2, 3, 4});
  }
  CHECK(calls == 0);  // the view still uses it
  CHECK(values(view) == V{1, 2, 3, 4});
  view = Tensor();
  CHECK(calls == 1);
  CHECK(seen == data);
  // Without a deleter nothing is freed: the memory stays the caller's.
  std::vector<double> keep(3, 1.0);
  { Tensor t = from_blob(keep.data(), {3}, {.dtype = float64}); }
  CHECK(keep == std::vector<double>(3, 1.0));
}

TEST_CASE("from_blob: the caching allocator never keeps or hands out the caller's buffer") {
  empty_cache();
  const std::size_t before = cached_bytes();
  // 1 MiB: a size the cache would keep were it its own buffer.
  std::vector<float> big(1 << 18, 1.0f);
  { Tensor t = from_blob(big.data(), {1 << 18}); }
  CHECK(cached_bytes() == before);
  // A fresh tensor of the same size never lands on the caller's memory.
  Tensor fresh = zeros({1 << 18});
  CHECK(fresh.data<float>() != big.data());
  CHECK(big[0] == 1.0f);
}

TEST_CASE("from_blob: ops and gradients work on it as on any tensor") {
  std::vector<double> buf = {1, 2, 3};
  Tensor x = from_blob(buf.data(), {3}, {.dtype = float64, .requires_grad = true});
  CHECK(x.requires_grad());
  CHECK(x.is_leaf());
  Tensor y = (x * x).sum();
  CHECK(y.item<double>() == 14);
  y.backward();
  CHECK(values(x.grad()) == V{2, 4, 6});
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 0, 0, 1};
  CHECK(values(matmul(from_blob(a.data(), {2, 2}), from_blob(b.data(), {2, 2}))) == V{1, 2, 3, 4});
  // A 0-element tensor needs no memory at all.
  CHECK(from_blob(nullptr, {0, 3}).numel() == 0);
}

TEST_CASE("from_blob: errors name from_blob and what was wrong") {
  std::vector<double> buf(4);
  auto has = [](const std::string& msg, const std::string& text) {
    INFO(msg);
    CHECK(msg.find(text) != std::string::npos);
  };
  has(error_of([&] { (void)from_blob(nullptr, {2}); }), "from_blob: data is a null pointer");
  has(error_of([&] { (void)from_blob(reinterpret_cast<char*>(buf.data()) + 1, {2}); }),
      "from_blob: data 0x");  // not aligned for float32
  has(error_of([&] { (void)from_blob(buf.data(), {-1}); }), "from_blob");
  has(error_of([&] { (void)from_blob(buf.data(), {2}, {.dtype = int64, .requires_grad = true}); }),
      "from_blob: requires_grad=true needs a floating dtype");
}
