#pragma once
// Gradient checking: compares the gradients autograd computes (analytic) with central
// differences (numeric), in float64, as PyTorch's torch.autograd.gradcheck does.
//
//   auto r = xgrad::gradcheck([](const TensorList& in) { return in[0] * in[1]; }, {x, y});
//   if (!r) fmt::print("{}\n", r);  // names the output, input, element and both values
#ifdef XGRAD_LAYER_CORE
#error "core/ sits below the op families and must not use them (docs/ARCHITECTURE.md, Layers)"
#endif
#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "xgrad/node.h"
#include "xgrad/tensor.h"

namespace xgrad {

enum class GradcheckMode {
  slow,    // the full Jacobian, element by element
  fast,    // one random projection v^T J u per (output, input); falls back to slow on failure
  sparse,  // K random elements per input, against a random projection of the outputs
};

const char* to_string(GradcheckMode mode);

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-5;  // an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  GradcheckMode mode = GradcheckMode::slow;
  std::int64_t sparse_k = 16;     // elements per input in sparse mode (all of them when fewer)
  std::uint64_t seed = 0;         // gradcheck's own generator (xgrad's seeded generator is untouched)
  bool raise_on_failure = false;  // throw xgrad::Error carrying the report instead of returning
};

struct GradcheckResult {
  bool passed = true;
  bool second_order = false;  // made by gradgradcheck
  GradcheckMode mode = GradcheckMode::slow;
  double eps = 0, atol = 0, rtol = 0;
  std::int64_t num_checked = 0;  // entries compared (Jacobian entries or projections)
  std::int64_t num_failed = 0;
  double max_abs_error = 0;  // max |a - n|
  double max_rel_error = 0;  // max |a - n| / max(|a| + |n|, 1e-8)

  // The worst entry: the one that exceeds its tolerance by the largest factor.
  std::int64_t output_index = -1;
  std::int64_t input_index = -1;
  Shape input_shape;
  std::int64_t flat_index = -1;         // into the input; -1 for a projection (fast mode)
  std::vector<std::int64_t> element;    // the same as a multi-index
  std::int64_t output_flat_index = -1;  // into the output; -1 for a projection over outputs
  double analytic = 0;
  double numeric = 0;

  std::string note;  // extra context, e.g. the fast-mode result that triggered localisation
  explicit operator bool() const { return passed; }
  std::string report() const;  // printable, multi-line
};

std::ostream& operator<<(std::ostream& os, const GradcheckResult& r);

using DifferentiableFunction = std::function<TensorList(const TensorList&)>;
using ScalarOutputFunction = std::function<Tensor(const TensorList&)>;

// Checks the gradients of `fn` with respect to every input that requires grad. An input that
// does not influence an output has a zero numeric derivative, so its analytic gradient must be
// zero or undefined (undefined gradients count as zero), in every mode. Floating inputs
// are copied to float64 first; int64 inputs (indices) and undefined inputs pass through.
// Raises xgrad::Error for a bad use: no input requires grad, fn returns an undefined or
// differently shaped output, a bad option.
GradcheckResult gradcheck(const DifferentiableFunction& fn, const TensorList& inputs,
                          const GradcheckOptions& opts = {});
GradcheckResult gradcheck(const ScalarOutputFunction& fn, const TensorList& inputs, const GradcheckOptions& opts = {});

// Second-order check: random grad_outputs v (requiring grad) join the inputs, and
// (inputs, v) -> grad(fn(inputs), inputs, v, create_graph) is gradchecked. Undefined
// second-order gradients count as zero.
GradcheckResult gradgradcheck(const DifferentiableFunction& fn, const TensorList& inputs,
                              const GradcheckOptions& opts = {});
GradcheckResult gradgradcheck(const ScalarOutputFunction& fn, const TensorList& inputs,
                              const GradcheckOptions& opts = {});

}  // namespace xgrad

template <>
struct fmt::formatter<xgrad::GradcheckResult> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const xgrad::GradcheckResult& r, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(r.report(), ctx);
  }
};
