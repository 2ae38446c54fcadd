#include "xgrad/nn/conv.h"

#include "xgrad/nn/linear.h"

namespace xgrad::nn {

namespace {

// The checks PyTorch's _ConvNd makes, with the layer named. Returns in_channels for the initialiser list.
std::int64_t check_conv(const char* layer, std::int64_t in, std::int64_t out, std::int64_t groups,
                        std::initializer_list<std::int64_t> kernel, std::initializer_list<std::int64_t> stride,
                        std::initializer_list<std::int64_t> dilation) {
  XGRAD_CHECK(in > 0 && out > 0, "{}: in_channels ({}) and out_channels ({}) must be positive", layer, in, out);
  XGRAD_CHECK(groups > 0, "{}: groups must be positive, got {}", layer, groups);
  XGRAD_CHECK(in % groups == 0, "{}: in_channels ({}) must be divisible by groups ({})", layer, in, groups);
  XGRAD_CHECK(out % groups == 0, "{}: out_channels ({}) must be divisible by groups ({})", layer, out, groups);
  for (auto k : kernel) XGRAD_CHECK(k > 0, "{}: kernel_size must be positive, got {}", layer, k);
  for (auto s : stride) XGRAD_CHECK(s > 0, "{}: stride must be positive, got {}", layer, s);
  for (auto d : dilation) XGRAD_CHECK(d > 0, "{}: dilation must be positive, got {}", layer, d);
  return in;
}

void check_padding(const char* layer, const ConvPadding& p, bool strided, bool one_dim) {
  if (p.mode == ConvPadding::Mode::same)
    XGRAD_CHECK(!strided, "{}: padding='same' is not supported for strided convolutions", layer);
  if (p.mode != ConvPadding::Mode::amount) return;
  XGRAD_CHECK(p.amount.h >= 0 && p.amount.w >= 0, "{}: padding must be >= 0, got ({}, {})", layer, p.amount.h,
              p.amount.w);
  XGRAD_CHECK(!one_dim || p.amount.h == p.amount.w, "{}: padding takes one number, got ({}, {})", layer, p.amount.h,
              p.amount.w);
}

void check_transposed(const char* layer, std::initializer_list<std::int64_t> padding,
                      std::initializer_list<std::int64_t> output_padding, std::initializer_list<std::int64_t> stride,
                      std::initializer_list<std::int64_t> dilation) {
  for (auto p : padding) XGRAD_CHECK(p >= 0, "{}: padding must be >= 0, got {}", layer, p);
  auto s = stride.begin();
  auto d = dilation.begin();
  for (auto op : output_padding) {
    XGRAD_CHECK(op >= 0 && (op < *s || op < *d),
                "{}: output_padding ({}) must be >= 0 and smaller than either stride ({}) or dilation ({})", layer, op,
                *s, *d);
    ++s, ++d;
  }
}

std::string padding_repr(const ConvPadding& p, bool one_dim) {
  if (p.mode == ConvPadding::Mode::same) return ", padding=same";
  if (p.mode == ConvPadding::Mode::valid) return ", padding=valid";
  if (p.amount.h == 0 && p.amount.w == 0) return "";
  return ", padding=" + (one_dim ? detail::py_tuple({p.amount.h}) : detail::py_tuple({p.amount.h, p.amount.w}));
}

std::string tuple1(std::int64_t v) { return detail::py_tuple({v}); }
std::string tuple2(Int2 v) { return detail::py_tuple({v.h, v.w}); }

// PyTorch's _ConvNd.extra_repr after the padding: dilation, output_padding, groups, bias.
std::string conv_tail(bool dilated, const std::string& dilation, bool out_padded, const std::string& output_padding,
                      std::int64_t groups, bool bias) {
  std::string s;
  if (dilated) s += ", dilation=" + dilation;
  if (out_padded) s += ", output_padding=" + output_padding;
  if (groups != 1) s += fmt::format(", groups={}", groups);
  if (!bias) s += ", bias=False";
  return s;
}

void check_input(const Module& layer, const Tensor& x, std::int64_t spatial_dims, std::int64_t channels) {
  XGRAD_CHECK(x.defined(), "{}: the input is undefined", layer.repr());
  XGRAD_CHECK((x.dim() == spatial_dims + 1 || x.dim() == spatial_dims + 2) && x.size(-spatial_dims - 1) == channels,
              "{}: expected an input of shape [N, {}, ...] with {} spatial dim{} (the batch dim may be left out), "
              "got {}",
              layer.repr(), channels, spatial_dims, spatial_dims == 1 ? "" : "s", to_string(x.shape()));
}

}  // namespace

// ---- Conv1d

Conv1d::Conv1d(std::int64_t in, std::int64_t out, std::int64_t k, Conv1dOptions o)
    : in_channels(check_conv("Conv1d", in, out, o.groups, {k}, {o.stride}, {o.dilation})),
      out_channels(out),
      kernel_size(k),
      options(o),
      weight(register_parameter("weight", empty({out, in / o.groups, k}))),
      bias(register_parameter("bias", o.bias ? empty({out}) : Tensor())) {
  check_padding("Conv1d", o.padding, o.stride != 1, true);
  reset_parameters(o.generator);
}

void Conv1d::reset_parameters(Generator* g) { detail::reset_kaiming_uniform_sqrt5(weight, bias, g); }

Tensor Conv1d::forward(const Tensor& x) {
  check_input(*this, x, 1, in_channels);
  return conv1d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv1d::extra_repr() const {
  return fmt::format("{}, {}, kernel_size={}, stride={}", in_channels, out_channels, tuple1(kernel_size),
                     tuple1(options.stride)) +
         padding_repr(options.padding, true) +
         conv_tail(options.dilation != 1, tuple1(options.dilation), false, "", options.groups, bias.defined());
}

// ---- Conv2d

Conv2d::Conv2d(std::int64_t in, std::int64_t out, Int2 k, Conv2dOptions o)
    : in_channels(check_conv("Conv2d", in, out, o.groups, {k.h, k.w}, {o.stride.h, o.stride.w},
                             {o.dilation.h, o.dilation.w})),
      out_channels(out),
      kernel_size(k),
      options(o),
      weight(register_parameter("weight", empty({out, in / o.groups, k.h, k.w}))),
      bias(register_parameter("bias", o.bias ? empty({out}) : Tensor())) {
  check_padding("Conv2d", o.padding, o.stride.h != 1 || o.stride.w != 1, false);
  reset_parameters(o.generator);
}

void Conv2d::reset_parameters(Generator* g) { detail::reset_kaiming_uniform_sqrt5(weight, bias, g); }

Tensor Conv2d::forward(const Tensor& x) {
  check_input(*this, x, 2, in_channels);
  return conv2d(x, weight, bias, options.stride, options.padding, options.dilation, options.groups);
}

std::string Conv2d::extra_repr() const {
  const Int2 d = options.dilation;
  return fmt::format("{}, {}, kernel_size={}, stride={}", in_channels, out_channels, tuple2(kernel_size),
                     tuple2(options.stride)) +
         padding_repr(options.padding, false) +
         conv_tail(d.h != 1 || d.w != 1, tuple2(d), false, "", options.groups, bias.defined());
}

// ---- ConvTranspose1d

ConvTranspose1d::ConvTranspose1d(std::int64_t in, std::int64_t out, std::int64_t k, ConvTranspose1dOptions o)
    : in_channels(check_conv("ConvTranspose1d", in, out, o.groups, {k}, {o.stride}, {o.dilation})),
      out_channels(out),
      kernel_size(k),
      options(o),
      weight(register_parameter("weight", empty({in, out / o.groups, k}))),
      bias(register_parameter("bias", o.bias ? empty({out}) : Tensor())) {
  check_transposed("ConvTranspose1d", {o.padding}, {o.output_padding}, {o.stride}, {o.dilation});
  reset_parameters(o.generator);
}

void ConvTranspose1d::reset_parameters(Generator* g) { detail::reset_kaiming_uniform_sqrt5(weight, bias, g); }

Tensor ConvTranspose1d::forward(const Tensor& x) {
  check_input(*this, x, 1, in_channels);
  return conv_transpose1d(x, weight, bias, options.stride, options.padding, options.output_padding, options.groups,
                          options.dilation);
}

std::string ConvTranspose1d::extra_repr() const {
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in_channels, out_channels, tuple1(kernel_size),
                              tuple1(options.stride));
  if (options.padding != 0) s += ", padding=" + tuple1(options.padding);
  return s + conv_tail(options.dilation != 1, tuple1(options.dilation), options.output_padding != 0,
                       tuple1(options.output_padding), options.groups, bias.defined());
}

// ---- ConvTranspose2d

ConvTranspose2d::ConvTranspose2d(std::int64_t in, std::int64_t out, Int2 k, ConvTranspose2dOptions o)
    : in_channels(check_conv("ConvTranspose2d", in, out, o.groups, {k.h, k.w}, {o.stride.h, o.stride.w},
                             {o.dilation.h, o.dilation.w})),
      out_channels(out),
      kernel_size(k),
      options(o),
      weight(register_parameter("weight", empty({in, out / o.groups, k.h, k.w}))),
      bias(register_parameter("bias", o.bias ? empty({out}) : Tensor())) {
  check_transposed("ConvTranspose2d", {o.padding.h, o.padding.w}, {o.output_padding.h, o.output_padding.w},
                   {o.stride.h, o.stride.w}, {o.dilation.h, o.dilation.w});
  reset_parameters(o.generator);
}

void ConvTranspose2d::reset_parameters(Generator* g) { detail::reset_kaiming_uniform_sqrt5(weight, bias, g); }

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input(*this, x, 2, in_channels);
  return conv_transpose2d(x, weight, bias, options.stride, options.padding, options.output_padding, options.groups,
                          options.dilation);
}

std::string ConvTranspose2d::extra_repr() const {
  const auto& o = options;
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in_channels, out_channels, tuple2(kernel_size),
                              tuple2(o.stride));
  if (o.padding.h != 0 || o.padding.w != 0) s += ", padding=" + tuple2(o.padding);
  return s + conv_tail(o.dilation.h != 1 || o.dilation.w != 1, tuple2(o.dilation),
                       o.output_padding.h != 0 || o.output_padding.w != 0, tuple2(o.output_padding), o.groups,
                       bias.defined());
}

}  // namespace xgrad::nn
