// OneCycleLR: piecewise annealing between initial, max and min lr (and momentum the opposite way),
// with PyTorch's phase boundaries (pct_start * total_steps - 1, ...) and formulas.
#include <cmath>
#include <numbers>

#include "initial_lrs.h"
#include "xgrad/error.h"
#include "xgrad/optim/lr_scheduler.h"

namespace xgrad::optim {

namespace {

std::int64_t checked_total_steps(const OneCycleLROptions& o) {
  if (o.total_steps) {
    XGRAD_CHECK(*o.total_steps > 0, "OneCycleLR: total_steps must be > 0, got {}", *o.total_steps);
    return *o.total_steps;
  }
  XGRAD_CHECK(o.epochs && o.steps_per_epoch,
              "OneCycleLR: give total_steps, or epochs and steps_per_epoch (got {} and {})",
              o.epochs ? std::to_string(*o.epochs) : "none",
              o.steps_per_epoch ? std::to_string(*o.steps_per_epoch) : "none");
  XGRAD_CHECK(*o.epochs > 0, "OneCycleLR: epochs must be > 0, got {}", *o.epochs);
  XGRAD_CHECK(*o.steps_per_epoch > 0, "OneCycleLR: steps_per_epoch must be > 0, got {}", *o.steps_per_epoch);
  XGRAD_CHECK(*o.epochs <= INT64_MAX / *o.steps_per_epoch, "OneCycleLR: epochs {} x steps_per_epoch {} overflows",
              *o.epochs, *o.steps_per_epoch);
  return *o.epochs * *o.steps_per_epoch;
}

void check_all(const std::vector<double>& values, bool (*ok)(double), const char* what, const char* rule) {
  for (std::size_t g = 0; g < values.size(); ++g)
    XGRAD_CHECK(ok(values[g]), "OneCycleLR: {} of group {} is {}; it must be {}", what, g, values[g], rule);
}

}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleLROptions o)
    : LRScheduler(optimizer),
      total_steps_(checked_total_steps(o)),
      pct_start_(o.pct_start),
      anneal_strategy_(o.anneal_strategy),
      cycle_momentum_(o.cycle_momentum),
      three_phase_(o.three_phase) {
  const std::size_t n = num_groups();
  XGRAD_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1], got {}", o.pct_start);
  XGRAD_CHECK(o.div_factor > 0 && std::isfinite(o.div_factor), "OneCycleLR: div_factor must be finite and > 0, got {}",
              o.div_factor);
  XGRAD_CHECK(o.final_div_factor > 0 && std::isfinite(o.final_div_factor),
              "OneCycleLR: final_div_factor must be finite and > 0, got {}", o.final_div_factor);
  max_lrs_ = o.max_lr.for_groups(n, "OneCycleLR", "max_lr");
  check_all(max_lrs_, [](double v) { return v > 0 && std::isfinite(v); }, "max_lr", "finite and > 0");
  if (cycle_momentum_) {
    base_momenta_ = o.base_momentum.for_groups(n, "OneCycleLR", "base_momentum");
    max_momenta_ = o.max_momentum.for_groups(n, "OneCycleLR", "max_momentum");
    auto unit = [](double v) { return v >= 0 && v <= 1; };
    check_all(base_momenta_, unit, "base_momentum", "in [0, 1]");
    check_all(max_momenta_, unit, "max_momentum", "in [0, 1]");
    for (std::size_t g = 0; g < n; ++g)
      XGRAD_CHECK(optimizer.momentum(g).has_value(),
                  "OneCycleLR: cycle_momentum needs an optimizer with momentum or beta1, and {} has none in group {} "
                  "(pass .cycle_momentum = false)",
                  optimizer.name(), g);
  }
  initial_lrs_.resize(n);
  min_lrs_.resize(n);
  for (std::size_t g = 0; g < n; ++g) {
    initial_lrs_[g] = max_lrs_[g] / o.div_factor;
    min_lrs_[g] = initial_lrs_[g] / o.final_div_factor;
  }
  // As PyTorch writes group["initial_lr"]: schedulers made after this one start from it too.
  initial_lrs::overwrite(optimizer, initial_lrs_);
  set_base_lrs(initial_lrs_);
  if (cycle_momentum_)
    for (std::size_t g = 0; g < n; ++g) optimizer.set_momentum(g, max_momenta_[g]);
  initial_step();
}

std::vector<OneCycleLR::Phase> OneCycleLR::phases() const {
  const double T = static_cast<double>(total_steps_);
  const double last = static_cast<double>(total_steps_ - 1);
  using S = OneCycleLR;
  if (three_phase_)
    return {{pct_start_ * T - 1, &S::initial_lrs_, &S::max_lrs_, &S::max_momenta_, &S::base_momenta_},
            {2 * pct_start_ * T - 2, &S::max_lrs_, &S::initial_lrs_, &S::base_momenta_, &S::max_momenta_},
            {last, &S::initial_lrs_, &S::min_lrs_, &S::max_momenta_, &S::max_momenta_}};
  return {{pct_start_ * T - 1, &S::initial_lrs_, &S::max_lrs_, &S::max_momenta_, &S::base_momenta_},
          {last, &S::max_lrs_, &S::min_lrs_, &S::base_momenta_, &S::max_momenta_}};
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (anneal_strategy_ == AnnealStrategy::linear) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  const std::int64_t step = last_epoch();
  XGRAD_CHECK(step <= total_steps_, "OneCycleLR: tried to step {} times; total_steps is {}", step, total_steps_);
  const std::vector<Phase> all = phases();
  std::vector<double> lrs(num_groups());
  std::vector<double> momenta(num_groups());
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    double start_step = 0.0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const Phase& p = all[i];
      if (static_cast<double>(step) <= p.end_step || i + 1 == all.size()) {
        // PyTorch divides by zero here (a phase of no length: pct_start * total_steps == 1, or
        // pct_start = 1 at the last step); raise instead of producing NaN.
        XGRAD_CHECK(p.end_step != start_step,
                    "OneCycleLR: phase {} is empty (pct_start {}, total_steps {}) at step {}; change pct_start", i,
                    pct_start_, total_steps_, step);
        const double pct = (static_cast<double>(step) - start_step) / (p.end_step - start_step);
        lrs[g] = anneal((this->*p.start_lr)[g], (this->*p.end_lr)[g], pct);
        if (cycle_momentum_) momenta[g] = anneal((this->*p.start_momentum)[g], (this->*p.end_momentum)[g], pct);
        break;
      }
      start_step = p.end_step;
    }
  }
  if (cycle_momentum_)
    for (std::size_t g = 0; g < momenta.size(); ++g) optimizer().set_momentum(g, momenta[g]);
  return lrs;
}

void OneCycleLR::describe_state(SchedulerState& s) {
  s.count("total_steps", total_steps_);
  s.real("pct_start", pct_start_);
  s.choice("anneal_strategy", anneal_strategy_);
  s.flag("cycle_momentum", cycle_momentum_);
  s.flag("three_phase", three_phase_);
  s.reals("initial_lrs", initial_lrs_);
  s.reals("max_lrs", max_lrs_);
  s.reals("min_lrs", min_lrs_);
  s.reals("base_momenta", base_momenta_);
  s.reals("max_momenta", max_momenta_);
}

}  // namespace xgrad::optim
