#pragma once
// Optimizers and gradient clipping (optim/): SGD, Adagrad, RMSprop, Adam, AdamW, Adadelta,
// clip_grad_norm_, clip_grad_value_. PyTorch's torch.optim rules and defaults.
#include "xgrad/optim/adadelta.h"
#include "xgrad/optim/adagrad.h"
#include "xgrad/optim/adam.h"
#include "xgrad/optim/clip_grad.h"
#include "xgrad/optim/optimizer.h"
#include "xgrad/optim/rmsprop.h"
#include "xgrad/optim/sgd.h"
