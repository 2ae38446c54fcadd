#pragma once
// optim/: the Optimizer base and the learning-rate schedulers.
#include "xgrad/optim/lr_scheduler.h"
#include "xgrad/optim/optimizer.h"
#include "xgrad/optim/reduce_lr_on_plateau.h"
#include "xgrad/optim/scheduler_state.h"
