#pragma once
// The public ops. Each is defined, with its VJP, shape rules and registry entry, in one file
// under ops/ (named in the comment of each group). Every differentiable op supports double backward.
#ifdef XGRAD_LAYER_CORE
#error "core/ sits below the op families and must not use them (docs/ARCHITECTURE.md, Layers)"
#endif
#include <cstdint>
#include <optional>
#include <string_view>
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
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);  // bool, or any dtype: != 0

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
Tensor erf(const Tensor& x);
// Gaussian error linear unit, PyTorch's two forms: approximate "none" is x Phi(x) (Phi the standard
// normal CDF), "tanh" is x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");

// ---- comparisons: bool masks, as in PyTorch, never differentiable (ops/compare.cpp)
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool equal(const Tensor& a, const Tensor& b);  // same shape and values

// ---- logical ops and masks (ops/logical.cpp). Operands of any dtype count as "nonzero" (NaN is
// true); results are bool, with broadcasting; never differentiable.
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
Tensor any(const Tensor& x);  // 0-d bool: some element is nonzero (false when empty)
Tensor any(const Tensor& x, std::int64_t dim, bool keepdim = false);
Tensor all(const Tensor& x);  // 0-d bool: every element is nonzero (true when empty)
Tensor all(const Tensor& x, std::int64_t dim, bool keepdim = false);
// x with `value` where the bool mask (broadcast to x's shape) is true; x's dtype; differentiable in x.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// The elements of x where the bool mask is true (both broadcast), as a 1-D tensor in row-major
// order; differentiable in x.
Tensor masked_select(const Tensor& x, const Tensor& mask);

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
Tensor clone(const Tensor& x);  // a copy with its own buffer; differentiable (dx = dy)
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

// ---- CNN ops (PyTorch's torch.nn.functional, argument order and defaults included)
// A spatial size or step for 2-D ops: one number for both dims, or {h, w}.
struct Int2 {
  std::int64_t h, w;
  Int2(std::int64_t v) : h(v), w(v) {}  // NOLINT: implicit, as PyTorch accepts an int
  Int2(std::int64_t h_, std::int64_t w_) : h(h_), w(w_) {}
};
// Convolution padding: an amount on each side (one number, or {h, w} for 2-D), or the strings
// "same" (output as long as the input; stride must be 1; an odd total goes to the far side)
// and "valid" (no padding).
struct ConvPadding {
  enum class Mode { amount, same, valid };
  Mode mode = Mode::amount;
  Int2 amount{0};
  ConvPadding(std::int64_t p) : amount(p) {}  // NOLINT
  ConvPadding(int p) : amount(p) {}           // NOLINT: a literal 0 is not the string overload
  ConvPadding(std::int64_t h, std::int64_t w) : amount(h, w) {}
  ConvPadding(const char* mode);  // NOLINT: "same" or "valid"; anything else raises
};

// Convolution (ops/conv.cpp): cross-correlation, as every toolkit computes it. x is [N, C_in, L]
// or [N, C_in, H, W] (the batch dim may be left out); weight is [C_out, C_in/groups, K...];
// bias [C_out]. Output size floor((W + 2P - D(K-1) - 1)/S) + 1.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), std::int64_t stride = 1,
              ConvPadding padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1);
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Int2 stride = 1,
              ConvPadding padding = 0, Int2 dilation = 1, std::int64_t groups = 1);
// Transposed convolution (the gradient of conv with respect to its input): weight is
// [C_in, C_out/groups, K...]; output size (W - 1)S - 2P + D(K-1) + output_padding + 1.
Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        std::int64_t stride = 1, std::int64_t padding = 0, std::int64_t output_padding = 0,
                        std::int64_t groups = 1, std::int64_t dilation = 1);
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Int2 stride = 1,
                        Int2 padding = 0, Int2 output_padding = 0, std::int64_t groups = 1, Int2 dilation = 1);

// Pooling (ops/pool.cpp), per channel, on [N, C, L] / [N, C, H, W] (or without the batch dim).
// The stride defaults to the kernel size; padding is at most half the kernel; ceil_mode rounds
// the output size up (a window must still start inside the input or its left padding).
Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride = std::nullopt,
                  std::int64_t padding = 0, std::int64_t dilation = 1, bool ceil_mode = false);
Tensor max_pool2d(const Tensor& x, Int2 kernel_size, std::optional<Int2> stride = std::nullopt, Int2 padding = 0,
                  Int2 dilation = 1, bool ceil_mode = false);
// Also returns the int64 positions of the maxima (flat index into each input plane), as
// PyTorch's return_indices=true. The gradient goes to the first maximum of a window.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Int2 kernel_size,
                                                  std::optional<Int2> stride = std::nullopt, Int2 padding = 0,
                                                  Int2 dilation = 1, bool ceil_mode = false);
Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride = std::nullopt,
                  std::int64_t padding = 0, bool ceil_mode = false, bool count_include_pad = true);
Tensor avg_pool2d(const Tensor& x, Int2 kernel_size, std::optional<Int2> stride = std::nullopt, Int2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<std::int64_t> divisor_override = std::nullopt);
// Averages over windows [floor(i*In/Out), ceil((i+1)*In/Out)); output size 1 is global pooling.
Tensor adaptive_avg_pool1d(const Tensor& x, std::int64_t output_size);
Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size);

// Softmax family (ops/softmax.cpp): stable for any finite logits (the row max is subtracted).
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// Losses (ops/cross_entropy.cpp, ops/loss.cpp). Inputs are [N, C] or [N, C, d1, ...] (classes in
// dim 1) or [C]; class targets are int64 [N, d1, ...]. A batch is averaged by default.
enum class Reduction { none, mean, sum };
// Fused log_softmax + nll_loss; its gradient is (softmax - onehot) / N. `target` holds int64
// class indices, or class probabilities with the logits' shape and dtype. With class weights, the
// mean divides by the total weight of the counted targets, as PyTorch does.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     std::int64_t ignore_index = -100, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                std::int64_t ignore_index = -100, Reduction reduction = Reduction::mean);
// Multiclass SVM (hinge) loss, PyTorch's form: per sample sum_{j != y} max(0, margin - s_y + s_j)^p
// (times weight[y]) divided by the number of classes C. p is 1 or 2.
Tensor multi_margin_loss(const Tensor& scores, const Tensor& target, std::int64_t p = 1, double margin = 1.0,
                         const Tensor& weight = Tensor(), Reduction reduction = Reduction::mean);
// The lectures' SVM loss: per sample sum_{j != y} max(0, s_j - s_y + margin), not divided by C.
Tensor svm_loss(const Tensor& scores, const Tensor& target, double margin = 1.0,
                Reduction reduction = Reduction::mean);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
// -w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed without overflow.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                                        Reduction reduction = Reduction::mean, const Tensor& pos_weight = Tensor());
// x where target is 1, max(0, margin - x) where target is -1.
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin = 1.0,
                            Reduction reduction = Reduction::mean);

// Regularisation and normalisation (ops/dropout.cpp, ops/normalization.cpp).
// Inverted dropout: zeroes each element with probability p (xgrad's seeded generator) and scales the
// rest by 1/(1-p) in training; the identity otherwise.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
// x is [N, C] or [N, C, ...]; statistics per channel C. In training it normalises with the batch
// statistics (biased variance) and, when given, updates running_mean/running_var in place
// (momentum-weighted; the variance unbiased); in evaluation it uses the running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = false,
                  double momentum = 0.1, double eps = 1e-5);
// Normalises over the trailing dims given by normalized_shape (biased variance), then weight/bias.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

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
// Element-wise, as PyTorch's: a bool mask, not one bool (use equal() to compare whole tensors).
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, double b);
Tensor operator!=(const Tensor& a, double b);
// Bitwise operators on bool tensors only (logical_and / or / xor / not); other dtypes raise.
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator|(const Tensor& a, const Tensor& b);
Tensor operator^(const Tensor& a, const Tensor& b);
Tensor operator~(const Tensor& x);

// The dtype a binary op computes in (PyTorch's result_type): float beats int; a 0-d tensor does
// not promote a tensor with dims of the same kind; otherwise the wider type.
Dtype result_type(const Tensor& a, const Tensor& b);

// A 0-d tensor holding `value` in `like`'s dtype (int64 tensors get float32 for a fractional value, or one
// beyond the int64 range).
Tensor scalar_like(double value, const Tensor& like);

}  // namespace xgrad
