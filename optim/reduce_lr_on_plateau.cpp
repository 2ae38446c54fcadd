// ReduceLROnPlateau: PyTorch's counting of bad epochs, cooldown and the eps-skipped reduction.
#include "xgrad/optim/reduce_lr_on_plateau.h"

#include <cmath>
#include <limits>

#include "xgrad/error.h"

namespace xgrad::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions o)
    : optimizer_(&optimizer),
      mode_(o.mode),
      factor_(o.factor),
      patience_(o.patience),
      threshold_(o.threshold),
      threshold_mode_(o.threshold_mode),
      cooldown_(o.cooldown),
      eps_(o.eps) {
  XGRAD_CHECK(o.factor >= 0 && o.factor < 1, "ReduceLROnPlateau: factor must be in [0, 1), got {}", o.factor);
  XGRAD_CHECK(o.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got {}", o.patience);
  XGRAD_CHECK(o.threshold >= 0 && std::isfinite(o.threshold),
              "ReduceLROnPlateau: threshold must be finite and >= 0, got {}", o.threshold);
  XGRAD_CHECK(o.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got {}", o.cooldown);
  XGRAD_CHECK(o.eps >= 0 && std::isfinite(o.eps), "ReduceLROnPlateau: eps must be finite and >= 0, got {}", o.eps);
  min_lrs_ = o.min_lr.for_groups(optimizer.num_param_groups(), "ReduceLROnPlateau", "min_lr");
  for (std::size_t g = 0; g < min_lrs_.size(); ++g)
    XGRAD_CHECK(min_lrs_[g] >= 0 && std::isfinite(min_lrs_[g]),
                "ReduceLROnPlateau: min_lr of group {} must be finite and >= 0, got {}", g, min_lrs_[g]);
  if (o.min_lr.is_single()) default_min_lr_ = min_lrs_.empty() ? 0.0 : min_lrs_[0];
  constexpr double inf = std::numeric_limits<double>::infinity();
  best_ = mode_ == PlateauMode::min ? inf : -inf;  // the worst value
  last_lr_.resize(optimizer.num_param_groups());
  for (std::size_t g = 0; g < last_lr_.size(); ++g) last_lr_[g] = optimizer.lr(g);
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  if (mode_ == PlateauMode::min)
    return threshold_mode_ == ThresholdMode::rel ? a < best * (1.0 - threshold_) : a < best - threshold_;
  return threshold_mode_ == ThresholdMode::rel ? a > best * (threshold_ + 1.0) : a > best + threshold_;
}

void ReduceLROnPlateau::step(double metric) {
  const std::size_t groups = optimizer_->num_param_groups();
  // Groups added since construction: a single min_lr covers them, a per-group list cannot.
  XGRAD_CHECK(groups == min_lrs_.size() || default_min_lr_,
              "ReduceLROnPlateau: the optimizer ({}) has {} parameter groups, but {} min_lr values were given",
              optimizer_->name(), groups, min_lrs_.size());
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (in_cooldown()) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown do not count
  }
  if (num_bad_epochs_ > patience_) {
    reduce_lr();
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.resize(groups);
  for (std::size_t g = 0; g < groups; ++g) last_lr_[g] = optimizer_->lr(g);
}

void ReduceLROnPlateau::reduce_lr() {
  const std::size_t groups = optimizer_->num_param_groups();
  if (min_lrs_.size() != groups) min_lrs_.assign(groups, *default_min_lr_);
  for (std::size_t g = 0; g < groups; ++g) {
    const double old_lr = optimizer_->lr(g);
    const double new_lr = std::max(old_lr * factor_, min_lrs_[g]);
    if (old_lr - new_lr > eps_) optimizer_->set_lr(g, new_lr);
  }
}

void ReduceLROnPlateau::describe(SchedulerState& s) {
  s.count("last_epoch", last_epoch_);
  s.real("best", best_);
  s.count("num_bad_epochs", num_bad_epochs_);
  s.count("cooldown_counter", cooldown_counter_);
  s.reals("last_lr", last_lr_);
  s.choice("mode", mode_);
  s.real("factor", factor_);
  s.count("patience", patience_);
  s.real("threshold", threshold_);
  s.choice("threshold_mode", threshold_mode_);
  s.count("cooldown", cooldown_);
  s.reals("min_lrs", min_lrs_);
  s.real("eps", eps_);
}

StateDict ReduceLROnPlateau::state_dict() const {
  SchedulerState s;
  const_cast<ReduceLROnPlateau*>(this)->describe(s);  // binds references only; save() reads them
  return s.save();
}

LoadReport ReduceLROnPlateau::load_state_dict(const StateDict& state, bool strict) {
  SchedulerState s;
  describe(s);
  return s.load(state, strict, name());
}

}  // namespace xgrad::optim
