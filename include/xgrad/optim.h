#pragma once
// optim/: optimizers (SGD, Adagrad, RMSprop, Adam, AdamW, Adadelta), gradient clipping and the
// learning-rate schedulers. PyTorch's torch.optim rules and defaults.
#include "xgrad/optim/adadelta.h"
#include "xgrad/optim/adagrad.h"
#include "xgrad/optim/adam.h"
#include "xgrad/optim/clip_grad.h"
#include "xgrad/optim/lr_scheduler.h"
#include "xgrad/optim/optimizer.h"
#include "xgrad/optim/reduce_lr_on_plateau.h"
#include "xgrad/optim/rmsprop.h"
#include "xgrad/optim/scheduler_state.h"
#include "xgrad/optim/sgd.h"
