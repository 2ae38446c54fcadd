#pragma once
// xgrad's neural-network layer: modules, containers, layers, losses and initialisation.
#include "xgrad/nn/activation.h"
#include "xgrad/nn/containers.h"
#include "xgrad/nn/conv.h"
#include "xgrad/nn/dropout.h"
#include "xgrad/nn/init.h"
#include "xgrad/nn/linear.h"
#include "xgrad/nn/loss.h"
#include "xgrad/nn/module.h"
#include "xgrad/nn/normalization.h"
#include "xgrad/nn/pooling.h"
#include "xgrad/nn/summary.h"
