// Joining and splitting along a dim: cat, stack, split, chunk, and constant pad.
// Their VJPs are slices (cat, stack) or the opposite op (pad), so all have double backward.
#include <numeric>

#include "../core/kernels/layout.h"
#include "index_internal.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kCat{"cat", OpDecl::kVariadic, "dx_i = narrow(dy, dim, offset_i, x_i.size(dim))"};
constexpr OpDecl kStack{"stack", OpDecl::kVariadic, "dx_i = select(dy, dim, i)"};
constexpr OpDecl kSplit{"split", 1, "dx = cat(dy_pieces, dim)"};
constexpr OpDecl kChunk{"chunk", 1, "dx = cat(dy_chunks, dim)"};
constexpr OpDecl kPad{"pad", 1, "dx = pad(dy, -pad)"};

namespace {

// PyTorch's result dtype for a list: the widest kind present (int64 < float32 < float64).
Dtype common_dtype(const TensorList& ts) {
  Dtype d = ts.front().dtype();
  for (const Tensor& t : ts) d = promote_types(d, t.dtype());
  return d;
}

TensorList promoted(const TensorList& ts, Dtype d) {
  TensorList out;
  out.reserve(ts.size());
  for (const Tensor& t : ts) out.push_back(to_dtype(t, d));
  return out;
}

void check_all_defined(const TensorList& ts, const char* op) {
  XGRAD_CHECK(!ts.empty(), "{}: expects a non-empty list of tensors", op);
  for (std::size_t i = 0; i < ts.size(); ++i) XGRAD_CHECK(ts[i].defined(), "{}: tensor {} is undefined", op, i);
}

// PyTorch skips 1-D empty tensors in cat whatever the other shapes are (a legacy rule).
bool skipped_in_cat(const Tensor& t) { return t.dim() == 1 && t.numel() == 0; }

// Pieces of `x` along the wrapped dim `d` with the given sizes, each its own node of `op`.
TensorList pieces(const Tensor& x, std::int64_t d, const std::vector<std::int64_t>& sizes, const OpDecl& op) {
  TensorList out;
  out.reserve(sizes.size());
  std::int64_t start = 0;
  for (auto size : sizes) {
    out.push_back(detail::slice_recorded(x, d, start, 1, size, op));
    start += size;
  }
  return out;
}

// split/chunk make one tensor (and one graph node) per piece: a count that cannot fit in
// memory raises instead of allocating until the process dies.
void check_piece_count(std::int64_t count, const char* op, const Tensor& x, std::int64_t d) {
  constexpr std::size_t kBytesPerPiece = 512;  // a TensorImpl, its Storage reference, a node, a list entry
  const auto limit = static_cast<std::int64_t>(max_alloc_bytes() / kBytesPerPiece);
  XGRAD_CHECK(count <= limit, "{}: would make {} pieces of dim {} of the input of shape {}, more than fit in memory "
              "(at most {})", op, count, d, to_string(x.shape()), limit);
}

std::int64_t checked_split_dim(const Tensor& x, std::int64_t dim, const char* op) {
  XGRAD_CHECK(x.defined(), "{}: the input is an undefined tensor", op);
  XGRAD_CHECK(x.dim() > 0, "{}: expects a tensor with at least one dim, got a 0-d tensor", op);
  return wrap_dim(dim, x.dim(), op);
}

}  // namespace

Tensor cat(const TensorList& tensors0, std::int64_t dim) {
  check_all_defined(tensors0, "cat");
  const TensorList tensors = promoted(tensors0, common_dtype(tensors0));
  // The first tensor that takes part sets the shape every other must match.
  std::size_t ref = 0;
  while (ref + 1 < tensors.size() && skipped_in_cat(tensors[ref])) ++ref;
  const Tensor& first = tensors[ref];
  for (std::size_t i = 0; i < tensors.size(); ++i)
    XGRAD_CHECK(tensors[i].dim() > 0, "cat: tensor {} is 0-d (shape {}) and cannot be concatenated", i,
                to_string(tensors[i].shape()));
  const std::int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape out_shape = first.shape();
  out_shape[static_cast<std::size_t>(d)] = 0;
  std::vector<std::int64_t> starts(tensors.size(), -1);  // -1: skipped
  TensorList parts;
  const bool skip_empty_1d = first.dim() != 1;  // among 1-D tensors [0] fits anyway
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skip_empty_1d && skipped_in_cat(t)) continue;
    XGRAD_CHECK(t.dim() == first.dim(),
                "cat: tensors must have the same number of dims: tensor {} has shape {} but tensor {} has shape {}", i,
                to_string(t.shape()), ref, to_string(first.shape()));
    for (std::int64_t e = 0; e < t.dim(); ++e)
      XGRAD_CHECK(e == d || t.size(e) == first.size(e),
                  "cat: shapes must match except in dim {}: tensor {} has shape {} and tensor {} has shape {} (dim {} "
                  "sizes {} and {} differ)",
                  d, ref, to_string(first.shape()), i, to_string(t.shape()), e, first.size(e), t.size(e));
    starts[i] = out_shape[static_cast<std::size_t>(d)];
    XGRAD_CHECK(!__builtin_add_overflow(starts[i], t.size(d), &out_shape[static_cast<std::size_t>(d)]),
                "cat: the sizes of dim {} sum to more than int64 holds ({} + {} at tensor {})", d, starts[i],
                t.size(d), i);
    parts.push_back(t);
  }
  checked_bytes(out_shape, first.dtype(), "cat");
  Tensor y = kernels::concat(parts, d, out_shape);
  record_list(y, kCat, tensors, {}, [d, starts](Node& n, const Tensor& gy) -> TensorList {
    TensorList grads(starts.size());
    for (std::size_t i = 0; i < starts.size(); ++i) {
      if (!n.needs_input_grad(i)) continue;
      const Edge& e = n.next_edges()[i];
      grads[i] = starts[i] < 0 ? zeros(e.shape, {.dtype = e.dtype})
                               : detail::slice_recorded(gy, d, starts[i], 1, e.shape[static_cast<std::size_t>(d)],
                                                        detail::kNarrow);
    }
    return grads;
  });
  return y;
}

Tensor stack(const TensorList& tensors0, std::int64_t dim) {
  check_all_defined(tensors0, "stack");
  const TensorList tensors = promoted(tensors0, common_dtype(tensors0));
  const Shape& shape = tensors.front().shape();
  const std::int64_t d = wrap_dim(dim, static_cast<std::int64_t>(shape.size()) + 1, "stack");
  Shape unit = shape;  // each input with the new dim inserted
  unit.insert(static_cast<std::size_t>(d), 1);
  TensorList units;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    XGRAD_CHECK(tensors[i].shape() == shape, "stack: expects tensors of equal shape, got {} at entry 0 and {} at entry {}",
                to_string(shape), to_string(tensors[i].shape()), i);
    units.push_back(alias_with_shape(tensors[i], unit));
  }
  Shape out_shape = unit;
  out_shape[static_cast<std::size_t>(d)] = static_cast<std::int64_t>(tensors.size());
  checked_bytes(out_shape, tensors.front().dtype(), "stack");
  Tensor y = kernels::concat(units, d, out_shape);
  record_list(y, kStack, tensors, {}, [d](Node& n, const Tensor& gy) -> TensorList {
    TensorList grads(n.next_edges().size());
    for (std::size_t i = 0; i < grads.size(); ++i)
      if (n.needs_input_grad(i))
        grads[i] = reshape(detail::slice_recorded(gy, d, static_cast<std::int64_t>(i), 1, 1, detail::kNarrow),
                           n.next_edges()[i].shape);
    return grads;
  });
  return y;
}

TensorList split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  const std::int64_t d = checked_split_dim(x, dim, "split");
  const std::int64_t n = x.size(d);
  XGRAD_CHECK(split_size >= 0, "split: split_size must be non-negative, got {}", split_size);
  XGRAD_CHECK(split_size != 0 || n == 0, "split: split_size can be 0 only when the dim is empty, but dim {} of {} has size {}",
              d, to_string(x.shape()), n);
  // As PyTorch: at least one piece, the last one possibly shorter.
  const std::int64_t count =
      split_size == 0 ? 1 : std::max<std::int64_t>(n / split_size + (n % split_size != 0), 1);
  check_piece_count(count, "split", x, d);
  std::vector<std::int64_t> sizes;
  for (std::int64_t i = 0; i < count; ++i) sizes.push_back(std::min(split_size, n - i * split_size));
  return pieces(x, d, sizes, kSplit);
}

TensorList split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t dim) {
  const std::int64_t d = checked_split_dim(x, dim, "split");
  std::int64_t total = 0;
  for (auto s : sizes) {
    XGRAD_CHECK(s >= 0, "split: split sizes must be non-negative, got {}", to_string(Shape(sizes)));
    XGRAD_CHECK(!__builtin_add_overflow(total, s, &total), "split: split sizes {} sum to more than int64 holds, but "
                "dim {} of the input of shape {} has size {}", to_string(Shape(sizes)), d, to_string(x.shape()),
                x.size(d));
  }
  XGRAD_CHECK(total == x.size(d), "split: split sizes {} sum to {} but dim {} of the input of shape {} has size {}",
              to_string(Shape(sizes)), total, d, to_string(x.shape()), x.size(d));
  return pieces(x, d, sizes, kSplit);
}

TensorList chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  const std::int64_t d = checked_split_dim(x, dim, "chunk");
  XGRAD_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got {}", chunks);
  const std::int64_t n = x.size(d);
  const std::int64_t size = n / chunks + (n % chunks != 0);  // ceil(n / chunks) without overflow
  std::vector<std::int64_t> sizes;
  if (n == 0) {
    check_piece_count(chunks, "chunk", x, d);
    sizes.assign(static_cast<std::size_t>(chunks), 0);  // PyTorch keeps the requested count of empty chunks
  } else {
    check_piece_count(n / size + (n % size != 0), "chunk", x, d);
    for (std::int64_t start = 0; start < n; start += size) {  // n - start >= size: no overflow
      sizes.push_back(std::min(size, n - start));
      if (n - start <= size) break;
    }
  }
  return pieces(x, d, sizes, kChunk);
}

Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pad_amounts, double value) {
  XGRAD_CHECK(x.defined(), "pad: the input is an undefined tensor");
  XGRAD_CHECK(pad_amounts.size() % 2 == 0, "pad: expects (before, after) pairs, got {} amounts {}",
              pad_amounts.size(), to_string(Shape(pad_amounts)));
  const auto ndim = static_cast<std::size_t>(x.dim());
  XGRAD_CHECK(pad_amounts.size() / 2 <= ndim, "pad: {} pairs {} given for a tensor of shape {} ({} dims)",
              pad_amounts.size() / 2, to_string(Shape(pad_amounts)), to_string(x.shape()), ndim);
  // The VJP pads by the negated amounts: INT64_MIN has no negation in int64.
  for (std::int64_t amount : pad_amounts)
    XGRAD_CHECK(amount != INT64_MIN, "pad: padding {} is out of range (expected {} to {}), in {}", amount,
                -INT64_MAX, INT64_MAX, to_string(Shape(pad_amounts)));
  Shape before(ndim, 0), out_shape = x.shape();
  for (std::size_t k = 0; k < pad_amounts.size() / 2; ++k) {
    const std::size_t d = ndim - 1 - k;  // pairs start from the last dim
    before[d] = pad_amounts[2 * k];
    const __int128 size = static_cast<__int128>(x.shape()[d]) + pad_amounts[2 * k] + pad_amounts[2 * k + 1];
    XGRAD_CHECK(size >= 0 && size <= INT64_MAX,
                "pad: padding ({}, {}) of dim {} of size {} (input shape {}) gives a {} size {} (expected 0 to {})",
                pad_amounts[2 * k], pad_amounts[2 * k + 1], d, x.shape()[d], to_string(x.shape()),
                size < 0 ? "negative" : "too large", size, INT64_MAX);
    out_shape[d] = static_cast<std::int64_t>(size);
  }
  checked_bytes(out_shape, x.dtype(), "pad");
  Tensor y = kernels::pad_copy(x, out_shape, before, value);
  std::vector<std::int64_t> undo(pad_amounts.size());
  for (std::size_t i = 0; i < undo.size(); ++i) undo[i] = -pad_amounts[i];
  record(y, kPad, {x}, {}, [undo](Node&, const Tensor& gy) -> TensorList { return {pad(gy, undo, 0.0)}; });
  return y;
}

// ---------------------------------------------------------------- registry

void register_join_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kCat, {
               .arity = 3,
               .differentiable = {true, true, true},
               .samples = [](Dtype d) {
                 using samples::input;
                 auto cat3 = [](std::int64_t dim) {
                   return [dim](const TensorList& in) { return cat(in, dim); };
                 };
                 return std::vector<OpSample>{
                     {"[2,3] [1,3] [3,3] dim 0", {input({2, 3}, d), input({1, 3}, d), input({3, 3}, d)}, cat3(0)},
                     {"[2,1,2] [2,3,2] [2,0,2] dim -2", {input({2, 1, 2}, d), input({2, 3, 2}, d), input({2, 0, 2}, d)},
                      cat3(-2)},
                     {"[3] [2] [0] dim 0", {input({3}, d), input({2}, d), input({0}, d)}, cat3(0)},
                     {"[2,2] [0] (skipped) [2,1] dim 1", {input({2, 2}, d), input({0}, d), input({2, 1}, d)}, cat3(1)},
                 };
               }}));
  r.push_back(declared(kStack, {
               .arity = 3,
               .differentiable = {true, true, true},
               .samples = [](Dtype d) {
                 using samples::input;
                 return std::vector<OpSample>{
                     {"3 x [2,3] dim 1", {input({2, 3}, d), input({2, 3}, d), input({2, 3}, d)},
                      [](const TensorList& in) { return stack(in, 1); }},
                     {"3 x [2,3] dim -1", {input({2, 3}, d), input({2, 3}, d), input({2, 3}, d)},
                      [](const TensorList& in) { return stack(in, -1); }},
                     {"3 x 0-d", {input({}, d), input({}, d), input({}, d)},
                      [](const TensorList& in) { return stack(in, 0); }},
                     {"3 x [0,2] dim 0", {input({0, 2}, d), input({0, 2}, d), input({0, 2}, d)},
                      [](const TensorList& in) { return stack(in, 0); }},
                 };
               }}));
  // One piece of a split; a sample's call can be given any input, which may split into fewer.
  auto piece = [](const char* op, const TensorList& pieces, std::size_t i) {
    XGRAD_CHECK(i < pieces.size(), "{}: this sample takes piece {}, but its input splits into {} pieces", op, i,
                pieces.size());
    return pieces[i];
  };
  // The sample output joins the pieces in another order, so every piece's VJP is exercised.
  auto rejoin = [](const TensorList& ps, std::int64_t dim) {
    TensorList rev(ps.rbegin(), ps.rend());
    return cat(rev, dim);
  };
  r.push_back(declared(kSplit, {
               .differentiable = {true},
               .samples = [rejoin, piece](Dtype d) {
                 return std::vector<OpSample>{
                     {"[5,2] size 2 dim 0 -> 2,2,1", {samples::input({5, 2}, d)},
                      [rejoin](const TensorList& in) { return rejoin(split(in[0], 2, 0), 0); }},
                     {"[2,6] sizes (1,0,3,2) dim -1", {samples::input({2, 6}, d)},
                      [rejoin](const TensorList& in) { return rejoin(split(in[0], {1, 0, 3, 2}, -1), -1); }},
                     {"[3,2] size 4 dim 0 (one piece)", {samples::input({3, 2}, d)},
                      [piece](const TensorList& in) { return piece("split", split(in[0], 4, 0), 0); }},
                     {"[2,5] size 2 dim 1, second piece only", {samples::input({2, 5}, d)},
                      [piece](const TensorList& in) { return piece("split", split(in[0], 2, 1), 1); }},
                 };
               }}));
  r.push_back(declared(kChunk, {
               .differentiable = {true},
               .samples = [rejoin, piece](Dtype d) {
                 return std::vector<OpSample>{
                     {"[5,2] 3 chunks dim 0 -> 2,2,1", {samples::input({5, 2}, d)},
                      [rejoin](const TensorList& in) { return rejoin(chunk(in[0], 3, 0), 0); }},
                     {"[2,6] 4 chunks dim -1 -> 2,2,2", {samples::input({2, 6}, d)},
                      [rejoin](const TensorList& in) { return rejoin(chunk(in[0], 4, -1), -1); }},
                     {"[1,3] 2 chunks dim 0 -> one", {samples::input({1, 3}, d)},
                      [piece](const TensorList& in) { return piece("chunk", chunk(in[0], 2, 0), 0); }},
                 };
               }}));
  r.push_back(declared(kPad, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3] last dim (1,2) value 0.5", {samples::input({2, 3}, d)},
                      [](const TensorList& in) { return pad(in[0], {1, 2}, 0.5); }},
                     {"[2,3,4] (0,1, 2,0, 1,1)", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return pad(in[0], {0, 1, 2, 0, 1, 1}); }},
                     {"[3,5] negative crops (-1,2, 1,-2)", {samples::input({3, 5}, d)},
                      [](const TensorList& in) { return pad(in[0], {-1, 2, 1, -2}); }},
                     {"[1,4] crop to zero size (-2,-2)", {samples::input({1, 4}, d)},
                      [](const TensorList& in) { return pad(in[0], {-2, -2}); }},
                     {"[0,2] (1,1, 1,0)", {samples::input({0, 2}, d)},
                      [](const TensorList& in) { return pad(in[0], {1, 1, 1, 0}); }},
                     {"0-d no pads", {samples::input({}, d)}, [](const TensorList& in) { return pad(in[0], {}); }},
                 };
               }}));
}

}  // namespace xgrad
