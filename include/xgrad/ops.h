#pragma once
// The public ops. Each is defined, with its VJP, shape rules and registry entry, in one file
// under ops/ (named in the comment of each group). Every differentiable op supports double backward.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "xgrad/node.h"
#include "xgrad/tensor.h"

namespace xgrad {

// ---- elementwise, NumPy broadcasting; the VJP sums over broadcast dims (ops/elementwise_binary.cpp)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor pow(const Tensor& base, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);  // ties split the gradient evenly
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);  // condition != 0

// ---- elementwise unary (ops/elementwise_unary.cpp)
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // not differentiable (zero gradient)
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// ---- comparisons: 0/1 masks of dtype int64 (PyTorch returns bool), never differentiable
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool equal(const Tensor& a, const Tensor& b);  // same shape and values

// ---- reductions (ops/reduce.cpp). An empty dims list reduces over every dim.
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // gradient split evenly between tied maxima (PyTorch)
Tensor max(const Tensor& x, std::int64_t dim, bool keepdim = false);  // gradient to argmax
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor var(const Tensor& x, const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Dims& dims = {}, std::int64_t correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);
Tensor argmax(const Tensor& x);  // index into the flattened tensor
Tensor argmax(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x);
Tensor argmin(const Tensor& x, std::int64_t dim, bool keepdim = false);

// ---- linear algebra through CBLAS (ops/matmul.cpp)
Tensor matmul(const Tensor& a, const Tensor& b);  // 1-D, 2-D, batched with broadcasting
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());  // x W^T + b
// op(a) · op(b) for a, b with >= 2 dims, op swapping the last two dims when its flag is set; the
// flags go to GEMM, so no transpose is copied. Equals matmul(transpose(a, -2, -1), b) etc.
Tensor matmul_transposed(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b);

// ---- shape (ops/shape.cpp, ops/index.cpp, ops/join.cpp)
Tensor reshape(const Tensor& x, const Shape& shape);  // one dim may be -1
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor permute(const Tensor& x, const Dims& dims);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a size; VJP is sum_to
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor sum_to(const Tensor& x, const Shape& shape);  // sums away broadcast dims; VJP is expand
Tensor to_dtype(const Tensor& x, Dtype dtype);        // Tensor::to
// Python-style slice along one dim: negative and out-of-range bounds are clamped; step > 0.
Tensor slice(const Tensor& x, std::int64_t dim, std::optional<std::int64_t> start,
             std::optional<std::int64_t> stop, std::int64_t step = 1);
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& source);
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor cat(const TensorList& tensors, std::int64_t dim = 0);
Tensor stack(const TensorList& tensors, std::int64_t dim = 0);
TensorList split(const Tensor& x, std::int64_t split_size, std::int64_t dim = 0);
TensorList split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t dim = 0);
TensorList chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim = 0);
// Constant padding; `pad` lists (before, after) pairs starting from the last dim, as in PyTorch.
// Negative amounts crop.
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pad, double value = 0.0);

// ---- operators
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);

// The dtype a binary op computes in (PyTorch's result_type): float beats int; a 0-d tensor does
// not promote a tensor with dims of the same kind; otherwise the wider type.
Dtype result_type(const Tensor& a, const Tensor& b);

// A 0-d tensor holding `value` in `like`'s dtype (int64 tensors get float32 for a fractional value).
Tensor scalar_like(double value, const Tensor& like);

}  // namespace xgrad
