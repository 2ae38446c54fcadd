#include "xgrad/registry.h"

#include <algorithm>

namespace xgrad {

#define XGRAD_OP_FAMILY(family) void register_##family##_ops(std::vector<OpInfo>& registry);
#include "op_families.def"
#undef XGRAD_OP_FAMILY

// An explicit list rather than self-registering statics, which a static link would drop.
const std::vector<OpInfo>& registered_ops() {
  static const std::vector<OpInfo> registry = [] {
    std::vector<OpInfo> r;
#define XGRAD_OP_FAMILY(family) register_##family##_ops(r);
#include "op_families.def"
#undef XGRAD_OP_FAMILY
    return r;
  }();
  return registry;
}

const OpInfo* find_op(std::string_view name) {
  const auto& ops = registered_ops();
  auto it = std::find_if(ops.begin(), ops.end(), [&](const OpInfo& o) { return o.name == name; });
  return it == ops.end() ? nullptr : &*it;
}

}  // namespace xgrad
