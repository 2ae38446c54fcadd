// Convolutions (cross-correlation) and transposed convolutions, 1-D and 2-D, as PyTorch's
// torch.nn.functional. Three graph ops carry everything, each with a VJP made of the others,
// so double backward works:
//   conv(x, w)            dx = conv_transpose(gy, w), dw = weight_grad(x, gy), db = sum(gy)
//   conv_transpose(z, w)  dz = conv(g, w),            dw = weight_grad(g, z),  db = sum(g)
//   weight_grad(x, gy)    dx = conv_transpose(gy, G), dgy = conv(x, G)
// One geometry (core/kernels/conv.h) describes a conv and its adjoint, so the shapes match
// exactly without any output_padding bookkeeping.
#include "../core/kernels/conv.h"

#include <string>
#include <string_view>

#include "conv_internal.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kConv2d{"conv2d", 3,
    "dx = conv_transpose2d(dy, w), dw = conv2d_weight_grad(x, dy), db = sum(dy, {0, 2, 3})"};
constexpr OpDecl kConv1d{"conv1d", 3,
    "dx = conv_transpose1d(dy, w), dw = conv1d_weight_grad(x, dy), db = sum(dy, {0, 2})"};
constexpr OpDecl kConvTranspose2d{"conv_transpose2d", 3,
    "dx = conv2d(dy, w), dw = conv2d_weight_grad(dy, x), db = sum(dy, {0, 2, 3})"};
constexpr OpDecl kConvTranspose1d{"conv_transpose1d", 3,
    "dx = conv1d(dy, w), dw = conv1d_weight_grad(dy, x), db = sum(dy, {0, 2})"};
constexpr OpDecl kConv2dWeightGrad{"conv2d_weight_grad", 2, "dx = conv_transpose2d(gy, dW), dgy = conv2d(x, dW)"};
constexpr OpDecl kConv1dWeightGrad{"conv1d_weight_grad", 2, "dx = conv_transpose1d(gy, dW), dgy = conv1d(x, dW)"};

ConvPadding::ConvPadding(const char* mode_name) {
  const std::string_view m = mode_name ? mode_name : "(null)";
  if (m == "same") {
    mode = Mode::same;
  } else if (m == "valid") {
    mode = Mode::valid;
  } else {
    throw Error(fmt::format("conv: padding must be \"same\", \"valid\" or an amount, got \"{}\"", m));
  }
}

namespace {

using kernels::ConvGeometry;

struct ConvNames {
  const OpDecl& conv;
  const OpDecl& transpose;
  const OpDecl& weight_grad;
};
constexpr ConvNames kNames1d{kConv1d, kConvTranspose1d, kConv1dWeightGrad};
constexpr ConvNames kNames2d{kConv2d, kConvTranspose2d, kConv2dWeightGrad};

// A conv's geometry and spatial rank (1-D convs run as 2-D ones of height 1).
struct ConvSpec {
  ConvGeometry g;
  bool one_d = false;

  const ConvNames& names() const { return one_d ? kNames1d : kNames2d; }
  Shape spatial(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
    return one_d ? Shape{n, c, w} : Shape{n, c, h, w};
  }
  Shape input_shape() const { return spatial(g.batch, g.in_channels, g.in_h, g.in_w); }
  Shape output_shape() const { return spatial(g.batch, g.out_channels, g.out_h, g.out_w); }
  Shape weight_shape() const { return spatial(g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w); }
};

// A bias gradient: t [N, C, positions...] summed over the batch and the positions. Summing the
// batch first (a contiguous accumulate) then the rows of [C, P] is ~6x faster than one sum over
// dims {0, 2, 3} in the reduce kernel.
Tensor channel_sum(const Tensor& t, std::int64_t batch, std::int64_t channels, std::int64_t positions) {
  return sum(sum(reshape(t, {batch, channels, positions}), {0}), {1});
}

// The kernels' per-thread scratch (im2col columns) can be larger than the tensors; running out of
// memory there is an xgrad::Error naming the op, as for the tensors themselves.
template <class Kernel>
void run_kernel(const char* op, const ConvSpec& s, Kernel&& kernel) {
  try {
    kernel();
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: out of memory for the kernel's scratch (input {}, kernel {}x{}, stride {}x{}, "
                            "padding {}x{})",
                            op, to_string(s.input_shape()), s.g.kernel_h, s.g.kernel_w, s.g.stride_h, s.g.stride_w,
                            s.g.pad_h, s.g.pad_w));
  }
}

Tensor conv_op(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvSpec& s);
Tensor conv_transpose_op(const Tensor& z, const Tensor& w, const Tensor& bias, const ConvSpec& s);
Tensor weight_grad_op(const Tensor& x, const Tensor& gy, const ConvSpec& s);

Tensor conv_op(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvSpec& s) {
  Tensor y = make_tensor(s.output_shape(), x.dtype(), s.names().conv.name);
  run_kernel(s.names().conv.name, s, [&] { kernels::conv_forward(x, w, bias, y, s.g); });
  record(y, s.names().conv, {x, w, bias}, {x, w}, [s](Node& n, const Tensor& gy) -> TensorList {
    TensorList grads(3);
    if (n.needs_input_grad(0)) grads[0] = conv_transpose_op(gy, n.saved(1), Tensor(), s);
    if (n.needs_input_grad(1)) grads[1] = weight_grad_op(n.saved(0), gy, s);
    if (n.needs_input_grad(2)) grads[2] = channel_sum(gy, s.g.batch, s.g.out_channels, s.g.out_h * s.g.out_w);
    return grads;
  });
  return y;
}

// z has the conv's output shape; the result has the conv's input shape (plus bias per channel).
Tensor conv_transpose_op(const Tensor& z, const Tensor& w, const Tensor& bias, const ConvSpec& s) {
  Tensor out = make_tensor(s.input_shape(), z.dtype(), s.names().transpose.name);
  run_kernel(s.names().transpose.name, s, [&] { kernels::conv_input_grad(z, w, bias, out, s.g); });
  record(out, s.names().transpose, {z, w, bias}, {z, w}, [s](Node& n, const Tensor& g) -> TensorList {
    TensorList grads(3);
    if (n.needs_input_grad(0)) grads[0] = conv_op(g, n.saved(1), Tensor(), s);
    if (n.needs_input_grad(1)) grads[1] = weight_grad_op(g, n.saved(0), s);
    if (n.needs_input_grad(2)) grads[2] = channel_sum(g, s.g.batch, s.g.in_channels, s.g.in_h * s.g.in_w);
    return grads;
  });
  return out;
}

Tensor weight_grad_op(const Tensor& x, const Tensor& gy, const ConvSpec& s) {
  Tensor gw = make_tensor(s.weight_shape(), x.dtype(), s.names().weight_grad.name);
  run_kernel(s.names().weight_grad.name, s, [&] { kernels::conv_weight_grad(x, gy, gw, s.g); });
  // weight_grad is bilinear: <weight_grad(x, gy), G> = <conv(x, G), gy> = <x, conv_transpose(gy, G)>.
  record(gw, s.names().weight_grad, {x, gy}, {x, gy}, [s](Node& n, const Tensor& g) -> TensorList {
    TensorList grads(2);
    if (n.needs_input_grad(0)) grads[0] = conv_transpose_op(n.saved(1), g, Tensor(), s);
    if (n.needs_input_grad(1)) grads[1] = conv_op(n.saved(0), g, Tensor(), s);
    return grads;
  });
  return gw;
}

// ---- argument checks

std::string pair_string(bool one_d, std::int64_t h, std::int64_t w) {
  return one_d ? std::to_string(w) : fmt::format("({}, {})", h, w);
}

// Floating operands of one dtype; `bias` may be undefined.
void check_dtypes(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias, const char* second = "weight") {
  XGRAD_CHECK(x.defined() && w.defined(), "{}: the input or the {} is an undefined tensor", op, second);
  XGRAD_CHECK(is_floating(x.dtype()) && is_floating(w.dtype()) && (!bias.defined() || is_floating(bias.dtype())),
              "{}: expects floating tensors, got input {}, {} {}{}", op, dtype_name(x.dtype()), second,
              dtype_name(w.dtype()), bias.defined() ? fmt::format(", bias {}", dtype_name(bias.dtype())) : "");
  XGRAD_CHECK(x.dtype() == w.dtype() && (!bias.defined() || bias.dtype() == x.dtype()),
              "{}: input ({}), {} ({}){} must have the same dtype", op, dtype_name(x.dtype()), second,
              dtype_name(w.dtype()), bias.defined() ? fmt::format(" and bias ({})", dtype_name(bias.dtype())) : "");
}

// x must be [N, C, spatial...] or [C, spatial...]; returns whether the batch dim is there.
bool check_input_rank(const char* op, bool one_d, const Tensor& x, const char* what = "input") {
  const std::int64_t spatial = one_d ? 1 : 2;
  XGRAD_CHECK(x.dim() == spatial + 1 || x.dim() == spatial + 2,
              "{}: expected a {}-D (unbatched) or {}-D (batched) {} {}, got {} {} ({}-D)", op, spatial + 1, spatial + 2,
              what, one_d ? "[N, C, L]" : "[N, C, H, W]", what, to_string(x.shape()), x.dim());
  return x.dim() == spatial + 2;
}

void check_weight_rank(const char* op, bool one_d, const Shape& w, bool transposed) {
  const std::size_t rank = one_d ? 3 : 4;
  const char* layout = transposed ? (one_d ? "[C_in, C_out/groups, K]" : "[C_in, C_out/groups, kH, kW]")
                                  : (one_d ? "[C_out, C_in/groups, K]" : "[C_out, C_in/groups, kH, kW]");
  XGRAD_CHECK(w.size() == rank, "{}: expected a {}-D weight {}, got weight {} ({}-D)", op, rank, layout, to_string(w),
              w.size());
}

void check_steps(const char* op, bool one_d, Int2 stride, Int2 dilation, Int2 padding) {
  XGRAD_CHECK(stride.h > 0 && stride.w > 0, "{}: stride must be positive, got stride = {}", op,
              pair_string(one_d, stride.h, stride.w));
  XGRAD_CHECK(dilation.h > 0 && dilation.w > 0, "{}: dilation must be positive, got dilation = {}", op,
              pair_string(one_d, dilation.h, dilation.w));
  XGRAD_CHECK(padding.h >= 0 && padding.w >= 0, "{}: padding must be non-negative, got padding = {}", op,
              pair_string(one_d, padding.h, padding.w));
}

void check_bias(const char* op, const Tensor& bias, std::int64_t channels, const Shape& w) {
  if (!bias.defined()) return;
  XGRAD_CHECK(bias.dim() == 1 && bias.size(0) == channels,
              "{}: bias {} must be 1-D with one value per output channel ({} for weight {})", op,
              to_string(bias.shape()), channels, to_string(w));
}

// The kernels index the padded input as o*S - P + k*D: with the padded length and the dilated
// kernel within int64 every such position fits, whatever the stride.
void check_positions_fit(const char* op, const char* dim_name, std::int64_t in, std::int64_t k, std::int64_t p,
                         std::int64_t d) {
  using i128 = __int128;
  const i128 dilated = i128{d} * (k - 1) + 1, padded = i128{in} + 2 * i128{p};
  XGRAD_CHECK(padded <= INT64_MAX && dilated <= INT64_MAX,
              "{}: along the {}, the padded input {} + 2*{} = {} or the dilated kernel {}*({}-1)+1 = {} is more than "
              "int64 holds (positions in the padded input must fit in int64)",
              op, dim_name, in, p, padded, d, k, dilated);
}

// One spatial dim of a conv: the output size floor((W + 2P - D(K-1) - 1)/S) + 1, or an error
// naming the dim when the dilated kernel does not fit in the padded input.
// In 128 bits: a huge dilation, kernel or padding must not wrap.
std::int64_t conv_out_size(const char* op, const char* dim_name, char letter, std::int64_t in, std::int64_t k,
                           std::int64_t s, std::int64_t p, std::int64_t d) {
  using i128 = __int128;
  const i128 dilated = i128{d} * (k - 1) + 1, padded = i128{in} + 2 * i128{p};
  const i128 span = padded - dilated;
  const i128 out = (span >= 0 ? span / s : -((-span + s - 1) / s)) + 1;
  XGRAD_CHECK(dilated <= padded,
              "{}: kernel {} (dilated {}) is larger than the padded input {} {} + 2*{} = {}: "
              "{}_out = floor(({} + 2*{} - {}*({}-1) - 1)/{}) + 1 = {}",
              op, k, dilated, dim_name, in, p, padded, letter, in, p, d, k, s, out);
  check_positions_fit(op, dim_name, in, k, p, d);
  XGRAD_CHECK(out <= INT64_MAX, "{}: the output {} floor(({} + 2*{} - {}*({}-1) - 1)/{}) + 1 = {} is more than int64 "
              "holds", op, dim_name, in, p, d, k, s, out);
  return static_cast<std::int64_t>(out);
}

// What the im2col kernels need besides the output (core/kernels/conv.cpp), checked against the
// machine's memory so a tiny input with a huge kernel, padding or stride raises instead of
// failing to allocate inside a worker thread: the column matrix of one image,
// (C_in/groups * kH * kW) x (OH * OW), and the stride phase planes, C_in * sH * ceil(H/sH) * sW * ceil(W/sW).
void check_scratch(const char* op, const ConvGeometry& g, Dtype dtype) {
  using u128 = unsigned __int128;
  const auto ceil_to = [](std::int64_t n, std::int64_t s) { return u128(n / s + (n % s != 0)) * u128(s); };
  const u128 col = u128(g.in_channels / g.groups) * u128(g.kernel_h) * u128(g.kernel_w) * u128(g.out_h) * u128(g.out_w);
  const bool phased = g.stride_h > 1 || g.stride_w > 1;
  const u128 phases = phased ? u128(g.in_channels) * ceil_to(g.in_h, g.stride_h) * ceil_to(g.in_w, g.stride_w) : 0;
  const u128 elements = col + phases, limit = max_alloc_bytes() / dtype_size(dtype);
  XGRAD_CHECK(elements <= limit,
              "{}: kernel {}x{}, stride {}x{} and padding {}x{} on an input of {} channels {}x{} need {} of scratch "
              "(im2col columns {} + stride phases {} elements of {}), more than this machine's memory ({})",
              op, g.kernel_h, g.kernel_w, g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.in_channels, g.in_h, g.in_w,
              format_bytes(static_cast<long double>(elements) * dtype_size(dtype)), col, phases, dtype_name(dtype),
              format_bytes(static_cast<long double>(max_alloc_bytes())));
}

// A dim with one output reads only its first window: the stride is then irrelevant, and 1 keeps
// the kernels from sizing stride phase planes by it (conv1d with stride 2^32 + 1 on 10 inputs).
void drop_unused_strides(ConvGeometry& g) {
  if (g.out_h == 1) g.stride_h = 1;
  if (g.out_w == 1) g.stride_w = 1;
}

// The geometry of conv(x, w) with x batched ([N, C_in, ...]); `shown` is the caller's input shape.
ConvSpec conv_spec(const char* op, bool one_d, const Shape& x, const Shape& shown, const Shape& w, Int2 stride,
                   const ConvPadding& padding, Int2 dilation, std::int64_t groups) {
  check_weight_rank(op, one_d, w, false);
  check_steps(op, one_d, stride, dilation, padding.mode == ConvPadding::Mode::amount ? padding.amount : Int2(0));
  XGRAD_CHECK(groups > 0, "{}: groups must be positive, got groups = {}", op, groups);
  const std::int64_t c_in = x[1], c_out = w[0];
  XGRAD_CHECK(c_in % groups == 0, "{}: input {} has {} channels, not divisible by groups = {}", op, to_string(shown),
              c_in, groups);
  XGRAD_CHECK(c_out % groups == 0, "{}: weight {} has {} output channels, not divisible by groups = {}", op,
              to_string(w), c_out, groups);
  checked_numel(w, op);  // a weight_shape given by value may hold anything
  for (std::size_t i = 2; i < w.size(); ++i)
    XGRAD_CHECK(w[i] >= 1, "{}: the kernel sizes of weight {} must be at least 1, got {} at dim {}", op, to_string(w),
                w[i], i);
  std::int64_t grouped_in = 0;
  XGRAD_CHECK(!__builtin_mul_overflow(w[1], groups, &grouped_in) && grouped_in == c_in,
              "{}: input {} has {} channels but weight {} expects {} (C_in/groups = {}, groups = {})", op,
              to_string(shown), c_in, to_string(w), static_cast<__int128>(w[1]) * groups, w[1], groups);
  XGRAD_CHECK(padding.mode != ConvPadding::Mode::same || (stride.h == 1 && stride.w == 1),
              "{}: padding=\"same\" needs stride 1, got stride = {}", op, pair_string(one_d, stride.h, stride.w));

  ConvSpec s;
  s.one_d = one_d;
  ConvGeometry& g = s.g;
  g.batch = x[0];
  g.in_channels = c_in;
  g.out_channels = c_out;
  g.in_h = one_d ? 1 : x[2];
  g.in_w = x.back();
  g.kernel_h = one_d ? 1 : w[2];
  g.kernel_w = w.back();
  g.stride_h = one_d ? 1 : stride.h;
  g.stride_w = stride.w;
  g.dilation_h = one_d ? 1 : dilation.h;
  g.dilation_w = dilation.w;
  g.groups = groups;
  if (padding.mode == ConvPadding::Mode::same) {
    // Total D(K-1) per dim; an odd total puts the extra row/column at the far side (PyTorch).
    std::int64_t total_h = 0, total_w = 0;
    XGRAD_CHECK(!__builtin_mul_overflow(g.dilation_h, g.kernel_h - 1, &total_h) &&
                    !__builtin_mul_overflow(g.dilation_w, g.kernel_w - 1, &total_w),
                "{}: padding=\"same\" for kernel {} with dilation {} needs padding dilation*(kernel-1) beyond int64",
                op, pair_string(one_d, g.kernel_h, g.kernel_w), pair_string(one_d, g.dilation_h, g.dilation_w));
    g.pad_h = g.dilation_h * (g.kernel_h - 1) / 2;
    g.pad_w = g.dilation_w * (g.kernel_w - 1) / 2;
    g.out_h = g.in_h;
    g.out_w = g.in_w;
  } else {
    const Int2 p = padding.mode == ConvPadding::Mode::valid ? Int2(0) : padding.amount;
    g.pad_h = one_d ? 0 : p.h;
    g.pad_w = p.w;
    g.out_h = one_d ? 1 : conv_out_size(op, "height", 'H', g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
    g.out_w = conv_out_size(op, one_d ? "length" : "width", one_d ? 'L' : 'W', g.in_w, g.kernel_w, g.stride_w, g.pad_w,
                            g.dilation_w);
  }
  drop_unused_strides(g);
  return s;
}

Tensor conv_nd(const char* op, bool one_d, const Tensor& x, const Tensor& weight, const Tensor& bias, Int2 stride,
               const ConvPadding& padding, Int2 dilation, std::int64_t groups) {
  check_dtypes(op, x, weight, bias);
  const bool batched = check_input_rank(op, one_d, x);
  const Tensor xb = batched ? x : unsqueeze(x, 0);
  const ConvSpec s = conv_spec(op, one_d, xb.shape(), x.shape(), weight.shape(), stride, padding, dilation, groups);
  check_bias(op, bias, s.g.out_channels, weight.shape());
  checked_bytes(s.output_shape(), x.dtype(), op);
  check_scratch(op, s.g, x.dtype());
  Tensor y = conv_op(xb, weight, bias, s);
  return batched ? y : squeeze(y, 0);
}

// One spatial dim of a transposed conv: (W - 1)S - 2P + D(K-1) + output_padding + 1.
std::int64_t transpose_out_size(const char* op, const char* dim_name, std::int64_t in, std::int64_t k, std::int64_t s,
                                std::int64_t p, std::int64_t op_pad, std::int64_t d) {
  using i128 = __int128;  // no term can wrap: each is at most about 2^126
  const i128 out = (i128{in} - 1) * s - 2 * i128{p} + i128{d} * (k - 1) + op_pad + 1;
  XGRAD_CHECK(out <= INT64_MAX,
              "{}: the output {} (W - 1)*S - 2*P + D*(K-1) + output_padding + 1 = ({} - 1)*{} - 2*{} + {}*({}-1) + "
              "{} + 1 = {} is more than int64 holds",
              op, dim_name, in, s, p, d, k, op_pad, out);
  XGRAD_CHECK(out >= 1,
              "{}: the output {} (W - 1)*S - 2*P + D*(K-1) + output_padding + 1 = ({} - 1)*{} - 2*{} + {}*({}-1) + "
              "{} + 1 = {} is not positive",
              op, dim_name, in, s, p, d, k, op_pad, out);
  return static_cast<std::int64_t>(out);
}

Tensor conv_transpose_nd(const char* op, bool one_d, const Tensor& x, const Tensor& weight, const Tensor& bias,
                         Int2 stride, Int2 padding, Int2 output_padding, std::int64_t groups, Int2 dilation) {
  check_dtypes(op, x, weight, bias);
  const bool batched = check_input_rank(op, one_d, x);
  const Tensor xb = batched ? x : unsqueeze(x, 0);
  const Shape& w = weight.shape();
  check_weight_rank(op, one_d, w, true);
  check_steps(op, one_d, stride, dilation, padding);
  XGRAD_CHECK(groups > 0, "{}: groups must be positive, got groups = {}", op, groups);
  XGRAD_CHECK(output_padding.h >= 0 && output_padding.w >= 0,
              "{}: output_padding must be non-negative, got output_padding = {}", op,
              pair_string(one_d, output_padding.h, output_padding.w));
  XGRAD_CHECK((output_padding.h < stride.h || output_padding.h < dilation.h) &&
                  (output_padding.w < stride.w || output_padding.w < dilation.w),
              "{}: output_padding must be smaller than either stride or dilation, got output_padding = {}, "
              "stride = {}, dilation = {}",
              op, pair_string(one_d, output_padding.h, output_padding.w), pair_string(one_d, stride.h, stride.w),
              pair_string(one_d, dilation.h, dilation.w));
  for (std::size_t i = 2; i < w.size(); ++i)
    XGRAD_CHECK(w[i] >= 1, "{}: the kernel sizes of weight {} must be at least 1, got {} at dim {}", op, to_string(w),
                w[i], i);
  const std::int64_t c_in = xb.size(1);
  XGRAD_CHECK(w[0] == c_in,
              "{}: input {} has {} channels but weight {} expects {} (the weight is [C_in, C_out/groups, ...])", op,
              to_string(x.shape()), c_in, to_string(w), w[0]);
  XGRAD_CHECK(c_in % groups == 0, "{}: input {} has {} channels, not divisible by groups = {}", op,
              to_string(x.shape()), c_in, groups);
  std::int64_t c_out = 0;
  XGRAD_CHECK(!__builtin_mul_overflow(w[1], groups, &c_out), "{}: C_out/groups {} times groups {} overflows int64",
              op, w[1], groups);
  check_bias(op, bias, c_out, w);

  // The transposed conv's output is the input side of the conv it is the adjoint of.
  ConvSpec s;
  s.one_d = one_d;
  ConvGeometry& g = s.g;
  g.batch = xb.size(0);
  g.in_channels = c_out;
  g.out_channels = c_in;
  g.out_h = one_d ? 1 : xb.size(2);
  g.out_w = xb.shape().back();
  g.kernel_h = one_d ? 1 : w[2];
  g.kernel_w = w.back();
  g.stride_h = one_d ? 1 : stride.h;
  g.stride_w = stride.w;
  g.pad_h = one_d ? 0 : padding.h;
  g.pad_w = padding.w;
  g.dilation_h = one_d ? 1 : dilation.h;
  g.dilation_w = dilation.w;
  g.groups = groups;
  g.in_h = one_d ? 1
                 : transpose_out_size(op, "height", g.out_h, g.kernel_h, g.stride_h, g.pad_h, output_padding.h,
                                      g.dilation_h);
  g.in_w = transpose_out_size(op, one_d ? "length" : "width", g.out_w, g.kernel_w, g.stride_w, g.pad_w,
                              output_padding.w, g.dilation_w);
  if (!one_d) check_positions_fit(op, "height", g.in_h, g.kernel_h, g.pad_h, g.dilation_h);
  check_positions_fit(op, one_d ? "length" : "width", g.in_w, g.kernel_w, g.pad_w, g.dilation_w);
  drop_unused_strides(g);
  checked_bytes(s.input_shape(), x.dtype(), op);
  check_scratch(op, g, x.dtype());
  Tensor y = conv_transpose_op(xb, weight, bias, s);
  return batched ? y : squeeze(y, 0);
}

Tensor weight_grad_nd(const char* op, bool one_d, const Tensor& x, const Tensor& gy, const Shape& weight_shape,
                      Int2 stride, const ConvPadding& padding, Int2 dilation, std::int64_t groups) {
  check_dtypes(op, x, gy, Tensor(), "grad_output");
  const bool batched = check_input_rank(op, one_d, x);
  const bool gy_batched = check_input_rank(op, one_d, gy, "grad_output");
  XGRAD_CHECK(batched == gy_batched, "{}: input {} and grad_output {} must both have a batch dim or neither", op,
              to_string(x.shape()), to_string(gy.shape()));
  const Tensor xb = batched ? x : unsqueeze(x, 0);
  const Tensor gyb = batched ? gy : unsqueeze(gy, 0);
  const ConvSpec s = conv_spec(op, one_d, xb.shape(), x.shape(), weight_shape, stride, padding, dilation, groups);
  XGRAD_CHECK(gyb.shape() == s.output_shape(), "{}: grad_output {} must have the conv's output shape {}", op,
              to_string(gyb.shape()), to_string(s.output_shape()));
  check_scratch(op, s.g, x.dtype());
  return weight_grad_op(xb, gyb, s);
}

ConvPadding padding_1d(const char* op, const ConvPadding& p) {
  XGRAD_CHECK(p.mode != ConvPadding::Mode::amount || p.amount.h == p.amount.w,
              "{}: padding takes one amount for a 1-D conv, got ({}, {})", op, p.amount.h, p.amount.w);
  ConvPadding out = p;
  out.amount = Int2(0, p.amount.w);
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Int2 stride, ConvPadding padding,
              Int2 dilation, std::int64_t groups) {
  return conv_nd("conv2d", false, x, weight, bias, stride, padding, dilation, groups);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride, ConvPadding padding,
              std::int64_t dilation, std::int64_t groups) {
  return conv_nd("conv1d", true, x, weight, bias, Int2(1, stride), padding_1d("conv1d", padding), Int2(1, dilation),
                 groups);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Int2 stride, Int2 padding,
                        Int2 output_padding, std::int64_t groups, Int2 dilation) {
  return conv_transpose_nd("conv_transpose2d", false, x, weight, bias, stride, padding, output_padding, groups,
                           dilation);
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                        std::int64_t padding, std::int64_t output_padding, std::int64_t groups, std::int64_t dilation) {
  return conv_transpose_nd("conv_transpose1d", true, x, weight, bias, Int2(1, stride), Int2(0, padding),
                           Int2(0, output_padding), groups, Int2(1, dilation));
}

Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape, Int2 stride,
                          ConvPadding padding, Int2 dilation, std::int64_t groups) {
  return weight_grad_nd("conv2d_weight_grad", false, x, grad_output, weight_shape, stride, padding, dilation, groups);
}

Tensor conv1d_weight_grad(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape, std::int64_t stride,
                          ConvPadding padding, std::int64_t dilation, std::int64_t groups) {
  return weight_grad_nd("conv1d_weight_grad", true, x, grad_output, weight_shape, Int2(1, stride),
                        padding_1d("conv1d_weight_grad", padding), Int2(1, dilation), groups);
}

// ---- registry

namespace {

using Call = std::function<Tensor(const TensorList&)>;

// x, weight and (optionally) bias as a sample; every tensor stays under ~100 elements.
OpSample three(std::string desc, Dtype d, const Shape& x, const Shape& w, std::int64_t bias, Call call) {
  return OpSample{std::move(desc),
                  {samples::input(x, d), samples::input(w, d), bias > 0 ? samples::input({bias}, d) : Tensor()},
                  std::move(call)};
}

std::vector<OpSample> conv2d_samples(Dtype d) {
  auto c2 = [](Int2 stride, ConvPadding padding, Int2 dilation, std::int64_t groups) -> Call {
    return [=](const TensorList& in) { return conv2d(in[0], in[1], in[2], stride, padding, dilation, groups); };
  };
  return {
      three("[2,2,5,4] w [3,2,3,2], bias", d, {2, 2, 5, 4}, {3, 2, 3, 2}, 3, c2(1, 0, 1, 1)),
      three("batch 1, stride 2, pad 1", d, {1, 2, 5, 5}, {2, 2, 3, 3}, 2, c2(2, 1, 1, 1)),
      three("dilation 2, pad (1, 0)", d, {1, 1, 6, 5}, {2, 1, 2, 2}, 2, c2(1, ConvPadding(1, 0), 2, 1)),
      three("groups 2", d, {1, 4, 4, 4}, {4, 2, 2, 2}, 4, c2(1, 0, 1, 2)),
      three("depthwise (groups = C_in = 3), pad 1", d, {1, 3, 4, 4}, {3, 1, 3, 3}, 3, c2(1, 1, 1, 3)),
      three("1x1 kernel (no im2col)", d, {2, 3, 3, 3}, {2, 3, 1, 1}, 2, c2(1, 0, 1, 1)),
      three("1x1 kernel, stride 2", d, {1, 2, 5, 5}, {2, 2, 1, 1}, 0, c2(2, 0, 1, 1)),
      three("non-square input and kernel, stride (2, 1)", d, {1, 2, 4, 6}, {2, 2, 2, 3}, 2, c2(Int2(2, 1), 0, 1, 1)),
      three("7x7 input, kernel 3, stride 3 (does not divide)", d, {1, 1, 7, 7}, {1, 1, 3, 3}, 1, c2(3, 0, 1, 1)),
      three("'same', kernel 2x4 (odd totals)", d, {1, 1, 4, 5}, {2, 1, 2, 4}, 2, c2(1, "same", 1, 1)),
      three("'same', dilation 2", d, {1, 2, 4, 4}, {1, 2, 3, 2}, 0, c2(1, "same", 2, 1)),
      three("'valid'", d, {1, 2, 4, 4}, {1, 2, 3, 3}, 1, c2(1, "valid", 1, 1)),
      three("no bias", d, {2, 1, 4, 4}, {2, 1, 3, 3}, 0, c2(1, 1, 1, 1)),
      three("unbatched [2,4,4]", d, {2, 4, 4}, {2, 2, 3, 3}, 2, c2(1, 1, 1, 1)),
      three("empty batch [0,2,4,4]", d, {0, 2, 4, 4}, {2, 2, 3, 3}, 2, c2(1, 0, 1, 1)),
  };
}

std::vector<OpSample> conv1d_samples(Dtype d) {
  auto c1 = [](std::int64_t stride, ConvPadding padding, std::int64_t dilation, std::int64_t groups) -> Call {
    return [=](const TensorList& in) { return conv1d(in[0], in[1], in[2], stride, padding, dilation, groups); };
  };
  return {
      three("[2,2,7] w [3,2,3], stride 2, pad 1", d, {2, 2, 7}, {3, 2, 3}, 3, c1(2, 1, 1, 1)),
      three("dilation 2, groups 2", d, {1, 4, 8}, {2, 2, 2}, 2, c1(1, 0, 2, 2)),
      three("depthwise, pad 2", d, {2, 3, 5}, {3, 1, 3}, 3, c1(1, 2, 1, 3)),
      three("'same', kernel 4", d, {1, 2, 6}, {2, 2, 4}, 2, c1(1, "same", 1, 1)),
      three("'valid', kernel 1", d, {2, 3, 4}, {2, 3, 1}, 0, c1(1, "valid", 1, 1)),
      three("7 long, kernel 3, stride 3", d, {1, 2, 7}, {2, 2, 3}, 2, c1(3, 0, 1, 1)),
      three("unbatched [2,6]", d, {2, 6}, {3, 2, 2}, 3, c1(1, 0, 1, 1)),
  };
}

std::vector<OpSample> conv_transpose2d_samples(Dtype d) {
  auto t2 = [](Int2 stride, Int2 padding, Int2 output_padding, std::int64_t groups, Int2 dilation) -> Call {
    return [=](const TensorList& in) {
      return conv_transpose2d(in[0], in[1], in[2], stride, padding, output_padding, groups, dilation);
    };
  };
  return {
      three("[1,2,3,3] w [2,3,3,3], stride 2, pad 1, output_padding 1", d, {1, 2, 3, 3}, {2, 3, 3, 3}, 3,
            t2(2, 1, 1, 1, 1)),
      three("batch 2, stride 1, no bias", d, {2, 2, 3, 2}, {2, 2, 2, 2}, 0, t2(1, 0, 0, 1, 1)),
      three("groups 2, stride (2, 1)", d, {1, 4, 2, 3}, {4, 1, 2, 2}, 2, t2(Int2(2, 1), 0, 0, 2, 1)),
      three("dilation 2, output_padding 1 < dilation", d, {1, 1, 3, 3}, {1, 2, 2, 2}, 2, t2(1, 0, 1, 1, 2)),
      three("1x1 kernel", d, {2, 3, 2, 2}, {3, 2, 1, 1}, 2, t2(1, 0, 0, 1, 1)),
      three("non-square kernel 2x3, stride 3, pad (0, 1)", d, {1, 2, 2, 2}, {2, 1, 2, 3}, 1,
            t2(3, Int2(0, 1), 0, 1, 1)),
      three("unbatched [2,3,3]", d, {2, 3, 3}, {2, 2, 2, 2}, 2, t2(2, 0, 1, 1, 1)),
  };
}

std::vector<OpSample> conv_transpose1d_samples(Dtype d) {
  auto t1 = [](std::int64_t stride, std::int64_t padding, std::int64_t output_padding, std::int64_t groups,
               std::int64_t dilation) -> Call {
    return [=](const TensorList& in) {
      return conv_transpose1d(in[0], in[1], in[2], stride, padding, output_padding, groups, dilation);
    };
  };
  return {
      three("[2,2,4] w [2,3,3], stride 2, pad 1, output_padding 1", d, {2, 2, 4}, {2, 3, 3}, 3, t1(2, 1, 1, 1, 1)),
      three("groups 2, dilation 2", d, {1, 4, 3}, {4, 1, 2}, 2, t1(1, 0, 0, 2, 2)),
      three("kernel 1, no bias", d, {2, 3, 3}, {3, 2, 1}, 0, t1(1, 0, 0, 1, 1)),
      three("unbatched [2,5], stride 3", d, {2, 5}, {2, 2, 2}, 2, t1(3, 0, 2, 1, 1)),
  };
}

// Inputs x and grad_output of a conv with the given weight shape.
OpSample weight_grad_sample(std::string desc, Dtype d, const Shape& x, const Shape& gy, Call call) {
  return OpSample{std::move(desc), {samples::input(x, d), samples::input(gy, d)}, std::move(call)};
}

std::vector<OpSample> conv2d_weight_grad_samples(Dtype d) {
  auto wg = [](Shape w, Int2 stride, ConvPadding padding, Int2 dilation, std::int64_t groups) -> Call {
    return [=](const TensorList& in) { return conv2d_weight_grad(in[0], in[1], w, stride, padding, dilation, groups); };
  };
  return {
      weight_grad_sample("w [3,2,3,2], x [2,2,5,4]", d, {2, 2, 5, 4}, {2, 3, 3, 3}, wg({3, 2, 3, 2}, 1, 0, 1, 1)),
      weight_grad_sample("stride 2, pad 1", d, {1, 2, 5, 5}, {1, 2, 3, 3}, wg({2, 2, 3, 3}, 2, 1, 1, 1)),
      weight_grad_sample("groups 2, dilation 2", d, {1, 4, 5, 5}, {1, 2, 3, 3}, wg({2, 2, 2, 2}, 1, 0, 2, 2)),
      weight_grad_sample("1x1", d, {2, 3, 3, 3}, {2, 2, 3, 3}, wg({2, 3, 1, 1}, 1, 0, 1, 1)),
      weight_grad_sample("'same', kernel 2x3", d, {1, 1, 4, 5}, {1, 2, 4, 5}, wg({2, 1, 2, 3}, 1, "same", 1, 1)),
      weight_grad_sample("unbatched", d, {2, 4, 4}, {2, 2, 2}, wg({2, 2, 3, 3}, 1, 0, 1, 1)),
  };
}

std::vector<OpSample> conv1d_weight_grad_samples(Dtype d) {
  auto wg = [](Shape w, std::int64_t stride, ConvPadding padding, std::int64_t dilation, std::int64_t groups) -> Call {
    return [=](const TensorList& in) { return conv1d_weight_grad(in[0], in[1], w, stride, padding, dilation, groups); };
  };
  return {
      weight_grad_sample("w [3,2,3], x [2,2,7], stride 2, pad 1", d, {2, 2, 7}, {2, 3, 4}, wg({3, 2, 3}, 2, 1, 1, 1)),
      weight_grad_sample("groups 2, dilation 2", d, {1, 4, 6}, {1, 2, 4}, wg({2, 2, 2}, 1, 0, 2, 2)),
      weight_grad_sample("unbatched", d, {2, 5}, {3, 5}, wg({3, 2, 3}, 1, "same", 1, 1)),
  };
}

}  // namespace

void register_conv_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kConv2d, {
               .differentiable = {true, true, true},
               .samples = conv2d_samples}));
  r.push_back(declared(kConv1d, {
               .differentiable = {true, true, true},
               .samples = conv1d_samples}));
  r.push_back(declared(kConvTranspose2d, {
               .differentiable = {true, true, true},
               .samples = conv_transpose2d_samples}));
  r.push_back(declared(kConvTranspose1d, {
               .differentiable = {true, true, true},
               .samples = conv_transpose1d_samples}));
  r.push_back(declared(kConv2dWeightGrad, {
               .differentiable = {true, true},
               .samples = conv2d_weight_grad_samples}));
  r.push_back(declared(kConv1dWeightGrad, {
               .differentiable = {true, true},
               .samples = conv1d_weight_grad_samples}));
}

}  // namespace xgrad
