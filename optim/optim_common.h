#pragma once
// Private to optim/: what every optimizer's step() and options check share.
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "xgrad/dtype.h"
#include "xgrad/error.h"

namespace xgrad::optim::detail {

// Collects option problems ("lr = -1: expected >= 0"), so a constructor or a load lists them all.
struct Problems {
  std::vector<std::string> list;
  template <class... Args>
  void require(bool ok, fmt::format_string<Args...> format, Args&&... args) {
    if (!ok) list.push_back(fmt::format(format, std::forward<Args>(args)...));
  }
  // lr, eps, weight decay...: NaN fails too.
  void non_negative(const char* name, double value) {
    require(value >= 0, "{} = {}: expected >= 0", name, value);
  }
};

// Calls f(T{}) with T = float or double for a parameter's dtype (add_group_params admits no other).
template <class F>
void with_float_type(Dtype d, F&& f) {
  if (d == Dtype::float32)
    f(float{});
  else if (d == Dtype::float64)
    f(double{});
  else
    XGRAD_CHECK(false, "optimizer: parameter dtype {} is not a float type", dtype_name(d));
}

}  // namespace xgrad::optim::detail
