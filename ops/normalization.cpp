// batch_norm and layer_norm: fused forward kernels, and a fused backward kernel for plain
// backward. Under create_graph the VJP is written with xgrad ops (recomputing the statistics from
// x), so double backward differentiates through the batch statistics exactly.
#include <cmath>

#include "../core/dispatch.h"
#include "../core/kernels/normalization.h"
#include "sample_util.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kBatchNorm{"batch_norm", 5,
    "training: dx = w invstd (dy - mean(dy) - xhat mean(dy xhat)), dw = sum(dy xhat), db = sum(dy); "
    "eval: dx = dy w / sqrt(running_var + eps)"};
constexpr OpDecl kLayerNorm{"layer_norm", 3,
    "dx = invstd (g - mean(g) - xhat mean(g xhat)), g = dy w; dw = sum(dy xhat); db = sum(dy)"};

namespace {

Tensor float64_tensor(const std::vector<double>& v) {
  return tensor(v, Shape{static_cast<std::int64_t>(v.size())}, {.dtype = Dtype::float64});
}

// (1 - momentum) running + momentum batch, written into the running tensor's own buffer.
void blend_into(Tensor running, const std::vector<double>& batch, double momentum) {
  XGRAD_DISPATCH_FLOAT(running.dtype(), T, {
    T* p = running.mutable_data<T>();
    for (std::size_t c = 0; c < batch.size(); ++c)
      p[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(p[c]) + momentum * batch[c]);
  });
}

// A per-channel parameter or statistic: undefined, or a floating [C] tensor.
void check_channel_tensor(const Tensor& t, const char* what, const Tensor& x, std::int64_t channels) {
  if (!t.defined()) return;
  XGRAD_CHECK(is_floating(t.dtype()), "batch_norm: {} must be floating, got {} (shape {})", what,
              dtype_name(t.dtype()), to_string(t.shape()));
  XGRAD_CHECK(t.dim() == 1 && t.size(0) == channels,
              "batch_norm: {} has shape {} but the input {} has {} channels (expected [{}])", what,
              to_string(t.shape()), to_string(x.shape()), channels, channels);
}

// The normalised input and 1/sqrt(var + eps) recomputed with xgrad ops over `dims`, so that a
// VJP built on them is differentiable again.
std::pair<Tensor, Tensor> normalize_with_ops(const Tensor& x, const Dims& dims, double eps) {
  const Tensor centered = x - mean(x, dims, true);
  const Tensor invstd = pow(mean(centered * centered, dims, true) + eps, -0.5);
  return {centered * invstd, invstd};
}

// dx of a normalisation over `dims` given g = dy * weight: invstd (g - mean(g) - xhat mean(g xhat)).
Tensor normalized_input_grad(const Tensor& g, const Tensor& xhat, const Tensor& invstd, const Dims& dims) {
  return invstd * (g - mean(g, dims, true) - xhat * mean(g * xhat, dims, true));
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight0,
                  const Tensor& bias0, bool training, double momentum, double eps) {
  XGRAD_CHECK(x.defined(), "batch_norm: the input is an undefined tensor");
  XGRAD_CHECK(is_floating(x.dtype()), "batch_norm: expects a floating input, got {} (shape {})",
              dtype_name(x.dtype()), to_string(x.shape()));
  XGRAD_CHECK(x.dim() >= 2, "batch_norm: expects an input [N, C] or [N, C, ...], got shape {}", to_string(x.shape()));
  const std::int64_t batch = x.size(0), channels = x.size(1);
  std::int64_t spatial = 1;
  for (std::int64_t d = 2; d < x.dim(); ++d) spatial *= x.size(d);
  check_channel_tensor(weight0, "weight", x, channels);
  check_channel_tensor(bias0, "bias", x, channels);
  check_channel_tensor(running_mean, "running_mean", x, channels);
  check_channel_tensor(running_var, "running_var", x, channels);
  XGRAD_CHECK(training || (running_mean.defined() && running_var.defined()),
              "batch_norm: running_mean and running_var must be given in evaluation mode (training=false); "
              "input shape {}",
              to_string(x.shape()));
  const std::int64_t count = batch * spatial;  // values per channel
  XGRAD_CHECK(!training || count != 1,
              "batch_norm: expected more than 1 value per channel when training, got input size {}",
              to_string(x.shape()));
  XGRAD_CHECK(eps >= 0, "batch_norm: eps must be >= 0, got {}", eps);
  const Tensor weight = weight0.defined() ? to_dtype(weight0, x.dtype()) : Tensor();
  const Tensor bias = bias0.defined() ? to_dtype(bias0, x.dtype()) : Tensor();

  const auto cs = static_cast<std::size_t>(channels);
  std::vector<double> mu(cs, 0.0), invstd(cs, 0.0);
  if (training) {
    kernels::ChannelMoments m = kernels::channel_moments(x, batch, channels, spatial);
    for (std::size_t c = 0; c < cs; ++c) invstd[c] = 1.0 / std::sqrt(m.var[c] + eps);
    mu = m.mean;
    if (count > 0) {
      if (running_mean.defined()) blend_into(running_mean, m.mean, momentum);
      if (running_var.defined()) {
        const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
        for (double& v : m.var) v *= unbias;
        blend_into(running_var, m.var, momentum);
      }
    }
  } else {
    const std::vector<double> rm = running_mean.to_vector<double>(), rv = running_var.to_vector<double>();
    for (std::size_t c = 0; c < cs; ++c) {
      mu[c] = rm[c];
      invstd[c] = 1.0 / std::sqrt(rv[c] + eps);
    }
  }
  std::vector<double> scale = invstd, shift(cs, 0.0);
  const std::vector<double> w = weight.defined() ? weight.to_vector<double>() : std::vector<double>(cs, 1.0);
  const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(cs, 0.0);
  for (std::size_t c = 0; c < cs; ++c) {
    scale[c] = w[c] * invstd[c];
    shift[c] = b[c] - mu[c] * scale[c];
  }
  Tensor y = kernels::channel_affine(x, scale, shift, batch, channels, spatial);

  Dims dims = {0};  // every dim but the channels
  for (std::int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  Shape channel_shape(static_cast<std::size_t>(x.dim()), 1);
  channel_shape[1] = channels;
  if (training) {
    record(y, kBatchNorm, {x, running_mean, running_var, weight, bias}, {x, weight, float64_tensor(mu), float64_tensor(invstd)},
           [batch, channels, spatial, dims, channel_shape, eps](Node& n, const Tensor& gy) -> TensorList {
             const Tensor x = n.saved(0), w = n.saved(1);
             if (!is_grad_enabled()) {  // plain backward: the fused kernel
               kernels::NormGrads g = kernels::batch_norm_backward(
                   gy, x, n.saved(2), n.saved(3), w, batch, channels, spatial, n.needs_input_grad(0),
                   n.needs_input_grad(3), n.needs_input_grad(4));
               return {g.dx, Tensor(), Tensor(), g.dweight, g.dbias};
             }
             const auto [xhat, invstd] = normalize_with_ops(x, dims, eps);
             Tensor dx, dw, db;
             if (n.needs_input_grad(0))
               dx = normalized_input_grad(w.defined() ? gy * reshape(w, channel_shape) : gy, xhat, invstd, dims);
             if (n.needs_input_grad(3)) dw = sum(gy * xhat, dims);
             if (n.needs_input_grad(4)) db = sum(gy, dims);
             return {dx, Tensor(), Tensor(), dw, db};
           });
  } else {
    // Evaluation: an affine map per channel with constant statistics (copied: the running
    // tensors may change later).
    const Tensor mean_c = to_dtype(float64_tensor(mu), x.dtype());
    const Tensor invstd_c = to_dtype(float64_tensor(invstd), x.dtype());
    record(y, kBatchNorm, {x, running_mean, running_var, weight, bias}, {x, weight, mean_c, invstd_c},
           [dims, channel_shape](Node& n, const Tensor& gy) -> TensorList {
             const Tensor w = n.saved(1), invstd = reshape(n.saved(3), channel_shape);
             Tensor dx, dw, db;
             if (n.needs_input_grad(0)) dx = gy * (w.defined() ? reshape(w, channel_shape) * invstd : invstd);
             if (n.needs_input_grad(3))
               dw = sum(gy * ((n.saved(0) - reshape(n.saved(2), channel_shape)) * invstd), dims);
             if (n.needs_input_grad(4)) db = sum(gy, dims);
             return {dx, Tensor(), Tensor(), dw, db};
           });
  }
  return y;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight0, const Tensor& bias0,
                  double eps) {
  XGRAD_CHECK(x.defined(), "layer_norm: the input is an undefined tensor");
  XGRAD_CHECK(is_floating(x.dtype()), "layer_norm: expects a floating input, got {} (shape {})",
              dtype_name(x.dtype()), to_string(x.shape()));
  const auto k = static_cast<std::int64_t>(normalized_shape.size());
  XGRAD_CHECK(k >= 1, "layer_norm: normalized_shape must have at least 1 dim, got []");
  bool matches = x.dim() >= k;
  for (std::int64_t i = 0; matches && i < k; ++i)
    matches = x.size(x.dim() - k + i) == normalized_shape[static_cast<std::size_t>(i)];
  XGRAD_CHECK(matches, "layer_norm: normalized_shape {} must match the trailing dims of the input {}",
              to_string(normalized_shape), to_string(x.shape()));
  for (const auto& [t, what] : {std::pair{&weight0, "weight"}, std::pair{&bias0, "bias"}}) {
    if (!t->defined()) continue;
    XGRAD_CHECK(is_floating(t->dtype()), "layer_norm: {} must be floating, got {}", what, dtype_name(t->dtype()));
    XGRAD_CHECK(t->shape() == normalized_shape, "layer_norm: {} has shape {} but normalized_shape is {}", what,
                to_string(t->shape()), to_string(normalized_shape));
  }
  XGRAD_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got {}", eps);
  const Tensor weight = weight0.defined() ? to_dtype(weight0, x.dtype()) : Tensor();
  const Tensor bias = bias0.defined() ? to_dtype(bias0, x.dtype()) : Tensor();
  const std::int64_t d = numel_of(normalized_shape);
  const std::int64_t rows = d == 0 ? 0 : x.numel() / d;
  kernels::LayerNormForward f = kernels::layer_norm_forward(x, weight, bias, rows, d, eps);

  Dims dims, leading;  // the normalised dims and the others
  for (std::int64_t i = 0; i < x.dim(); ++i) (i < x.dim() - k ? leading : dims).push_back(i);
  record(f.y, kLayerNorm, {x, weight, bias}, {x, weight, f.mean, f.invstd},
         [rows, d, dims, leading, eps](Node& n, const Tensor& gy) -> TensorList {
           const Tensor x = n.saved(0), w = n.saved(1);
           if (!is_grad_enabled()) {  // plain backward: the fused kernel
             kernels::NormGrads g =
                 kernels::layer_norm_backward(gy, x, n.saved(2), n.saved(3), w, rows, d, n.needs_input_grad(0),
                                              n.needs_input_grad(1), n.needs_input_grad(2));
             // The kernel's [D] parameter gradients take normalized_shape.
             if (g.dweight.defined()) g.dweight = alias_with_shape(g.dweight, n.next_edges()[1].shape);
             if (g.dbias.defined()) g.dbias = alias_with_shape(g.dbias, n.next_edges()[2].shape);
             return {g.dx, g.dweight, g.dbias};
           }
           const auto [xhat, invstd] = normalize_with_ops(x, dims, eps);
           // Parameter gradients sum over the leading dims (none for an input of exactly normalized_shape).
           auto over_leading = [&leading](const Tensor& t) { return leading.empty() ? t : sum(t, leading); };
           Tensor dx, dw, db;
           if (n.needs_input_grad(0)) dx = normalized_input_grad(w.defined() ? gy * w : gy, xhat, invstd, dims);
           if (n.needs_input_grad(1)) dw = over_leading(gy * xhat);
           if (n.needs_input_grad(2)) db = over_leading(gy);
           return {dx, dw, db};
         });
  return f.y;
}

void register_normalization_ops(std::vector<OpInfo>& r) {
  using samples::constant;
  using samples::input;
  r.push_back(declared(kBatchNorm, {
       .differentiable = {true, false, false, true, true},
       .samples = [](Dtype dt) {
         // Running statistics are copied inside the call: the op updates them in place.
         auto copy = [](const Tensor& t) { return t.defined() ? t + 0.0 : Tensor(); };
         auto call = [copy](bool training) {
           return [copy, training](const TensorList& in) {
             return batch_norm(in[0], copy(in[1]), copy(in[2]), in[3], in[4], training, 0.1, 1e-5);
           };
         };
         auto running_mean = [dt](std::int64_t c) { return constant({c}, dt, -0.5, 0.5); };
         auto running_var = [dt](std::int64_t c) { return constant({c}, dt, 0.5, 1.5); };
         auto weight = [dt](std::int64_t c) { return input({c}, dt, 0.5, 1.5); };
         return std::vector<OpSample>{
             {"[4,3] training, weight and bias", {input({4, 3}, dt), Tensor(), Tensor(), weight(3), input({3}, dt)},
              call(true)},
             {"[4,3] training, running stats, no weight or bias",
              {input({4, 3}, dt), running_mean(3), running_var(3), Tensor(), Tensor()}, call(true)},
             {"[2,3,2,2] training, running stats, weight and bias",
              {input({2, 3, 2, 2}, dt), running_mean(3), running_var(3), weight(3), input({3}, dt)}, call(true)},
             {"[1,2,3] batch 1 training, weight only", {input({1, 2, 3}, dt), Tensor(), Tensor(), weight(2), Tensor()},
              call(true)},
             {"[2,3,2,2] eval, weight and bias",
              {input({2, 3, 2, 2}, dt), running_mean(3), running_var(3), weight(3), input({3}, dt)}, call(false)},
             {"[3,2] eval, no weight or bias", {input({3, 2}, dt), running_mean(2), running_var(2), Tensor(), Tensor()},
              call(false)},
             {"[2,2,3] eval, bias only", {input({2, 2, 3}, dt), running_mean(2), running_var(2), Tensor(), input({2}, dt)},
              call(false)},
         };
       }}));
  r.push_back(declared(kLayerNorm, {
               .differentiable = {true, true, true},
               .samples = [](Dtype dt) {
                 auto call = [](Shape normalized) {
                   return [normalized](const TensorList& in) { return layer_norm(in[0], normalized, in[1], in[2]); };
                 };
                 return std::vector<OpSample>{
                     {"[3,4] over [4], weight and bias", {input({3, 4}, dt), input({4}, dt, 0.5, 1.5), input({4}, dt)},
                      call({4})},
                     {"[2,3,4] over [3,4], weight and bias",
                      {input({2, 3, 4}, dt), input({3, 4}, dt, 0.5, 1.5), input({3, 4}, dt)}, call({3, 4})},
                     {"[2,5] over [5], no affine", {input({2, 5}, dt), Tensor(), Tensor()}, call({5})},
                     {"[4] over [4] (no leading dims), weight only", {input({4}, dt), input({4}, dt, 0.5, 1.5), Tensor()},
                      call({4})},
                     {"[2,1,3] over [1,3], bias only", {input({2, 1, 3}, dt), Tensor(), input({1, 3}, dt)},
                      call({1, 3})},
                 };
               }}));
}

}  // namespace xgrad
