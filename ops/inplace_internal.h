#pragma once
// Private to the in-place ops (ops/inplace.cpp, ops/indexing.cpp's index_put_): the checks before a
// write and the recording after it, so every in-place op follows the same rules.
#include <initializer_list>
#include <memory>
#include <utility>

#include "../core/tensor_impl.h"
#include "xgrad/node.h"

namespace xgrad::detail {

// The checks every in-place op makes before writing (defined self; with grad mode on: a leaf that
// requires grad refuses, so does a shared view that would be recorded); returns whether to record.
bool begin_inplace(const char* op, const Tensor& self, std::initializer_list<Tensor> operands);
// Every write counts: saved tensors compare the version before backward.
void bump_version(Tensor& self);

// record() for an in-place op: self's old grad_fn becomes the node's first input and the node becomes
// self's grad_fn. retain_grad() follows the tensor to its new node, as in PyTorch: .grad() is the
// gradient of the value after the write.
template <class F>
void record_inplace(Tensor& self, const OpDecl& op, std::initializer_list<Tensor> inputs,
                    std::initializer_list<Tensor> saved, F&& vjp) {
  const std::shared_ptr<Node> old = self.impl()->grad_fn;
  Node* node = record(self, op, inputs, saved, std::forward<F>(vjp));
  if (node && old && old->retains_grad()) {
    old->set_retains_grad(nullptr);
    node->set_retains_grad(self.impl_ptr());
  }
}

}  // namespace xgrad::detail
