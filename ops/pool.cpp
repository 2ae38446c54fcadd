// Skeleton: being written (issue 3).
#include "xgrad/ops.h"
#include "xgrad/registry.h"

namespace xgrad {

void register_pool_ops(std::vector<OpInfo>& registry) {}

}  // namespace xgrad
