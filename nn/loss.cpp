#include "xgrad/nn/loss.h"

namespace xgrad::nn {

namespace {
void check_pair(const Module& m, const Tensor& input, const Tensor& target) {
  XGRAD_CHECK(input.defined() && target.defined(), "{}: the {} is undefined", m.type_name(),
              input.defined() ? "target" : "input");
}
}  // namespace

// The weight tensors are registered as buffers; the options keep no second handle to them.
CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLossOptions o)
    : options(o), weight(register_buffer("weight", o.weight)) {
  options.weight = Tensor();
  XGRAD_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1,
              "CrossEntropyLoss: label_smoothing must be in [0, 1], got {}", o.label_smoothing);
}
Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return cross_entropy(input, target, weight, options.ignore_index, options.reduction, options.label_smoothing);
}

NLLLoss::NLLLoss(NLLLossOptions o) : options(o), weight(register_buffer("weight", o.weight)) {
  options.weight = Tensor();
}
Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return nll_loss(input, target, weight, options.ignore_index, options.reduction);
}

MultiMarginLoss::MultiMarginLoss(MultiMarginLossOptions o) : options(o), weight(register_buffer("weight", o.weight)) {
  options.weight = Tensor();
  XGRAD_CHECK(o.p == 1 || o.p == 2, "MultiMarginLoss: only p == 1 and p == 2 are supported, got {}", o.p);
}
Tensor MultiMarginLoss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return multi_margin_loss(input, target, options.p, options.margin, weight, options.reduction);
}

Tensor SVMLoss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return svm_loss(input, target, options.margin, options.reduction);
}

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return mse_loss(input, target, options.reduction);
}

Tensor L1Loss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return l1_loss(input, target, options.reduction);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(BCEWithLogitsLossOptions o)
    : options(o), weight(register_buffer("weight", o.weight)), pos_weight(register_buffer("pos_weight", o.pos_weight)) {
  options.weight = Tensor();
  options.pos_weight = Tensor();
}
Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  check_pair(*this, input, target);
  return binary_cross_entropy_with_logits(input, target, weight, options.reduction, pos_weight);
}

}  // namespace xgrad::nn
