#pragma once
// nn::summary: the table torchinfo prints for a PyTorch model, for an xgrad module. It runs one
// forward pass on a random input of the given shape (no graph, eval mode, the model's modes and the
// default generator left as they were) and records, per module called, its hierarchical name,
// type, output shape, parameters and multiply-adds, counted as torchinfo counts them: a conv
// layer's weight and bias element counts times the output positions times the batch, a linear
// layer's times every output row, any other layer's parameters times the batch. It adds what no
// peer shows: the receptive field and effective stride of the conv/pool stack in front of the
// first layer that mixes all positions (Flatten, Linear, adaptive pooling).
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "xgrad/nn/module.h"

namespace xgrad::nn {

struct SummaryOptions {
  Dtype dtype = Dtype::float32;  // of the random input
  int max_depth = 3;             // deeper modules are counted in their ancestors' rows only
};

struct SummaryRow {
  std::string name;  // hierarchical: "features.0"
  std::string type;  // "Conv1d"
  int depth = 1;     // 1 for the model's children
  Shape output_shape;
  std::int64_t params = 0;     // of the module and its descendants, each tensor once
  std::int64_t mult_adds = 0;  // leaves only (containers show "--")
  bool is_leaf = true;
};

struct ModelSummary {
  std::string model_type;
  Shape input_shape;
  std::vector<SummaryRow> rows;  // in call order, parents before their children
  std::int64_t total_params = 0, trainable_params = 0, non_trainable_params = 0;
  std::int64_t total_mult_adds = 0;
  // Bytes, as torchinfo counts them: the input; twice (forward value and gradient) the outputs of
  // the layers that have parameters; the parameters.
  std::int64_t input_bytes = 0, forward_backward_bytes = 0, param_bytes = 0;
  // Per spatial dimension of the conv/pool stack (empty without one): how many input positions one
  // output position sees, and how far apart neighbouring outputs' windows start.
  std::vector<std::int64_t> receptive_field, effective_stride;

  double input_mb() const { return static_cast<double>(input_bytes) / 1e6; }
  double forward_backward_mb() const { return static_cast<double>(forward_backward_bytes) / 1e6; }
  double params_mb() const { return static_cast<double>(param_bytes) / 1e6; }
  double total_mb() const { return static_cast<double>(input_bytes + forward_backward_bytes + param_bytes) / 1e6; }
  std::string to_string() const;  // the table
};

ModelSummary summary(Module& model, const Shape& input_shape, SummaryOptions options = {});

std::ostream& operator<<(std::ostream& os, const ModelSummary& s);

}  // namespace xgrad::nn

template <>
struct fmt::formatter<xgrad::nn::ModelSummary> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const xgrad::nn::ModelSummary& s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(s.to_string(), ctx);
  }
};
