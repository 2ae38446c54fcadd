// The epoch-indexed schedulers: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
// LambdaLR. Each get_lr is PyTorch's chainable form with its operations in PyTorch's order, so the
// doubles agree bit for bit; closed_form_lr is what SequentialLR uses to restart one at epoch 0.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "xgrad/error.h"
#include "xgrad/optim/lr_scheduler.h"

namespace xgrad::optim {

namespace {

std::vector<double> scaled(std::vector<double> lrs, double factor) {
  for (double& lr : lrs) lr *= factor;
  return lrs;
}

// Python's float ** int: pow() on doubles.
double power(double base, std::int64_t exponent) { return std::pow(base, static_cast<double>(exponent)); }

}  // namespace

// ---- StepLR

StepLR::StepLR(Optimizer& optimizer, StepLROptions o)
    : LRScheduler(optimizer), step_size_(o.step_size), gamma_(o.gamma) {
  XGRAD_CHECK(o.step_size > 0, "StepLR: step_size must be > 0, got {}", o.step_size);
  XGRAD_CHECK(o.gamma > 0 && std::isfinite(o.gamma), "StepLR: gamma must be finite and > 0, got {}", o.gamma);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  if (last_epoch() == 0 || last_epoch() % step_size_ != 0) return current_lrs();
  return scaled(current_lrs(), gamma_);
}

std::optional<std::vector<double>> StepLR::closed_form_lr() const {
  return scaled(base_lrs(), power(gamma_, last_epoch() / step_size_));
}

void StepLR::describe_state(SchedulerState& s) {
  s.count("step_size", step_size_);
  s.real("gamma", gamma_);
}

// ---- MultiStepLR

MultiStepLR::MultiStepLR(Optimizer& optimizer, MultiStepLROptions o)
    : LRScheduler(optimizer), milestones_(std::move(o.milestones)), gamma_(o.gamma) {
  XGRAD_CHECK(!milestones_.empty(), "MultiStepLR: milestones is empty; give the epochs at which to decay");
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    XGRAD_CHECK(milestones_[i] >= 0, "MultiStepLR: milestone {} is {}; milestones must be >= 0", i, milestones_[i]);
    XGRAD_CHECK(i == 0 || milestones_[i - 1] <= milestones_[i],
                "MultiStepLR: milestones must be in increasing order, got {} after {}", milestones_[i],
                milestones_[i - 1]);
  }
  XGRAD_CHECK(o.gamma > 0 && std::isfinite(o.gamma), "MultiStepLR: gamma must be finite and > 0, got {}", o.gamma);
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch());
  if (hits == 0) return current_lrs();
  return scaled(current_lrs(), power(gamma_, hits));
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch()) - milestones_.begin();
  return scaled(base_lrs(), power(gamma_, passed));
}

void MultiStepLR::describe_state(SchedulerState& s) {
  s.counts("milestones", milestones_);
  s.real("gamma", gamma_);
}

// ---- ExponentialLR

ExponentialLR::ExponentialLR(Optimizer& optimizer, ExponentialLROptions o) : LRScheduler(optimizer), gamma_(o.gamma) {
  XGRAD_CHECK(o.gamma > 0 && std::isfinite(o.gamma), "ExponentialLR: gamma must be finite and > 0, got {}",
              o.gamma);
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  if (is_initial()) return current_lrs();
  return scaled(current_lrs(), gamma_);
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() const {
  return scaled(base_lrs(), power(gamma_, last_epoch()));
}

void ExponentialLR::describe_state(SchedulerState& s) { s.real("gamma", gamma_); }

// ---- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions o)
    : LRScheduler(optimizer), T_max_(o.T_max), eta_min_(o.eta_min) {
  XGRAD_CHECK(o.T_max > 0, "CosineAnnealingLR: T_max must be > 0, got {}", o.T_max);
  XGRAD_CHECK(o.eta_min >= 0 && std::isfinite(o.eta_min), "CosineAnnealingLR: eta_min must be finite and >= 0, got {}",
              o.eta_min);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  constexpr double pi = std::numbers::pi;
  const double e = static_cast<double>(last_epoch());
  const double T = static_cast<double>(T_max_);
  std::vector<double> lrs = current_lrs();
  if (is_initial()) return lrs;
  const std::vector<double>& base = base_lrs();
  if (step_count() == 1 && last_epoch() > 0) {  // resumed at a later epoch: the closed form
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min_ + (base[g] - eta_min_) * (1 + std::cos(e * pi / T)) / 2;
  } else if ((last_epoch() - 1 - T_max_) % (2 * T_max_) == 0) {
    // One epoch past a minimum the ratio below is 0/0: step up by the first rise instead.
    for (std::size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base[g] - eta_min_) * (1 - std::cos(pi / T)) / 2;
  } else {
    for (double& lr : lrs)
      lr = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() const {
  constexpr double pi = std::numbers::pi;
  std::vector<double> lrs = base_lrs();
  const double e = static_cast<double>(last_epoch());
  for (double& lr : lrs)
    lr = eta_min_ + (lr - eta_min_) * (1 + std::cos(pi * e / static_cast<double>(T_max_))) / 2;
  return lrs;
}

void CosineAnnealingLR::describe_state(SchedulerState& s) {
  s.count("T_max", T_max_);
  s.real("eta_min", eta_min_);
}

// ---- LinearLR

LinearLR::LinearLR(Optimizer& optimizer, LinearLROptions o)
    : LRScheduler(optimizer), start_factor_(o.start_factor), end_factor_(o.end_factor), total_iters_(o.total_iters) {
  XGRAD_CHECK(o.start_factor > 0 && o.start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got {}",
              o.start_factor);
  XGRAD_CHECK(o.end_factor >= 0 && o.end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got {}",
              o.end_factor);
  XGRAD_CHECK(o.total_iters > 0, "LinearLR: total_iters must be > 0, got {}", o.total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  if (last_epoch() == 0) return scaled(current_lrs(), start_factor_);
  if (is_initial() || last_epoch() > total_iters_) return current_lrs();
  // The ratio of this epoch's factor to the previous one.
  const double delta = end_factor_ - start_factor_;
  const double ratio = 1.0 + delta / (static_cast<double>(total_iters_) * start_factor_ +
                                      static_cast<double>(last_epoch() - 1) * delta);
  return scaled(current_lrs(), ratio);
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() const {
  const double done = static_cast<double>(std::min(total_iters_, last_epoch()));
  const double factor =
      start_factor_ + (end_factor_ - start_factor_) * done / static_cast<double>(total_iters_);
  return scaled(base_lrs(), factor);
}

void LinearLR::describe_state(SchedulerState& s) {
  s.real("start_factor", start_factor_);
  s.real("end_factor", end_factor_);
  s.count("total_iters", total_iters_);
}

// ---- LambdaLR

LambdaLR::LambdaLR(Optimizer& optimizer, LRLambda lr_lambda)
    : LambdaLR(optimizer, std::vector<LRLambda>(optimizer.num_param_groups(), std::move(lr_lambda))) {}

LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<LRLambda> lr_lambdas)
    : LRScheduler(optimizer), lambdas_(std::move(lr_lambdas)) {
  XGRAD_CHECK(lambdas_.size() == num_groups(), "LambdaLR: expected {} lr_lambdas (one per parameter group), got {}",
              num_groups(), lambdas_.size());
  for (std::size_t g = 0; g < lambdas_.size(); ++g)
    XGRAD_CHECK(static_cast<bool>(lambdas_[g]), "LambdaLR: lr_lambda {} is empty", g);
  initial_step();
}

std::vector<double> LambdaLR::get_lr() {
  std::vector<double> lrs = base_lrs();
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = lrs[g] * lambdas_[g](last_epoch());
  return lrs;
}

}  // namespace xgrad::optim
