// SequentialLR and ChainedScheduler: schedulers built from schedulers of the same optimizer.
#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "initial_lrs.h"
#include "xgrad/error.h"
#include "xgrad/optim/lr_scheduler.h"

namespace xgrad::optim {

namespace {

using Schedulers = std::vector<std::shared_ptr<LRScheduler>>;

// Non-empty, no null, no scheduler twice, all of `optimizer`.
void check_schedulers(const Schedulers& schedulers, const Optimizer& optimizer, const char* who) {
  XGRAD_CHECK(!schedulers.empty(), "{}: needs at least one scheduler, got none", who);
  for (std::size_t i = 0; i < schedulers.size(); ++i) {
    XGRAD_CHECK(schedulers[i] != nullptr, "{}: scheduler {} is null", who, i);
    XGRAD_CHECK(&schedulers[i]->optimizer() == &optimizer,
                "{}: scheduler {} ({}) belongs to another optimizer than the {} given (all must share one)", who, i,
                schedulers[i]->name(), optimizer.name());
    for (std::size_t j = 0; j < i; ++j)
      XGRAD_CHECK(schedulers[j] != schedulers[i], "{}: scheduler {} ({}) is also scheduler {}", who, i,
                  schedulers[i]->name(), j);
  }
}

Optimizer& optimizer_of_first(const Schedulers& schedulers) {
  XGRAD_CHECK(!schedulers.empty() && schedulers[0] != nullptr,
              "ChainedScheduler: needs at least one scheduler, and the first must not be null");
  return schedulers[0]->optimizer();
}

void describe_children(SchedulerState& s, const Schedulers& schedulers,
                       const std::function<void(LRScheduler&, SchedulerState&)>& describe) {
  for (std::size_t i = 0; i < schedulers.size(); ++i)
    s.nest(fmt::format("schedulers.{}.", i), [&](SchedulerState& inner) { describe(*schedulers[i], inner); });
}

std::vector<LRScheduler*> raw(const Schedulers& schedulers) {
  std::vector<LRScheduler*> out;
  for (const auto& s : schedulers) out.push_back(s.get());
  return out;
}

}  // namespace

// ---- SequentialLR

SequentialLR::SequentialLR(Optimizer& optimizer, Schedulers schedulers, std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
  check_schedulers(schedulers_, optimizer, "SequentialLR");
  XGRAD_CHECK(milestones_.size() + 1 == schedulers_.size(),
              "SequentialLR: needs one milestone fewer than schedulers, got {} schedulers and {} milestones",
              schedulers_.size(), milestones_.size());
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    XGRAD_CHECK(milestones_[i] > 0, "SequentialLR: milestone {} is {}; milestones must be > 0", i, milestones_[i]);
    XGRAD_CHECK(i == 0 || milestones_[i - 1] < milestones_[i],
                "SequentialLR: milestones must be strictly increasing, got {} after {}", milestones_[i],
                milestones_[i - 1]);
  }
  for (std::size_t i = 1; i < schedulers_.size(); ++i)
    XGRAD_CHECK(schedulers_[i]->children().empty(),
                "SequentialLR: scheduler {} is a {}, which cannot restart at a milestone; only the first scheduler "
                "may be a SequentialLR or ChainedScheduler",
                i, schedulers_[i]->name());
  set_last_epoch(0);
  // Back to the initial lrs, every child's constructor step undone, then epoch 0 of the first.
  const std::vector<double> initial = initial_lrs::get(optimizer);
  for (std::size_t g = 0; g < initial.size(); ++g) optimizer.set_lr(g, initial[g]);
  for (auto& s : schedulers_) undo_initial_step(*s);
  schedulers_[0]->initial_step();
  set_last_lr(schedulers_[0]->get_last_lr());
}

void SequentialLR::undo_initial_step(LRScheduler& s) {
  const auto inner = s.children();
  if (inner.empty()) {
    s.last_epoch_ -= 1;
    return;
  }
  for (LRScheduler* child : inner) undo_initial_step(*child);
}

void SequentialLR::step() {
  check_groups();
  const std::int64_t epoch = last_epoch() + 1;
  const std::size_t idx = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  LRScheduler& current = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == epoch)
    current.update_lr(0);  // takes over: restarts at its epoch 0
  else
    current.step();
  set_last_epoch(epoch);
  set_last_lr(current.get_last_lr());
}

std::vector<double> SequentialLR::get_lr() { return current_lrs(); }

std::vector<LRScheduler*> SequentialLR::children() const { return raw(schedulers_); }

void SequentialLR::describe_state(SchedulerState& s) {
  s.counts("milestones", milestones_);
  describe_children(s, schedulers_, [](LRScheduler& child, SchedulerState& inner) { child.describe_all(inner); });
}

// ---- ChainedScheduler

ChainedScheduler::ChainedScheduler(Schedulers schedulers)
    : LRScheduler(optimizer_of_first(schedulers)), schedulers_(std::move(schedulers)) {
  check_schedulers(schedulers_, optimizer(), "ChainedScheduler");
  set_last_epoch(0);
  set_last_lr(current_lrs());
}

void ChainedScheduler::step() {
  check_groups();
  for (auto& s : schedulers_) s->step();
  set_last_epoch(last_epoch() + 1);
  set_last_lr(current_lrs());
}

std::vector<double> ChainedScheduler::get_lr() { return current_lrs(); }

std::vector<LRScheduler*> ChainedScheduler::children() const { return raw(schedulers_); }

void ChainedScheduler::describe_state(SchedulerState& s) {
  describe_children(s, schedulers_, [](LRScheduler& child, SchedulerState& inner) { child.describe_all(inner); });
}

}  // namespace xgrad::optim
