#include "xgrad/dtype.h"
#include "xgrad/error.h"
#include "dispatch.h"

namespace xgrad {

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::float32: return "float32";
    case Dtype::float64: return "float64";
    case Dtype::int64: return "int64";
  }
  return "?";
}

std::size_t dtype_size(Dtype d) { return d == Dtype::float32 ? 4 : 8; }

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == Dtype::float64 || b == Dtype::float64) return Dtype::float64;
  return Dtype::float32;  // float32 with int64
}

}  // namespace xgrad

namespace xgrad::detail {

void float_dispatch_got_int64() {
  throw Error("expected a floating tensor (float32 or float64), got int64");
}

}  // namespace xgrad::detail
