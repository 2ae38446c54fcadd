#pragma once
// Private: logical ops on bool tensors (core/kernels/logical.cpp). Values only.
#include "../tensor_impl.h"

namespace xgrad::kernels {

enum class Logical { and_, or_, xor_ };

// a (op) b with broadcasting; both operands are bool.
Tensor logical(Logical op, const Tensor& a, const Tensor& b, const char* op_name);
// !x for a bool x.
Tensor logical_not(const Tensor& x);

}  // namespace xgrad::kernels
