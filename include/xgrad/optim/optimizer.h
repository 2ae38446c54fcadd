#pragma once
// Optimizer: the base of every optimizer in optim/. Holds parameter groups (each with its own
// hyper-parameters), per-parameter state, zero_grad(), the two hooks learning-rate schedulers
// use (lr and momentum per group) and the state dict. PyTorch's torch.optim is the reference for
// names and rules.
//
// State dict layout (scalars are 0-d tensors: options float64, step counts int64):
//   state.<i>.step, state.<i>.<buffer>   i: the parameter's index over all groups, in order
//   param_groups.<g>.<option>            every option of group g (booleans as 0 / 1)
//   param_groups.<g>.params              int64 indices of the group's parameters
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "xgrad/error.h"
#include "xgrad/grad_mode.h"
#include "xgrad/state_dict.h"
#include "xgrad/tensor.h"

namespace xgrad::optim {

// One parameter's optimizer state: its step count and named buffers (parameter's shape and dtype),
// created at the parameter's first step.
struct ParamState {
  double step = 0;  // a float, as in PyTorch (bias corrections use it as one)
  std::vector<std::pair<std::string, Tensor>> buffers;

  const Tensor* find(std::string_view name) const;
  // The buffer `name` (a handle sharing its storage), created filled with `fill` (like `param`) when absent.
  Tensor buffer(std::string_view name, const Tensor& param, double fill = 0);
};

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
  // The state of parameter `index` of `group`; nullptr before its first step.
  const ParamState* param_state(std::size_t group, std::size_t index) const;

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

  // Everything needed to resume exactly: group options, step counts, state buffers (copies).
  StateDict state_dict() const;
  // Validates everything first (group count and sizes, option values, every entry's shape and
  // dtype against its parameter) and raises one xgrad::Error listing every problem, leaving the
  // optimizer untouched. With strict = false, missing, unexpected and mismatched entries are
  // skipped and reported instead (invalid option values and a different group layout still raise).
  // The loaded state replaces the whole state.
  LoadReport load_state_dict(const StateDict& state, bool strict = true);

  virtual std::string name() const = 0;  // "SGD", "Adam", ... (used in errors)

 protected:
  Optimizer() = default;
  // Checks the group (non-empty, defined float leaves, none twice or already in another group)
  // and appends it; returns its index. Derived classes keep their options in a parallel vector.
  std::size_t add_group_params(std::vector<Tensor> params);
  // Parameter `index` of `group`'s state, created empty on first use.
  ParamState& mutable_state(std::size_t group, std::size_t index);
  // The gradient step() uses for p: undefined when p has none; raises when its shape or dtype
  // differs from p's.
  Tensor checked_grad(const Tensor& p, std::size_t group, std::size_t index) const;

  // What the state dict needs from a derived class.
  using OptionValues = std::map<std::string, double>;
  virtual OptionValues option_values(std::size_t group) const = 0;
  // Problems of group `group`'s options with `values` applied (empty: acceptable).
  virtual std::vector<std::string> option_problems(std::size_t group, const OptionValues& values) const = 0;
  virtual void apply_option_values(std::size_t group, const OptionValues& values) = 0;
  virtual std::vector<std::string> buffer_names() const = 0;  // every buffer the state can hold
  virtual bool counts_steps() const { return true; }         // SGD keeps no step count

 private:
  std::vector<std::vector<Tensor>> group_params_;
  std::vector<std::optional<double>> initial_lrs_;  // one per group
  std::vector<std::vector<std::optional<ParamState>>> state_;  // parallel to group_params_
};

// Used by OptimizerWithOptions below, out of line (they format messages).
namespace detail {
[[noreturn]] void raise_option_problems(const std::string& optimizer, const std::vector<std::string>& problems);
std::string bool_option_problem(const char* field, double value);
}  // namespace detail

// A parameter group as the constructors take it: parameters and their own options.
template <class Options>
struct ParamGroup {
  std::vector<Tensor> params;
  Options options{};
};

// The part every concrete optimizer shares: one Options struct per group. Options provide
//   template <class Self, class F> static void fields(Self& o, F&& f)  (f(name, double& or bool&))
//   std::vector<std::string> problems() const                         (invalid values, explained)
template <class Options>
class OptimizerWithOptions : public Optimizer {
 public:
  // Appends a group; raises on invalid options or parameters (see add_group_params).
  void add_param_group(std::vector<Tensor> params, Options options) {
    check_options(options);
    add_group_params(std::move(params));
    options_.push_back(options);
  }
  void add_param_group(ParamGroup<Options> group) { add_param_group(std::move(group.params), group.options); }

  // Group g's options, to read or change (step() checks them again).
  Options& options(std::size_t group = 0) {
    params(group);  // range check
    return options_[group];
  }
  const Options& options(std::size_t group = 0) const {
    params(group);
    return options_[group];
  }

  double lr(std::size_t group) const override { return options(group).lr; }
  void set_lr(std::size_t group, double lr) override { options(group).lr = lr; }
  std::string name() const override { return name_; }

 protected:
  OptimizerWithOptions(std::string name, std::vector<ParamGroup<Options>> groups) : name_(std::move(name)) {
    XGRAD_CHECK(!groups.empty(), "{}: got an empty list of parameter groups", name_);
    for (auto& g : groups) add_param_group(std::move(g));
  }

  // Runs update(options, param, grad, state) for every parameter that has a gradient, group by
  // group, under no-grad, once each group's options are checked: the loop every step() shares.
  template <class Update>
  void update_each(Update&& update) {
    NoGradGuard no_grad;
    for (std::size_t g = 0; g < num_param_groups(); ++g) {
      const Options& o = options(g);
      check_options(o);
      for (std::size_t i = 0; i < params(g).size(); ++i) {
        Tensor p = params(g)[i];
        const Tensor grad = checked_grad(p, g, i);
        if (grad.defined()) update(o, p, grad, mutable_state(g, i));
      }
    }
  }

  void check_options(const Options& o) const {
    if (auto problems = o.problems(); !problems.empty()) detail::raise_option_problems(name_, problems);
  }

  OptionValues option_values(std::size_t group) const override {
    OptionValues values;
    Options::fields(options(group), [&](const char* field, const auto& v) { values[field] = static_cast<double>(v); });
    return values;
  }
  std::vector<std::string> option_problems(std::size_t group, const OptionValues& values) const override {
    std::vector<std::string> problems;
    Options o = options(group);
    assign(o, values, &problems);
    for (auto& p : o.problems()) problems.push_back(std::move(p));
    return problems;
  }
  void apply_option_values(std::size_t group, const OptionValues& values) override {
    assign(options(group), values, nullptr);
  }

 private:
  static void assign(Options& o, const OptionValues& values, std::vector<std::string>* problems) {
    Options::fields(o, [&](const char* field, auto& v) {
      auto it = values.find(field);
      if (it == values.end()) return;
      if constexpr (std::is_same_v<std::remove_reference_t<decltype(v)>, bool>) {
        if (it->second != 0 && it->second != 1) {
          if (problems) problems->push_back(detail::bool_option_problem(field, it->second));
          return;
        }
        v = it->second != 0;
      } else {
        v = it->second;
      }
    });
  }

  std::string name_;
  std::vector<Options> options_;
};

}  // namespace xgrad::optim
