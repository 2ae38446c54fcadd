#pragma once
// Optimizer: the base of every optimizer in optim/. Holds parameter groups (each with its own
// hyper-parameters), per-parameter state, zero_grad(), and the two hooks learning-rate schedulers
// use (lr and momentum per group). PyTorch's torch.optim is the reference for names and rules.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "xgrad/state_dict.h"
#include "xgrad/tensor.h"

namespace xgrad::optim {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient, without recording a graph.
  virtual void step() = 0;
  // set_to_none (PyTorch 2's default) drops the gradients; false zeroes them in place.
  void zero_grad(bool set_to_none = true);

  std::size_t num_param_groups() const { return group_params_.size(); }
  const std::vector<Tensor>& params(std::size_t group) const;
  std::vector<Tensor> all_params() const;

  // Schedulers read and write these. momentum() is SGD's/RMSprop's momentum or Adam's beta1
  // (what OneCycleLR cycles); nullopt for optimizers without one.
  virtual double lr(std::size_t group) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;
  virtual std::optional<double> momentum(std::size_t /*group*/) const { return std::nullopt; }
  virtual void set_momentum(std::size_t group, double value);
  // The lr a group had before any scheduler changed it (PyTorch's group["initial_lr"]): the first
  // scheduler records it and later ones (after a warm-up, in SequentialLR) start from it.
  std::optional<double> initial_lr(std::size_t group) const;
  void set_initial_lr(std::size_t group, double lr);

  // Everything needed to resume exactly: group options, step counts, state buffers.
  virtual StateDict state_dict() const = 0;
  // Validates everything first (names, shapes, dtypes; all problems listed in one xgrad::Error);
  // with strict = false it loads the matching subset and reports the rest.
  virtual LoadReport load_state_dict(const StateDict& state, bool strict = true) = 0;

  virtual std::string name() const = 0;  // "SGD", "Adam", ... (used in errors)

 protected:
  Optimizer() = default;
  // Checks the group (non-empty, defined float leaves, none twice or already in another group)
  // and appends it; returns its index. Derived classes keep their options in a parallel vector.
  std::size_t add_group_params(std::vector<Tensor> params);

 private:
  std::vector<std::vector<Tensor>> group_params_;
  std::vector<std::optional<double>> initial_lrs_;  // one per group
};

}  // namespace xgrad::optim
