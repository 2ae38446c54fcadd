// Matrix products through CBLAS: matmul (PyTorch's 1-D / 2-D / batched rules), linear, and the
// transpose-flag product both of them and their VJPs are built on.
#include "../core/kernels/blas.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kMatmul{"matmul", 2, "da = sum_to(dy b^T), db = sum_to(a^T dy) (1-D operands get a size-1 dim)"};
constexpr OpDecl kMatmulTransposed{"matmul_transposed", 2,
    "op(a) op(b): dop(a) = sum_to(dy op(b)^T), dop(b) = sum_to(op(a)^T dy)"};
constexpr OpDecl kLinear{"linear", 3, "dx = dy W, dW = sum over rows of dy^T x, db = sum_to(dy, b.shape)"};

namespace {

Shape batch_dims(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// Whether two batch shapes broadcast (each dim equal, or one of them 1).
bool batches_broadcast(const Shape& a, const Shape& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 1; i <= n; ++i) {
    const std::int64_t da = a[a.size() - i], db = b[b.size() - i];
    if (da != db && da != 1 && db != 1) return false;
  }
  return true;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (std::size_t i = 1; i <= from.size(); ++i)
    if (from[from.size() - i] != 1 && from[from.size() - i] != to[to.size() - i]) return false;
  return true;
}

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  XGRAD_CHECK(a.defined() && b.defined(), "{}: an operand is an undefined tensor", op);
  XGRAD_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()),
              "{}: expects float32 or float64 operands, got {} {} and {} {} (integer products are not "
              "supported; convert with .to(float32))",
              op, dtype_name(a.dtype()), to_string(a.shape()), dtype_name(b.dtype()), to_string(b.shape()));
  // PyTorch raises here too rather than promoting.
  XGRAD_CHECK(a.dtype() == b.dtype(),
              "{}: expects both operands to have the same dtype, got {} {} and {} {} (convert one with .to())", op,
              dtype_name(a.dtype()), to_string(a.shape()), dtype_name(b.dtype()), to_string(b.shape()));
}

void check_batches(const char* op, const Tensor& a, const Tensor& b) {
  const Shape ba = batch_dims(a.shape()), bb = batch_dims(b.shape());
  XGRAD_CHECK(batches_broadcast(ba, bb),
              "{}: cannot multiply {} by {}: the batch dims {} and {} do not broadcast (each must match or be 1)",
              op, to_string(a.shape()), to_string(b.shape()), to_string(ba), to_string(bb));
}

// The one recorded product: op(a) · op(b) with a, b of >= 2 dims, already validated.
Tensor product(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  XGRAD_CHECK(a.dtype() == b.dtype(), "matmul: internal dtype mismatch {} vs {}", dtype_name(a.dtype()),
              dtype_name(b.dtype()));
  Tensor y = kernels::batched_gemm(a, ta, b, tb, "matmul");
  record(y, (ta || tb) ? kMatmulTransposed : kMatmul, {a, b}, {a, b}, [ta, tb](Node& n, const Tensor& gy) -> TensorList {
    const Tensor a = n.saved(0), b = n.saved(1);
    Tensor ga, gb;
    // Y = op(A) op(B): dop(A) = dY op(B)^T, dop(B) = op(A)^T dY, written so each is one
    // transpose-flag product (no copies), then summed over the batch dims that were broadcast.
    if (n.needs_input_grad(0))
      ga = sum_to(ta ? product(b, tb, gy, true) : product(gy, false, b, !tb), a.shape());
    if (n.needs_input_grad(1)) {
      const Shape& sa = a.shape();
      if (!ta && sa.size() > 2 && numel_of(batch_dims(b.shape())) == 1) {
        // B was shared by every batch: stack the batch into rows and reduce it inside one GEMM.
        const std::int64_t rows = numel_of(batch_dims(sa)) * sa[sa.size() - 2], k = sa.back();
        const Tensor a2 = reshape(a, {rows, k}), g2 = reshape(gy, {rows, gy.shape().back()});
        gb = reshape(tb ? product(g2, true, a2, false) : product(a2, true, g2, false), b.shape());
      } else {
        gb = sum_to(tb ? product(gy, true, a, ta) : product(a, !ta, gy, false), b.shape());
      }
    }
    return {ga, gb};
  });
  return y;
}

// Drops one dim of a result (the size-1 dim a 1-D operand was given).
Tensor drop_dim(const Tensor& y, std::size_t dim) {
  Shape s = y.shape();
  s.erase(dim);
  return reshape(y, s);
}

}  // namespace

Tensor matmul_transposed(const Tensor& a, bool ta, const Tensor& b, bool tb) {
  check_operands("matmul_transposed", a, b);
  XGRAD_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul_transposed: expects operands with at least 2 dims, got {} and {}",
              to_string(a.shape()), to_string(b.shape()));
  const std::int64_t ka = ta ? a.size(-2) : a.size(-1), kb = tb ? b.size(-1) : b.size(-2);
  XGRAD_CHECK(ka == kb,
              "matmul_transposed: cannot multiply {}{} by {}{}: the inner dimensions {} and {} differ", to_string(a.shape()),
              ta ? "^T" : "", to_string(b.shape()), tb ? "^T" : "", ka, kb);
  check_batches("matmul_transposed", a, b);
  return product(a, ta, b, tb);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", a, b);
  XGRAD_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dim, got shapes {} and {}",
              to_string(a.shape()), to_string(b.shape()));
  const std::int64_t k = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  XGRAD_CHECK(k == kb,
              "matmul: cannot multiply {} by {}: the inner dimensions {} and {} differ (the last dim of the first "
              "operand must equal the {} of the second)",
              to_string(a.shape()), to_string(b.shape()), k, kb, b.dim() == 1 ? "size" : "second-to-last dim");
  if (a.dim() == 1 && b.dim() == 1) return reshape(product(reshape(a, {1, k}), false, reshape(b, {k, 1}), false), {});
  if (a.dim() == 1) {  // a row vector, removed again afterwards
    const Tensor y = product(reshape(a, {1, k}), false, b, false);
    return drop_dim(y, y.shape().size() - 2);
  }
  if (b.dim() == 1) {  // a column vector
    const Tensor y = product(a, false, reshape(b, {k, 1}), false);
    return drop_dim(y, y.shape().size() - 1);
  }
  check_batches("matmul", a, b);
  return product(a, false, b, false);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  XGRAD_CHECK(x.defined() && weight.defined(), "linear: the input or the weight is an undefined tensor");
  XGRAD_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got shape {}",
              to_string(weight.shape()));
  XGRAD_CHECK(x.dim() >= 1, "linear: the input needs at least 1 dim ([..., in_features]), got shape {}",
              to_string(x.shape()));
  check_operands("linear", x, weight);
  const std::int64_t in = weight.size(1), out = weight.size(0);
  XGRAD_CHECK(x.size(-1) == in,
              "linear: input shape {} has {} features in its last dim but weight shape {} expects in_features = {}",
              to_string(x.shape()), x.size(-1), to_string(weight.shape()), in);
  // x W^T with the transpose left to GEMM; an N-D x is one GEMM with its batch folded into rows.
  Tensor y = x.dim() == 1 ? reshape(product(reshape(x, {1, in}), false, weight, true), {out})
                          : product(x, false, weight, true);
  if (!bias.defined()) return y;
  check_operands("linear", weight, bias);
  XGRAD_CHECK(broadcasts_to(bias.shape(), y.shape()),
              "linear: bias shape {} does not broadcast to the output shape {} (expected [out_features] = [{}])",
              to_string(bias.shape()), to_string(y.shape()), out);
  return add(y, bias);
}

void register_matmul_ops(std::vector<OpInfo>& r) {
  using samples::input;
  r.push_back(declared(kMatmul, {
               .differentiable = {true, true},
               .samples = [](Dtype d) {
                 auto mm = [](const TensorList& in) { return matmul(in[0], in[1]); };
                 return std::vector<OpSample>{
                     {"1-D x 1-D dot [3] x [3]", {input({3}, d), input({3}, d)}, mm},
                     {"2-D x 1-D [2,3] x [3]", {input({2, 3}, d), input({3}, d)}, mm},
                     {"1-D x 2-D [3] x [3,2]", {input({3}, d), input({3, 2}, d)}, mm},
                     {"2-D x 2-D [2,3] x [3,4]", {input({2, 3}, d), input({3, 4}, d)}, mm},
                     {"batched [2,3,4] x [4,5]", {input({2, 3, 4}, d), input({4, 5}, d)}, mm},
                     {"batched both [2,3,4] x [2,4,2]", {input({2, 3, 4}, d), input({2, 4, 2}, d)}, mm},
                     {"broadcast batch [2,1,3,4] x [3,4,2]", {input({2, 1, 3, 4}, d), input({3, 4, 2}, d)}, mm},
                     {"2-D x batched [3,4] x [2,4,2]", {input({3, 4}, d), input({2, 4, 2}, d)}, mm},
                     {"batched x 1-D [2,3,4] x [4]", {input({2, 3, 4}, d), input({4}, d)}, mm},
                     {"1-D x batched [3] x [2,3,4]", {input({3}, d), input({2, 3, 4}, d)}, mm},
                     {"size-1 dims [1,3] x [3,1]", {input({1, 3}, d), input({3, 1}, d)}, mm},
                     {"K = 0 [2,0] x [0,3]", {input({2, 0}, d), input({0, 3}, d)}, mm},
                     {"empty batch [0,2,3] x [3,2]", {input({0, 2, 3}, d), input({3, 2}, d)}, mm},
                 };
               }}));
  r.push_back(declared(kMatmulTransposed, {
               .differentiable = {true, true},
               .samples = [](Dtype d) {
                 auto mt = [](bool ta, bool tb) {
                   return [=](const TensorList& in) { return matmul_transposed(in[0], ta, in[1], tb); };
                 };
                 return std::vector<OpSample>{
                     {"a^T b [3,2]^T x [3,4]", {input({3, 2}, d), input({3, 4}, d)}, mt(true, false)},
                     {"a b^T [2,3] x [4,3]^T", {input({2, 3}, d), input({4, 3}, d)}, mt(false, true)},
                     {"a^T b^T [3,2]^T x [4,3]^T", {input({3, 2}, d), input({4, 3}, d)}, mt(true, true)},
                     {"batched a b^T [2,2,3] x [4,3]^T", {input({2, 2, 3}, d), input({4, 3}, d)}, mt(false, true)},
                     {"broadcast a^T b [2,1,3,2]^T x [3,3,2]", {input({2, 1, 3, 2}, d), input({3, 3, 2}, d)},
                      mt(true, false)},
                     {"a^T b^T [3,2]^T x [2,4,3]^T", {input({3, 2}, d), input({2, 4, 3}, d)}, mt(true, true)},
                 };
               }}));
  r.push_back(declared(kLinear, {
               .differentiable = {true, true, true},
               .samples = [](Dtype d) {
                 auto lin = [](const TensorList& in) { return linear(in[0], in[1], in[2]); };
                 return std::vector<OpSample>{
                     {"1-D x [3], W [2,3], no bias", {input({3}, d), input({2, 3}, d), Tensor()}, lin},
                     {"1-D x [3], W [2,3], bias [2]", {input({3}, d), input({2, 3}, d), input({2}, d)}, lin},
                     {"2-D x [4,3], W [2,3], bias [2]", {input({4, 3}, d), input({2, 3}, d), input({2}, d)}, lin},
                     {"3-D x [2,2,3], W [4,3], bias [4]", {input({2, 2, 3}, d), input({4, 3}, d), input({4}, d)}, lin},
                     {"3-D x [2,2,3], W [4,3], no bias", {input({2, 2, 3}, d), input({4, 3}, d), Tensor()}, lin},
                     {"x [0,3] (empty batch), bias [2]", {input({0, 3}, d), input({2, 3}, d), input({2}, d)}, lin},
                 };
               }}));
}

}  // namespace xgrad
