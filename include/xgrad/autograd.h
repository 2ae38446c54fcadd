#pragma once
// Reverse-mode entry points besides Tensor::backward.
#include "xgrad/node.h"
#include "xgrad/tensor.h"

namespace xgrad {

// Gradients of `outputs` with respect to `inputs`, without touching any .grad().
// grad_outputs defaults to ones for scalar outputs. With create_graph the results are
// differentiable (gradients of gradients).
TensorList grad(const TensorList& outputs, const TensorList& inputs,
                const TensorList& grad_outputs = {}, const GradOptions& opts = {});

// Backward from several roots at once (Tensor::backward is the one-root case).
void backward(const TensorList& outputs, const TensorList& grad_outputs = {},
              const GradOptions& opts = {});

}  // namespace xgrad
