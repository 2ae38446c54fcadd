#pragma once
// ReduceLROnPlateau: multiplies the lrs by `factor` once a watched metric (validation loss, accuracy)
// has not improved for more than `patience` steps, then waits `cooldown` steps; PyTorch's rules.
// Not an LRScheduler: its step takes the metric, so it cannot go into SequentialLR or
// ChainedScheduler (PyTorch refuses it there at run time; here it does not compile).
//
//   ReduceLROnPlateau plateau(opt, {.patience = 3});
//   for (epoch ...) { train(); plateau.step(validation_loss); }
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/optim/lr_scheduler.h"
#include "xgrad/optim/optimizer.h"
#include "xgrad/optim/scheduler_state.h"
#include "xgrad/state_dict.h"

namespace xgrad::optim {

enum class PlateauMode { min, max };    // min: the metric should fall (a loss); max: rise (accuracy)
enum class ThresholdMode { rel, abs };  // improvement relative to the best value, or absolute

struct ReduceLROnPlateauOptions {
  PlateauMode mode = PlateauMode::min;
  double factor = 0.1;  // new lr = lr * factor, in [0, 1)
  std::int64_t patience = 10;  // steps without improvement tolerated
  double threshold = 1e-4;  // an improvement must beat best by this (rel: best * (1 -+ threshold))
  ThresholdMode threshold_mode = ThresholdMode::rel;
  std::int64_t cooldown = 0;  // steps after a reduction during which bad steps are not counted
  GroupValues min_lr = 0.0;   // lower bound, for all groups or per group
  double eps = 1e-8;          // a reduction smaller than this is skipped
};

class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  void step(double metric);

  std::int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  Optimizer& optimizer() const { return *optimizer_; }
  std::string name() const { return "ReduceLROnPlateau"; }

  StateDict state_dict() const;
  LoadReport load_state_dict(const StateDict& state, bool strict = true);

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();
  void describe(SchedulerState& s);

  Optimizer* optimizer_;
  PlateauMode mode_;
  double factor_;
  std::int64_t patience_;
  double threshold_;
  ThresholdMode threshold_mode_;
  std::int64_t cooldown_;
  std::vector<double> min_lrs_;
  std::optional<double> default_min_lr_;  // set when one min_lr was given for all groups
  double eps_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace xgrad::optim
