#include "arg_checks.h"

namespace xgrad {

void throw_undefined_argument(const char* op, const char* name) {
  throw Error(fmt::format(
      "{}: argument '{}' is an undefined tensor (a default-constructed Tensor, or the .grad() of a tensor that "
      "no backward pass has reached)",
      op, name));
}

}  // namespace xgrad
