#pragma once
// The op registry: every differentiable op with its sample inputs (PyTorch's OpInfo).
// One test walks it and runs gradcheck and gradgradcheck on every sample.
#ifdef XGRAD_LAYER_CORE
#error "core/ sits below the op families and must not use them (docs/ARCHITECTURE.md, Layers)"
#endif
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/node.h"

namespace xgrad {

struct OpSample {
  std::string description;  // e.g. "broadcast [3,1] x [4]"
  TensorList inputs;        // differentiable ones have requires_grad set
  std::function<Tensor(const TensorList&)> call;  // runs the op on `inputs` (extra args captured)
};

struct OpInfo {
  std::string name{};            // as in grad_fn names, e.g. "mul" (from the OpDecl: declared())
  int arity = 1;                 // tensor inputs (of the samples, for a variadic op)
  bool variadic = false;         // takes a list of tensors (cat, stack): nodes have any input count
  std::vector<bool> differentiable;  // per tensor input
  bool supports_gradgrad = true;
  std::string formula{};         // the local gradient, e.g. "dx = dy * (y > 0)"
  // Central-difference step for this op's checks; 0 keeps gradcheck's default (1e-6). Ops that
  // round through float32 need a larger step (exact for ops linear in their inputs).
  double gradcheck_eps = 0;
  // Samples in the given floating dtype, drawn from xgrad's seeded generator. They cover
  // broadcasting, size-1 dims, 0-d tensors and edge cases, avoiding non-differentiable points.
  std::function<std::vector<OpSample>(Dtype)> samples;
};

// The registry entry of a declared op: its name, arity and formula come from the declaration
// (the one its nodes are recorded with); `entry` gives the rest. A variadic op keeps the samples'
// tensor count in entry.arity.
OpInfo declared(const OpDecl& op, OpInfo entry);

const std::vector<OpInfo>& registered_ops();
const OpInfo* find_op(std::string_view name);  // nullptr when unknown

// A public function of ops.h that is not a registry entry itself: it records under other ops'
// names (transpose records "permute"), or records nothing (comparisons, argmax: not differentiable).
struct OpAlias {
  std::string name;        // as the user calls it
  std::string records_as;  // registry names of the nodes it records, "" if none
  std::string note;
};
const std::vector<OpAlias>& op_aliases();
const OpAlias* find_alias(std::string_view name);  // nullptr when unknown

}  // namespace xgrad
