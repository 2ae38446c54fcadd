#pragma once
// Learning-rate schedulers with PyTorch's rules (torch.optim.lr_scheduler): the constructor records
// the base lrs and sets epoch 0's lr; step() after each optimizer step (or epoch) moves to the next
// epoch with the chainable form (new lr from the group's current lr, so schedulers compose);
// SequentialLR restarts the next scheduler through its closed form at a milestone.
//
//   SGD opt(params, {.lr = 0.1, .momentum = 0.9});
//   CosineAnnealingLR sched(opt, {.T_max = 100});
//   for (...) { ...; opt.step(); sched.step(); }
//
// ReduceLROnPlateau (step(metric)) is in reduce_lr_on_plateau.h.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xgrad/optim/optimizer.h"
#include "xgrad/optim/scheduler_state.h"
#include "xgrad/state_dict.h"

namespace xgrad::optim {

// One value for every parameter group (`.max_lr = 0.1`) or one per group (`.max_lr = {0.1, 0.01}`).
class GroupValues {
 public:
  GroupValues(double value) : values_{value} {}  // NOLINT: implicit on purpose
  GroupValues(std::initializer_list<double> values) : values_(values) {}
  GroupValues(std::vector<double> values) : values_(std::move(values)) {}  // NOLINT
  // n values; raises naming `who` and `what` when the count is neither 1 nor n.
  std::vector<double> for_groups(std::size_t n, std::string_view who, std::string_view what) const;
  bool is_single() const { return values_.size() == 1; }

 private:
  std::vector<double> values_;
};

class LRScheduler {
 public:
  virtual ~LRScheduler();
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Moves to the next epoch and writes its lrs into the optimizer.
  virtual void step();

  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *optimizer_; }
  virtual std::string name() const = 0;

  // Counters, lrs and options (as PyTorch's state_dict holds them), so a fresh scheduler resumes the
  // same sequence; save and load the optimizer's state with it. Loading checks everything first.
  StateDict state_dict() const;
  LoadReport load_state_dict(const StateDict& state, bool strict = true);

 protected:
  // Records base_lrs: the groups' initial lrs (the lrs before the first scheduler of this optimizer).
  explicit LRScheduler(Optimizer& optimizer);

  // Derived constructors end with this (a base constructor cannot call get_lr): epoch 0.
  void initial_step();
  // The new lr of each group, computed from the current ones (last_epoch already advanced).
  virtual std::vector<double> get_lr() = 0;
  // The lrs at last_epoch from base_lrs alone, for schedulers that have one (used at milestones).
  virtual std::optional<std::vector<double>> closed_form_lr() const { return std::nullopt; }
  // Values a scheduler saves beyond the base's (options, extra counters).
  virtual void describe_state(SchedulerState&) {}

  bool is_initial() const { return is_initial_; }
  std::int64_t step_count() const { return step_count_; }
  std::size_t num_groups() const { return base_lrs_.size(); }
  std::vector<double> current_lrs() const;
  void set_last_lr(std::vector<double> lrs) { last_lr_ = std::move(lrs); }
  void set_base_lrs(std::vector<double> lrs) { base_lrs_ = std::move(lrs); }
  void set_last_epoch(std::int64_t epoch) { last_epoch_ = epoch; }
  // Raises when groups were added to the optimizer since the scheduler was made.
  void check_groups() const;

 private:
  friend class SequentialLR;
  friend class ChainedScheduler;

  // Advances to last_epoch + 1 (chainable form) or jumps to `epoch` (closed form when there is
  // one), then writes the lrs. Leaves everything unchanged when get_lr raises.
  void update_lr(std::optional<std::int64_t> epoch);
  void describe_all(SchedulerState& s);
  // SequentialLR/ChainedScheduler: the schedulers inside, for SequentialLR's undo.
  virtual std::vector<LRScheduler*> children() const { return {}; }

  Optimizer* optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  std::int64_t last_epoch_ = -1;
  std::int64_t step_count_ = 0;
  bool is_initial_ = false;
};

// lr = base_lr * gamma^(epoch / step_size).
struct StepLROptions {
  std::int64_t step_size = 0;  // required, > 0
  double gamma = 0.1;
};
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, StepLROptions options);
  std::string name() const override { return "StepLR"; }

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void describe_state(SchedulerState& s) override;
  std::int64_t step_size_;
  double gamma_;
};

// lr = base_lr * gamma^(number of milestones <= epoch); a milestone listed twice counts twice.
struct MultiStepLROptions {
  std::vector<std::int64_t> milestones;  // required, non-decreasing, >= 0
  double gamma = 0.1;
};
class MultiStepLR final : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);
  std::string name() const override { return "MultiStepLR"; }

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void describe_state(SchedulerState& s) override;
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

// lr = base_lr * gamma^epoch.
struct ExponentialLROptions {
  double gamma = 0.0;  // required, > 0
};
class ExponentialLR final : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);
  std::string name() const override { return "ExponentialLR"; }

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void describe_state(SchedulerState& s) override;
  double gamma_;
};

// eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2, computed recursively from the
// current lr as PyTorch does (so it follows lr changes made by other schedulers), and rising again
// after T_max (no restarts).
struct CosineAnnealingLROptions {
  std::int64_t T_max = 0;  // required, > 0
  double eta_min = 0.0;
};
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);
  std::string name() const override { return "CosineAnnealingLR"; }

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void describe_state(SchedulerState& s) override;
  std::int64_t T_max_;
  double eta_min_;
};

// The factor goes linearly from start_factor (epoch 0) to end_factor (epoch total_iters), then stays.
struct LinearLROptions {
  double start_factor = 1.0 / 3;  // in (0, 1]
  double end_factor = 1.0;        // in [0, 1]
  std::int64_t total_iters = 5;   // > 0
};
class LinearLR final : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, LinearLROptions options = {});
  std::string name() const override { return "LinearLR"; }

 private:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() const override;
  void describe_state(SchedulerState& s) override;
  double start_factor_;
  double end_factor_;
  std::int64_t total_iters_;
};

// lr = base_lr * lambda(epoch), one function for all groups or one per group. The functions are not
// saved by state_dict (as in PyTorch for plain functions).
using LRLambda = std::function<double(std::int64_t)>;
class LambdaLR final : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, LRLambda lr_lambda);
  LambdaLR(Optimizer& optimizer, std::vector<LRLambda> lr_lambdas);
  std::string name() const override { return "LambdaLR"; }

 private:
  std::vector<double> get_lr() override;
  std::vector<LRLambda> lambdas_;
};

// 1cycle: warm up from max_lr / div_factor to max_lr over pct_start of the steps, then anneal to
// initial_lr / final_div_factor (three_phase: back to initial_lr first, then down), with momentum
// cycled the opposite way through Optimizer::set_momentum. Step once per batch; stepping more than
// total_steps times raises.
enum class AnnealStrategy { cos, linear };
struct OneCycleLROptions {
  GroupValues max_lr = 0.0;  // required, > 0
  std::optional<std::int64_t> total_steps = std::nullopt;  // or epochs * steps_per_epoch
  std::optional<std::int64_t> epochs = std::nullopt;
  std::optional<std::int64_t> steps_per_epoch = std::nullopt;
  double pct_start = 0.3;
  AnnealStrategy anneal_strategy = AnnealStrategy::cos;
  bool cycle_momentum = true;
  GroupValues base_momentum = 0.85;
  GroupValues max_momentum = 0.95;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
};
class OneCycleLR final : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, OneCycleLROptions options);
  std::string name() const override { return "OneCycleLR"; }
  std::int64_t total_steps() const { return total_steps_; }

 private:
  struct Phase {
    double end_step;
    std::vector<double> OneCycleLR::*start_lr;
    std::vector<double> OneCycleLR::*end_lr;
    std::vector<double> OneCycleLR::*start_momentum;
    std::vector<double> OneCycleLR::*end_momentum;
  };
  std::vector<Phase> phases() const;
  double anneal(double start, double end, double pct) const;
  std::vector<double> get_lr() override;
  void describe_state(SchedulerState& s) override;

  std::int64_t total_steps_;
  double pct_start_;
  AnnealStrategy anneal_strategy_;
  bool cycle_momentum_;
  bool three_phase_;
  std::vector<double> initial_lrs_, max_lrs_, min_lrs_;
  std::vector<double> base_momenta_, max_momenta_;
};

// Runs schedulers one after another: schedulers[i + 1] takes over at milestones[i], restarted
// from epoch 0 (its closed form at 0, so from the base lr). Children are shared with the caller.
class SequentialLR final : public LRScheduler {
 public:
  SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<std::int64_t> milestones);
  void step() override;
  std::string name() const override { return "SequentialLR"; }

 private:
  std::vector<double> get_lr() override;  // not used: step() hands over to a child
  void describe_state(SchedulerState& s) override;
  std::vector<LRScheduler*> children() const override;
  static void undo_initial_step(LRScheduler& s);
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<std::int64_t> milestones_;
};

// Steps every scheduler at each step, in order, each from the lr the previous one left (their
// effects multiply). last_epoch() counts the steps.
class ChainedScheduler final : public LRScheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  void step() override;
  std::string name() const override { return "ChainedScheduler"; }

 private:
  std::vector<double> get_lr() override;  // not used: step() steps the children
  void describe_state(SchedulerState& s) override;
  std::vector<LRScheduler*> children() const override;
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

}  // namespace xgrad::optim
