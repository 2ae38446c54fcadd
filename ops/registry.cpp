#include "xgrad/registry.h"

#include <algorithm>

namespace xgrad {

#define XGRAD_OP_FAMILY(family) void register_##family##_ops(std::vector<OpInfo>& registry);
#include "op_families.def"
#undef XGRAD_OP_FAMILY

namespace {
// A sample's call indexes its inputs by position: called with fewer tensors than the sample has,
// it would read past the list. Every call first checks the count, naming the op.
void checked_calls(OpInfo& op) {
  op.samples = [samples = std::move(op.samples), name = op.name](Dtype d) {
    std::vector<OpSample> out = samples(d);
    for (OpSample& s : out)
      s.call = [call = std::move(s.call), name, count = s.inputs.size()](const TensorList& in) {
        XGRAD_CHECK(in.size() == count, "{}: this sample's call takes {} tensors, got {}", name, count, in.size());
        return call(in);
      };
    return out;
  };
}
}  // namespace

OpInfo declared(const OpDecl& op, OpInfo entry) {
  XGRAD_CHECK(entry.name.empty() && entry.formula.empty(),
              "declared({}): the entry names itself '{}'; its name and formula come from the declaration",
              op.name, entry.name);
  entry.name = op.name;
  entry.formula = op.formula;
  entry.variadic = op.arity == OpDecl::kVariadic;
  if (!entry.variadic) entry.arity = op.arity;
  return entry;
}

// An explicit list rather than self-registering statics, which a static link would drop.
const std::vector<OpInfo>& registered_ops() {
  static const std::vector<OpInfo> registry = [] {
    std::vector<OpInfo> r;
#define XGRAD_OP_FAMILY(family) register_##family##_ops(r);
#include "op_families.def"
#undef XGRAD_OP_FAMILY
    for (OpInfo& op : r)
      if (op.samples) checked_calls(op);
    return r;
  }();
  return registry;
}

const OpInfo* find_op(std::string_view name) {
  const auto& ops = registered_ops();
  auto it = std::find_if(ops.begin(), ops.end(), [&](const OpInfo& o) { return o.name == name; });
  return it == ops.end() ? nullptr : &*it;
}

const std::vector<OpAlias>& op_aliases() {
  static const std::vector<OpAlias> aliases = {
      {"transpose", "permute", "a permutation swapping two dims"},
      {"to_dtype", "to", "Tensor::to"},
      {"broadcast_to", "expand", "NumPy's name for expand"},
      {"eq", "", "comparison: a mask, not differentiable"},
      {"ne", "", "comparison: a mask, not differentiable"},
      {"lt", "", "comparison: a mask, not differentiable"},
      {"le", "", "comparison: a mask, not differentiable"},
      {"gt", "", "comparison: a mask, not differentiable"},
      {"ge", "", "comparison: a mask, not differentiable"},
      {"argmax", "", "indices, not differentiable"},
      {"argmin", "", "indices, not differentiable"},
      {"allclose", "", "a bool"},
      {"equal", "", "a bool"},
      {"result_type", "", "a dtype"},
      {"scalar_like", "", "a constant 0-d tensor"},
      {"logical_and", "", "a bool mask, not differentiable"},
      {"logical_or", "", "a bool mask, not differentiable"},
      {"logical_xor", "", "a bool mask, not differentiable"},
      {"logical_not", "", "a bool mask, not differentiable"},
      {"any", "", "a bool, not differentiable"},
      {"all", "", "a bool, not differentiable"},
      {"masked_fill", "where", "where(mask, value, x)"},
      {"masked_select", "index_select", "x.index({mask}): one index_select over the true positions"},
  };
  return aliases;
}

const OpAlias* find_alias(std::string_view name) {
  const auto& all = op_aliases();
  auto it = std::find_if(all.begin(), all.end(), [&](const OpAlias& a) { return a.name == name; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace xgrad
