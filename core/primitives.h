#pragma once
// Private: the recorded ops core itself needs (the engine sums gradients and casts them, .grad
// accumulation copies). They live here so that core never calls the op families in ops/; ops/
// registers them in the registry under the same names ("add", "to", "clone").
#include "xgrad/tensor.h"

namespace xgrad {

// a + b for tensors of one shape and dtype (gradient buffers): recorded as "add", da = db = dy.
Tensor add_same_shape(const Tensor& a, const Tensor& b);

}  // namespace xgrad
