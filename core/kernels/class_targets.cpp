// The class-target check of the losses: every target in range or ignored, and the total weight
// of the counted ones (a mean reduction's divisor).
#include "softmax.h"

#include <vector>

#include <fmt/ranges.h>

#include "../../include/xgrad/dtype.h"

namespace xgrad::kernels {

double check_class_targets(const ClassTargets& t, const Shape& target_shape, std::int64_t classes, const char* op) {
  const std::int64_t* tg = t.target.impl()->data<std::int64_t>();
  const std::int64_t n = t.target.numel();
  double total = 0;
  const bool has_weight = t.weight.defined();
  const float* w32 = has_weight && t.weight.dtype() == Dtype::float32 ? t.weight.impl()->data<float>() : nullptr;
  const double* w64 = has_weight && t.weight.dtype() == Dtype::float64 ? t.weight.impl()->data<double>() : nullptr;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t v = tg[i];
    if (v == t.ignore_index) continue;
    if (v < 0 || v >= classes) [[unlikely]] {
      // Name the position as a multi-index of the target.
      std::vector<std::int64_t> idx(target_shape.size());
      std::int64_t rest = i;
      for (std::size_t k = target_shape.size(); k-- > 0;) {
        idx[k] = rest % target_shape[k];
        rest /= target_shape[k];
      }
      throw Error(fmt::format("{}: target[{}] = {} is out of range for {} classes [0, {}) (target shape {}, "
                              "ignore_index {})",
                              op, fmt::join(idx, ", "), v, classes, classes, to_string(target_shape),
                              t.ignore_index));
    }
    total += w32 ? static_cast<double>(w32[v]) : w64 ? w64[v] : 1.0;
  }
  return total;
}

}  // namespace xgrad::kernels
