#pragma once
// The learning rate each parameter group had before any scheduler changed it: PyTorch keeps it in
// the param group as "initial_lr" (set by the first scheduler attached, with setdefault; OneCycleLR
// overwrites it), and every later scheduler takes its base_lrs from it, which is what lets
// SequentialLR restart the next scheduler from the original rate. The Optimizer base has no slot
// for it, so this table keeps one record per optimizer while a scheduler of it is alive.
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim::initial_lrs {

// Registers a scheduler of `optimizer`; returns the initial lrs, recording the current lrs of the
// groups that have none yet (setdefault).
std::vector<double> attach(const Optimizer& optimizer);
// The scheduler is gone; the record goes with the last one. A pointer: only the address is used,
// the optimizer may already be destroyed.
void detach(const Optimizer* optimizer);
// OneCycleLR sets the initial lrs itself.
void overwrite(const Optimizer& optimizer, const std::vector<double>& lrs);
std::vector<double> get(const Optimizer& optimizer);

}  // namespace xgrad::optim::initial_lrs
