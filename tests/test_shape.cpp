// Shape, indexing and joining ops: values against PyTorch semantics, hand-computed gradients,
// error messages, and a numerical check of every registry sample of these families.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using V = std::vector<double>;
using L = std::vector<std::int64_t>;

Tensor f64(const V& v, const Shape& s, bool grad = false) {
  return tensor(v, s, {.dtype = Dtype::float64, .requires_grad = grad});
}
Tensor range64(std::int64_t n, const Shape& s, bool grad = false) {
  V v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<double>(i);
  return f64(v, s, grad);
}
Tensor idx(const L& v, const Shape& s) { return tensor(v, s); }
using test::values;

}  // namespace

// ---------------------------------------------------------------- flatten / squeeze / unsqueeze

TEST_CASE("shape: flatten, squeeze, unsqueeze shapes and names") {
  Tensor x = range64(24, {2, 3, 1, 4}, true);
  CHECK(flatten(x).shape() == Shape{24});
  CHECK(flatten(x, 1, -2).shape() == Shape{2, 3, 4});
  CHECK(flatten(x, -2).shape() == Shape{2, 3, 4});
  CHECK(flatten(range64(1, {})).shape() == Shape{1});
  CHECK(flatten(x).grad_fn_name() == "flatten");
  CHECK(squeeze(x).shape() == Shape{2, 3, 4});
  CHECK(squeeze(x, 2).shape() == Shape{2, 3, 4});
  CHECK(squeeze(x, -2).shape() == Shape{2, 3, 4});
  CHECK(squeeze(x, 0).shape() == Shape{2, 3, 1, 4});  // size 2: no-op as in PyTorch
  CHECK(squeeze(range64(1, {})).shape() == Shape{});
  CHECK(squeeze(x).grad_fn_name() == "squeeze");
  CHECK(unsqueeze(x, 0).shape() == Shape{1, 2, 3, 1, 4});
  CHECK(unsqueeze(x, 4).shape() == Shape{2, 3, 1, 4, 1});
  CHECK(unsqueeze(x, -1).shape() == Shape{2, 3, 1, 4, 1});
  CHECK(unsqueeze(x, -5).shape() == Shape{1, 2, 3, 1, 4});
  CHECK(unsqueeze(range64(1, {}), 0).shape() == Shape{1});
  CHECK(unsqueeze(x, 1).grad_fn_name() == "unsqueeze");
  CHECK(values(unsqueeze(x, 1)) == values(x));

  sum(mul(unsqueeze(flatten(x, 0, 1), 0), range64(24, {1, 6, 1, 4}))).backward();
  CHECK(x.grad().shape() == x.shape());
  CHECK(values(x.grad()) == values(range64(24, {24})));
}

TEST_CASE("shape: flatten, squeeze, unsqueeze errors") {
  Tensor x = range64(6, {2, 3});
  CHECK_THROWS_WITH_AS(flatten(x, 1, 0), doctest::Contains("flatten"), Error);
  CHECK_THROWS_WITH_AS(flatten(x, 0, 2), doctest::Contains("dim 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(squeeze(x, 2), doctest::Contains("squeeze"), Error);
  CHECK_THROWS_WITH_AS(unsqueeze(x, 3), doctest::Contains("unsqueeze: dim 3"), Error);
  CHECK_THROWS_WITH_AS(unsqueeze(x, -4), doctest::Contains("unsqueeze"), Error);
}

// ---------------------------------------------------------------- slice / narrow

TEST_CASE("shape: slice follows Python semantics") {
  Tensor x = range64(10, {10});
  CHECK(values(slice(x, 0, -3, std::nullopt, 2)) == V{7, 9});
  CHECK(values(slice(x, 0, std::nullopt, -3, 2)) == V{0, 2, 4, 6});
  CHECK(values(slice(x, 0, -100, 100)) == values(x));
  CHECK(slice(x, 0, 5, 2).numel() == 0);
  CHECK(slice(x, 0, 12, 20).shape() == Shape{0});
  CHECK(values(slice(x, 0, 1, 9, 3)) == V{1, 4, 7});
  CHECK(values(slice(x, 0, 8, std::nullopt, 5)) == V{8});

  Tensor m = range64(12, {3, 4});
  CHECK(values(slice(m, 0, 1, std::nullopt)) == V{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(values(slice(m, -1, 1, 3)) == V{1, 2, 5, 6, 9, 10});
  CHECK(values(slice(m, 1, std::nullopt, std::nullopt, 2)) == V{0, 2, 4, 6, 8, 10});
  CHECK(slice(m, 1, std::nullopt, std::nullopt, 2).shape() == Shape{3, 2});

  Tensor t = range64(24, {2, 3, 4});
  CHECK(values(slice(t, 1, -2, std::nullopt, 2)) == V{4, 5, 6, 7, 16, 17, 18, 19});
  CHECK(slice(t, 1, -2, std::nullopt, 2).shape() == Shape{2, 1, 4});

  Tensor li = tensor(L{1, 2, 3, 4, 5}, {5});
  CHECK(slice(li, 0, 1, 4, 2).to_vector<std::int64_t>() == L{2, 4});
}

TEST_CASE("shape: slice gradient scatters into zeros, and twice") {
  Tensor x = range64(12, {3, 4}, true);
  Tensor y = slice(x, 1, 1, std::nullopt, 2);  // columns 1 and 3
  CHECK(y.grad_fn_name() == "slice");
  sum(mul(y, f64({1, 2, 3, 4, 5, 6}, {3, 2}))).backward();
  CHECK(values(x.grad()) == V{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6});

  // Double backward: the VJP of slice is linear in dy; its own VJP slices again.
  Tensor a = range64(6, {6}, true);
  Tensor gy = f64({1, 1, 1}, {3}, true);
  Tensor out = slice(a, 0, 0, std::nullopt, 2);
  TensorList g = grad({out}, {a}, {gy}, {.create_graph = true});
  CHECK(values(g[0]) == V{1, 0, 1, 0, 1, 0});
  TensorList gg = grad({sum(mul(g[0], range64(6, {6})))}, {gy});
  CHECK(values(gg[0]) == V{0, 2, 4});
}

TEST_CASE("shape: slice of the whole dim shares storage but is its own node") {
  Tensor x = range64(6, {2, 3}, true);
  Tensor y = slice(x, 0, std::nullopt, std::nullopt);
  CHECK(y.data<double>() == x.data<double>());
  CHECK(y.grad_fn_name() == "slice");
  sum(y).backward();
  CHECK(values(x.grad()) == V(6, 1.0));
}

TEST_CASE("shape: narrow values and errors") {
  Tensor m = range64(12, {3, 4});
  CHECK(values(narrow(m, 0, 1, 2)) == V{4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(values(narrow(m, -1, -3, 2)) == V{1, 2, 5, 6, 9, 10});
  CHECK(narrow(m, 1, 4, 0).shape() == Shape{3, 0});
  CHECK(narrow(m, 1, 1, 2).grad_fn_name() == "");  // no grad needed: nothing recorded
  CHECK_THROWS_WITH_AS(narrow(m, 1, 3, 2), doctest::Contains("narrow: start 3 + length 2 exceeds dim 1 of size 4"),
                       Error);
  CHECK_THROWS_WITH_AS(narrow(m, 1, -5, 1), doctest::Contains("narrow: start -5 is out of range"), Error);
  CHECK_THROWS_WITH_AS(narrow(m, 1, 0, -1), doctest::Contains("narrow"), Error);
  CHECK_THROWS_WITH_AS(narrow(m, 2, 0, 1), doctest::Contains("narrow: dim 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(narrow(range64(1, {}), 0, 0, 1), doctest::Contains("narrow: cannot narrow a 0-d"), Error);
  CHECK_THROWS_WITH_AS(slice(m, 0, 0, 2, 0), doctest::Contains("slice: step must be positive, got 0"), Error);
  CHECK_THROWS_WITH_AS(slice(m, 0, 0, 2, -1), doctest::Contains("slice: step must be positive"), Error);
  CHECK_THROWS_WITH_AS(slice(range64(1, {}), 0, 0, 1), doctest::Contains("slice: cannot slice a 0-d"), Error);
}

// ---------------------------------------------------------------- index_select / index_add

TEST_CASE("shape: index_select values and accumulated gradient") {
  Tensor x = range64(12, {4, 3}, true);
  Tensor y = index_select(x, 0, idx({2, 0, 2}, {3}));
  CHECK(y.shape() == Shape{3, 3});
  CHECK(values(y) == V{6, 7, 8, 0, 1, 2, 6, 7, 8});
  sum(mul(y, f64({1, 1, 1, 10, 10, 10, 100, 100, 100}, {3, 3}))).backward();
  // Row 2 was picked twice: its gradient is 1 + 100.
  CHECK(values(x.grad()) == V{10, 10, 10, 0, 0, 0, 101, 101, 101, 0, 0, 0});

  Tensor c = index_select(range64(12, {4, 3}), -1, idx({2, 0}, {2}));
  CHECK(values(c) == V{2, 0, 5, 3, 8, 6, 11, 9});
  // A 0-d index keeps the dim with size 1, as in PyTorch.
  Tensor z = index_select(range64(12, {4, 3}), 1, idx({1}, {}));
  CHECK(z.shape() == Shape{4, 1});
  CHECK(values(z) == V{1, 4, 7, 10});
  CHECK(index_select(range64(12, {4, 3}), 0, idx({}, {0})).shape() == Shape{0, 3});
  CHECK(index_select(f64({5}, {}), 0, idx({0}, {1})).shape() == Shape{});
}

TEST_CASE("shape: index_add values and gradients") {
  Tensor x = f64({1, 1, 1, 1, 1, 1}, {3, 2}, true);
  Tensor src = range64(6, {3, 2}, true);
  Tensor y = index_add(x, 0, idx({2, 0, 2}, {3}), src);
  CHECK(values(y) == V{3, 4, 1, 1, 1 + 0 + 4, 1 + 1 + 5});
  Tensor w = range64(6, {3, 2});
  sum(mul(y, w)).backward();
  CHECK(values(x.grad()) == values(w));
  CHECK(values(src.grad()) == V{4, 5, 0, 1, 4, 5});
  CHECK_THROWS_WITH_AS(index_add(x, 0, idx({3}, {1}), range64(2, {1, 2})),
                       doctest::Contains("index_add: index 3 is out of range for dim 0 with size 3"), Error);
  CHECK_THROWS_WITH_AS(index_add(x, 0, idx({0}, {1}), range64(3, {1, 3})),
                       doctest::Contains("index_add: source of shape [1, 3] does not match input [3, 2]"), Error);
  CHECK_THROWS_WITH_AS(index_add(x, 0, idx({0}, {1}), tensor(V{1, 2}, {1, 2})),
                       doctest::Contains("must have the same dtype"), Error);
}

TEST_CASE("shape: index_select errors name the op, the index and the dim size") {
  Tensor x = range64(12, {4, 3});
  CHECK_THROWS_WITH_AS(index_select(x, 1, idx({0, 3}, {2})),
                       doctest::Contains("index_select: index 3 is out of range for dim 1 with size 3"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({-1}, {1})), doctest::Contains("index -1 is out of range"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, f64({0}, {1})),
                       doctest::Contains("index_select: index must be an int64 tensor, got float64"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, idx({0, 1}, {1, 2})),
                       doctest::Contains("index_select: index must be 1-D or 0-d, got shape [1, 2]"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 2, idx({0}, {1})), doctest::Contains("index_select: dim 2 is out of range"),
                       Error);
}

// ---------------------------------------------------------------- gather / scatter_add

TEST_CASE("shape: gather values (PyTorch docs example) and gradient") {
  Tensor t = f64({1, 2, 3, 4}, {2, 2}, true);
  Tensor g = gather(t, 1, idx({0, 0, 1, 0}, {2, 2}));
  CHECK(values(g) == V{1, 1, 4, 3});
  sum(mul(g, f64({1, 10, 100, 1000}, {2, 2}))).backward();
  CHECK(values(t.grad()) == V{11, 0, 1000, 100});

  // dim 0, an index smaller than the input in the other dim.
  Tensor x = range64(12, {4, 3});
  CHECK(values(gather(x, 0, idx({3, 0, 1, 1}, {2, 2}))) == V{9, 1, 3, 4});
  CHECK(gather(x, -1, idx({}, {4, 0})).shape() == Shape{4, 0});
  CHECK(gather(f64({7}, {}), 0, idx({0}, {})).item<double>() == 7);

  Tensor t3 = range64(24, {2, 3, 4});
  Tensor g3 = gather(t3, 1, idx({2, 0, 1, 0, 0, 0, 2, 1}, {2, 1, 4}));
  CHECK(values(g3) == V{8, 1, 6, 3, 12, 13, 22, 19});
}

TEST_CASE("shape: scatter_add values and gradients") {
  Tensor x = f64({0, 0, 0, 0, 0, 0}, {2, 3}, true);
  Tensor src = f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4}, true);  // wider than the index: last columns unused
  Tensor index = idx({0, 2, 2, 1, 1, 1}, {2, 3});
  Tensor y = scatter_add(x, 1, index, src);
  CHECK(values(y) == V{1, 0, 2 + 3, 0, 5 + 6 + 7, 0});
  sum(mul(y, f64({1, 2, 3, 4, 5, 6}, {2, 3}))).backward();
  CHECK(values(x.grad()) == V{1, 2, 3, 4, 5, 6});
  CHECK(values(src.grad()) == V{1, 3, 3, 0, 5, 5, 5, 0});
  CHECK(src.grad().shape() == Shape{2, 4});
}

TEST_CASE("shape: gather and scatter_add errors") {
  Tensor x = range64(6, {2, 3});
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 5}, {1, 2})),
                       doctest::Contains("gather: index 5 is out of range for dim 1 with size 3"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 1}, {2})), doctest::Contains("gather: index of shape [2] must have as many dims"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx({0, 0, 0, 0}, {4, 1})),
                       doctest::Contains("gather: index of shape [4, 1] is larger than the input of shape [2, 3] in dim 0"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, f64({0}, {1, 1})), doctest::Contains("gather: index must be an int64 tensor"), Error);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, idx({2}, {1, 1}), range64(1, {1, 1})),
                       doctest::Contains("scatter_add: index 2 is out of range for dim 0 with size 2"), Error);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, idx({0, 0}, {1, 2}), range64(1, {1, 1})),
                       doctest::Contains("scatter_add: index of shape [1, 2] is larger than src of shape [1, 1]"), Error);
}

TEST_CASE("shape: gather and scatter_add double backward") {
  Tensor x = range64(6, {2, 3}, true);
  Tensor index = idx({2, 2, 0, 1}, {2, 2});
  Tensor gy = f64({1, 2, 3, 4}, {2, 2}, true);
  TensorList g = grad({gather(x, 1, index)}, {x}, {gy}, {.create_graph = true});
  CHECK(values(g[0]) == V{0, 0, 3, 3, 4, 0});
  CHECK(g[0].grad_fn_name() == "scatter_add");
  TensorList gg = grad({sum(mul(g[0], range64(6, {2, 3})))}, {gy});
  CHECK(values(gg[0]) == V{2, 2, 3, 4});  // gather of the weights
}

// ---------------------------------------------------------------- cat / stack

TEST_CASE("shape: cat values, dims, promotion and gradient") {
  Tensor a = range64(6, {2, 3}, true);
  Tensor b = f64({10, 11, 12}, {1, 3}, true);
  Tensor c = cat({a, b}, 0);
  CHECK(c.shape() == Shape{3, 3});
  CHECK(values(c) == V{0, 1, 2, 3, 4, 5, 10, 11, 12});
  Tensor d = cat({a, f64({7, 8}, {2, 1})}, -1);
  CHECK(values(d) == V{0, 1, 2, 7, 3, 4, 5, 8});
  sum(mul(c, range64(9, {3, 3}))).backward();
  CHECK(values(a.grad()) == V{0, 1, 2, 3, 4, 5});
  CHECK(values(b.grad()) == V{6, 7, 8});

  // PyTorch skips 1-D empty tensors in cat, and promotes dtypes.
  Tensor e = cat({tensor(V{}, {0}), range64(4, {2, 2}), tensor(L{5, 6}, {2, 1})}, 1);
  CHECK(e.shape() == Shape{2, 3});
  CHECK(e.dtype() == Dtype::float64);
  CHECK(values(e) == V{0, 1, 5, 2, 3, 6});
  CHECK(cat({tensor(V{}, {0}), tensor(V{}, {0})}).shape() == Shape{0});
  CHECK(cat({range64(2, {2}), tensor(V{}, {0})}).shape() == Shape{2});
}

TEST_CASE("shape: the same tensor twice in cat and stack accumulates its gradient") {
  Tensor a = f64({1, 2}, {2}, true);
  sum(mul(cat({a, a}), f64({1, 2, 3, 4}, {4}))).backward();
  CHECK(values(a.grad()) == V{4, 6});
  a.zero_grad();
  sum(mul(stack({a, a}, 1), f64({1, 2, 3, 4}, {2, 2}))).backward();
  CHECK(values(a.grad()) == V{3, 7});
}

TEST_CASE("shape: int64 and float32 tensors move through every kernel") {
  Tensor li = tensor(L{10, 11, 12, 13, 14, 15}, {2, 3});
  CHECK(cat({li, li}, 1).to_vector<std::int64_t>() == L{10, 11, 12, 10, 11, 12, 13, 14, 15, 13, 14, 15});
  CHECK(index_select(li, 1, idx({2, 2}, {2})).to_vector<std::int64_t>() == L{12, 12, 15, 15});
  CHECK(gather(li, 0, idx({1, 0, 1}, {1, 3})).to_vector<std::int64_t>() == L{13, 11, 15});
  CHECK(scatter_add(li, 1, idx({0, 0}, {1, 2}), tensor(L{1, 2}, {1, 2})).to_vector<std::int64_t>() ==
        L{13, 11, 12, 13, 14, 15});
  CHECK(slice(li, 1, 0, std::nullopt, 2).to_vector<std::int64_t>() == L{10, 12, 13, 15});
  Tensor f = tensor(V{1, 2, 3, 4, 5, 6}, {3, 2});
  CHECK(f.dtype() == Dtype::float32);
  CHECK(pad(f, {0, 0, 1, 0}, 7).to_vector<double>() == V{7, 7, 1, 2, 3, 4, 5, 6});
  CHECK(stack({f, f}, 2).shape() == Shape{3, 2, 2});
  CHECK(index_add(f, 0, idx({1}, {1}), tensor(V{10, 20}, {1, 2})).to_vector<double>() == V{1, 2, 13, 24, 5, 6});
}

TEST_CASE("shape: cat errors") {
  CHECK_THROWS_WITH_AS(cat({range64(6, {2, 3}), range64(8, {2, 4})}, 0),
                       doctest::Contains("dim 1 sizes 3 and 4 differ"), Error);
  CHECK_THROWS_WITH_AS(cat({range64(6, {2, 3}), range64(8, {2, 4})}, 0), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(cat({range64(6, {2, 3}), range64(8, {2, 4})}, 0), doctest::Contains("[2, 4]"), Error);
  CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("cat: expects a non-empty list"), Error);
  CHECK_THROWS_WITH_AS(cat({range64(6, {2, 3}), range64(6, {6})}, 0),
                       doctest::Contains("cat: tensors must have the same number of dims"), Error);
  CHECK_THROWS_WITH_AS(cat({range64(1, {}), range64(1, {})}, 0), doctest::Contains("cat: tensor 0 is 0-d"), Error);
  CHECK_THROWS_WITH_AS(cat({range64(6, {2, 3})}, 2), doctest::Contains("cat: dim 2 is out of range"), Error);
}

TEST_CASE("shape: stack values and gradient") {
  Tensor a = f64({1, 2}, {2}, true), b = f64({3, 4}, {2}, true);
  Tensor s0 = stack({a, b});
  CHECK(s0.shape() == Shape{2, 2});
  CHECK(values(s0) == V{1, 2, 3, 4});
  Tensor s1 = stack({a, b}, -1);
  CHECK(values(s1) == V{1, 3, 2, 4});
  CHECK(s1.grad_fn_name() == "stack");
  sum(mul(s1, f64({1, 2, 3, 4}, {2, 2}))).backward();
  CHECK(values(a.grad()) == V{1, 3});
  CHECK(values(b.grad()) == V{2, 4});
  CHECK(stack({f64({1}, {}), f64({2}, {})}).shape() == Shape{2});
  CHECK_THROWS_WITH_AS(stack({range64(6, {2, 3}), range64(8, {2, 4})}),
                       doctest::Contains("stack: expects tensors of equal shape, got [2, 3] at entry 0 and [2, 4] at entry 1"),
                       Error);
  CHECK_THROWS_WITH_AS(stack({range64(2, {2})}, 2), doctest::Contains("stack: dim 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(stack({}), doctest::Contains("stack: expects a non-empty list"), Error);
}

// ---------------------------------------------------------------- split / chunk

TEST_CASE("shape: split and chunk sizes follow PyTorch") {
  auto sizes_of = [](const TensorList& ps, std::int64_t dim) {
    L out;
    for (const Tensor& p : ps) out.push_back(p.size(dim));
    return out;
  };
  Tensor x = range64(10, {5, 2});
  CHECK(sizes_of(chunk(x, 3), 0) == L{2, 2, 1});
  CHECK(sizes_of(chunk(range64(6, {6}), 4), 0) == L{2, 2, 2});  // fewer chunks than asked
  CHECK(sizes_of(chunk(range64(2, {2}), 5), 0) == L{1, 1});
  CHECK(sizes_of(chunk(range64(0, {0}), 3), 0) == L{0, 0, 0});
  CHECK(sizes_of(split(x, 2), 0) == L{2, 2, 1});
  CHECK(sizes_of(split(x, 7), 0) == L{5});
  CHECK(sizes_of(split(range64(0, {0}), 0), 0) == L{0});
  CHECK(sizes_of(split(range64(0, {0}), 3), 0) == L{0});
  CHECK(sizes_of(split(x, L{1, 0, 4}), 0) == L{1, 0, 4});
  CHECK(sizes_of(split(x, 1, -1), 1) == L{1, 1});
  TensorList ps = chunk(x, 3);
  CHECK(values(ps[2]) == V{8, 9});
  CHECK(values(split(x, 1, 1)[1]) == V{1, 3, 5, 7, 9});
  CHECK(ps[0].grad_fn_name() == "");
}

TEST_CASE("shape: split pieces are separate nodes with their own gradients") {
  Tensor x = range64(10, {5, 2}, true);
  TensorList ps = split(x, 2);
  CHECK(ps[0].grad_fn_name() == "split");
  CHECK(ps[0].grad_fn() != ps[1].grad_fn());
  // Only pieces 0 and 2 reach the loss: piece 1's rows get zero.
  add(sum(ps[0] * 2.0), sum(ps[2] * 3.0)).backward();
  CHECK(values(x.grad()) == V{2, 2, 2, 2, 0, 0, 0, 0, 3, 3});
  CHECK(chunk(x, 2, 1)[1].grad_fn_name() == "chunk");
}

TEST_CASE("shape: split and chunk errors") {
  Tensor x = range64(10, {5, 2});
  CHECK_THROWS_WITH_AS(split(x, L{1, 2}), doctest::Contains("split: split sizes [1, 2] sum to 3 but dim 0"), Error);
  CHECK_THROWS_WITH_AS(split(x, L{6, -1}), doctest::Contains("split: split sizes must be non-negative"), Error);
  CHECK_THROWS_WITH_AS(split(x, -1), doctest::Contains("split: split_size must be non-negative, got -1"), Error);
  CHECK_THROWS_WITH_AS(split(x, 0), doctest::Contains("split: split_size can be 0 only"), Error);
  CHECK_THROWS_WITH_AS(split(range64(1, {}), 1), doctest::Contains("split: expects a tensor with at least one dim"),
                       Error);
  CHECK_THROWS_WITH_AS(chunk(x, 0), doctest::Contains("chunk: the number of chunks must be positive, got 0"), Error);
  CHECK_THROWS_WITH_AS(chunk(x, 2, 2), doctest::Contains("chunk: dim 2 is out of range"), Error);
}

// ---------------------------------------------------------------- pad

TEST_CASE("shape: pad values, crops and gradient") {
  Tensor x = range64(6, {2, 3}, true);
  Tensor p = pad(x, {1, 2}, -1.0);
  CHECK(p.shape() == Shape{2, 6});
  CHECK(values(p) == V{-1, 0, 1, 2, -1, -1, -1, 3, 4, 5, -1, -1});
  Tensor q = pad(x, {0, 0, 1, 0});
  CHECK(q.shape() == Shape{3, 3});
  CHECK(values(q) == V{0, 0, 0, 0, 1, 2, 3, 4, 5});
  // Negative amounts crop: drop column 0, add two zero columns, drop the last row.
  Tensor r = pad(x, {-1, 2, 0, -1});
  CHECK(r.shape() == Shape{1, 4});
  CHECK(values(r) == V{1, 2, 0, 0});
  CHECK(pad(x, {-3, 0}).shape() == Shape{2, 0});
  CHECK(pad(tensor(L{1, 2}, {2}), {1, 1}, 9).to_vector<std::int64_t>() == L{9, 1, 2, 9});

  sum(mul(r, f64({1, 2, 3, 4}, {1, 4}))).backward();
  CHECK(values(x.grad()) == V{0, 1, 2, 0, 0, 0});
  CHECK(r.grad_fn_name() == "pad");
}

TEST_CASE("shape: pad errors") {
  Tensor x = range64(6, {2, 3});
  CHECK_THROWS_WITH_AS(pad(x, {1}), doctest::Contains("pad: expects (before, after) pairs, got 1"), Error);
  CHECK_THROWS_WITH_AS(pad(x, {1, 1, 1, 1, 1, 1}), doctest::Contains("pad: 3 pairs"), Error);
  CHECK_THROWS_WITH_AS(pad(x, {-2, -2}), doctest::Contains("gives a negative size -1"), Error);
}

// ---------------------------------------------------------------- registry samples

namespace {

// Element i of a float64 tensor, by flat position (inputs here are contiguous and float64).
double& element(Tensor& t, std::int64_t i) { return t.mutable_data<double>()[i]; }

double dot(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return 0.0;
  const V va = values(a), vb = values(b);
  double s = 0;
  for (std::size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

// Checks v^T J against central differences for a random v, for each differentiable input,
// then the same for the map v -> J^T v (the double-backward path), whose derivative in v
// must match differences of the first-order gradient.
void check_sample(const OpSample& s, const std::string& op) {
  INFO(op << ": " << s.description);
  TensorList in = s.inputs;
  Tensor y = s.call(in);
  REQUIRE(y.dtype() == Dtype::float64);
  Tensor v = rand(y.shape(), {.dtype = Dtype::float64});
  v = (v + 0.5).detach();
  v.requires_grad_(true);
  TensorList diff;
  for (const Tensor& t : in)
    if (t.requires_grad()) diff.push_back(t);
  TensorList g = grad({y}, diff, {v}, {.create_graph = true, .allow_unused = true});
  const double eps = 1e-6;
  for (std::size_t k = 0; k < diff.size(); ++k) {
    Tensor& t = diff[k];
    Tensor gk = g[k].defined() ? g[k] : zeros(t.shape(), {.dtype = Dtype::float64});
    REQUIRE(gk.shape() == t.shape());
    const V analytic = values(gk);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double orig = element(t, i);
      element(t, i) = orig + eps;
      const double up = dot(s.call(in), v);
      element(t, i) = orig - eps;
      const double down = dot(s.call(in), v);
      element(t, i) = orig;
      CHECK(analytic[static_cast<std::size_t>(i)] == doctest::Approx((up - down) / (2 * eps)).epsilon(1e-6));
    }
  }
  // Double backward: d/dv of sum_k <J_k^T v, w_k>.
  TensorList ws;
  Tensor loss = scalar_tensor(0.0, {.dtype = Dtype::float64});
  bool connected = false;
  for (std::size_t k = 0; k < diff.size(); ++k) {
    ws.push_back(rand(diff[k].shape(), {.dtype = Dtype::float64}));
    if (g[k].defined() && g[k].requires_grad()) {
      loss = add(loss, sum(mul(g[k], ws[k])));
      connected = true;
    }
  }
  if (!connected || v.numel() == 0) return;
  const V analytic = values(grad({loss}, {v})[0]);
  for (std::int64_t i = 0; i < v.numel(); ++i) {
    auto first_order = [&] {
      TensorList gi = grad({s.call(in)}, diff, {v}, {.allow_unused = true});
      double acc = 0;
      for (std::size_t k = 0; k < diff.size(); ++k) acc += dot(gi[k], ws[k]);
      return acc;
    };
    const double orig = element(v, i);
    element(v, i) = orig + eps;
    const double up = first_order();
    element(v, i) = orig - eps;
    const double down = first_order();
    element(v, i) = orig;
    CHECK(analytic[static_cast<std::size_t>(i)] == doctest::Approx((up - down) / (2 * eps)).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("shape: registry samples of the shape, index and join families pass a gradient check") {
  manual_seed(7);
  for (const char* name : {"permute", "flatten", "squeeze", "unsqueeze", "slice", "narrow", "index_select",
                           "index_add", "gather", "scatter_add", "cat", "stack", "split", "chunk", "pad"}) {
    const OpInfo* op = find_op(name);
    REQUIRE_MESSAGE(op != nullptr, name);
    const auto samples = op->samples(Dtype::float64);
    CHECK(samples.size() >= 3);
    for (const OpSample& s : samples) check_sample(s, name);
    // The float32 samples run too (shapes and dtypes only).
    for (const OpSample& s : op->samples(Dtype::float32)) CHECK(s.call(s.inputs).dtype() == Dtype::float32);
  }
}

TEST_CASE("shape: Shape's insert and erase, inline and spilled to the heap, with positions checked") {
  Shape s{2, 3};
  s.insert(0, 1);
  s.insert(3, 4);
  CHECK(s == Shape{1, 2, 3, 4});
  for (std::int64_t d = 5; d <= 8; ++d) s.insert(s.size(), d);  // past the 6 inline dims
  CHECK(s == Shape{1, 2, 3, 4, 5, 6, 7, 8});
  s.erase(0);
  s.erase(6);
  CHECK(s == Shape{2, 3, 4, 5, 6, 7});
  CHECK_THROWS_WITH_AS(s.insert(7, 1), doctest::Contains("Shape::insert: position 7"), Error);
  CHECK_THROWS_WITH_AS(s.erase(6), doctest::Contains("Shape::erase: position 6"), Error);
  CHECK(s.size() == 6);
}
