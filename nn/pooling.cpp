#include "xgrad/nn/pooling.h"

namespace xgrad::nn {

namespace {

// PyTorch prints the value it was given: a number, or a tuple for two different sizes.
std::string int2_repr(Int2 v) { return v.h == v.w ? fmt::format("{}", v.h) : detail::py_tuple({v.h, v.w}); }

void check_window(const char* layer, std::initializer_list<std::int64_t> kernel,
                  std::initializer_list<std::int64_t> stride, std::initializer_list<std::int64_t> padding) {
  for (auto k : kernel) XGRAD_CHECK(k > 0, "{}: kernel_size must be positive, got {}", layer, k);
  for (auto s : stride) XGRAD_CHECK(s > 0, "{}: stride must be positive, got {}", layer, s);
  for (auto p : padding) XGRAD_CHECK(p >= 0, "{}: padding must be >= 0, got {}", layer, p);
}

const Tensor& checked(const Module& m, const Tensor& x) {
  XGRAD_CHECK(x.defined(), "{}: the input is undefined", m.type_name());
  return x;
}

}  // namespace

MaxPool1d::MaxPool1d(std::int64_t k, MaxPool1dOptions o)
    : kernel_size(k), stride(o.stride.value_or(k)), options(o) {
  check_window("MaxPool1d", {k}, {stride}, {o.padding});
  XGRAD_CHECK(o.dilation > 0, "MaxPool1d: dilation must be positive, got {}", o.dilation);
}
Tensor MaxPool1d::forward(const Tensor& x) {
  return max_pool1d(checked(*this, x), kernel_size, stride, options.padding, options.dilation, options.ceil_mode);
}
std::string MaxPool1d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", kernel_size, stride,
                     options.padding, options.dilation, detail::py_bool(options.ceil_mode));
}

MaxPool2d::MaxPool2d(Int2 k, MaxPool2dOptions o) : kernel_size(k), stride(o.stride.value_or(k)), options(o) {
  check_window("MaxPool2d", {k.h, k.w}, {stride.h, stride.w}, {o.padding.h, o.padding.w});
  XGRAD_CHECK(o.dilation.h > 0 && o.dilation.w > 0, "MaxPool2d: dilation must be positive, got ({}, {})",
              o.dilation.h, o.dilation.w);
}
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(checked(*this, x), kernel_size, stride, options.padding, options.dilation, options.ceil_mode);
}
std::string MaxPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", int2_repr(kernel_size),
                     int2_repr(stride), int2_repr(options.padding), int2_repr(options.dilation),
                     detail::py_bool(options.ceil_mode));
}

AvgPool1d::AvgPool1d(std::int64_t k, AvgPool1dOptions o) : kernel_size(k), stride(o.stride.value_or(k)), options(o) {
  check_window("AvgPool1d", {k}, {stride}, {o.padding});
}
Tensor AvgPool1d::forward(const Tensor& x) {
  return avg_pool1d(checked(*this, x), kernel_size, stride, options.padding, options.ceil_mode,
                    options.count_include_pad);
}
// AvgPool1d keeps its sizes as 1-tuples, so PyTorch prints "(2,)".
std::string AvgPool1d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", detail::py_tuple({kernel_size}),
                     detail::py_tuple({stride}), detail::py_tuple({options.padding}));
}

AvgPool2d::AvgPool2d(Int2 k, AvgPool2dOptions o) : kernel_size(k), stride(o.stride.value_or(k)), options(o) {
  check_window("AvgPool2d", {k.h, k.w}, {stride.h, stride.w}, {o.padding.h, o.padding.w});
  XGRAD_CHECK(!o.divisor_override || *o.divisor_override != 0, "AvgPool2d: divisor_override must not be 0");
}
Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(checked(*this, x), kernel_size, stride, options.padding, options.ceil_mode,
                    options.count_include_pad, options.divisor_override);
}
std::string AvgPool2d::extra_repr() const {
  return fmt::format("kernel_size={}, stride={}, padding={}", int2_repr(kernel_size), int2_repr(stride),
                     int2_repr(options.padding));
}

AdaptiveAvgPool1d::AdaptiveAvgPool1d(std::int64_t out) : output_size(out) {
  XGRAD_CHECK(out > 0, "AdaptiveAvgPool1d: output_size must be positive, got {}", out);
}
Tensor AdaptiveAvgPool1d::forward(const Tensor& x) { return adaptive_avg_pool1d(checked(*this, x), output_size); }
std::string AdaptiveAvgPool1d::extra_repr() const { return fmt::format("output_size={}", output_size); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Int2 out) : output_size(out) {
  XGRAD_CHECK(out.h > 0 && out.w > 0, "AdaptiveAvgPool2d: output_size must be positive, got ({}, {})", out.h, out.w);
}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(checked(*this, x), output_size); }
std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + int2_repr(output_size); }

}  // namespace xgrad::nn
