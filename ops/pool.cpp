// Pooling (issue 3): max, average and adaptive average pooling over 1-D and 2-D planes, with
// PyTorch's semantics. 1-D pooling is 2-D pooling of planes one row high, so one set of kernels
// serves both. Each op's VJP is an internal op whose own VJP closes the loop, so double
// backward works: max pooling scatters into the saved indices (its adjoint gathers at them),
// average pooling spreads over its windows (its adjoint is the average pooling itself).
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../core/arg_checks.h"
#include "../core/kernels/pool.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kMaxPool2d{"max_pool2d", 1,
    "dx = zeros(x.shape) with dy added at the argmax of each window (first max on ties)"};
constexpr OpDecl kMaxPool2dWithIndices{"max_pool2d_with_indices", 1,
    "dx = zeros(x.shape) with dy added at the returned indices"};
constexpr OpDecl kMaxPool1d{"max_pool1d", 1,
    "dx = zeros(x.shape) with dy added at the argmax of each window (first max on ties)"};
constexpr OpDecl kAvgPool2d{"avg_pool2d", 1, "dx = dy / divisor spread over each window"};
constexpr OpDecl kAvgPool1d{"avg_pool1d", 1, "dx = dy / divisor spread over each window"};
constexpr OpDecl kAdaptiveAvgPool2d{"adaptive_avg_pool2d", 1,
    "dx = dy / window size spread over each adaptive window"};
constexpr OpDecl kAdaptiveAvgPool1d{"adaptive_avg_pool1d", 1,
    "dx = dy / window size spread over each adaptive window"};
constexpr OpDecl kMaxPoolBackward{"max_pool_backward", 2,
    "d(gy) = ggx gathered at the saved indices (max_pool_gather)"};
constexpr OpDecl kMaxPoolGather{"max_pool_gather", 2,
    "dg = zeros(g.shape) with dy added at the saved indices (max_pool_backward)"};
constexpr OpDecl kAvgPoolBackward{"avg_pool_backward", 1, "d(gy) = avg_pool(ggx) with the same arguments"};
constexpr OpDecl kAdaptiveAvgPoolBackward{"adaptive_avg_pool_backward", 1,
    "d(gy) = adaptive_avg_pool(ggx) with the same output size"};

namespace {

using kernels::PoolWindows;

// A pooling op's arguments. 1-D ops hold their value in `w` and 1 in `h`.
struct PoolSpec {
  const char* op;
  int spatial;  // 1 or 2 pooled dims
  Int2 kernel, stride, padding, dilation;
  bool ceil_mode;
};

// "3" for a 1-D op, "(3, 2)" for a 2-D one.
std::string show(Int2 v, int spatial) {
  return spatial == 1 ? std::to_string(v.w) : fmt::format("({}, {})", v.h, v.w);
}

// The input's rank, dtype and sizes: [C, *spatial] or [N, C, *spatial], every dim but the batch
// non-zero (PyTorch's rule), floating.
void check_pool_input(const Tensor& x, int spatial, const char* op) {
  XGRAD_CHECK(x.defined(), "{}: the input is an undefined tensor", op);
  const char* layouts = spatial == 1 ? "2-D [C, L] or 3-D [N, C, L]" : "3-D [C, H, W] or 4-D [N, C, H, W]";
  XGRAD_CHECK(x.dim() == spatial + 1 || x.dim() == spatial + 2, "{}: expected a {} input, got shape {}", op, layouts,
              to_string(x.shape()));
  XGRAD_CHECK(is_floating(x.dtype()), "{}: expects a floating input (float32 or float64), got {} (shape {})", op,
              dtype_name(x.dtype()), to_string(x.shape()));
  const std::int64_t first_nonbatch = x.dim() == spatial + 2 ? 1 : 0;
  for (std::int64_t d = first_nonbatch; d < x.dim(); ++d)
    XGRAD_CHECK(x.size(d) > 0, "{}: expected a non-zero size in every dim but the batch dim, got shape {}", op,
                to_string(x.shape()));
}

// x's shape with its last `spatial` dims set to (h, w) (or w alone).
Shape pooled_shape(const Shape& in, int spatial, std::int64_t h, std::int64_t w) {
  Shape s = in;
  s[s.size() - 1] = w;
  if (spatial == 2) s[s.size() - 2] = h;
  return s;
}

// Planes and sizes of an input shape: the last `spatial` dims are the plane.
PoolWindows plane_sizes(const Shape& in, int spatial) {
  PoolWindows w;
  w.in_w = in[in.size() - 1];
  w.in_h = spatial == 2 ? in[in.size() - 2] : 1;
  w.planes = numel_of(in) / std::max<std::int64_t>(1, w.in_h * w.in_w);
  return w;
}

// Padded input sizes beyond this raise: every window position then fits int64 with room to spare.
constexpr std::int64_t kMaxPaddedSize = std::int64_t{1} << 62;

// PyTorch's pooling output size along one dim, with its formula filled in for the error message.
std::int64_t pooled_size(const PoolSpec& s, const char* dim_name, const char* letter, std::int64_t in, std::int64_t k,
                         std::int64_t stride, std::int64_t pad, std::int64_t dil, const Shape& in_shape) {
  // In 128 bits: extreme kernel, stride, padding or dilation must not wrap.
  using i128 = __int128;
  const i128 padded = i128{in} + 2 * i128{pad};
  XGRAD_CHECK(padded <= kMaxPaddedSize, "{}: the padded input {} {} + 2*{} is too large (at most {}; input shape {})",
              s.op, dim_name, in, pad, kMaxPaddedSize, to_string(in_shape));
  const i128 span = padded - i128{dil} * (k - 1) - 1;
  // Floor (or ceil) division rounding toward -inf, as PyTorch's div_rtn.
  const i128 numerator = span + (s.ceil_mode ? stride - 1 : 0);
  i128 q = numerator / stride;
  if (numerator % stride != 0 && numerator < 0) --q;
  i128 out = q + 1;
  // ceil_mode: the last window must start inside the input or its left padding.
  if (s.ceil_mode && (out - 1) * stride >= i128{in} + pad) --out;
  XGRAD_CHECK(
      out > 0,
      "{}: the output {} would be {} (it must be at least 1) for input of shape {} with kernel_size {}, "
      "stride {}, padding {}, dilation {}: {}(({} + 2P - D(K-1) - 1)/S) + 1 = {}(({} + 2*{} - {}*({}-1) - 1)/{}) "
      "+ 1 = {}",
      s.op, dim_name, out, to_string(in_shape), show(s.kernel, s.spatial), show(s.stride, s.spatial),
      show(s.padding, s.spatial), show(s.dilation, s.spatial), s.ceil_mode ? "ceil" : "floor", letter,
      s.ceil_mode ? "ceil" : "floor", in, pad, dil, k, stride, out);
  return static_cast<std::int64_t>(out);  // at most the padded size
}

// Validates a pooling op's arguments against the input shape and lays out its windows.
PoolWindows plan_windows(const Shape& in, const PoolSpec& s) {
  const std::string k = show(s.kernel, s.spatial), st = show(s.stride, s.spatial),
                    p = show(s.padding, s.spatial), d = show(s.dilation, s.spatial);
  XGRAD_CHECK(s.kernel.h > 0 && s.kernel.w > 0, "{}: kernel_size must be greater than zero, got {}", s.op, k);
  XGRAD_CHECK(s.stride.h > 0 && s.stride.w > 0, "{}: stride must be greater than zero, got {}", s.op, st);
  XGRAD_CHECK(s.dilation.h > 0 && s.dilation.w > 0, "{}: dilation must be greater than zero, got {}", s.op, d);
  XGRAD_CHECK(s.padding.h >= 0 && s.padding.w >= 0, "{}: padding must be non-negative, got {}", s.op, p);
  XGRAD_CHECK(s.padding.h <= s.kernel.h / 2 && s.padding.w <= s.kernel.w / 2,
              "{}: padding {} must be at most half of kernel_size {} (pad <= kernel / 2, as PyTorch requires; "
              "input shape {})",
              s.op, p, k, to_string(in));
  PoolWindows w = plane_sizes(in, s.spatial);
  w.kernel_h = s.kernel.h;
  w.kernel_w = s.kernel.w;
  w.stride_h = s.stride.h;
  w.stride_w = s.stride.w;
  w.pad_h = s.padding.h;
  w.pad_w = s.padding.w;
  w.dilation_h = s.dilation.h;
  w.dilation_w = s.dilation.w;
  w.out_w = pooled_size(s, s.spatial == 1 ? "length" : "width", s.spatial == 1 ? "L" : "W", w.in_w, w.kernel_w,
                        w.stride_w, w.pad_w, w.dilation_w, in);
  w.out_h = s.spatial == 1 ? 1
                           : pooled_size(s, "height", "H", w.in_h, w.kernel_h, w.stride_h, w.pad_h, w.dilation_h, in);
  // One output along a dim reads one window: its stride is irrelevant, and 1 keeps the kernels'
  // window arithmetic (o * stride) far from overflow for a stride near INT64_MAX.
  if (w.out_h == 1) w.stride_h = 1;
  if (w.out_w == 1) w.stride_w = 1;
  // The kernels visit the tap columns that can read the input: at most the kernel, or about the
  // input width plus the windows' reach, which only ceil_mode windows lying almost all in the
  // padding push beyond twice the input (a kernel of 2^31 with padding 2^30 and stride 2^30).
  const kernels::TapSpan taps = kernels::tap_column_span(w);
  const std::int64_t tap_limit = 2 * w.in_w + 64;
  XGRAD_CHECK(taps.end - taps.first <= tap_limit,
              "{}: kernel_size {}, stride {} and padding {} with ceil_mode make windows that lie almost entirely in the "
              "padding: they read the input through {} tap columns, more than 2 * {} + 64 = {} (input shape {})",
              s.op, k, st, p, taps.end - taps.first, w.in_w, tap_limit, to_string(in));
  return w;
}

PoolSpec spec_1d(const char* op, std::int64_t kernel, std::optional<std::int64_t> stride, std::int64_t padding,
                 std::int64_t dilation, bool ceil_mode) {
  return {op, 1, Int2(1, kernel), Int2(1, stride.value_or(kernel)), Int2(0, padding), Int2(1, dilation), ceil_mode};
}

PoolSpec spec_2d(const char* op, Int2 kernel, std::optional<Int2> stride, Int2 padding, Int2 dilation,
                 bool ceil_mode) {
  return {op, 2, kernel, stride.value_or(kernel), padding, dilation, ceil_mode};
}

// ---- checks of the internal ops

// The internal ops (the VJPs below) are registry ops too, callable with any tensors, so each checks
// that its tensors fit the windows it was planned with (O(1); index values are checked by the
// kernels as they go).
void check_internal_tensor(const char* op, const Tensor& t, const char* name, const Shape& expected) {
  check_defined(op, {{t, name}});
  XGRAD_CHECK(is_floating(t.dtype()), "{}: {} must be floating (float32 or float64), got {} (shape {})", op, name,
              dtype_name(t.dtype()), to_string(t.shape()));
  XGRAD_CHECK(t.shape() == expected, "{}: {} has shape {}, expected {}", op, name, to_string(t.shape()),
              to_string(expected));
}

void check_indices(const char* op, const Tensor& indices, const Shape& expected) {
  check_defined(op, {{indices, "indices"}});
  XGRAD_CHECK(indices.dtype() == Dtype::int64, "{}: indices must be int64, got {} (shape {})", op,
              dtype_name(indices.dtype()), to_string(indices.shape()));
  XGRAD_CHECK(indices.shape() == expected, "{}: indices have shape {}, expected {} (the pooled output's)", op,
              to_string(indices.shape()), to_string(expected));
}

// in_shape must be [C, *plane] or [N, C, *plane] with the windows' plane size and plane count.
void check_planned_shape(const char* op, const Shape& in_shape, const PoolWindows& w, int spatial, const char* name) {
  const auto rank = static_cast<std::int64_t>(in_shape.size());
  const bool fits = (rank == spatial + 1 || rank == spatial + 2) && in_shape[in_shape.size() - 1] == w.in_w &&
                    (spatial == 1 ? w.in_h == 1 : in_shape[in_shape.size() - 2] == w.in_h) &&
                    numel_of(in_shape) == w.planes * w.in_h * w.in_w;
  XGRAD_CHECK(fits, "{}: {} has shape {}, which does not fit the pooling's {} planes of {}x{}", op, name,
              to_string(in_shape), w.planes, w.in_h, w.in_w);
}

// ---- max pooling and its two internal ops

Tensor max_pool_gather(const Tensor& g, const Tensor& indices, const PoolWindows& w, int spatial);

// The VJP of max pooling: gy added into zeros of in_shape at the saved indices. Its VJP gathers.
Tensor max_pool_backward(const Tensor& gy, const Tensor& indices, const PoolWindows& w, const Shape& in_shape,
                         int spatial) {
  const char* op = kMaxPoolBackward.name;
  check_planned_shape(op, in_shape, w, spatial, "the input");
  const Shape out_shape = pooled_shape(in_shape, spatial, w.out_h, w.out_w);
  check_internal_tensor(op, gy, "grad_output", out_shape);
  check_indices(op, indices, out_shape);
  Tensor gx = kernels::max_pool_scatter(gy, indices, w, in_shape);
  record(gx, kMaxPoolBackward, {gy, indices}, {indices}, [w, spatial](Node& n, const Tensor& ggx) -> TensorList {
    return {max_pool_gather(ggx, n.saved(0), w, spatial), Tensor()};
  });
  return gx;
}

// g read at the saved indices (max pooling with the maxima already known). Its VJP scatters.
Tensor max_pool_gather(const Tensor& g, const Tensor& indices, const PoolWindows& w, int spatial) {
  const char* op = kMaxPoolGather.name;
  check_defined(op, {{g, "input"}});
  check_planned_shape(op, g.shape(), w, spatial, "input");
  check_internal_tensor(op, g, "input", g.shape());
  check_indices(op, indices, pooled_shape(g.shape(), spatial, w.out_h, w.out_w));
  Tensor y = kernels::max_pool_take(g, indices, w);
  const Shape in_shape = g.shape();
  record(y, kMaxPoolGather, {g, indices}, {indices}, [w, in_shape, spatial](Node& n, const Tensor& gy) -> TensorList {
    return {max_pool_backward(gy, n.saved(0), w, in_shape, spatial), Tensor()};
  });
  return y;
}

std::pair<Tensor, Tensor> max_pool_recorded(const Tensor& x, const PoolSpec& s, const OpDecl& op) {
  check_pool_input(x, s.spatial, s.op);
  const PoolWindows w = plan_windows(x.shape(), s);
  auto [y, indices] = kernels::max_pool_forward(x, w, pooled_shape(x.shape(), s.spatial, w.out_h, w.out_w));
  record(y, op, {x}, {indices}, [w, spatial = s.spatial](Node& n, const Tensor& gy) -> TensorList {
    return {max_pool_backward(gy, n.saved(0), w, n.next_edges()[0].shape, spatial)};
  });
  return {y, indices};
}

// ---- average pooling and its internal adjoint

struct AvgOptions {
  bool count_include_pad;
  std::int64_t divisor_override;  // 0: none
  int spatial;
};

Tensor avg_pool_backward(const Tensor& gy, const PoolWindows& w, const AvgOptions& a, const Shape& in_shape);

Tensor avg_pool_recorded(const Tensor& x, const PoolWindows& w, const AvgOptions& a) {
  Tensor y = kernels::avg_pool_forward(x, w, a.count_include_pad, a.divisor_override,
                                       pooled_shape(x.shape(), a.spatial, w.out_h, w.out_w));
  record(y, a.spatial == 1 ? kAvgPool1d : kAvgPool2d, {x}, {}, [w, a](Node& n, const Tensor& gy) -> TensorList {
    return {avg_pool_backward(gy, w, a, n.next_edges()[0].shape)};
  });
  return y;
}

// The VJP of average pooling: each gy / divisor spread over its window. It is linear, and its
// adjoint is the average pooling again.
Tensor avg_pool_backward(const Tensor& gy, const PoolWindows& w, const AvgOptions& a, const Shape& in_shape) {
  check_planned_shape(kAvgPoolBackward.name, in_shape, w, a.spatial, "the input");
  check_internal_tensor(kAvgPoolBackward.name, gy, "grad_output", pooled_shape(in_shape, a.spatial, w.out_h, w.out_w));
  Tensor gx = kernels::avg_pool_backward(gy, w, a.count_include_pad, a.divisor_override, in_shape);
  record(gx, kAvgPoolBackward, {gy}, {}, [w, a](Node&, const Tensor& ggx) -> TensorList {
    return {avg_pool_recorded(ggx, w, a)};
  });
  return gx;
}

Tensor avg_pool_checked(const Tensor& x, const PoolSpec& s, bool count_include_pad,
                        std::optional<std::int64_t> divisor_override) {
  check_pool_input(x, s.spatial, s.op);
  XGRAD_CHECK(!divisor_override || *divisor_override != 0, "{}: divisor_override must be non-zero, got 0", s.op);
  const PoolWindows w = plan_windows(x.shape(), s);
  return avg_pool_recorded(x, w, {count_include_pad, divisor_override.value_or(0), s.spatial});
}

// ---- adaptive average pooling and its internal adjoint

Tensor adaptive_backward(const Tensor& gy, const PoolWindows& w, int spatial, const Shape& in_shape);

Tensor adaptive_recorded(const Tensor& x, const PoolWindows& w, int spatial) {
  Tensor y = kernels::adaptive_avg_pool_forward(x, w, pooled_shape(x.shape(), spatial, w.out_h, w.out_w));
  record(y, spatial == 1 ? kAdaptiveAvgPool1d : kAdaptiveAvgPool2d, {x}, {},
         [w, spatial](Node& n, const Tensor& gy) -> TensorList {
           return {adaptive_backward(gy, w, spatial, n.next_edges()[0].shape)};
         });
  return y;
}

Tensor adaptive_backward(const Tensor& gy, const PoolWindows& w, int spatial, const Shape& in_shape) {
  check_planned_shape(kAdaptiveAvgPoolBackward.name, in_shape, w, spatial, "the input");
  check_internal_tensor(kAdaptiveAvgPoolBackward.name, gy, "grad_output",
                        pooled_shape(in_shape, spatial, w.out_h, w.out_w));
  Tensor gx = kernels::adaptive_avg_pool_backward(gy, w, in_shape);
  record(gx, kAdaptiveAvgPoolBackward, {gy}, {}, [w, spatial](Node&, const Tensor& ggx) -> TensorList {
    return {adaptive_recorded(ggx, w, spatial)};
  });
  return gx;
}

PoolWindows plan_adaptive(const Tensor& x, int spatial, Int2 out, const char* op) {
  check_pool_input(x, spatial, op);
  XGRAD_CHECK(out.h > 0 && out.w > 0, "{}: output_size must be greater than zero, got {} (input shape {})", op,
              show(out, spatial), to_string(x.shape()));
  PoolWindows w = plane_sizes(x.shape(), spatial);
  w.out_h = out.h;
  w.out_w = out.w;
  // The windows' bounds are i * in / out: those products must fit int64.
  XGRAD_CHECK(static_cast<__int128>(w.out_h) * w.in_h <= INT64_MAX && static_cast<__int128>(w.out_w) * w.in_w <= INT64_MAX,
              "{}: output_size {} for input shape {}: output size times input size overflows int64", op,
              show(out, spatial), to_string(x.shape()));
  checked_bytes(pooled_shape(x.shape(), spatial, w.out_h, w.out_w), x.dtype(), op);
  return w;
}

}  // namespace

Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride, std::int64_t padding,
                  std::int64_t dilation, bool ceil_mode) {
  return max_pool_recorded(x, spec_1d(kMaxPool1d.name, kernel_size, stride, padding, dilation, ceil_mode), kMaxPool1d)
      .first;
}

Tensor max_pool2d(const Tensor& x, Int2 kernel_size, std::optional<Int2> stride, Int2 padding, Int2 dilation,
                  bool ceil_mode) {
  return max_pool_recorded(x, spec_2d(kMaxPool2d.name, kernel_size, stride, padding, dilation, ceil_mode), kMaxPool2d)
      .first;
}

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Int2 kernel_size, std::optional<Int2> stride,
                                                  Int2 padding, Int2 dilation, bool ceil_mode) {
  return max_pool_recorded(x, spec_2d(kMaxPool2dWithIndices.name, kernel_size, stride, padding, dilation, ceil_mode),
                           kMaxPool2dWithIndices);
}

Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride, std::int64_t padding,
                  bool ceil_mode, bool count_include_pad) {
  return avg_pool_checked(x, spec_1d(kAvgPool1d.name, kernel_size, stride, padding, 1, ceil_mode), count_include_pad,
                          std::nullopt);
}

Tensor avg_pool2d(const Tensor& x, Int2 kernel_size, std::optional<Int2> stride, Int2 padding, bool ceil_mode,
                  bool count_include_pad, std::optional<std::int64_t> divisor_override) {
  return avg_pool_checked(x, spec_2d(kAvgPool2d.name, kernel_size, stride, padding, 1, ceil_mode), count_include_pad,
                          divisor_override);
}

Tensor adaptive_avg_pool1d(const Tensor& x, std::int64_t output_size) {
  return adaptive_recorded(x, plan_adaptive(x, 1, Int2(1, output_size), kAdaptiveAvgPool1d.name), 1);
}

Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size) {
  return adaptive_recorded(x, plan_adaptive(x, 2, output_size, kAdaptiveAvgPool2d.name), 2);
}

// ---- registry

namespace {

// Sample input: the values (k - numel/2) * step for k < numel in a random order, so every window
// has a unique maximum, ahead of the others by at least `step`.
Tensor distinct_values(const Shape& shape, Dtype dtype, double step = 0.2) {
  const auto n = static_cast<std::size_t>(numel_of(shape));
  std::vector<double> v(n);
  for (std::size_t k = 0; k < n; ++k) v[k] = (static_cast<double>(k) - static_cast<double>(n) / 2) * step;
  for (std::size_t k = n; k > 1; --k) std::swap(v[k - 1], v[random::next_u64() % k]);
  return tensor(v, shape, {.dtype = dtype, .requires_grad = true});
}

using Call = std::function<Tensor(const TensorList&)>;
OpSample one(std::string description, Tensor x, Call call) {
  return OpSample{std::move(description), {std::move(x)}, std::move(call)};
}

// Inputs of the internal max pooling ops: the windows of `s` over `in_shape` and the indices the
// forward picks on distinct values.
struct MaxCase {
  std::string description;
  Shape in_shape;
  PoolSpec spec;
};
std::vector<MaxCase> max_internal_cases() {
  return {
      {"2x2 tiles [1,2,4,6]", {1, 2, 4, 6}, spec_2d("max_pool2d", 2, std::nullopt, 0, 1, false)},
      {"3x3 stride 1 padding 1 (overlapping) [1,1,4,5]", {1, 1, 4, 5}, spec_2d("max_pool2d", 3, 1, 1, 1, false)},
      {"1-d kernel 3 stride 2 ceil_mode [2,2,6]", {2, 2, 6}, spec_1d("max_pool1d", 3, 2, 1, 1, true)},
  };
}

// The windows of a case and the indices its forward picks on distinct values.
std::pair<PoolWindows, Tensor> windows_and_indices(const MaxCase& c, Dtype d) {
  const PoolWindows w = plan_windows(c.in_shape, c.spec);
  const Tensor x = distinct_values(c.in_shape, d).detach();
  return {w, kernels::max_pool_forward(x, w, pooled_shape(c.in_shape, c.spec.spatial, w.out_h, w.out_w)).second};
}

struct AvgCase {
  std::string description;
  Shape in_shape;
  PoolSpec spec;
  AvgOptions options;
};
std::vector<AvgCase> avg_internal_cases() {
  return {
      {"2x2 tiles [1,2,4,6]", {1, 2, 4, 6}, spec_2d("avg_pool2d", 2, std::nullopt, 0, 1, false), {true, 0, 2}},
      {"3x3 stride 2 padding 1 count_include_pad=false [2,1,5,5]",
       {2, 1, 5, 5},
       spec_2d("avg_pool2d", 3, 2, 1, 1, false),
       {false, 0, 2}},
      {"2x2 stride 2 padding 1 ceil_mode divisor_override 3 [1,1,4,5]",
       {1, 1, 4, 5},
       spec_2d("avg_pool2d", 2, 2, 1, 1, true),
       {true, 3, 2}},
      {"1-d kernel 3 stride 2 padding 1 [2,7]", {2, 7}, spec_1d("avg_pool1d", 3, 2, 1, 1, false), {true, 0, 1}},
  };
}

}  // namespace

void register_pool_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kMaxPool2d, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return distinct_values(s, d); };
                 return std::vector<OpSample>{
                     one("[1,2,4,6] kernel 2 (tiles)", x({1, 2, 4, 6}),
                         [](const TensorList& in) { return max_pool2d(in[0], 2); }),
                     one("[1,1,7,7] kernel 3 stride 3 (7 not divisible)", x({1, 1, 7, 7}),
                         [](const TensorList& in) { return max_pool2d(in[0], 3, 3); }),
                     one("[1,1,6,9] kernel 3 (3x3 tiles)", x({1, 1, 6, 9}),
                         [](const TensorList& in) { return max_pool2d(in[0], 3); }),
                     one("[2,1,5,5] kernel 3 stride 2 padding 1", x({2, 1, 5, 5}),
                         [](const TensorList& in) { return max_pool2d(in[0], 3, 2, 1); }),
                     one("[1,1,6,7] kernel (2,3) stride (1,2) dilation (2,1)", x({1, 1, 6, 7}),
                         [](const TensorList& in) { return max_pool2d(in[0], {2, 3}, Int2{1, 2}, 0, {2, 1}); }),
                     one("[1,2,5,5] kernel 2 ceil_mode", x({1, 2, 5, 5}),
                         [](const TensorList& in) { return max_pool2d(in[0], 2, std::nullopt, 0, 1, true); }),
                     one("[1,1,5,6] kernel 3 stride 2 padding 1 dilation 2 ceil_mode", x({1, 1, 5, 6}),
                         [](const TensorList& in) { return max_pool2d(in[0], 3, 2, 1, 2, true); }),
                     one("[2,4,5] unbatched kernel 2 stride 1", x({2, 4, 5}),
                         [](const TensorList& in) { return max_pool2d(in[0], 2, 1); }),
                     one("[0,2,4,4] empty batch", x({0, 2, 4, 4}),
                         [](const TensorList& in) { return max_pool2d(in[0], 2); }),
                 };
               }}));
  r.push_back(declared(kMaxPool2dWithIndices, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return distinct_values(s, d); };
                 return std::vector<OpSample>{
                     one("[1,2,4,6] kernel 2", x({1, 2, 4, 6}),
                         [](const TensorList& in) { return max_pool2d_with_indices(in[0], 2).first; }),
                     one("[1,1,5,5] kernel 3 stride 1 padding 1", x({1, 1, 5, 5}),
                         [](const TensorList& in) { return max_pool2d_with_indices(in[0], 3, 1, 1).first; }),
                 };
               }}));
  r.push_back(declared(kMaxPool1d, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return distinct_values(s, d); };
                 return std::vector<OpSample>{
                     one("[1,2,9] kernel 2 (tiles)", x({1, 2, 9}),
                         [](const TensorList& in) { return max_pool1d(in[0], 2); }),
                     one("[1,3,9] kernel 3 (tiles)", x({1, 3, 9}),
                         [](const TensorList& in) { return max_pool1d(in[0], 3); }),
                     one("[2,2,7] kernel 3 stride 2 padding 1", x({2, 2, 7}),
                         [](const TensorList& in) { return max_pool1d(in[0], 3, 2, 1); }),
                     one("[1,1,10] kernel 3 stride 2 dilation 2 ceil_mode", x({1, 1, 10}),
                         [](const TensorList& in) { return max_pool1d(in[0], 3, 2, 0, 2, true); }),
                     one("[3,8] unbatched kernel 2 stride 1", x({3, 8}),
                         [](const TensorList& in) { return max_pool1d(in[0], 2, 1); }),
                 };
               }}));
  r.push_back(declared(kAvgPool2d, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     one("[1,2,4,6] kernel 2 (tiles)", x({1, 2, 4, 6}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 2); }),
                     one("[1,1,7,7] kernel 3 stride 3 (7 not divisible)", x({1, 1, 7, 7}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 3, 3); }),
                     one("[2,1,5,5] kernel 3 stride 2 padding 1", x({2, 1, 5, 5}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 3, 2, 1); }),
                     one("[2,1,5,5] kernel 3 stride 2 padding 1 count_include_pad=false", x({2, 1, 5, 5}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 3, 2, 1, false, false); }),
                     one("[1,1,5,5] kernel 2 padding 1 ceil_mode", x({1, 1, 5, 5}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 2, 2, 1, true); }),
                     one("[1,2,4,5] kernel 2 stride 1 divisor_override 3", x({1, 2, 4, 5}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 2, 1, 0, false, true, 3); }),
                     one("[2,4,5] unbatched kernel (2,3) stride (1,2)", x({2, 4, 5}),
                         [](const TensorList& in) { return avg_pool2d(in[0], {2, 3}, Int2{1, 2}); }),
                     one("[0,2,4,4] empty batch", x({0, 2, 4, 4}),
                         [](const TensorList& in) { return avg_pool2d(in[0], 2); }),
                 };
               }}));
  r.push_back(declared(kAvgPool1d, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     one("[1,2,9] kernel 3 (tiles)", x({1, 2, 9}),
                         [](const TensorList& in) { return avg_pool1d(in[0], 3); }),
                     one("[2,2,7] kernel 3 stride 2 padding 1", x({2, 2, 7}),
                         [](const TensorList& in) { return avg_pool1d(in[0], 3, 2, 1); }),
                     one("[2,2,7] kernel 3 stride 2 padding 1 count_include_pad=false", x({2, 2, 7}),
                         [](const TensorList& in) { return avg_pool1d(in[0], 3, 2, 1, false, false); }),
                     one("[1,1,8] kernel 3 stride 2 padding 1 ceil_mode", x({1, 1, 8}),
                         [](const TensorList& in) { return avg_pool1d(in[0], 3, 2, 1, true); }),
                     one("[3,8] unbatched kernel 2 stride 1", x({3, 8}),
                         [](const TensorList& in) { return avg_pool1d(in[0], 2, 1); }),
                 };
               }}));
  r.push_back(declared(kAdaptiveAvgPool2d, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     one("[1,2,5,5] -> 3 (does not divide)", x({1, 2, 5, 5}),
                         [](const TensorList& in) { return adaptive_avg_pool2d(in[0], 3); }),
                     one("[1,1,6,4] -> (3,2) (divides)", x({1, 1, 6, 4}),
                         [](const TensorList& in) { return adaptive_avg_pool2d(in[0], {3, 2}); }),
                     one("[1,1,3,4] -> (5,6) (larger than the input)", x({1, 1, 3, 4}),
                         [](const TensorList& in) { return adaptive_avg_pool2d(in[0], {5, 6}); }),
                     one("[2,3,5] unbatched -> 1 (global)", x({2, 3, 5}),
                         [](const TensorList& in) { return adaptive_avg_pool2d(in[0], 1); }),
                 };
               }}));
  r.push_back(declared(kAdaptiveAvgPool1d, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     one("[2,2,5] -> 3", x({2, 2, 5}),
                         [](const TensorList& in) { return adaptive_avg_pool1d(in[0], 3); }),
                     one("[3,6] unbatched -> 1 (global)", x({3, 6}),
                         [](const TensorList& in) { return adaptive_avg_pool1d(in[0], 1); }),
                     one("[1,2,7] -> 7 (identity)", x({1, 2, 7}),
                         [](const TensorList& in) { return adaptive_avg_pool1d(in[0], 7); }),
                 };
               }}));

  // Internal ops: the VJPs above, checked on their own (their VJPs are each other or the forward).
  r.push_back(declared(kMaxPoolBackward, {
               .differentiable = {true, false},
               .samples = [](Dtype d) {
                 std::vector<OpSample> out;
                 for (const MaxCase& c : max_internal_cases()) {
                   const auto [w, indices] = windows_and_indices(c, d);
                   const Shape in_shape = c.in_shape;
                   const int spatial = c.spec.spatial;
                   out.push_back({c.description, {samples::input(indices.shape(), d), indices},
                                  [w, in_shape, spatial](const TensorList& in) {
                                    return max_pool_backward(in[0], in[1], w, in_shape, spatial);
                                  }});
                 }
                 return out;
               }}));
  r.push_back(declared(kMaxPoolGather, {
               .differentiable = {true, false},
               .samples = [](Dtype d) {
                 std::vector<OpSample> out;
                 for (const MaxCase& c : max_internal_cases()) {
                   const auto [w, indices] = windows_and_indices(c, d);
                   const int spatial = c.spec.spatial;
                   out.push_back({c.description, {samples::input(c.in_shape, d), indices},
                                  [w, spatial](const TensorList& in) { return max_pool_gather(in[0], in[1], w, spatial); }});
                 }
                 return out;
               }}));
  r.push_back(declared(kAvgPoolBackward, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 std::vector<OpSample> out;
                 for (const AvgCase& c : avg_internal_cases()) {
                   const PoolWindows w = plan_windows(c.in_shape, c.spec);
                   const Shape in_shape = c.in_shape;
                   const AvgOptions a = c.options;
                   out.push_back(one(c.description,
                                     samples::input(pooled_shape(in_shape, c.spec.spatial, w.out_h, w.out_w), d),
                                     [w, a, in_shape](const TensorList& in) {
                                       return avg_pool_backward(in[0], w, a, in_shape);
                                     }));
                 }
                 return out;
               }}));
  r.push_back(declared(kAdaptiveAvgPoolBackward, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 struct Case {
                   const char* description;
                   Shape in_shape;
                   int spatial;
                   Int2 out;
                 };
                 std::vector<OpSample> out;
                 for (const Case& c : {Case{"[1,2,5,5] -> 3", {1, 2, 5, 5}, 2, Int2(3)},
                                       Case{"[1,1,3,4] -> (5,6)", {1, 1, 3, 4}, 2, Int2(5, 6)},
                                       Case{"1-d [2,5] -> 3", {2, 5}, 1, Int2(1, 3)}}) {
                   PoolWindows w = plane_sizes(c.in_shape, c.spatial);
                   w.out_h = c.out.h;
                   w.out_w = c.out.w;
                   const Shape in_shape = c.in_shape;
                   const int spatial = c.spatial;
                   out.push_back(one(c.description,
                                     samples::input(pooled_shape(in_shape, spatial, w.out_h, w.out_w), d),
                                     [w, spatial, in_shape](const TensorList& in) {
                                       return adaptive_backward(in[0], w, spatial, in_shape);
                                     }));
                 }
                 return out;
               }}));
}

}  // namespace xgrad
