// LRScheduler: base lrs, the epoch counter, the initial step and the state every scheduler saves.
#include "xgrad/optim/lr_scheduler.h"

#include "initial_lrs.h"
#include "xgrad/error.h"

namespace xgrad::optim {

std::vector<double> GroupValues::for_groups(std::size_t n, std::string_view who, std::string_view what) const {
  XGRAD_CHECK(values_.size() == 1 || values_.size() == n,
              "{}: {} needs one value or one per parameter group ({} groups), got {} values", who, what, n,
              values_.size());
  return values_.size() == 1 ? std::vector<double>(n, values_[0]) : values_;
}

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(&optimizer) {
  base_lrs_ = initial_lrs::attach(optimizer);
  last_lr_ = current_lrs();
}

LRScheduler::~LRScheduler() = default;

std::vector<double> LRScheduler::current_lrs() const {
  std::vector<double> lrs(optimizer_->num_param_groups());
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = optimizer_->lr(g);
  return lrs;
}

void LRScheduler::check_groups() const {
  XGRAD_CHECK(optimizer_->num_param_groups() == base_lrs_.size(),
              "{}: the optimizer ({}) has {} parameter groups, it had {} when the scheduler was made", name(),
              optimizer_->name(), optimizer_->num_param_groups(), base_lrs_.size());
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  is_initial_ = true;
  try {
    step();
  } catch (...) {
    is_initial_ = false;
    throw;
  }
  is_initial_ = false;
}

void LRScheduler::step() {
  ++step_count_;
  try {
    update_lr(std::nullopt);
  } catch (...) {
    --step_count_;
    throw;
  }
}

void LRScheduler::update_lr(std::optional<std::int64_t> epoch) {
  check_groups();
  const std::int64_t previous = last_epoch_;
  std::vector<double> lrs;
  try {
    if (epoch) {
      last_epoch_ = *epoch;
      auto closed = closed_form_lr();
      lrs = closed ? std::move(*closed) : get_lr();
    } else {
      ++last_epoch_;
      lrs = get_lr();
    }
  } catch (...) {
    last_epoch_ = previous;
    throw;
  }
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_->set_lr(g, lrs[g]);
  last_lr_ = current_lrs();
}

void LRScheduler::describe_all(SchedulerState& s) {
  s.count("last_epoch", last_epoch_);
  s.count("step_count", step_count_);
  s.reals("base_lrs", base_lrs_);
  s.reals("last_lr", last_lr_);
  describe_state(s);
}

StateDict LRScheduler::state_dict() const {
  SchedulerState s;
  // Describing only binds references; saving reads them.
  const_cast<LRScheduler*>(this)->describe_all(s);
  return s.save();
}

LoadReport LRScheduler::load_state_dict(const StateDict& state, bool strict) {
  SchedulerState s;
  describe_all(s);
  return s.load(state, strict, name());
}

}  // namespace xgrad::optim
