#pragma once
// Private: argument checks shared by the ops (ops/*.cpp) and the factories (core/tensor.cpp), so
// a misuse is reported in the words of the op the user called.
#include <initializer_list>

#include "xgrad/tensor.h"

namespace xgrad {

// A tensor argument and its name in the public signature.
struct TensorArg {
  const Tensor& tensor;
  const char* name;
};

[[noreturn]] void throw_undefined_argument(const char* op, const char* name);

// Raises "<op>: argument '<name>' is an undefined tensor (...)" for the first undefined argument.
// Ops call it first with their required tensor arguments (optional ones may be undefined): one
// pointer test each.
inline void check_defined(const char* op, std::initializer_list<TensorArg> args) {
  for (const TensorArg& a : args)
    if (!a.tensor.defined()) [[unlikely]]
      throw_undefined_argument(op, a.name);
}

}  // namespace xgrad
