#pragma once
// Loss modules: called as loss(input, target), each calls the op of the same name. Class weights
// (and BCEWithLogitsLoss's pos_weight) are buffers, as in PyTorch, so to() converts them and
// state_dict() saves them.
#include <cstdint>
#include <string>

#include "xgrad/nn/module.h"
#include "xgrad/ops.h"

namespace xgrad::nn {

struct CrossEntropyLossOptions {
  Tensor weight = Tensor();  // per-class weights [C], or undefined
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;
};

struct NLLLossOptions {
  Tensor weight = Tensor();
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};

struct MultiMarginLossOptions {
  std::int64_t p = 1;  // 1 or 2
  double margin = 1.0;
  Tensor weight = Tensor();
  Reduction reduction = Reduction::mean;
};

struct SVMLossOptions {
  double margin = 1.0;
  Reduction reduction = Reduction::mean;
};

struct LossOptions {
  Reduction reduction = Reduction::mean;
};

struct BCEWithLogitsLossOptions {
  Tensor weight = Tensor();
  Reduction reduction = Reduction::mean;
  Tensor pos_weight = Tensor();
};

class CrossEntropyLoss : public Module {
 public:
  explicit CrossEntropyLoss(CrossEntropyLossOptions options = {});
  CrossEntropyLoss(CrossEntropyLoss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "CrossEntropyLoss"; }
  CrossEntropyLossOptions options;
  Tensor& weight;
};

class NLLLoss : public Module {
 public:
  explicit NLLLoss(NLLLossOptions options = {});
  NLLLoss(NLLLoss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "NLLLoss"; }
  NLLLossOptions options;
  Tensor& weight;
};

// PyTorch's multiclass hinge loss (divided by the number of classes).
class MultiMarginLoss : public Module {
 public:
  explicit MultiMarginLoss(MultiMarginLossOptions options = {});
  MultiMarginLoss(MultiMarginLoss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MultiMarginLoss"; }
  MultiMarginLossOptions options;
  Tensor& weight;
};

// The lectures' multiclass SVM loss: sum_{j != y} max(0, s_j - s_y + margin) per sample.
class SVMLoss : public Module {
 public:
  explicit SVMLoss(SVMLossOptions options = {}) : options(options) {}
  SVMLoss(SVMLoss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "SVMLoss"; }
  SVMLossOptions options;
};

class MSELoss : public Module {
 public:
  explicit MSELoss(LossOptions options = {}) : options(options) {}
  MSELoss(MSELoss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MSELoss"; }
  LossOptions options;
};

class L1Loss : public Module {
 public:
  explicit L1Loss(LossOptions options = {}) : options(options) {}
  L1Loss(L1Loss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "L1Loss"; }
  LossOptions options;
};

class BCEWithLogitsLoss : public Module {
 public:
  explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {});
  BCEWithLogitsLoss(BCEWithLogitsLoss&&) noexcept = default;
  using Module::forward;
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCEWithLogitsLoss"; }
  BCEWithLogitsLossOptions options;
  Tensor& weight;
  Tensor& pos_weight;
};

}  // namespace xgrad::nn
