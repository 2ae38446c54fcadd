#pragma once
// BatchNorm1d/2d and LayerNorm, on the batch_norm / layer_norm ops.
#include <cstdint>
#include <optional>
#include <string>

#include "xgrad/nn/module.h"

namespace xgrad::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the new batch in the running statistics; nullopt keeps a cumulative average
  // (factor 1 / num_batches_tracked), as PyTorch's momentum=None.
  std::optional<double> momentum = 0.1;
  bool affine = true;               // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;  // buffers running_mean, running_var, num_batches_tracked
};

// PyTorch's _BatchNorm: in training, normalises with the batch statistics and (when tracking)
// blends them into running_mean / running_var (the variance unbiased) and counts the batch in
// num_batches_tracked (int64); in evaluation, normalises with the running statistics.
class BatchNorm : public Module {
 public:
  BatchNorm(BatchNorm&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string extra_repr() const override;
  void reset_running_stats();
  void reset_parameters();

  std::int64_t num_features;
  BatchNormOptions options;
  Tensor& weight;
  Tensor& bias;
  Tensor& running_mean;
  Tensor& running_var;
  Tensor& num_batches_tracked;

 protected:
  BatchNorm(const char* layer, std::int64_t num_features, BatchNormOptions options);
  virtual void check_input_dim(const Tensor& input) const = 0;
};

// Input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(std::int64_t num_features, BatchNormOptions options = {})
      : BatchNorm("BatchNorm1d", num_features, options) {}
  BatchNorm1d(BatchNorm1d&&) noexcept = default;
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;
};

// Input [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(std::int64_t num_features, BatchNormOptions options = {})
      : BatchNorm("BatchNorm2d", num_features, options) {}
  BatchNorm2d(BatchNorm2d&&) noexcept = default;
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  void check_input_dim(const Tensor& input) const override;
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;  // learnable weight (ones) and bias (zeros) of normalized_shape
  bool bias = true;
};

// Normalises over the trailing dims given by normalized_shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {});
  LayerNorm(LayerNorm&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  Shape normalized_shape;
  LayerNormOptions options;
  Tensor& weight;
  Tensor& bias;
};

}  // namespace xgrad::nn
