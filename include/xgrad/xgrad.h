#pragma once
// Everything a user needs: tensors, ops, autograd, gradient checking, the op registry.
// xtensor interop lives in <xgrad/xtensor.h>, so including this header stays cheap.
#ifdef XGRAD_LAYER_CORE
#error "core/ sits below the op families and must not use them (docs/ARCHITECTURE.md, Layers)"
#endif
#include "xgrad/autograd.h"
#include "xgrad/dtype.h"
#include "xgrad/error.h"
#include "xgrad/grad_mode.h"
#include "xgrad/generator.h"
#include "xgrad/gradcheck.h"
#include "xgrad/node.h"
#include "xgrad/ops.h"
#include "xgrad/registry.h"
#include "xgrad/shape.h"
#include "xgrad/state_dict.h"
#include "xgrad/tensor.h"
#include "xgrad/threads.h"
