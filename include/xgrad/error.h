#pragma once
// xgrad::Error: the one exception type every misuse raises. Messages name the op,
// the shapes/dtypes involved and what was expected.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace xgrad {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace xgrad

// XGRAD_CHECK(cond, "fmt {}", args...): throws xgrad::Error with the formatted message.
#define XGRAD_CHECK(cond, ...)                                  \
  do {                                                          \
    if (!(cond)) [[unlikely]]                                   \
      throw ::xgrad::Error(::fmt::format(__VA_ARGS__));         \
  } while (0)
