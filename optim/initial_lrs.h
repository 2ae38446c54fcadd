#pragma once
// The learning rate each parameter group had before any scheduler changed it: PyTorch keeps it in
// the param group as "initial_lr" (set by the first scheduler attached, with setdefault; OneCycleLR
// overwrites it), and every later scheduler takes its base_lrs from it, which is what lets
// SequentialLR restart the next scheduler from the original rate. Stored in the optimizer's groups.
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim::initial_lrs {

// Returns the initial lrs, first recording the current lr of each group that has none (setdefault).
std::vector<double> attach(Optimizer& optimizer);
// OneCycleLR sets the initial lrs itself.
void overwrite(Optimizer& optimizer, const std::vector<double>& lrs);
// The recorded initial lrs; a group without one gives its current lr.
std::vector<double> get(const Optimizer& optimizer);

}  // namespace xgrad::optim::initial_lrs
