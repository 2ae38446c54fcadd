// Tensor::index / index_put_ / x[mask]: PyTorch's basic and advanced indexing rules (values and
// result shapes as torch gives them for x = torch.arange(24).reshape(2, 3, 4)), gradients, and the
// in-place rules of index_put_.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <string>
#include <type_traits>
#include <vector>

#include "test_util.h"

using namespace xgrad;
using namespace xgrad::indexing;

namespace {
using test::error_of;
using V = std::vector<double>;
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
Tensor ids(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return tensor(std::move(v), {n});
}
Tensor x24() { return arange(24).reshape({2, 3, 4}); }
V range(int lo, int hi, int step = 1) {
  V v;
  for (int i = lo; i < hi; i += step) v.push_back(i);
  return v;
}
}  // namespace

TEST_CASE("index: integers, slices, None and Ellipsis give PyTorch's shapes and values") {
  const Tensor x = x24();
  CHECK(x.index({1}).shape() == Shape{3, 4});
  CHECK(values(x.index({1})) == range(12, 24));
  CHECK(values(x.index({Slice(), 1})) == V{4, 5, 6, 7, 16, 17, 18, 19});  // x[:, 1]
  CHECK(values(x.index({-1, Slice(1, None), Slice(None, None, 2)})) == V{16, 18, 20, 22});  // x[-1, 1:, ::2]
  CHECK(x.index({-1, Slice(1, None), Slice(None, None, 2)}).shape() == Shape{2, 2});
  CHECK(values(x.index({Ellipsis, 0})) == V{0, 4, 8, 12, 16, 20});  // x[..., 0]
  CHECK(x.index({Ellipsis, 0}).shape() == Shape{2, 3});
  CHECK(x.index({None, 0, Ellipsis}).shape() == Shape{1, 3, 4});  // x[None, 0, ...]
  CHECK(x.index({0, None, Slice(-2, None)}).shape() == Shape{1, 2, 4});  // x[0, None, -2:]
  CHECK(values(x.index({0, None, Slice(-2, None)})) == range(4, 12));
  CHECK(x.index({Slice(), None, Slice(), None}).shape() == Shape{2, 1, 3, 1, 4});
  CHECK(values(x.index({1, 2, 3})) == V{23});
  CHECK(x.index({1, 2, 3}).dim() == 0);
  CHECK(x.index({Slice(5, 10)}).shape() == Shape{0, 3, 4});  // out-of-range bounds clamp
  CHECK(values(x.index({0, 0, Slice(1, -1)})) == V{1, 2});
  CHECK(x.index({}).shape() == Shape{2, 3, 4});
  CHECK(values(x[1].index({Ellipsis, Slice(3, None)})) == V{15, 19, 23});
}

TEST_CASE("index: one int64 index tensor gathers along its dim, its shape replacing the dim") {
  const Tensor x = x24();
  CHECK(values(x.index({ids({1, 0}), 0, 0})) == V{12, 0});
  const Tensor y = x.index({Slice(), ids({2, 0, -1})});  // x[:, [2, 0, -1]]
  CHECK(y.shape() == Shape{2, 3, 4});
  CHECK(values(y.index({0, Slice(), 0})) == V{8, 0, 8});
  // A 2-D index: x[:, :, [[0, 1], [3, 3]]] has shape [2, 3, 2, 2].
  const Tensor two_d = tensor(std::vector<std::int64_t>{0, 1, 3, 3}, {2, 2});
  const Tensor z = x.index({Slice(), Slice(), two_d});
  CHECK(z.shape() == Shape{2, 3, 2, 2});
  CHECK(values(z.index({1, 2})) == V{20, 21, 23, 23});
  // A 0-d index tensor removes the dim, as an integer does.
  CHECK(x.index({scalar_tensor(1, {.dtype = int64})}).shape() == Shape{3, 4});
  // An empty index gives an empty dim.
  CHECK(x.index({Slice(), ids({})}).shape() == Shape{2, 0, 4});
}

TEST_CASE("index: several index tensors broadcast, and their dims go where PyTorch puts them") {
  const Tensor x = x24();
  // Leading and adjacent: x[[0, 1], [2, 0]] -> [2, 4] (rows x[0, 2] and x[1, 0]).
  Tensor y = x.index({ids({0, 1}), ids({2, 0})});
  CHECK(y.shape() == Shape{2, 4});
  CHECK(values(y) == V{8, 9, 10, 11, 12, 13, 14, 15});
  // Adjacent after a slice: x[:, [0, 2], [1, 3]] -> [2, 2], in place of dims 1 and 2.
  y = x.index({Slice(), ids({0, 2}), ids({1, 3})});
  CHECK(y.shape() == Shape{2, 2});
  CHECK(values(y) == V{1, 11, 13, 23});
  // Separated by a slice: x[[0, 1], :, [3, 0]] -> the index dims first: [2, 3].
  y = x.index({ids({0, 1}), Slice(), ids({3, 0})});
  CHECK(y.shape() == Shape{2, 3});
  CHECK(values(y) == V{3, 7, 11, 12, 16, 20});
  // Broadcasting [2, 1] with [2]: x[[[0], [1]], [0, 2]] -> [2, 2, 4].
  const Tensor col = tensor(std::vector<std::int64_t>{0, 1}, {2, 1});
  y = x.index({col, ids({0, 2})});
  CHECK(y.shape() == Shape{2, 2, 4});
  CHECK(values(y.index({Ellipsis, 0})) == V{0, 8, 12, 20});
  // Adjacent in the middle with a broadcast result: x[:, [[0], [2]], [1, 3]] -> [2, 2, 2].
  y = x.index({Slice(), tensor(std::vector<std::int64_t>{0, 2}, {2, 1}), ids({1, 3})});
  CHECK(y.shape() == Shape{2, 2, 2});
  CHECK(values(y) == V{1, 3, 9, 11, 13, 15, 21, 23});
  // An integer counts as an index separated by a slice? No: integers are basic indexing (x[0, :, [1, 2]]
  // is x[0][:, [1, 2]] -> [3, 2]).
  y = x.index({0, Slice(), ids({1, 2})});
  CHECK(y.shape() == Shape{3, 2});
  CHECK(values(y) == V{1, 2, 5, 6, 9, 10});
  // None before the index tensors keeps its new dim in front: x[None, [1]] -> [1, 1, 3, 4].
  CHECK(x.index({None, ids({1})}).shape() == Shape{1, 1, 3, 4});
}

TEST_CASE("index: bool masks select their true positions, x[mask] and x.index({x > 0})") {
  const Tensor x = tensor({{1.0, -2.0, 3.0}, {-4.0, 5.0, -6.0}});
  CHECK(values(x[x > 0.0]) == V{1, 3, 5});
  CHECK(values(x.index({x > 0.0})) == V{1, 3, 5});
  CHECK(x.index({x > 10.0}).shape() == Shape{0});
  // A mask over the first dim keeps whole rows: x[[True, False]] -> [1, 3].
  const Tensor rows = tensor({1.0, 0.0}, {.dtype = boolean});
  CHECK(x.index({rows}).shape() == Shape{1, 3});
  CHECK(values(x.index({rows})) == V{1, -2, 3});
  // A mask over dim 1 after a slice: x[:, [False, True, True]] -> [2, 2].
  const Tensor cols = tensor({0.0, 1.0, 1.0}, {.dtype = boolean});
  CHECK(values(x.index({Slice(), cols})) == V{-2, 3, 5, -6});
  // A mask combined with an index tensor: x[[1, 0], [False, True, True]] pairs (1, 1) and (0, 2).
  CHECK(values(x.index({ids({1, 0}), cols})) == V{5, 3});
  // ... and broadcast with it: x[[1, 0], [True, False, False]] pairs (1, 0) and (0, 0).
  CHECK(values(x.index({ids({1, 0}), cols.logical_not()})) == V{-4, 1});
  // A 0-d mask adds a dim of size 1 (true) or 0 (false): x[True].shape == [1, 2, 3].
  CHECK(x.index({scalar_tensor(1, {.dtype = boolean})}).shape() == Shape{1, 2, 3});
  CHECK(x.index({scalar_tensor(0, {.dtype = boolean})}).shape() == Shape{0, 2, 3});
  // Masks over several dims, with other indices around them (x = arange(24).reshape(2, 3, 4)).
  const Tensor a = x24();
  const Tensor rows_over_10 = a.index({Ellipsis, 0}) > 10.0;  // [[F, F, F], [T, T, T]]
  CHECK(a.index({rows_over_10}).shape() == Shape{3, 4});
  CHECK(values(a.index({rows_over_10, Slice(1, 3)})) == V{13, 14, 17, 18, 21, 22});
  const Tensor corners = tensor({{0.0, 1.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 1.0}}, {.dtype = boolean});
  CHECK(values(a.index({ids({1}), corners})) == V{13, 23});  // [1] broadcasts with the 2 true positions
  CHECK(values(a.index({Slice(), corners})) == V{1, 11, 13, 23});
  const Tensor ends = tensor({1.0, 0.0, 0.0, 1.0}, {.dtype = boolean});
  CHECK(a.index({Ellipsis, ends}).shape() == Shape{2, 3, 2});
  CHECK(values(a.index({Ellipsis, ends})) == V{0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23});
  auto f = [corners](const TensorList& in) -> Tensor { return in[0].index({Slice(), corners}).pow(3.0).sum(); };
  auto z = randn({2, 3, 4}, {.dtype = float64, .requires_grad = true});
  CHECK(gradcheck(f, {z}));
  CHECK(gradgradcheck(f, {z}));
  // Masks of bool tensors themselves.
  const Tensor m = x > 0.0;
  CHECK(m[m].to_vector<bool>() == std::vector<bool>{true, true, true});
}

TEST_CASE("index: gradients flow back to the indexed elements, repeated indices add up") {
  auto x = tensor({{1.0, 2.0, 3.0, 4.0}, {5.0, 6.0, 7.0, 8.0}, {9.0, 10.0, 11.0, 12.0}},
                  {.dtype = float64, .requires_grad = true});
  Tensor y = x.index({ids({0, 2, 0}), Slice(1, 3)});
  CHECK(y.shape() == Shape{3, 2});
  CHECK(values(y) == V{2, 3, 10, 11, 2, 3});
  y.sum().backward();
  CHECK(values(x.grad()) == V{0, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 0});
  x.zero_grad();
  (x[x.detach() > 10.0] * 3.0).sum().backward();
  CHECK(values(x.grad()) == V{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3});
  // gradcheck and gradgradcheck of a mixed index (basic and advanced, non-adjacent).
  auto f = [](const TensorList& in) -> Tensor {
    return in[0].index({ids({2, 0}), Slice(), ids({1, -1})}).pow(2.0).sum();
  };
  auto z = randn({3, 2, 4}, {.dtype = float64, .requires_grad = true});
  CHECK(gradcheck(f, {z}));
  CHECK(gradgradcheck(f, {z}));
}

TEST_CASE("index: index_put_ writes, broadcasts, accumulates, and keeps the last of repeated positions") {
  Tensor a = zeros({5});
  const auto v0 = a.version();
  a.index_put_({ids({0, 2, 0})}, tensor({1.0, 2.0, 3.0}));
  CHECK(values(a) == V{3, 0, 2, 0, 0});  // the last write to position 0 wins
  CHECK(a.version() > v0);
  a.index_put_({ids({0, 2, 0})}, tensor({1.0, 2.0, 3.0}), true);
  CHECK(values(a) == V{7, 0, 4, 0, 0});  // accumulate: 3 + 1 + 3, 2 + 2
  // x[x > 0] = -1
  Tensor b = tensor({{1.0, -2.0}, {3.0, -4.0}});
  b.index_put_({b > 0.0}, -1.0);
  CHECK(values(b) == V{-1, -2, -1, -4});
  // A row of values broadcast down a column: m[:, 1] = [7, 8].
  Tensor m = zeros({2, 3});
  m.index_put_({Slice(), 1}, tensor({7.0, 8.0}));
  CHECK(values(m) == V{0, 7, 0, 0, 8, 0});
  // A 0-d value over a slice, values converted to self's dtype (int64 truncates).
  Tensor i = zeros({2, 3}, {.dtype = int64});
  i.index_put_({Ellipsis, Slice(1, None)}, 2.9);
  CHECK(values(i) == V{0, 2, 2, 0, 2, 2});
  i.index_put_({ids({1}), ids({0})}, scalar_tensor(5, {.dtype = int64}), true);
  CHECK(values(i) == V{0, 2, 2, 5, 2, 2});
  // Into a bool mask.
  Tensor flags = zeros({3}, {.dtype = boolean});
  flags.index_put_({ids({2})}, 1.0);
  CHECK(flags.to_vector<bool>() == std::vector<bool>{false, false, true});
  // Values read from self itself: x[[2, 0, 1]] = x permutes (they are copied before the writes).
  Tensor p = tensor({1.0, 2.0, 3.0});
  p.index_put_({ids({2, 0, 1})}, p);
  CHECK(values(p) == V{2, 3, 1});
  // index() makes a new tensor, not a view (xgrad tensors are contiguous): writes go through index_put_.
  Tensor r = p.index({ids({0})});
  r.fill_(0.0);
  CHECK(values(p) == V{2, 3, 1});
  static_assert(!std::is_constructible_v<TensorIndex, bool>, "x.index({true}) must not read index 1");
  // Advanced indices with a broadcast: m[[[0], [1]], [0, 2]] = 9 writes four elements.
  Tensor n = zeros({2, 3});
  n.index_put_({tensor(std::vector<std::int64_t>{0, 1}, {2, 1}), ids({0, 2})}, 9.0);
  CHECK(values(n) == V{9, 0, 9, 9, 0, 9});
}

TEST_CASE("index: index_put_ follows the in-place rules and differentiates into self and values") {
  auto x = tensor({1.0, 2.0, 3.0, 4.0}, {.dtype = float64, .requires_grad = true});
  auto v = tensor({10.0, 20.0}, {.dtype = float64, .requires_grad = true});
  CHECK(error_of([&] { x.index_put_({ids({0})}, 0.0); }).find("index_put_: a leaf Variable that requires grad") !=
        std::string::npos);
  {
    NoGradGuard no_grad;
    Tensor y = x.detach().clone();
    y.index_put_({ids({0})}, 0.0);  // allowed without grad mode
    CHECK(values(y) == V{0, 2, 3, 4});
  }
  Tensor y = x * 1.0;
  y.index_put_({ids({3, 1})}, v);
  CHECK(values(y) == V{1, 20, 3, 10});
  CHECK(y.grad_fn_name() == "index_put_");
  const Tensor w = tensor({1.0, 2.0, 3.0, 4.0}, {.dtype = float64});
  (y * w).sum().backward();
  CHECK(values(x.grad()) == V{1, 0, 3, 0});  // the overwritten positions get nothing
  CHECK(values(v.grad()) == V{4, 2});
  // accumulate: self's gradient passes whole; a broadcast 0-d value sums its positions' gradients.
  x.zero_grad();
  auto s = scalar_tensor(5.0, {.dtype = float64, .requires_grad = true});
  Tensor z = x * 1.0;
  z.index_put_({ids({0, 0, 2})}, s, true);
  CHECK(values(z) == V{11, 2, 8, 4});
  (z * w).sum().backward();
  CHECK(values(x.grad()) == V{1, 2, 3, 4});
  CHECK(s.grad().item<double>() == 1.0 + 1.0 + 3.0);
  // A graph that saved the old value refuses to backward after the write.
  auto p = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  Tensor q = p * 1.0;
  Tensor e = q.exp();  // saves its output... and q is saved by nobody; save q through mul
  Tensor r = q * q;
  q.index_put_({ids({0})}, 0.0);
  CHECK(error_of([&] { r.sum().backward(); }).find("modified") != std::string::npos);
  (void)e;
}

TEST_CASE("index: errors name the op, the index and the sizes") {
  const Tensor x = x24();
  auto has = [](const std::string& msg, const std::string& text) {
    INFO(msg);
    CHECK(msg.find(text) != std::string::npos);
  };
  has(error_of([&] { (void)x.index({2}); }), "index: index 2 is out of range for dim 0 of size 2");
  has(error_of([&] { (void)x.index({0, 0, 0, 0}); }), "index: too many indices for a tensor of shape [2, 3, 4]");
  has(error_of([&] { (void)x.index({Ellipsis, Ellipsis}); }), "index: an index can only have a single Ellipsis");
  has(error_of([&] { (void)x.index({Slice(None, None, -1)}); }), "index: slice step must be positive, got -1");
  has(error_of([&] { (void)x.index({tensor({0.0})}); }), "index: tensors used as indices must be int64 or bool, got float32");
  has(error_of([&] { (void)x.index({Slice(), ids({3})}); }), "index: index 3 is out of bounds for dim 1 with size 3");
  has(error_of([&] { (void)x.index({ids({0, 1}), ids({0, 1, 2})}); }), "index");
  has(error_of([&] { (void)x.index({ones({3}, {.dtype = boolean})}); }), "index: the mask of shape [3] does not match");
  has(error_of([&] { (void)x[ones({2, 4}, {.dtype = boolean})]; }), "index: the mask of shape [2, 4] does not match");
  Tensor y = zeros({3});
  has(error_of([&] { y.index_put_({ids({0, 1})}, tensor({1.0, 2.0, 3.0})); }),
      "index_put_: shapes [3] and [2] do not broadcast");
  has(error_of([&] { y.index_put_({ids({0, 1})}, zeros({2, 2})); }),
      "index_put_: values of shape [2, 2] do not broadcast to the indexed shape [2]");
  has(error_of([&] { y.index_put_({5}, 1.0); }), "index_put_: index 5 is out of range");
  Tensor flags = zeros({2}, {.dtype = boolean});
  has(error_of([&] { flags.index_put_({0}, 1.0, true); }), "index_put_: accumulate=true on a bool tensor");
  has(error_of([&] { (void)Tensor().index({0}); }), "index: argument 'self' is an undefined tensor");
}
