// Gradient checking (see include/xgrad/gradcheck.h). Everything runs in float64: the inputs
// are copied, the numeric derivative perturbs the copies in place (restoring each value
// exactly), and the analytic side uses xgrad::grad with chosen grad_outputs.
#include "xgrad/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>

#include "xgrad/autograd.h"
#include "xgrad/grad_mode.h"
#include "xgrad/ops.h"

namespace xgrad {

const char* to_string(GradcheckMode mode) {
  switch (mode) {
    case GradcheckMode::slow:
      return "slow";
    case GradcheckMode::fast:
      return "fast";
    case GradcheckMode::sparse:
      return "sparse";
  }
  return "?";
}

namespace {

using Rng = std::mt19937_64;

double uniform_pm1(Rng& rng) { return std::uniform_real_distribution<double>(-1.0, 1.0)(rng); }

std::vector<std::int64_t> multi_index(std::int64_t flat, const Shape& shape) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return idx;
}

std::string index_string(const std::vector<std::int64_t>& idx) { return fmt::format("[{}]", fmt::join(idx, ", ")); }

// A fresh float64 buffer with the values of t (never shares storage with the caller's tensor).
Tensor float64_copy(const Tensor& t, bool requires_grad) {
  std::vector<double> v = t.to_vector<double>();
  return from_buffer<double>(v.data(), t.shape(), {.dtype = Dtype::float64, .requires_grad = requires_grad});
}

// The function under check, with its float64 inputs and the outputs' reference metadata.
struct Problem {
  const DifferentiableFunction* fn = nullptr;
  const char* who = "gradcheck";
  TensorList inputs;
  std::vector<std::size_t> diff;  // inputs that are checked
  std::vector<Shape> out_shapes;
  std::vector<bool> out_floating;  // int64 outputs are not differentiable and are skipped

  TensorList eval(bool with_grad, const char* when) const {
    AutoGradMode mode(with_grad);
    TensorList outs = (*fn)(inputs);
    XGRAD_CHECK(outs.size() == out_shapes.size(), "{}: fn returned {} outputs {} but {} at first", who, outs.size(),
                when, out_shapes.size());
    for (std::size_t o = 0; o < outs.size(); ++o) {
      XGRAD_CHECK(outs[o].defined(), "{}: fn returned an undefined output {} {}", who, o, when);
      XGRAD_CHECK(outs[o].shape() == out_shapes[o],
                  "{}: output {} has shape {} {} but had shape {} at first (fn must keep its shapes)", who, o,
                  to_string(outs[o].shape()), when, to_string(out_shapes[o]));
    }
    return outs;
  }

  // Values of the floating outputs, as float64.
  std::vector<std::vector<double>> values(const char* when) const {
    TensorList outs = eval(false, when);
    std::vector<std::vector<double>> v(outs.size());
    for (std::size_t o = 0; o < outs.size(); ++o)
      if (out_floating[o]) v[o] = outs[o].to_vector<double>();
    return v;
  }

  // (f(x + eps d) - f(x - eps d)) / 2 eps per output, where `shift(s)` moves the inputs by s * d
  // and `restore()` puts the exact original values back.
  template <class Shift, class Restore>
  std::vector<std::vector<double>> central_difference(double eps, Shift shift, Restore restore,
                                                      const char* when) const {
    shift(eps);
    auto plus = values(when);
    restore();
    shift(-eps);
    auto minus = values(when);
    restore();
    for (std::size_t o = 0; o < plus.size(); ++o)
      for (std::size_t k = 0; k < plus[o].size(); ++k) plus[o][k] = (plus[o][k] - minus[o][k]) / (2 * eps);
    return plus;
  }

  // The input's buffer, written without bumping its version: every perturbation is undone
  // exactly, so graphs recorded from the original values stay valid.
  static double* perturbable(const Tensor& input) { return const_cast<double*>(input.data<double>()); }

  // Numeric derivative of every output with respect to element j of input i.
  std::vector<std::vector<double>> numeric_column(std::size_t i, std::int64_t j, double eps) const {
    double* x = perturbable(inputs[i]);
    const double original = x[j];
    return central_difference(
        eps, [&](double s) { x[j] = original + s; }, [&] { x[j] = original; }, "when an input was perturbed");
  }

  // Numeric derivative of every output along direction u of input i.
  std::vector<std::vector<double>> numeric_directional(std::size_t i, const std::vector<double>& u, double eps) const {
    double* x = perturbable(inputs[i]);
    const std::vector<double> original(x, x + u.size());
    return central_difference(
        eps,
        [&](double s) {
          for (std::size_t k = 0; k < u.size(); ++k) x[k] = original[k] + s * u[k];
        },
        [&] { std::copy(original.begin(), original.end(), x); }, "when an input was perturbed");
  }

  // grad of output o with grad_output g, for every checked input (zeros where undefined).
  std::vector<std::vector<double>> vjp(const TensorList& outs, std::size_t o, const Tensor& g) const {
    std::vector<std::vector<double>> result(diff.size());
    TensorList wrt;
    for (std::size_t i : diff) wrt.push_back(inputs[i]);
    TensorList grads;
    if (outs[o].requires_grad())
      grads = grad({outs[o]}, wrt, {g}, {.retain_graph = true, .create_graph = false, .allow_unused = true});
    for (std::size_t d = 0; d < diff.size(); ++d) {
      const Tensor& in = inputs[diff[d]];
      if (d < grads.size() && grads[d].defined()) {
        XGRAD_CHECK(grads[d].shape() == in.shape(), "{}: the gradient of input {} has shape {} but the input has {}",
                    who, diff[d], to_string(grads[d].shape()), to_string(in.shape()));
        result[d] = grads[d].to_vector<double>();
      } else {
        result[d].assign(static_cast<std::size_t>(in.numel()), 0.0);
      }
    }
    return result;
  }
};

Problem prepare(const DifferentiableFunction& fn, const TensorList& inputs, const char* who) {
  XGRAD_CHECK(static_cast<bool>(fn), "{}: fn is empty", who);
  Problem p;
  p.fn = &fn;
  p.who = who;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined() || !is_floating(t.dtype())) {
      p.inputs.push_back(t);  // undefined (optional) and index inputs pass through
      continue;
    }
    p.inputs.push_back(float64_copy(t, t.requires_grad()));
    if (t.requires_grad()) p.diff.push_back(i);
  }
  XGRAD_CHECK(!p.diff.empty(),
              "{}: no input requires grad, so there is nothing to check; call requires_grad_() on the inputs "
              "to differentiate ({} inputs given)",
              who, inputs.size());
  TensorList outs;
  {
    EnableGradGuard grad_on;
    outs = fn(p.inputs);
  }
  XGRAD_CHECK(!outs.empty(), "{}: fn returned no outputs", who);
  bool any_floating = false;
  for (std::size_t o = 0; o < outs.size(); ++o) {
    XGRAD_CHECK(outs[o].defined(), "{}: fn returned an undefined output {}", who, o);
    p.out_shapes.push_back(outs[o].shape());
    p.out_floating.push_back(is_floating(outs[o].dtype()));
    any_floating = any_floating || p.out_floating.back();
  }
  XGRAD_CHECK(any_floating, "{}: fn has no floating-point output to differentiate (all {} outputs are {})", who,
              outs.size(), dtype_name(Dtype::int64));
  return p;
}

// Collects comparisons and keeps the worst one.
class Tally {
 public:
  Tally(GradcheckResult& r, const GradcheckOptions& opts) : r_(r), opts_(opts) {}

  void add(std::size_t output, std::size_t input, const Shape& input_shape, std::int64_t flat, std::int64_t output_flat,
           double a, double n) {
    const double err = std::abs(a - n);
    const double allowed = opts_.atol + opts_.rtol * std::abs(n);
    double ratio = err / std::max(allowed, std::numeric_limits<double>::min());
    if (std::isnan(ratio)) ratio = std::numeric_limits<double>::infinity();
    const double rel = err / std::max(std::abs(a) + std::abs(n), 1e-8);
    ++r_.num_checked;
    if (!(err <= allowed)) ++r_.num_failed;
    if (std::isnan(err) || err > r_.max_abs_error) r_.max_abs_error = std::isnan(err) ? INFINITY : err;
    if (std::isnan(rel) || rel > r_.max_rel_error) r_.max_rel_error = std::isnan(rel) ? INFINITY : rel;
    if (ratio > worst_ratio_) {
      worst_ratio_ = ratio;
      r_.output_index = static_cast<std::int64_t>(output);
      r_.input_index = static_cast<std::int64_t>(input);
      r_.input_shape = input_shape;
      r_.flat_index = flat;
      r_.element = flat >= 0 ? multi_index(flat, input_shape) : std::vector<std::int64_t>{};
      r_.output_flat_index = output_flat;
      r_.analytic = a;
      r_.numeric = n;
    }
    r_.passed = r_.num_failed == 0;
  }

 private:
  GradcheckResult& r_;
  const GradcheckOptions& opts_;
  double worst_ratio_ = -1;
};

GradcheckResult new_result(const GradcheckOptions& opts) {
  GradcheckResult r;
  r.mode = opts.mode;
  r.eps = opts.eps;
  r.atol = opts.atol;
  r.rtol = opts.rtol;
  return r;
}

Tensor one_hot_like(const Tensor& out, std::int64_t k) {
  Tensor g = zeros(out.shape(), {.dtype = out.dtype()});
  if (out.dtype() == Dtype::float64)
    g.mutable_data<double>()[k] = 1.0;
  else
    g.mutable_data<float>()[k] = 1.0f;
  return g;
}

Tensor random_like(const Shape& shape, Dtype dtype, Rng& rng, std::vector<double>* values = nullptr) {
  std::vector<double> v(static_cast<std::size_t>(numel_of(shape)));
  for (double& x : v) x = uniform_pm1(rng);
  if (values) *values = v;
  return from_buffer<double>(v.data(), shape, {.dtype = dtype});
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

// Full Jacobians: one numeric column per input element, one analytic row per output element.
GradcheckResult check_slow(const Problem& p, const GradcheckOptions& opts) {
  GradcheckResult r = new_result(opts);
  r.mode = GradcheckMode::slow;
  Tally tally(r, opts);
  const std::size_t n_out = p.out_shapes.size();
  // numeric[d][j][o][k] = d out_o[k] / d in_diff[d][j]
  std::vector<std::vector<std::vector<std::vector<double>>>> numeric(p.diff.size());
  for (std::size_t d = 0; d < p.diff.size(); ++d) {
    const std::int64_t n = p.inputs[p.diff[d]].numel();
    for (std::int64_t j = 0; j < n; ++j) numeric[d].push_back(p.numeric_column(p.diff[d], j, opts.eps));
  }
  TensorList outs = p.eval(true, "in the analytic pass");
  for (std::size_t o = 0; o < n_out; ++o) {
    if (!p.out_floating[o]) continue;
    const std::int64_t n_elems = outs[o].numel();
    for (std::int64_t k = 0; k < n_elems; ++k) {
      auto rows = p.vjp(outs, o, one_hot_like(outs[o], k));
      for (std::size_t d = 0; d < p.diff.size(); ++d) {
        const Shape& shape = p.inputs[p.diff[d]].shape();
        for (std::size_t j = 0; j < rows[d].size(); ++j)
          tally.add(o, p.diff[d], shape, static_cast<std::int64_t>(j), k, rows[d][j],
                    numeric[d][j][o][static_cast<std::size_t>(k)]);
      }
    }
  }
  return r;
}

// v^T J u per (output, input), with random v and u.
GradcheckResult check_fast(const Problem& p, const GradcheckOptions& opts) {
  GradcheckResult r = new_result(opts);
  Tally tally(r, opts);
  Rng rng(opts.seed);
  std::vector<std::vector<double>> u(p.diff.size());
  for (std::size_t d = 0; d < p.diff.size(); ++d) {
    u[d].resize(static_cast<std::size_t>(p.inputs[p.diff[d]].numel()));
    for (double& x : u[d]) x = uniform_pm1(rng);
  }
  TensorList outs = p.eval(true, "in the analytic pass");
  std::vector<std::vector<double>> v(outs.size());
  std::vector<std::vector<std::vector<double>>> vjps(outs.size());  // [o][d][j]
  for (std::size_t o = 0; o < outs.size(); ++o)
    if (p.out_floating[o]) vjps[o] = p.vjp(outs, o, random_like(outs[o].shape(), outs[o].dtype(), rng, &v[o]));

  for (std::size_t d = 0; d < p.diff.size(); ++d) {
    auto ju = p.numeric_directional(p.diff[d], u[d], opts.eps);
    for (std::size_t o = 0; o < outs.size(); ++o) {
      if (!p.out_floating[o]) continue;
      tally.add(o, p.diff[d], p.inputs[p.diff[d]].shape(), -1, -1, dot(vjps[o][d], u[d]), dot(v[o], ju[o]));
    }
  }
  if (r.passed) return r;
  // Localise the failure with the full Jacobian.
  GradcheckResult slow = check_slow(p, opts);
  slow.mode = GradcheckMode::fast;
  slow.note = fmt::format(
      "fast mode: v^T J u for output {} and input {} was {:.10g} analytically but {:.10g} numerically; "
      "the full Jacobian {}",
      r.output_index, r.input_index, r.analytic, r.numeric,
      slow.passed ? "then passed, so the fast-mode difference is numerical noise" : "localises the failure:");
  return slow;
}

// K random elements of every input, against random projections v of the outputs.
GradcheckResult check_sparse(const Problem& p, const GradcheckOptions& opts) {
  GradcheckResult r = new_result(opts);
  Tally tally(r, opts);
  Rng rng(opts.seed);
  TensorList outs = p.eval(true, "in the analytic pass");
  std::vector<std::vector<double>> v(outs.size());
  std::vector<std::vector<std::vector<double>>> vjps(outs.size());  // [o][d][j]
  for (std::size_t o = 0; o < outs.size(); ++o) {
    if (!p.out_floating[o]) continue;
    Tensor vt = random_like(outs[o].shape(), outs[o].dtype(), rng, &v[o]);
    vjps[o] = p.vjp(outs, o, vt);
  }
  for (std::size_t d = 0; d < p.diff.size(); ++d) {
    const Tensor& in = p.inputs[p.diff[d]];
    const std::int64_t n = in.numel();
    std::vector<std::int64_t> picks;
    if (n <= opts.sparse_k) {
      picks.resize(static_cast<std::size_t>(n));
      std::iota(picks.begin(), picks.end(), 0);
    } else {
      // Distinct elements by rejection: K is much smaller than n here.
      std::uniform_int_distribution<std::int64_t> pick(0, n - 1);
      while (static_cast<std::int64_t>(picks.size()) < opts.sparse_k) {
        const std::int64_t j = pick(rng);
        if (std::find(picks.begin(), picks.end(), j) == picks.end()) picks.push_back(j);
      }
    }
    for (std::int64_t j : picks) {
      auto column = p.numeric_column(p.diff[d], j, opts.eps);
      for (std::size_t o = 0; o < outs.size(); ++o) {
        if (!p.out_floating[o]) continue;
        tally.add(o, p.diff[d], in.shape(), j, -1, vjps[o][d][static_cast<std::size_t>(j)], dot(v[o], column[o]));
      }
    }
  }
  return r;
}

void validate(const GradcheckOptions& opts, const char* who) {
  XGRAD_CHECK(opts.eps > 0 && std::isfinite(opts.eps), "{}: eps must be positive and finite, got {}", who, opts.eps);
  XGRAD_CHECK(opts.atol >= 0 && opts.rtol >= 0, "{}: atol and rtol must be >= 0, got atol {} and rtol {}", who,
              opts.atol, opts.rtol);
  XGRAD_CHECK(opts.sparse_k > 0, "{}: sparse_k must be positive, got {}", who, opts.sparse_k);
}

GradcheckResult run_check(const DifferentiableFunction& fn, const TensorList& inputs, const GradcheckOptions& opts,
                          const char* who) {
  validate(opts, who);
  Problem p = prepare(fn, inputs, who);
  switch (opts.mode) {
    case GradcheckMode::slow:
      return check_slow(p, opts);
    case GradcheckMode::fast:
      return check_fast(p, opts);
    case GradcheckMode::sparse:
      return check_sparse(p, opts);
  }
  return check_slow(p, opts);
}

DifferentiableFunction as_list_function(const ScalarOutputFunction& fn) {
  XGRAD_CHECK(static_cast<bool>(fn), "gradcheck: fn is empty");
  return [fn](const TensorList& in) { return TensorList{fn(in)}; };
}

}  // namespace

std::string GradcheckResult::report() const {
  std::string s;
  if (passed) {
    s = fmt::format("{} passed ({} mode, eps {:g}, atol {:g}, rtol {:g}): {} entries compared",
                    second_order ? "gradgradcheck" : "gradcheck", to_string(mode), eps, atol, rtol, num_checked);
    if (num_checked)
      s += fmt::format(", max abs error {:.3e}, max relative error {:.3e}", max_abs_error, max_rel_error);
    if (!note.empty()) s += "\n  " + note;
    return s;
  }
  s = fmt::format("{} FAILED ({} mode, eps {:g}, atol {:g}, rtol {:g}): {} of {} entries differ\n",
                  second_order ? "gradgradcheck" : "gradcheck", to_string(mode), eps, atol, rtol, num_failed,
                  num_checked);
  if (!note.empty()) s += "  " + note + "\n";
  std::string where = flat_index >= 0 ? fmt::format("element {} (flat index {})", index_string(element), flat_index)
                                      : std::string("a random direction u");
  std::string out_where = output_flat_index >= 0 ? fmt::format("output {} element {}", output_index, output_flat_index)
                                                 : fmt::format("output {} (projected on a random v)", output_index);
  s += fmt::format("  worst: d {} / d input {} (shape {}) at {}\n", out_where, input_index, to_string(input_shape),
                   where);
  const double err = std::abs(analytic - numeric);
  s += fmt::format("    analytic {:.10g}  numeric {:.10g}  |a - n| {:.3e}  allowed {:.3e}\n", analytic, numeric, err,
                   atol + rtol * std::abs(numeric));
  s += fmt::format("  max abs error {:.3e}, max relative error {:.3e}", max_abs_error, max_rel_error);
  return s;
}

std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) { return os << r.report(); }

GradcheckResult gradcheck(const DifferentiableFunction& fn, const TensorList& inputs, const GradcheckOptions& opts) {
  GradcheckResult r = run_check(fn, inputs, opts, "gradcheck");
  if (!r.passed && opts.raise_on_failure) throw Error(r.report());
  return r;
}

GradcheckResult gradcheck(const ScalarOutputFunction& fn, const TensorList& inputs, const GradcheckOptions& opts) {
  return gradcheck(as_list_function(fn), inputs, opts);
}

GradcheckResult gradgradcheck(const DifferentiableFunction& fn, const TensorList& inputs,
                              const GradcheckOptions& opts) {
  const char* who = "gradgradcheck";
  validate(opts, who);
  // The first-order problem, in float64, tells which inputs and outputs take part.
  Problem first = prepare(fn, inputs, who);
  TensorList outs = first.eval(true, "");
  std::vector<std::size_t> diff_outs;
  for (std::size_t o = 0; o < outs.size(); ++o)
    if (first.out_floating[o] && outs[o].requires_grad()) diff_outs.push_back(o);
  XGRAD_CHECK(!diff_outs.empty(), "{}: no output of fn requires grad, so it has no first-order gradient to check", who);

  const std::size_t n_in = first.inputs.size();
  TensorList all = first.inputs;
  Rng rng(opts.seed ^ 0x9e3779b97f4a7c15ull);
  for (std::size_t o : diff_outs) all.push_back(random_like(outs[o].shape(), Dtype::float64, rng).requires_grad_(true));

  const std::vector<std::size_t> diff = first.diff;
  DifferentiableFunction first_order = [fn, n_in, diff, diff_outs](const TensorList& in) -> TensorList {
    EnableGradGuard grad_on;  // gradcheck evaluates numeric points under no-grad
    TensorList xs(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n_in));
    TensorList ys = fn(xs);
    TensorList roots, grad_outputs, wrt;
    for (std::size_t k = 0; k < diff_outs.size(); ++k) {
      XGRAD_CHECK(diff_outs[k] < ys.size() && ys[diff_outs[k]].defined(),
                  "gradgradcheck: fn returned fewer outputs than at first");
      roots.push_back(ys[diff_outs[k]]);
      grad_outputs.push_back(in[n_in + k]);
    }
    for (std::size_t i : diff) wrt.push_back(xs[i]);
    TensorList grads =
        grad(roots, wrt, grad_outputs, {.retain_graph = true, .create_graph = true, .allow_unused = true});
    for (std::size_t k = 0; k < grads.size(); ++k)
      if (!grads[k].defined()) grads[k] = zeros_like(wrt[k]);  // undefined counts as zero
    return grads;
  };

  GradcheckOptions inner = opts;
  inner.raise_on_failure = false;
  GradcheckResult r = run_check(first_order, all, inner, who);
  r.second_order = true;
  std::string legend = fmt::format(
      "gradgradcheck: output k is the gradient of the k-th differentiable input (inputs {}); inputs {}..{} are "
      "the grad_outputs v",
      fmt::join(diff, ", "), n_in, all.size() - 1);
  if (!r.passed) r.note = r.note.empty() ? legend : legend + "\n  " + r.note;
  if (!r.passed && opts.raise_on_failure) throw Error(r.report());
  return r;
}

GradcheckResult gradgradcheck(const ScalarOutputFunction& fn, const TensorList& inputs, const GradcheckOptions& opts) {
  return gradgradcheck(as_list_function(fn), inputs, opts);
}

}  // namespace xgrad
