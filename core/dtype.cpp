#include "xgrad/dtype.h"
#include "xgrad/error.h"
#include "dispatch.h"

namespace xgrad {

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::float32: return "float32";
    case Dtype::float64: return "float64";
    case Dtype::int64: return "int64";
    case Dtype::boolean: return "bool";
  }
  return "?";
}

std::size_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::float32: return 4;
    case Dtype::boolean: return 1;
    default: return 8;
  }
}

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == Dtype::float64 || b == Dtype::float64) return Dtype::float64;
  if (a == Dtype::float32 || b == Dtype::float32) return Dtype::float32;
  return Dtype::int64;  // int64 with bool
}

}  // namespace xgrad

namespace xgrad::detail {

void float_dispatch_got(Dtype d) {
  throw Error(fmt::format("expected a floating tensor (float32 or float64), got {}", dtype_name(d)));
}

void numeric_dispatch_got_bool() {
  throw Error("expected a numeric tensor (float32, float64 or int64), got bool");
}

}  // namespace xgrad::detail
