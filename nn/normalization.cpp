#include "xgrad/nn/normalization.h"

#include <vector>

#include "xgrad/grad_mode.h"
#include "xgrad/ops.h"

namespace xgrad::nn {

namespace {
std::int64_t checked_features(const char* layer, std::int64_t n) {
  XGRAD_CHECK(n > 0, "{}: num_features must be positive, got {}", layer, n);
  return n;
}
}  // namespace

BatchNorm::BatchNorm(const char* layer, std::int64_t n, BatchNormOptions o)
    : num_features(checked_features(layer, n)),
      options(o),
      weight(register_parameter("weight", o.affine ? ones({n}) : Tensor())),
      bias(register_parameter("bias", o.affine ? zeros({n}) : Tensor())),
      running_mean(register_buffer("running_mean", o.track_running_stats ? zeros({n}) : Tensor())),
      running_var(register_buffer("running_var", o.track_running_stats ? ones({n}) : Tensor())),
      num_batches_tracked(register_buffer("num_batches_tracked",
                                          o.track_running_stats ? zeros({}, {.dtype = int64}) : Tensor())) {
  XGRAD_CHECK(o.eps > 0, "{}: eps must be positive, got {}", layer, o.eps);
  XGRAD_CHECK(!o.momentum || (*o.momentum >= 0 && *o.momentum <= 1), "{}: momentum must be in [0, 1], got {}", layer,
              *o.momentum);
}

void BatchNorm::reset_running_stats() {
  if (!options.track_running_stats) return;
  NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

void BatchNorm::reset_parameters() {
  reset_running_stats();
  if (!options.affine) return;
  NoGradGuard no_grad;
  weight.fill_(1.0);
  bias.zero_();
}

Tensor BatchNorm::forward(const Tensor& x) {
  XGRAD_CHECK(x.defined(), "{}: the input is undefined", type_name());
  check_input_dim(x);
  XGRAD_CHECK(x.size(1) == num_features, "{}({}): expected {} channels in dim 1, got input of shape {}", type_name(),
              num_features, num_features, to_string(x.shape()));
  double factor = options.momentum.value_or(0.0);
  if (is_training() && options.track_running_stats) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1.0);
    if (!options.momentum) factor = 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
  }
  // Batch statistics in training, or in evaluation when nothing is tracked.
  const bool use_batch_stats = is_training() || !running_mean.defined();
  const bool pass_running = !is_training() || options.track_running_stats;
  return batch_norm(x, pass_running ? running_mean : Tensor(), pass_running ? running_var : Tensor(), weight, bias,
                    use_batch_stats, factor, options.eps);
}

std::string BatchNorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features,
                     detail::py_float(options.eps), options.momentum ? detail::py_float(*options.momentum) : "None",
                     detail::py_bool(options.affine), detail::py_bool(options.track_running_stats));
}

void BatchNorm1d::check_input_dim(const Tensor& x) const {
  XGRAD_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected 2D or 3D input (got {}D input of shape {})",
              x.dim(), to_string(x.shape()));
}

void BatchNorm2d::check_input_dim(const Tensor& x) const {
  XGRAD_CHECK(x.dim() == 4, "BatchNorm2d: expected 4D input (got {}D input of shape {})", x.dim(),
              to_string(x.shape()));
}

LayerNorm::LayerNorm(Shape shape, LayerNormOptions o)
    : normalized_shape(std::move(shape)),
      options(o),
      weight(register_parameter("weight", o.elementwise_affine ? ones(normalized_shape) : Tensor())),
      bias(register_parameter("bias", o.elementwise_affine && o.bias ? zeros(normalized_shape) : Tensor())) {
  XGRAD_CHECK(normalized_shape.size() > 0, "LayerNorm: normalized_shape must have at least one dim");
  for (auto d : normalized_shape)
    XGRAD_CHECK(d > 0, "LayerNorm: normalized_shape {} must have positive sizes", to_string(normalized_shape));
  XGRAD_CHECK(o.eps > 0, "LayerNorm: eps must be positive, got {}", o.eps);
}

Tensor LayerNorm::forward(const Tensor& x) {
  XGRAD_CHECK(x.defined(), "LayerNorm: the input is undefined");
  return layer_norm(x, normalized_shape, weight, bias, options.eps);
}

std::string LayerNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}",
                     detail::py_tuple(std::vector<std::int64_t>(normalized_shape.begin(), normalized_shape.end())),
                     detail::py_float(options.eps), detail::py_bool(options.elementwise_affine));
}

}  // namespace xgrad::nn
