// Margin and regression losses: multi_margin_loss, svm_loss, mse_loss, l1_loss,
// binary_cross_entropy_with_logits, hinge_embedding_loss. Each is one recorded op whose forward
// is computed without recording and whose VJP is written with xgrad ops (double backward works).
// mse_loss, l1_loss and binary_cross_entropy_with_logits over operands of one shape run their
// forward, and their plain backward (no create_graph), as one fused kernel pass each.
#include <cmath>

#include "../core/arg_checks.h"
#include "../core/kernels/elementwise.h"
#include "../core/kernels/loss.h"
#include "sample_util.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kMultiMarginLoss{"multi_margin_loss", 2,
    "ds_j = w_y p h_j^(p-1) / C for violating j != y; ds_y = -sum_j ds_j"};
constexpr OpDecl kSvmLoss{"svm_loss", 2, "ds_j = 1 for violating j != y; ds_y = -(number of violating j)"};
constexpr OpDecl kMseLoss{"mse_loss", 2, "dx = 2 (x - t) dy; dt = -dx"};
constexpr OpDecl kL1Loss{"l1_loss", 2, "dx = sign(x - t) dy; dt = -dx"};
constexpr OpDecl kBinaryCrossEntropyWithLogits{"binary_cross_entropy_with_logits", 4,
    "dx = w ((1 - t) - c sigmoid(-x)), c = 1 + (pw - 1) t; dt = w ((pw - 1) softplus(-x) - x); "
    "dw = loss / w; dpw = w t softplus(-x)"};
constexpr OpDecl kHingeEmbeddingLoss{"hinge_embedding_loss", 2, "dx = dy ([t != -1] - [t != 1][x < margin])"};

namespace {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
  }
  return "?";
}

Tensor reduce_losses(const Tensor& losses, Reduction r) {
  switch (r) {
    case Reduction::none: return losses;
    case Reduction::sum: return sum(losses);
    case Reduction::mean: return mean(losses);
  }
  return losses;
}

// dy carried back to the per-element losses (count of them): unchanged for none, broadcast from a
// 0-d for sum, and divided by the count for mean.
Tensor per_element_grad(const Tensor& gy, Reduction r, std::int64_t count) {
  if (r != Reduction::mean) return gy;
  return gy * (count == 0 ? NAN : 1.0 / static_cast<double>(count));
}

// The gradient scale of each element's loss: 1 / count for a mean (NaN when empty), else 1.
double grad_scale(Reduction r, std::int64_t count) {
  if (r != Reduction::mean) return 1.0;
  return count == 0 ? NAN : 1.0 / static_cast<double>(count);
}

// A fused kernel's float64 sum reduced as asked (not none).
double reduced(double sum, Reduction r, std::int64_t count) { return sum * grad_scale(r, count); }

Tensor grad_for(Node& n, std::size_t i, const Tensor& g) {
  return n.needs_input_grad(i) ? sum_to(g, n.next_edges()[i].shape) : Tensor();
}

// The floating dtype two loss operands compute in; integer-only inputs raise.
Dtype loss_dtype(const char* op, const Tensor& input, const Tensor& target) {
  check_defined(op, {{input, "input"}, {target, "target"}});
  const Dtype d = result_type(input, target);
  XGRAD_CHECK(is_floating(d), "{}: expects floating input and target, got {} {} and {} {}", op,
              dtype_name(input.dtype()), to_string(input.shape()), dtype_name(target.dtype()),
              to_string(target.shape()));
  return d;
}

// ---- multiclass margin losses

struct MarginArgs {
  const OpDecl& decl;
  std::int64_t p;
  double margin;
  bool divide_by_classes;  // multi_margin_loss divides by C, svm_loss does not
};

Tensor margin_loss(const MarginArgs& a, const Tensor& scores, const Tensor& target, const Tensor& weight0,
                   Reduction reduction) {
  const char* op = a.decl.name;
  check_defined(op, {{scores, "scores"}, {target, "target"}});
  XGRAD_CHECK(is_floating(scores.dtype()), "{}: expects floating scores, got {} (shape {})", op,
              dtype_name(scores.dtype()), to_string(scores.shape()));
  XGRAD_CHECK(scores.dim() == 1 || scores.dim() == 2, "{}: expects scores [N, C] or [C], got shape {}", op,
              to_string(scores.shape()));
  XGRAD_CHECK(target.dtype() == Dtype::int64, "{}: expects int64 class targets, got {} (shape {})", op,
              dtype_name(target.dtype()), to_string(target.shape()));
  const std::int64_t classes = scores.size(-1);
  const std::int64_t n = scores.dim() == 2 ? scores.size(0) : 1;
  XGRAD_CHECK(classes > 0, "{}: expects at least one class, got scores of shape {}", op, to_string(scores.shape()));
  if (scores.dim() == 2)
    XGRAD_CHECK(target.dim() == 1 && target.size(0) == n,
                "{}: scores {} need a target of shape [{}], got {}", op, to_string(scores.shape()), n,
                to_string(target.shape()));
  else
    XGRAD_CHECK(target.numel() == 1 && target.dim() <= 1, "{}: scores {} need a 0-d target, got shape {}", op,
                to_string(scores.shape()), to_string(target.shape()));
  XGRAD_CHECK(a.p == 1 || a.p == 2, "{}: only p == 1 and p == 2 are supported, got p = {}", op, a.p);
  const std::int64_t* y = target.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i)
    XGRAD_CHECK(y[i] >= 0 && y[i] < classes, "{}: target[{}] = {} is out of range for {} classes [0, {}) (scores {})",
                op, i, y[i], classes, classes, to_string(scores.shape()));
  Tensor weight;
  if (weight0.defined()) {
    XGRAD_CHECK(is_floating(weight0.dtype()) && weight0.dim() == 1 && weight0.size(0) == classes,
                "{}: weight must be a floating [{}] tensor for scores {}, got {} {}", op, classes,
                to_string(scores.shape()), dtype_name(weight0.dtype()), to_string(weight0.shape()));
    XGRAD_CHECK(!(is_grad_enabled() && weight0.requires_grad()),
                "{}: the gradient with respect to weight is not implemented (as in PyTorch); pass weight.detach()",
                op);
    weight = weight0;
  }

  // Per-sample factor: weight[y] (when given), divided by C for multi_margin_loss.
  std::vector<double> coef(static_cast<std::size_t>(n), a.divide_by_classes ? 1.0 / static_cast<double>(classes) : 1.0);
  if (weight.defined()) {
    const std::vector<double> w = weight.to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i) coef[static_cast<std::size_t>(i)] *= w[static_cast<std::size_t>(y[i])];
  }
  kernels::MarginLoss m =
      kernels::multiclass_margin(scores, y, n, classes, static_cast<int>(a.p), a.margin, coef);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = scores.dim() == 1 ? reshape(m.losses, {}) : m.losses;
    out = reduce_losses(out, reduction);
  }
  const Tensor coef_t = to_dtype(tensor(coef, {n, 1}, {.dtype = Dtype::float64}), scores.dtype());
  const Tensor one_hot = kernels::one_hot_rows(y, n, classes, scores.dtype());
  const Shape rows{n, 1}, matrix{n, classes};
  const std::int64_t p = a.p;
  const double margin = a.margin;
  record(out, a.decl, {scores, target}, {scores, m.active, coef_t, one_hot, target},
         [reduction, n, rows, matrix, p, margin](Node& nd, const Tensor& gy) -> TensorList {
           // Per sample: dL/ds_j = c h_j' for violating j != y; dL/ds_y = -(sum of those).
           const Tensor active = nd.saved(1), coef = nd.saved(2), one_hot = nd.saved(3);
           if (!is_grad_enabled()) {  // plain backward: one fused pass
             const std::vector<double> dy = gy.to_vector<double>(), c = coef.to_vector<double>();
             const double scale = reduction == Reduction::mean ? 1.0 / static_cast<double>(n) : 1.0;
             std::vector<double> g(c.size());
             for (std::size_t i = 0; i < g.size(); ++i) g[i] = c[i] * scale * dy[reduction == Reduction::none ? i : 0];
             const Tensor ds = kernels::multiclass_margin_backward(nd.saved(0), nd.saved(4).data<std::int64_t>(),
                                                                   active, g, static_cast<int>(p), margin);
             return {alias_with_shape(ds, nd.next_edges()[0].shape), Tensor()};
           }
           Tensor g = per_element_grad(gy, reduction, n);
           if (reduction == Reduction::none) g = reshape(g, rows);  // one per sample, as a column
           Tensor d;
           if (p == 1) {
             d = g * (coef * active);
           } else {
             const Tensor s = reshape(nd.saved(0), matrix);
             const Tensor margins = s - sum(s * one_hot, {1}, true) + margin;
             d = g * (coef * 2.0) * (active * margins);
           }
           const Tensor ds = d - one_hot * sum(d, {1}, true);
           return {reshape(ds, nd.next_edges()[0].shape), Tensor()};
         });
  return out;
}

}  // namespace

Tensor multi_margin_loss(const Tensor& scores, const Tensor& target, std::int64_t p, double margin,
                         const Tensor& weight, Reduction reduction) {
  return margin_loss({kMultiMarginLoss, p, margin, true}, scores, target, weight, reduction);
}

Tensor svm_loss(const Tensor& scores, const Tensor& target, double margin, Reduction reduction) {
  return margin_loss({kSvmLoss, 1, margin, false}, scores, target, Tensor(), reduction);
}

// ---- regression losses

namespace {

// mse_loss and l1_loss: per element (x - t)^2 or |x - t| with broadcasting.
Tensor regression_loss(const OpDecl& decl, bool squared, const Tensor& input0, const Tensor& target0,
                       Reduction reduction) {
  const char* op = decl.name;
  const Dtype d = loss_dtype(op, input0, target0);
  const Tensor x = to_dtype(input0, d), t = to_dtype(target0, d);
  const Shape shape = broadcast_shapes(x.shape(), t.shape(), op);
  const std::int64_t count = numel_of(shape);
  // Operands of one shape: one fused kernel pass (loss and sum); broadcasting composes ops.
  const bool fused = x.shape() == t.shape();
  Tensor out;
  if (fused) {
    const bool none = reduction == Reduction::none;
    const kernels::PointwiseLoss v = kernels::regression_forward(x, t, squared, none);
    out = none ? v.per_element : scalar_tensor(reduced(v.sum, reduction, count), {.dtype = d});
  } else {
    NoGradGuard no_grad;
    const Tensor diff = x - t;
    out = reduce_losses(squared ? diff * diff : abs(diff), reduction);
  }
  record(out, decl, {x, t}, {x, t}, [squared, reduction, count, fused](Node& n, const Tensor& gy) -> TensorList {
    if (fused && !is_grad_enabled() && gy.dtype() == n.saved(0).dtype()) {  // plain backward: one fused pass
      Tensor dx, dt;
      kernels::regression_backward(n.saved(0), n.saved(1), squared, gy, grad_scale(reduction, count),
                                   n.needs_input_grad(0) ? &dx : nullptr, n.needs_input_grad(1) ? &dt : nullptr);
      return {dx, dt};
    }
    const Tensor diff = n.saved(0) - n.saved(1);
    // mse: 2 (x - t); l1: sign(x - t), a constant (zero second derivative).
    const Tensor g = per_element_grad(gy, reduction, count) * (squared ? diff * 2.0 : sign(diff));
    return {grad_for(n, 0, g), n.needs_input_grad(1) ? grad_for(n, 1, -g) : Tensor()};
  });
  return out;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return regression_loss(kMseLoss, true, input, target, reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return regression_loss(kL1Loss, false, input, target, reduction);
}

// ---- binary cross entropy with logits

Tensor binary_cross_entropy_with_logits(const Tensor& logits0, const Tensor& target0, const Tensor& weight0,
                                        Reduction reduction, const Tensor& pos_weight0) {
  const char* op = kBinaryCrossEntropyWithLogits.name;
  const Dtype d = loss_dtype(op, logits0, target0);
  XGRAD_CHECK(logits0.shape() == target0.shape(), "{}: target size {} must be the same as input size {}", op,
              to_string(target0.shape()), to_string(logits0.shape()));
  const Tensor x = to_dtype(logits0, d), t = to_dtype(target0, d);
  const Shape shape = x.shape();
  Tensor w, pw;
  // weight and pos_weight broadcast to the input's shape without changing it (PyTorch's rule): a
  // larger broadcast shape would leave the gradient for the input of the wrong shape.
  auto check_weight = [&](const Tensor& weight, const char* name) {
    XGRAD_CHECK(is_floating(weight.dtype()), "{}: {} must be floating, got {}", op, name, dtype_name(weight.dtype()));
    XGRAD_CHECK(broadcast_shapes(shape, weight.shape(), op) == shape,
                "{}: {} of shape {} must broadcast to the input's shape {} without changing it", op, name,
                to_string(weight.shape()), to_string(shape));
  };
  if (weight0.defined()) {
    check_weight(weight0, "weight");
    w = to_dtype(weight0, d);
  }
  if (pos_weight0.defined()) {
    check_weight(pos_weight0, "pos_weight");
    pw = to_dtype(pos_weight0, d);
  }
  // l = (1 - t) x + c softplus(-x), c = 1 + (pos_weight - 1) t; softplus(-x) = log(1 + exp(-|x|)) + max(-x, 0).
  const std::int64_t count = numel_of(shape);
  // weight and pos_weight absent or of the logits' shape: one fused kernel pass.
  const bool fused = shape == x.shape() && (!w.defined() || w.shape() == shape) && (!pw.defined() || pw.shape() == shape);
  Tensor out;
  if (fused) {
    const bool none = reduction == Reduction::none;
    const kernels::PointwiseLoss v = kernels::bce_logits_forward(x, t, w, pw, none);
    out = none ? v.per_element : scalar_tensor(reduced(v.sum, reduction, count), {.dtype = d});
  } else {
    NoGradGuard no_grad;
    const Tensor sp = softplus(-x);
    Tensor l = (1.0 - t) * x + (pw.defined() ? (1.0 + (pw - 1.0) * t) * sp : sp);
    if (w.defined()) l = l * w;
    out = reduce_losses(l, reduction);
  }
  record(out, kBinaryCrossEntropyWithLogits, {x, t, w, pw}, {x, t, w, pw}, [reduction, count, fused](Node& n, const Tensor& gy) -> TensorList {
    const Tensor x = n.saved(0), t = n.saved(1), w = n.saved(2), pw = n.saved(3);
    if (fused && !is_grad_enabled() && gy.dtype() == x.dtype()) {  // plain backward: one fused pass
      Tensor dx, dt, dw, dpw;
      kernels::bce_logits_backward(x, t, w, pw, gy, grad_scale(reduction, count),
                                   {n.needs_input_grad(0) ? &dx : nullptr, n.needs_input_grad(1) ? &dt : nullptr,
                                    n.needs_input_grad(2) ? &dw : nullptr, n.needs_input_grad(3) ? &dpw : nullptr});
      return {dx, dt, dw, dpw};
    }
    Tensor g = per_element_grad(gy, reduction, count);
    const Tensor sp = softplus(-x);
    Tensor dx, dt, dw, dpw;
    if (n.needs_input_grad(2)) dw = g * ((1.0 - t) * x + (pw.defined() ? (1.0 + (pw - 1.0) * t) * sp : sp));
    if (w.defined()) g = g * w;
    if (n.needs_input_grad(0))  // (1 - t) - c sigmoid(-x)
      dx = g * ((1.0 - t) - (pw.defined() ? (1.0 + (pw - 1.0) * t) : scalar_like(1.0, x)) * sigmoid(-x));
    if (n.needs_input_grad(1)) dt = g * (pw.defined() ? (pw - 1.0) * sp - x : -x);
    if (n.needs_input_grad(3)) dpw = g * (t * sp);
    return {grad_for(n, 0, dx), dt.defined() ? grad_for(n, 1, dt) : Tensor(), dw.defined() ? grad_for(n, 2, dw) : Tensor(),
            dpw.defined() ? grad_for(n, 3, dpw) : Tensor()};
  });
  return out;
}

// ---- hinge embedding loss

Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin, Reduction reduction) {
  const char* op = kHingeEmbeddingLoss.name;
  check_defined(op, {{input, "input"}, {target, "target"}});
  XGRAD_CHECK(is_floating(input.dtype()), "{}: expects a floating input, got {} (shape {})", op,
              dtype_name(input.dtype()), to_string(input.shape()));
  const Shape shape = broadcast_shapes(input.shape(), target.shape(), op);
  // As PyTorch: x where target != -1, plus max(0, margin - x) where target != 1.
  const Tensor t = target.dtype() == boolean ? to_dtype(target, int64) : target;  // true is 1
  const Tensor self_mask = kernels::compare_scalar(kernels::Compare::ne, t, -1.0);
  const Tensor margin_mask = kernels::compare_scalar(kernels::Compare::ne, t, 1.0);
  Tensor out;
  {
    NoGradGuard no_grad;
    const Tensor zero = scalar_like(0.0, input);
    out = reduce_losses(where(self_mask, input, zero) + where(margin_mask, relu(margin - input), zero), reduction);
  }
  const std::int64_t count = numel_of(shape);
  record(out, kHingeEmbeddingLoss, {input, target}, {input, self_mask, margin_mask},
         [reduction, count, margin](Node& n, const Tensor& gy) -> TensorList {
           // dx = [t != -1] - [t != 1][margin - x > 0]: piecewise constant.
           const Tensor x = n.saved(0).detach();
           const Tensor inside = kernels::compare_scalar(kernels::Compare::lt, x, margin);
           const Tensor zero = scalar_like(0.0, x), one = scalar_like(1.0, x);
           const Tensor slope = where(n.saved(1), one, zero) - where(n.saved(2), inside, zero);
           return {grad_for(n, 0, per_element_grad(gy, reduction, count) * slope), Tensor()};
         });
  return out;
}

// ---- registry

void register_loss_ops(std::vector<OpInfo>& r) {
  using samples::input;
  const std::vector<Reduction> reductions = {Reduction::none, Reduction::sum, Reduction::mean};

  // Scores whose every margin s_j - s_y + margin is at least 0.15 away from 0: s_j = s_y - margin
  // + 0.3 k + 0.15 for a random integer k in [-3, 3], the target's own score random.
  auto margin_scores = [](std::int64_t n, std::int64_t c, const std::vector<std::int64_t>& y, double margin,
                          Dtype dt) {
    std::vector<double> v(static_cast<std::size_t>(n * c));
    for (std::int64_t i = 0; i < n; ++i) {
      const double sy = random::uniform01() * 2.0 - 1.0;
      for (std::int64_t j = 0; j < c; ++j) {
        const double k = static_cast<double>(random::next_u64() % 7) - 3.0;
        v[static_cast<std::size_t>(i * c + j)] = j == y[static_cast<std::size_t>(i)] ? sy : sy - margin + 0.3 * k + 0.15;
      }
    }
    return tensor(v, n == 0 ? Shape{0, c} : Shape{n, c}, {.dtype = dt, .requires_grad = true});
  };
  auto targets = [](std::vector<std::int64_t> y) {
    return tensor(y, Shape{static_cast<std::int64_t>(y.size())});
  };

  auto add_margin = [&](const OpDecl& op, bool multi) {
    r.push_back(declared(op, {.differentiable = {true, false},
                 .samples = [=](Dtype dt) {
                   std::vector<OpSample> out;
                   const std::vector<std::int64_t> y = {2, 0, 3};
                   for (Reduction red : reductions) {
                     for (std::int64_t p : multi ? std::vector<std::int64_t>{1, 2} : std::vector<std::int64_t>{1}) {
                       out.push_back({fmt::format("[3,4] p={} reduction {}", p, reduction_name(red)),
                                      {margin_scores(3, 4, y, 1.0, dt), targets(y)},
                                      [=](const TensorList& in) {
                                        return multi ? multi_margin_loss(in[0], in[1], p, 1.0, Tensor(), red)
                                                     : svm_loss(in[0], in[1], 1.0, red);
                                      }});
                     }
                   }
                   out.push_back({"[1,5] batch 1, margin 0.5", {margin_scores(1, 5, {4}, 0.5, dt), targets({4})},
                                  [=](const TensorList& in) {
                                    return multi ? multi_margin_loss(in[0], in[1], 1, 0.5) : svm_loss(in[0], in[1], 0.5);
                                  }});
                   Tensor s1 = margin_scores(1, 3, {1}, 1.0, dt).detach().reshape({3}).requires_grad_();
                   out.push_back({"[3] scores, 0-d target", {s1, tensor(std::vector<std::int64_t>{1}, Shape{})},
                                  [=](const TensorList& in) {
                                    return multi ? multi_margin_loss(in[0], in[1], 2) : svm_loss(in[0], in[1]);
                                  }});
                   if (multi) {
                     const Tensor w = uniform({4}, 0.5, 1.5, {.dtype = dt});
                     for (std::int64_t p : {1, 2})
                       out.push_back({fmt::format("[3,4] class weights p={}", p),
                                      {margin_scores(3, 4, y, 1.0, dt), targets(y)}, [=](const TensorList& in) {
                                        return multi_margin_loss(in[0], in[1], p, 1.0, w);
                                      }});
                   }
                   return out;
                 }}));
  };
  add_margin(kMultiMarginLoss, true);
  add_margin(kSvmLoss, false);

  // Regression losses: same shapes, broadcasting both ways, 0-d; l1 keeps |x - t| >= 0.1.
  auto add_regression = [&](const OpDecl& op, Tensor (*fn)(const Tensor&, const Tensor&, Reduction),
                            bool away) {
    r.push_back(declared(op, {.differentiable = {true, true},
                 .samples = [=](Dtype dt) {
                   // For l1, x on the grid 0.2 k and t on 0.2 k + 0.1: |x - t| >= 0.1 under any broadcast.
                   auto on_grid = [dt](const Shape& s, double offset) {
                     std::vector<double> v = uniform(s, -1.0, 1.0, {.dtype = Dtype::float64}).to_vector<double>();
                     for (double& e : v) e = std::round(e / 0.2) * 0.2 + offset;
                     return tensor(v, s, {.dtype = dt, .requires_grad = true});
                   };
                   auto pair = [=](const Shape& sx, const Shape& st) {
                     return away ? TensorList{on_grid(sx, 0.0), on_grid(st, 0.1)} : TensorList{input(sx, dt), input(st, dt)};
                   };
                   std::vector<OpSample> out;
                   for (Reduction red : reductions)
                     out.push_back({fmt::format("[3,4] reduction {}", reduction_name(red)), pair({3, 4}, {3, 4}),
                                    [=](const TensorList& in) { return fn(in[0], in[1], red); }});
                   out.push_back({"broadcast [3,1] x [4], mean", pair({3, 1}, {4}),
                                  [=](const TensorList& in) { return fn(in[0], in[1], Reduction::mean); }});
                   out.push_back({"broadcast [4] x [2,4], none", pair({4}, {2, 4}),
                                  [=](const TensorList& in) { return fn(in[0], in[1], Reduction::none); }});
                   out.push_back({"0-d x 0-d, sum", pair({}, {}),
                                  [=](const TensorList& in) { return fn(in[0], in[1], Reduction::sum); }});
                   out.push_back({"[0,3] empty, sum", pair({0, 3}, {0, 3}),
                                  [=](const TensorList& in) { return fn(in[0], in[1], Reduction::sum); }});
                   return out;
                 }}));
  };
  add_regression(kMseLoss, mse_loss, false);
  add_regression(kL1Loss, l1_loss, true);

  r.push_back(declared(kBinaryCrossEntropyWithLogits, {
               .differentiable = {true, true, true, true},
               .samples = [reductions](Dtype dt) {
                 auto logits = [dt](const Shape& s) { return input(s, dt, -3.0, 3.0); };
                 auto target = [dt](const Shape& s) { return input(s, dt, 0.0, 1.0); };
                 auto call = [](Reduction red) {
                   return [red](const TensorList& in) {
                     return binary_cross_entropy_with_logits(in[0], in[1], in[2], red, in[3]);
                   };
                 };
                 std::vector<OpSample> out;
                 for (Reduction red : reductions)
                   out.push_back({fmt::format("[3,4] reduction {}", reduction_name(red)),
                                  {logits({3, 4}), target({3, 4}), Tensor(), Tensor()}, call(red)});
                 out.push_back({"[3,4] weight [4], pos_weight [4], mean",
                                {logits({3, 4}), target({3, 4}), input({4}, dt, 0.5, 1.5), input({4}, dt, 0.5, 3.0)},
                                call(Reduction::mean)});
                 out.push_back({"[2,3] weight [2,1], none",
                                {logits({2, 3}), target({2, 3}), input({2, 1}, dt, 0.5, 1.5), Tensor()},
                                call(Reduction::none)});
                 out.push_back({"[2,3] pos_weight [3], sum",
                                {logits({2, 3}), target({2, 3}), Tensor(), input({3}, dt, 0.5, 3.0)},
                                call(Reduction::sum)});
                 out.push_back({"0-d, mean", {logits({}), target({}), Tensor(), Tensor()}, call(Reduction::mean)});
                 return out;
               }}));

  r.push_back(declared(kHingeEmbeddingLoss, {
               .differentiable = {true, false},
               .samples = [reductions](Dtype dt) {
                 // Inputs on the grid 0.2 k + 0.1: never within 0.1 of the margin 1 or 0.5.
                 auto x = [dt](const Shape& s) {
                   std::vector<double> v = uniform(s, -2.0, 2.0, {.dtype = Dtype::float64}).to_vector<double>();
                   for (double& e : v) e = std::round(e / 0.2) * 0.2 + 0.1;
                   return tensor(v, s, {.dtype = dt, .requires_grad = true});
                 };
                 auto signs = [dt](const Shape& s) {
                   std::vector<double> v(static_cast<std::size_t>(numel_of(s)));
                   for (double& e : v) e = random::uniform01() < 0.5 ? -1.0 : 1.0;
                   return tensor(v, s, {.dtype = dt});
                 };
                 std::vector<OpSample> out;
                 for (Reduction red : reductions)
                   out.push_back({fmt::format("[3,4] reduction {}", reduction_name(red)), {x({3, 4}), signs({3, 4})},
                                  [red](const TensorList& in) { return hinge_embedding_loss(in[0], in[1], 1.0, red); }});
                 out.push_back({"[4] margin 0.5, broadcast target [2,4], none", {x({4}), signs({2, 4})},
                                [](const TensorList& in) {
                                  return hinge_embedding_loss(in[0], in[1], 0.5, Reduction::none);
                                }});
                 out.push_back({"0-d", {x({}), signs({})},
                                [](const TensorList& in) { return hinge_embedding_loss(in[0], in[1]); }});
                 return out;
               }}));
}

}  // namespace xgrad
