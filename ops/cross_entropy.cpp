// cross_entropy and nll_loss (PyTorch's torch.nn.functional forms). With class targets each is
// one graph op over fused kernels: cross_entropy computes log-softmax row by row and the loss,
// keeping only each sample's max and log-sum-exp; its gradient s_i (Q_i softmax(x) - q_i) (q: the
// smoothed, weighted one-hot) is one more fused pass, recorded as the op cross_entropy_backward
// whose own VJP uses xgrad ops. nll_loss gathers; its gradient (nll_loss_backward) scatters, and the
// gradient of that is nll_loss again. With class-probability targets it is one op too (fused forward; gradient cross_entropy_soft_backward).
#include "../core/arg_checks.h"
#include "../core/kernels/softmax.h"
#include "sample_util.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kCrossEntropy{"cross_entropy", 3,
    "dx = s_i (Q_i softmax(x) - q_i), q the weighted, smoothed one-hot (softmax - onehot) / N; "
    "probability targets t: dt = -s_i (1 - eps) w log_softmax(x), dw = -sum_i s_i t' log_softmax(x)"};
constexpr OpDecl kCrossEntropyBackward{"cross_entropy_backward", 4,
    "d(gy) = sum(g (Q softmax(x) - q)) * scale; d(x) = p (h - sum(h p)), h = g s Q"};
constexpr OpDecl kCrossEntropySoftBackward{"cross_entropy_soft_backward", 4,
    "d(gy) = sum(g (Q p - w t')) * scale; d(x) = p (h - sum(h p)), h = g s Q; "
    "d(t) = s (1 - eps) w (sum(g p) - g); d(w) = sum_i s t' (sum(g p) - g)"};
constexpr OpDecl kNllLoss{"nll_loss", 3, "dx[i, t_i] = -w[t_i] dy_i / (total weight for mean), zero elsewhere"};
constexpr OpDecl kNllLossBackward{"nll_loss_backward", 3, "d(gy) = nll_loss(g, target, weight) (linear)"};

namespace {

// What the class-target ops need besides tensors.
struct ClassLossArgs {
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0;
  double total_weight = 0;  // of the counted targets: the mean's divisor
  // The per-sample gradient scale: 1 / total weight for a mean (inf when it is 0: then every
  // counted target has weight 0 and PyTorch's 0/0 gives NaN too).
  double scale() const { return reduction == Reduction::mean ? 1.0 / total_weight : 1.0; }
};

// The input's shape with its class dim (1) of size 1.
Shape kept_shape(const Shape& s) {
  Shape k = s;
  k[1] = 1;
  return k;
}

// The target shape a class-target loss expects: the input's without dim 1.
Shape class_target_shape(const Shape& input) {
  Shape s = input;
  s.erase(1);
  return s;
}

void check_input(const Tensor& x, const char* op, const char* what) {
  XGRAD_CHECK(x.defined(), "{}: the {} is undefined", op, what);
  XGRAD_CHECK(is_floating(x.dtype()), "{}: expects floating {}, got {} (shape {})", op, what,
              dtype_name(x.dtype()), to_string(x.shape()));
  XGRAD_CHECK(x.dim() >= 1,
              "{}: the {} must be [C], [N, C] or [N, C, d1, ...], got a 0-d tensor (shape {})", op, what,
              to_string(x.shape()));
}

void check_weight(const Tensor& weight, const Tensor& x, std::int64_t classes, const char* op) {
  if (!weight.defined()) return;
  XGRAD_CHECK(weight.dim() == 1 && weight.numel() == classes,
              "{}: weight must be a 1-D tensor with one value per class ({}), got shape {} (input shape {})", op,
              classes, to_string(weight.shape()), to_string(x.shape()));
  XGRAD_CHECK(weight.dtype() == x.dtype(), "{}: weight has dtype {} but the input has {}", op,
              dtype_name(weight.dtype()), dtype_name(x.dtype()));
}

// A class target for an input with dims >= 2 (a [C] input is reshaped to [1, C] first).
void check_class_target(const Tensor& target, const Tensor& x, const char* op) {
  XGRAD_CHECK(target.defined(), "{}: the target is undefined", op);
  XGRAD_CHECK(target.dtype() == Dtype::int64,
              "{}: class targets must be int64, got {} (target shape {}, input shape {}); class-probability "
              "targets must have the input's shape",
              op, dtype_name(target.dtype()), to_string(target.shape()), to_string(x.shape()));
  const Shape expected = class_target_shape(x.shape());
  XGRAD_CHECK(target.shape() == expected,
              "{}: expected a target of shape {} (the input {} without its class dim 1), got {}", op,
              to_string(expected), to_string(x.shape()), to_string(target.shape()));
}

kernels::ClassTargets targets_of(const Tensor& target, const Tensor& weight, std::int64_t ignore_index) {
  return {target, weight, ignore_index};
}

// ---- checks of the internal (backward) ops, which the registry can call with any tensors: O(1)
// shape and dtype checks against each other; the registry samples check target values too.

// The incoming gradient: the loss's shape (per sample for none, else 0-d) and the input's dtype.
void check_loss_grad(const char* op, const Tensor& gy, const Shape& input_shape, Dtype dtype, Reduction r) {
  check_defined(op, {{gy, "grad_output"}});
  const Shape expected = r == Reduction::none ? class_target_shape(input_shape) : Shape{};
  XGRAD_CHECK(gy.dtype() == dtype && gy.shape() == expected,
              "{}: grad_output is {} {}, expected {} {} (the loss's shape for input {} and reduction {})", op,
              dtype_name(gy.dtype()), to_string(gy.shape()), dtype_name(dtype), to_string(expected),
              to_string(input_shape), r == Reduction::none ? "none" : r == Reduction::sum ? "sum" : "mean");
}

// The logits of a backward op: floating, [N, C, ...].
void check_backward_input(const char* op, const Tensor& x) {
  check_defined(op, {{x, "input"}});
  check_input(x, op, "input");
  XGRAD_CHECK(x.dim() >= 2, "{}: the input must be [N, C, ...], got shape {}", op, to_string(x.shape()));
}

void check_class_backward_args(const char* op, const Tensor& gy, const Tensor& x, const Tensor& target,
                               const Tensor& weight, Reduction r) {
  check_defined(op, {{gy, "grad_output"}, {x, "input"}, {target, "target"}});
  check_backward_input(op, x);
  check_class_target(target, x, op);
  check_weight(weight, x, x.size(1), op);
  check_loss_grad(op, gy, x.shape(), x.dtype(), r);
}

void check_soft_backward_args(const char* op, const Tensor& gy, const Tensor& x, const Tensor& target,
                              const Tensor& weight, Reduction r) {
  check_backward_input(op, x);
  check_defined(op, {{target, "target"}});
  XGRAD_CHECK(target.shape() == x.shape() && target.dtype() == x.dtype(),
              "{}: class-probability target is {} {}, expected the input's {} {}", op, dtype_name(target.dtype()),
              to_string(target.shape()), dtype_name(x.dtype()), to_string(x.shape()));
  check_weight(weight, x, x.size(1), op);
  check_loss_grad(op, gy, x.shape(), x.dtype(), r);
}

// nll_loss_backward's input is only a shape (captured, never a user's): floating gy of its dtype.
void check_nll_backward_args(const char* op, const Tensor& gy, const Shape& shape, const Tensor& target,
                             const Tensor& weight, Reduction r) {
  check_defined(op, {{gy, "grad_output"}, {target, "target"}});
  XGRAD_CHECK(is_floating(gy.dtype()), "{}: grad_output must be floating, got {} (shape {})", op,
              dtype_name(gy.dtype()), to_string(gy.shape()));
  XGRAD_CHECK(target.dtype() == Dtype::int64 && target.shape() == class_target_shape(shape),
              "{}: target is {} {}, expected int64 {} (the input {} without its class dim 1)", op,
              dtype_name(target.dtype()), to_string(target.shape()), to_string(class_target_shape(shape)),
              to_string(shape));
  if (weight.defined())
    XGRAD_CHECK(weight.dim() == 1 && weight.numel() == shape[1] && weight.dtype() == gy.dtype(),
                "{}: weight is {} {}, expected {} [{}] (one value per class)", op, dtype_name(weight.dtype()),
                to_string(weight.shape()), dtype_name(gy.dtype()), shape[1]);
  check_loss_grad(op, gy, shape, gy.dtype(), r);
}

// ---- nll_loss (input [N, C, ...], validated)

Tensor nll_loss_core(const Tensor& x, const Tensor& target, const Tensor& weight, const ClassLossArgs& a);

// dx of `shape`: -w[t] s_i at each sample's target class, zero elsewhere.
Tensor nll_loss_backward_op(const Tensor& gy, const Shape& shape, const Tensor& target, const Tensor& weight,
                            const ClassLossArgs& a) {
  check_nll_backward_args("nll_loss_backward", gy, shape, target, weight, a.reduction);
  const auto layout = kernels::layout_along(shape, 1);
  Tensor dx = kernels::nll_backward(gy, shape, layout, targets_of(target, weight, a.ignore_index), a.scale());
  record(dx, kNllLossBackward, {gy, target, weight}, {target, weight}, [a](Node& n, const Tensor& g) -> TensorList {
    // Linear in gy: its gradient is the same gather, i.e. nll_loss of g.
    return {nll_loss_core(g, n.saved(0), n.saved(1), a), Tensor(), Tensor()};
  });
  return dx;
}

Tensor nll_loss_core(const Tensor& x, const Tensor& target, const Tensor& weight, const ClassLossArgs& a) {
  const auto layout = kernels::layout_along(x.shape(), 1);
  const bool per_sample = a.reduction == Reduction::none;
  auto values = kernels::nll_forward(x, layout, targets_of(target, weight, a.ignore_index), per_sample);
  Tensor y = per_sample ? alias_with_shape(values.per_sample, target.shape())
                        : scalar_tensor(a.reduction == Reduction::mean ? values.sum / a.total_weight : values.sum,
                                        {.dtype = x.dtype()});
  const Shape shape = x.shape();
  record(y, kNllLoss, {x, target, weight}, {target, weight}, [a, shape](Node& n, const Tensor& gy) -> TensorList {
    return {nll_loss_backward_op(gy, shape, n.saved(0), n.saved(1), a), Tensor(), Tensor()};
  });
  return y;
}

// ---- cross_entropy with class targets (input [N, C, ...], validated)

// dx = s_i (Q_i softmax(x)_i - q_i). stats (each sample's max and log-sum-exp, from the forward)
// are recomputed when undefined.
Tensor cross_entropy_backward_op(const Tensor& gy, const Tensor& x, const Tensor& target, const Tensor& weight,
                                 const Tensor& stats0, const ClassLossArgs& a) {
  check_class_backward_args("cross_entropy_backward", gy, x, target, weight, a.reduction);
  const auto layout = kernels::layout_along(x.shape(), 1);
  const auto t = targets_of(target, weight, a.ignore_index);
  const Tensor stats = stats0.defined() ? stats0 : kernels::cross_entropy_forward(x, layout, t, 0.0, false).stats;
  Tensor dx = kernels::cross_entropy_backward(gy, x, stats, layout, t, a.label_smoothing, a.scale());
  record(dx, kCrossEntropyBackward, {gy, x, target, weight}, {gy, x, target, weight},
         [a](Node& n, const Tensor& g) -> TensorList {
           const Tensor gy = n.saved(0), x = n.saved(1), target = n.saved(2), weight = n.saved(3);
           const auto layout = kernels::layout_along(x.shape(), 1);
           const Tensor q = kernels::smoothed_one_hot(x.shape(), x.dtype(), layout,
                                                      targets_of(target, weight, a.ignore_index), a.label_smoothing);
           const Tensor total = sum(q, {1}, true);  // Q_i
           const Tensor p = softmax(x, 1);
           const Tensor scale = scalar_like(a.scale(), x);
           Tensor ggy, gx;
           if (n.needs_input_grad(0)) {
             // dx is linear in s: d/ds_i = sum_c g (Q p - q)
             const Tensor r = sum(mul(g, sub(mul(total, p), q)), {1});
             ggy = gy.dim() > 0 ? mul(r, scale) : mul(sum(r), scale);
           }
           if (n.needs_input_grad(1)) {
             // Through softmax: h = g s Q, dx = p (h - sum(h p)).
             const Tensor s = mul(gy.dim() > 0 ? reshape(gy, kept_shape(x.shape())) : gy, scale);
             const Tensor h = mul(mul(g, s), total);
             gx = mul(p, sub(h, sum(mul(h, p), {1}, true)));
           }
           return {ggy, gx, Tensor(), Tensor()};
         });
  return dx;
}

Tensor cross_entropy_core(const Tensor& x, const Tensor& target, const Tensor& weight, ClassLossArgs a) {
  const auto layout = kernels::layout_along(x.shape(), 1);
  const auto t = targets_of(target, weight, a.ignore_index);
  const bool per_sample = a.reduction == Reduction::none;
  auto values = kernels::cross_entropy_forward(x, layout, t, a.label_smoothing, per_sample);
  Tensor y = per_sample ? alias_with_shape(values.per_sample, target.shape())
                        : scalar_tensor(a.reduction == Reduction::mean ? values.sum / a.total_weight : values.sum,
                                        {.dtype = x.dtype()});
  record(y, kCrossEntropy, {x, target, weight}, {x, target, weight, values.stats},
         [a](Node& n, const Tensor& gy) -> TensorList {
           return {cross_entropy_backward_op(gy, n.saved(0), n.saved(1), n.saved(2), n.saved(3), a), Tensor(),
                   Tensor()};
         });
  return y;
}

// Validates a class-target loss; a [C] input (0-d target) runs as [1, C] and returns a 0-d result.
template <class Core>
Tensor class_target_loss(const Tensor& input, const Tensor& target, const Tensor& weight, ClassLossArgs a,
                         const char* op, Core core) {
  if (input.dim() == 1) {
    XGRAD_CHECK(target.defined() && target.dim() == 0,
                "{}: a [C] input (shape {}) takes a 0-d class target, got shape {}", op, to_string(input.shape()),
                target.defined() ? to_string(target.shape()) : std::string("undefined"));
    Tensor y = class_target_loss(reshape(input, {1, input.size(0)}), alias_with_shape(target, {1}), weight, a, op,
                                 core);
    return a.reduction == Reduction::none ? reshape(y, {}) : y;
  }
  check_class_target(target, input, op);
  const std::int64_t classes = input.size(1);
  check_weight(weight, input, classes, op);
  a.total_weight = kernels::check_class_targets(targets_of(target, weight, a.ignore_index), target.shape(),
                                                classes, op);
  return core(input, target, weight, a);
}

// ---- cross_entropy with class probabilities (input [N, C, ...], target of its shape and dtype):
// loss_i = -sum_c w_c t'_ic log_softmax(x)_ic, t' = (1 - eps) t + eps / C. One graph op over a
// fused kernel; its gradient wrt the logits is the op cross_entropy_soft_backward.

struct SoftLossArgs {
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0;
  double scale = 1;  // per-sample gradient scale: 1 / samples for a mean (NaN when there are none)
};

// [1, C, 1, ...]: class weights broadcast against an input of `rank` dims.
Shape class_weight_shape(std::size_t rank, std::int64_t classes) {
  Shape s(rank, 1);
  s[1] = classes;
  return s;
}

// Every dim but the class dim 1: a class weight's gradient sums over them.
std::vector<std::int64_t> non_class_dims(std::int64_t rank) {
  std::vector<std::int64_t> dims;
  for (std::int64_t k = 0; k < rank; ++k)
    if (k != 1) dims.push_back(k);
  return dims;
}

// w_c t'_ic with xgrad ops (for double backward).
Tensor weighted_smoothed_target(const Tensor& target, const Tensor& weight, double eps, std::int64_t classes) {
  Tensor t = target;
  if (eps > 0) t = add(mul(t, scalar_like(1 - eps, t)), scalar_like(eps / static_cast<double>(classes), t));
  if (weight.defined()) t = mul(t, reshape(weight, class_weight_shape(static_cast<std::size_t>(target.dim()), classes)));
  return t;
}

// s_i broadcastable against the input: gy (one per sample, or 0-d) times the scale.
Tensor sample_scales(const Tensor& gy, const Tensor& x, double scale) {
  return mul(gy.dim() > 0 ? reshape(gy, kept_shape(x.shape())) : gy, scalar_like(scale, x));
}

// dx = s_i (Q_i softmax(x) - w t'_i), Q_i = sum_c w_c t'_ic. stats (each sample's max and
// log-sum-exp) are recomputed when undefined.
Tensor soft_cross_entropy_backward_op(const Tensor& gy, const Tensor& x, const Tensor& target, const Tensor& weight,
                                      const Tensor& stats0, const SoftLossArgs& a) {
  check_soft_backward_args("cross_entropy_soft_backward", gy, x, target, weight, a.reduction);
  const auto layout = kernels::layout_along(x.shape(), 1);
  const Tensor stats =
      stats0.defined() ? stats0 : kernels::soft_cross_entropy_forward(x, target, weight, layout, 0.0, false).stats;
  Tensor dx;
  kernels::soft_cross_entropy_backward(gy, x, target, weight, stats, layout, a.label_smoothing, a.scale, &dx, nullptr);
  record(dx, kCrossEntropySoftBackward, {gy, x, target, weight}, {gy, x, target, weight},
         [a](Node& n, const Tensor& g) -> TensorList {
           const Tensor gy = n.saved(0), x = n.saved(1), target = n.saved(2), weight = n.saved(3);
           const std::int64_t classes = x.size(1);
           const Tensor p = softmax(x, 1);
           const Tensor wt = weighted_smoothed_target(target, weight, a.label_smoothing, classes);
           const Tensor total = sum(wt, {1}, true);  // Q_i
           Tensor ggy, gx, gt;
           if (n.needs_input_grad(0)) {
             // dx is linear in s: d/ds_i = sum_c g (Q p - w t')
             const Tensor r = sum(mul(g, sub(mul(total, p), wt)), {1});
             ggy = mul(gy.dim() > 0 ? r : sum(r), scalar_like(a.scale, x));
           }
           const bool need_x = n.needs_input_grad(1), need_t = n.needs_input_grad(2);
           if (need_x || need_t) {
             const Tensor s = sample_scales(gy, x, a.scale);
             if (need_x) {
               // Through softmax: h = g s Q, dx = p (h - sum(h p)).
               const Tensor h = mul(mul(g, s), total);
               gx = mul(p, sub(h, sum(mul(h, p), {1}, true)));
             }
             if (need_t) {
               // Q and w t' are linear in t with slope (1 - eps) w: dt = s (1 - eps) w (sum(g p) - g).
               Tensor slope = mul(s, scalar_like(1 - a.label_smoothing, x));
               if (weight.defined())
                 slope = mul(slope, reshape(weight, class_weight_shape(static_cast<std::size_t>(x.dim()), classes)));
               gt = mul(slope, sub(sum(mul(g, p), {1}, true), g));
             }
           }
           Tensor gw;
           if (n.needs_input_grad(3)) {
             // dx is linear in w with d/dw_c = s t'_c (sum(g p) - g_c), summed over samples.
             const Tensor tp = weighted_smoothed_target(target, Tensor(), a.label_smoothing, classes);
             const Tensor s = sample_scales(gy, x, a.scale);
             gw = sum(mul(mul(s, tp), sub(sum(mul(g, p), {1}, true), g)), non_class_dims(x.dim()));
           }
           return {ggy, gx, gt, gw};
         });
  return dx;
}

// The per-sample gradient scale of a reduction over the input's samples.
double soft_scale(const Tensor& x, Reduction reduction) {
  if (reduction != Reduction::mean) return 1.0;
  // Divided by the number of samples (not by weights, as PyTorch), NaN when there are none.
  const std::int64_t classes = x.size(1);
  const double samples = classes == 0 ? 0.0 : static_cast<double>(x.numel() / classes);
  return samples == 0 ? NAN : 1.0 / samples;
}

Tensor soft_cross_entropy_core(const Tensor& x, const Tensor& target, const Tensor& weight, const SoftLossArgs& a) {
  const auto layout = kernels::layout_along(x.shape(), 1);
  const bool per_sample = a.reduction == Reduction::none;
  auto values = kernels::soft_cross_entropy_forward(x, target, weight, layout, a.label_smoothing, per_sample);
  Tensor y = per_sample ? alias_with_shape(values.per_sample, class_target_shape(x.shape()))
                        : scalar_tensor(values.sum * a.scale, {.dtype = x.dtype()});
  record(y, kCrossEntropy, {x, target, weight}, {x, target, weight, values.stats},
         [a](Node& n, const Tensor& gy) -> TensorList {
           const Tensor x = n.saved(0), target = n.saved(1), weight = n.saved(2), stats = n.saved(3);
           const bool need_x = n.needs_input_grad(0), need_t = n.needs_input_grad(1);
           Tensor gx, gt, gw;
           if (n.needs_input_grad(2)) {
             // Class weights (PyTorch differentiates them for probability targets; rare, so ops):
             // dw_c = -sum_i s_i t'_ic log_softmax(x)_ic.
             const Tensor tp = weighted_smoothed_target(target, Tensor(), a.label_smoothing, x.size(1));
             gw = neg(sum(mul(mul(sample_scales(gy, x, a.scale), tp), log_softmax(x, 1)), non_class_dims(x.dim())));
           }
           if (!is_grad_enabled()) {
             // Plain backward: the logits' and the target's gradients in one fused pass.
             kernels::soft_cross_entropy_backward(gy, x, target, weight, stats, kernels::layout_along(x.shape(), 1),
                                                  a.label_smoothing, a.scale, need_x ? &gx : nullptr,
                                                  need_t ? &gt : nullptr);
             return {gx, gt, gw};
           }
           if (need_x) gx = soft_cross_entropy_backward_op(gy, x, target, weight, stats, a);
           if (need_t) {
             // dt = -s (1 - eps) w log_softmax(x)
             Tensor slope = mul(sample_scales(gy, x, a.scale), scalar_like(a.label_smoothing - 1, x));
             if (weight.defined())
               slope = mul(slope, reshape(weight, class_weight_shape(static_cast<std::size_t>(x.dim()), x.size(1))));
             gt = mul(slope, log_softmax(x, 1));
           }
           return {gx, gt, gw};
         });
  return y;
}

Tensor cross_entropy_probabilities(const Tensor& x, const Tensor& target, const Tensor& weight,
                                   std::int64_t ignore_index, Reduction reduction, double eps) {
  const char* op = "cross_entropy";
  XGRAD_CHECK(is_floating(target.dtype()) && target.dtype() == x.dtype(),
              "{}: a target with the input's shape {} holds class probabilities and must have the input's dtype "
              "{}, got {}",
              op, to_string(x.shape()), dtype_name(x.dtype()), dtype_name(target.dtype()));
  XGRAD_CHECK(ignore_index < 0, "{}: ignore_index ({}) is not supported for class-probability targets", op,
              ignore_index);
  if (x.dim() == 1) {  // one sample: run as [1, C], a 0-d result
    Tensor y = cross_entropy_probabilities(reshape(x, {1, x.size(0)}), reshape(target, {1, x.size(0)}), weight,
                                           ignore_index, reduction, eps);
    return reduction == Reduction::none ? reshape(y, {}) : y;
  }
  check_weight(weight, x, x.size(1), op);
  return soft_cross_entropy_core(x, target, weight, {reduction, eps, soft_scale(x, reduction)});
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  const char* op = "cross_entropy";
  check_input(logits, op, "logits");
  XGRAD_CHECK(target.defined(), "{}: the target is undefined", op);
  XGRAD_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "{}: label_smoothing must be between 0.0 and 1.0, got {}", op, label_smoothing);
  if (target.shape() == logits.shape() && target.dtype() != Dtype::int64)
    return cross_entropy_probabilities(logits, target, weight, ignore_index, reduction, label_smoothing);
  XGRAD_CHECK(target.shape() != logits.shape(),
              "{}: a target with the input's shape {} holds class probabilities and must be floating, got {}", op,
              to_string(logits.shape()), dtype_name(target.dtype()));
  ClassLossArgs a{.ignore_index = ignore_index, .reduction = reduction, .label_smoothing = label_smoothing};
  return class_target_loss(logits, target, weight, a, op,
                           [](const Tensor& x, const Tensor& t, const Tensor& w, const ClassLossArgs& args) {
                             return cross_entropy_core(x, t, w, args);
                           });
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                Reduction reduction) {
  const char* op = "nll_loss";
  check_input(log_probs, op, "input");
  XGRAD_CHECK(target.defined(), "{}: the target is undefined", op);
  ClassLossArgs a{.ignore_index = ignore_index, .reduction = reduction};
  return class_target_loss(log_probs, target, weight, a, op,
                           [](const Tensor& x, const Tensor& t, const Tensor& w, const ClassLossArgs& args) {
                             return nll_loss_core(x, t, w, args);
                           });
}

// ---- registry

namespace {

// int64 class targets for `shape` in [0, classes), with `ignored` positions set to ignore_index.
Tensor class_targets(const Shape& shape, std::int64_t classes, std::vector<std::int64_t> ignored = {},
                     std::int64_t ignore_index = -100) {
  Tensor t = randint(0, classes, shape);
  std::int64_t* p = t.mutable_data<std::int64_t>();
  for (auto i : ignored) p[i] = ignore_index;
  return t;
}

// Positive class weights.
Tensor class_weights(std::int64_t classes, Dtype d) { return uniform({classes}, 0.5, 2.0, {.dtype = d}); }

// Class weights that take a gradient (probability targets differentiate them, as PyTorch).
Tensor learnable_weights(std::int64_t classes, Dtype d) { return class_weights(classes, d).requires_grad_(true); }

// Class probabilities along dim 1 (or 0 for 1-D), differentiable.
Tensor probabilities(const Shape& shape, Dtype d) {
  const std::int64_t dim = shape.size() == 1 ? 0 : 1;
  Tensor p = softmax(uniform(shape, -1.0, 1.0, {.dtype = d}), dim).detach();
  return p.requires_grad_(true);
}

using Call = std::function<Tensor(const TensorList&)>;

Call ce_call(Reduction r, std::int64_t ignore_index = -100, double eps = 0.0) {
  return [=](const TensorList& in) { return cross_entropy(in[0], in[1], in[2], ignore_index, r, eps); };
}
Call nll_call(Reduction r, std::int64_t ignore_index = -100) {
  return [=](const TensorList& in) { return nll_loss(in[0], in[1], in[2], ignore_index, r); };
}

}  // namespace

void register_cross_entropy_ops(std::vector<OpInfo>& r) {
  constexpr auto none = Reduction::none, mean = Reduction::mean, sum_ = Reduction::sum;
  r.push_back(declared(kCrossEntropy, {
       .differentiable = {true, true, true},  // the weight only with probability targets
       .samples = [=](Dtype d) {
         auto x = [d](const Shape& s) { return samples::input(s, d, -2.0, 2.0); };
         return std::vector<OpSample>{
             {"[4,5] mean", {x({4, 5}), class_targets({4}, 5), Tensor()}, ce_call(mean)},
             {"[4,5] sum", {x({4, 5}), class_targets({4}, 5), Tensor()}, ce_call(sum_)},
             {"[4,5] none", {x({4, 5}), class_targets({4}, 5), Tensor()}, ce_call(none)},
             {"[1,3] batch 1", {x({1, 3}), class_targets({1}, 3), Tensor()}, ce_call(mean)},
             {"[5] with 0-d target, mean", {x({5}), class_targets({}, 5), Tensor()}, ce_call(mean)},
             {"[5] with 0-d target, none", {x({5}), class_targets({}, 5), Tensor()}, ce_call(none)},
             {"[4,5] weighted mean", {x({4, 5}), class_targets({4}, 5), class_weights(5, d)}, ce_call(mean)},
             {"[4,5] weighted none", {x({4, 5}), class_targets({4}, 5), class_weights(5, d)}, ce_call(none)},
             {"[4,5] ignore_index -100 at 1 (mean)", {x({4, 5}), class_targets({4}, 5, {1}), Tensor()},
              ce_call(mean)},
             {"[4,5] ignore_index 2, weighted mean", {x({4, 5}), class_targets({4}, 5, {0, 3}, 2), class_weights(5, d)},
              ce_call(mean, 2)},
             {"[4,5] label_smoothing 0.1 mean", {x({4, 5}), class_targets({4}, 5), Tensor()}, ce_call(mean, -100, 0.1)},
             {"[4,5] label_smoothing 0.1 weighted, ignore, mean",
              {x({4, 5}), class_targets({4}, 5, {2}), class_weights(5, d)}, ce_call(mean, -100, 0.1)},
             {"[4,5] label_smoothing 0.1 weighted none", {x({4, 5}), class_targets({4}, 5), class_weights(5, d)},
              ce_call(none, -100, 0.1)},
             {"[2,3,4] spatial mean", {x({2, 3, 4}), class_targets({2, 4}, 3), Tensor()}, ce_call(mean)},
             {"[2,3,2,2] spatial weighted smoothed none", {x({2, 3, 2, 2}), class_targets({2, 2, 2}, 3, {1}),
                                                           class_weights(3, d)},
              ce_call(none, -100, 0.1)},
             {"[0,4] empty sum", {x({0, 4}), class_targets({0}, 4), Tensor()}, ce_call(sum_)},
             {"[0,4] empty none", {x({0, 4}), class_targets({0}, 4), Tensor()}, ce_call(none)},
             {"[3,4] probability targets (differentiable) mean", {x({3, 4}), probabilities({3, 4}, d), Tensor()},
              ce_call(mean)},
             {"[3,4] probability targets weighted smoothed none",
              {x({3, 4}), probabilities({3, 4}, d), learnable_weights(4, d)}, ce_call(none, -100, 0.1)},
             {"[2,3,2] probability targets sum", {x({2, 3, 2}), probabilities({2, 3, 2}, d), Tensor()},
              ce_call(sum_)},
             {"[4] probability targets", {x({4}), probabilities({4}, d), Tensor()}, ce_call(mean)},
             {"[4] probability targets smoothed none", {x({4}), probabilities({4}, d), learnable_weights(4, d)},
              ce_call(none, -100, 0.2)},
             {"[2,3,2,2] probability targets spatial weighted smoothed mean",
              {x({2, 3, 2, 2}), probabilities({2, 3, 2, 2}, d), learnable_weights(3, d)}, ce_call(mean, -100, 0.1)},
             {"[2,3,2] probability targets spatial none", {x({2, 3, 2}), probabilities({2, 3, 2}, d), Tensor()},
              ce_call(none)},
             {"[2,11] probability targets, wide rows, weighted sum", {x({2, 11}), probabilities({2, 11}, d),
                                                                    class_weights(11, d)},
              ce_call(sum_, -100, 0.1)},
             {"[0,3] probability targets empty none", {x({0, 3}), probabilities({0, 3}, d), Tensor()}, ce_call(none)},
         };
       }}));
  r.push_back(declared(kCrossEntropyBackward, {
               .differentiable = {true, true, false, false},
               .samples = [=](Dtype d) {
                 auto call = [](Reduction red, std::int64_t ignore_index, double eps) {
                   return [=](const TensorList& in) {
                     const Tensor& x = in[1];
                     const char* op = "cross_entropy_backward";
                     check_class_backward_args(op, in[0], x, in[2], in[3], red);
                     ClassLossArgs a{.ignore_index = ignore_index, .reduction = red, .label_smoothing = eps};
                     a.total_weight = kernels::check_class_targets(targets_of(in[2], in[3], ignore_index),
                                                                   in[2].shape(), x.size(1), op);
                     return cross_entropy_backward_op(in[0], x, in[2], in[3], Tensor(), a);
                   };
                 };
                 auto x = [d](const Shape& s) { return samples::input(s, d, -2.0, 2.0); };
                 auto g = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     {"[4,5] mean", {g({}), x({4, 5}), class_targets({4}, 5), Tensor()}, call(mean, -100, 0)},
                     {"[4,5] none weighted, ignore", {g({4}), x({4, 5}), class_targets({4}, 5, {1}), class_weights(5, d)},
                      call(none, -100, 0)},
                     {"[4,5] sum smoothed weighted", {g({}), x({4, 5}), class_targets({4}, 5), class_weights(5, d)},
                      call(sum_, -100, 0.1)},
                     {"[2,3,4] spatial none smoothed", {g({2, 4}), x({2, 3, 4}), class_targets({2, 4}, 3, {3}), Tensor()},
                      call(none, -100, 0.1)},
                     {"[2,3,2] spatial mean weighted", {g({}), x({2, 3, 2}), class_targets({2, 2}, 3), class_weights(3, d)},
                      call(mean, -100, 0)},
                 };
               }}));
  r.push_back(declared(kCrossEntropySoftBackward, {
               .differentiable = {true, true, true, true},
               .samples = [=](Dtype d) {
                 auto call = [](Reduction red, double eps) {
                   return [=](const TensorList& in) {
                     check_soft_backward_args("cross_entropy_soft_backward", in[0], in[1], in[2], in[3], red);
                     const SoftLossArgs a{red, eps, soft_scale(in[1], red)};
                     return soft_cross_entropy_backward_op(in[0], in[1], in[2], in[3], Tensor(), a);
                   };
                 };
                 auto x = [d](const Shape& s) { return samples::input(s, d, -2.0, 2.0); };
                 auto g = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     {"[3,4] mean", {g({}), x({3, 4}), probabilities({3, 4}, d), Tensor()}, call(mean, 0)},
                     {"[3,4] none weighted smoothed", {g({3}), x({3, 4}), probabilities({3, 4}, d), learnable_weights(4, d)},
                      call(none, 0.1)},
                     {"[2,3,2] spatial sum smoothed", {g({}), x({2, 3, 2}), probabilities({2, 3, 2}, d), Tensor()},
                      call(sum_, 0.2)},
                     {"[2,3,2,2] spatial none weighted", {g({2, 2, 2}), x({2, 3, 2, 2}), probabilities({2, 3, 2, 2}, d),
                                                          class_weights(3, d)},
                      call(none, 0)},
                     {"[1,9] wide row weighted smoothed mean", {g({}), x({1, 9}), probabilities({1, 9}, d),
                                                                learnable_weights(9, d)},
                      call(mean, 0.1)},
                 };
               }}));
  r.push_back(declared(kNllLoss, {
               .differentiable = {true, false, false},
               .samples = [=](Dtype d) {
                 auto x = [d](const Shape& s) { return samples::input(s, d, -3.0, -0.1); };
                 return std::vector<OpSample>{
                     {"[4,5] mean", {x({4, 5}), class_targets({4}, 5), Tensor()}, nll_call(mean)},
                     {"[4,5] sum", {x({4, 5}), class_targets({4}, 5), Tensor()}, nll_call(sum_)},
                     {"[4,5] none weighted", {x({4, 5}), class_targets({4}, 5), class_weights(5, d)}, nll_call(none)},
                     {"[4,5] weighted mean, ignore_index 1",
                      {x({4, 5}), class_targets({4}, 5, {2}, 1), class_weights(5, d)}, nll_call(mean, 1)},
                     {"[1,3] batch 1", {x({1, 3}), class_targets({1}, 3), Tensor()}, nll_call(mean)},
                     {"[5] with 0-d target", {x({5}), class_targets({}, 5), Tensor()}, nll_call(none)},
                     {"[2,3,4] spatial mean", {x({2, 3, 4}), class_targets({2, 4}, 3, {5}), Tensor()}, nll_call(mean)},
                     {"[0,3] empty none", {x({0, 3}), class_targets({0}, 3), Tensor()}, nll_call(none)},
                 };
               }}));
  r.push_back(declared(kNllLossBackward, {
               .differentiable = {true, false, false},
               .samples = [=](Dtype d) {
                 auto call = [](const Shape& shape, Reduction red, std::int64_t ignore_index) {
                   return [=](const TensorList& in) {
                     const char* op = "nll_loss_backward";
                     check_nll_backward_args(op, in[0], shape, in[1], in[2], red);
                     ClassLossArgs a{.ignore_index = ignore_index, .reduction = red};
                     a.total_weight = kernels::check_class_targets(targets_of(in[1], in[2], ignore_index),
                                                                   in[1].shape(), shape[1], op);
                     return nll_loss_backward_op(in[0], shape, in[1], in[2], a);
                   };
                 };
                 auto g = [d](const Shape& s) { return samples::input(s, d); };
                 return std::vector<OpSample>{
                     {"[4,5] mean", {g({}), class_targets({4}, 5), Tensor()}, call({4, 5}, mean, -100)},
                     {"[4,5] none weighted, ignore", {g({4}), class_targets({4}, 5, {0}), class_weights(5, d)},
                      call({4, 5}, none, -100)},
                     {"[2,3,2] spatial sum", {g({}), class_targets({2, 2}, 3), Tensor()}, call({2, 3, 2}, sum_, -100)},
                 };
               }}));
}

}  // namespace xgrad
