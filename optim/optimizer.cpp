#include "xgrad/optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "xgrad/error.h"
#include "xgrad/grad_mode.h"

namespace xgrad::optim {

const Tensor* ParamState::find(std::string_view name) const {
  for (const auto& [n, t] : buffers)
    if (n == name) return &t;
  return nullptr;
}

Tensor ParamState::buffer(std::string_view name, const Tensor& param, double fill) {
  for (auto& [n, t] : buffers)
    if (n == name) return t;
  buffers.emplace_back(std::string(name), full(param.shape(), fill, {.dtype = param.dtype()}));
  return buffers.back().second;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& group : group_params_)
    for (auto& p : group) {
      if (!p.grad().defined()) continue;
      if (set_to_none) {
        p.zero_grad();
      } else {
        Tensor g = p.grad();
        g.zero_();
      }
    }
}

const std::vector<Tensor>& Optimizer::params(std::size_t group) const {
  XGRAD_CHECK(group < group_params_.size(), "{}: parameter group {} out of range ({} groups)", name(), group,
              group_params_.size());
  return group_params_[group];
}

std::vector<Tensor> Optimizer::all_params() const {
  std::vector<Tensor> out;
  for (const auto& group : group_params_) out.insert(out.end(), group.begin(), group.end());
  return out;
}

const ParamState* Optimizer::param_state(std::size_t group, std::size_t index) const {
  XGRAD_CHECK(index < params(group).size(), "{}: parameter {} out of range (group {} has {})", name(), index, group,
              group_params_[group].size());
  const auto& s = state_[group][index];
  return s ? &*s : nullptr;
}

ParamState& Optimizer::mutable_state(std::size_t group, std::size_t index) {
  auto& s = state_.at(group).at(index);
  if (!s) s.emplace();
  return *s;
}

Tensor Optimizer::checked_grad(const Tensor& p, std::size_t group, std::size_t index) const {
  Tensor g = p.grad();
  if (!g.defined()) return g;
  XGRAD_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(),
              "{}.step: parameter {} of group {} is {} {} but its gradient is {} {}", name(), index, group,
              to_string(p.shape()), dtype_name(p.dtype()), to_string(g.shape()), dtype_name(g.dtype()));
  return g;
}

void Optimizer::set_momentum(std::size_t group, double) {
  XGRAD_CHECK(false, "{}: has no momentum to set (group {})", name(), group);
}

std::optional<double> Optimizer::initial_lr(std::size_t group) const {
  (void)params(group);  // range check
  return initial_lrs_[group];
}

void Optimizer::set_initial_lr(std::size_t group, double lr) {
  (void)params(group);
  initial_lrs_[group] = lr;
}

std::size_t Optimizer::add_group_params(std::vector<Tensor> params) {
  XGRAD_CHECK(!params.empty(), "{}: a parameter group needs at least one parameter", name());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    XGRAD_CHECK(p.defined(), "{}: parameter {} of group {} is undefined", name(), i, group_params_.size());
    XGRAD_CHECK(p.dtype() == Dtype::float32 || p.dtype() == Dtype::float64,
                "{}: parameter {} of group {} is {}; expected float32 or float64", name(), i, group_params_.size(),
                dtype_name(p.dtype()));
    XGRAD_CHECK(p.is_leaf(), "{}: parameter {} of group {} is not a leaf (it has history: {}); optimize leaves",
                name(), i, group_params_.size(), p.grad_fn_name());
    for (const auto& group : group_params_)
      for (const auto& q : group)
        XGRAD_CHECK(!q.is_same(p), "{}: a parameter appears in more than one parameter group", name());
    for (std::size_t j = 0; j < i; ++j)
      XGRAD_CHECK(!params[j].is_same(p), "{}: parameter {} of group {} appears twice in the group", name(), i,
                  group_params_.size());
  }
  state_.emplace_back(params.size());
  group_params_.push_back(std::move(params));
  initial_lrs_.emplace_back();
  return group_params_.size() - 1;
}

// ---- state dict

StateDict Optimizer::state_dict() const {
  NoGradGuard no_grad;
  StateDict out;
  std::int64_t index = 0;
  for (const auto& group : state_)
    for (const auto& s : group) {
      if (s) {
        const std::string prefix = fmt::format("state.{}.", index);
        if (counts_steps())
          out.insert(prefix + "step", scalar_tensor(s->step, {.dtype = Dtype::int64}));
        for (const auto& [name, buffer] : s->buffers) out.insert(prefix + name, buffer.detach().clone());
      }
      ++index;
    }
  index = 0;
  for (std::size_t g = 0; g < group_params_.size(); ++g) {
    const std::string prefix = fmt::format("param_groups.{}.", g);
    for (const auto& [option, value] : option_values(g))
      out.insert(prefix + option, scalar_tensor(value, {.dtype = Dtype::float64}));
    if (initial_lrs_[g]) out.insert(prefix + "initial_lr", scalar_tensor(*initial_lrs_[g], {.dtype = Dtype::float64}));
    std::vector<std::int64_t> indices(group_params_[g].size());
    for (auto& i : indices) i = index++;
    out.insert(prefix + "params", tensor(indices, {static_cast<std::int64_t>(indices.size())}));
  }
  return out;
}

namespace {

// "12.rest" -> 12 and "rest"; nullopt when the key does not start with digits and a dot.
std::optional<std::pair<std::size_t, std::string>> split_index(std::string_view key) {
  const auto dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::size_t index = 0;
  const auto [end, ec] = std::from_chars(key.data(), key.data() + dot, index);
  if (ec != std::errc() || end != key.data() + dot) return std::nullopt;
  return std::pair{index, std::string(key.substr(dot + 1))};
}

std::string describe(const Tensor& t) { return fmt::format("{} {}", to_string(t.shape()), dtype_name(t.dtype())); }

bool is_scalar_of(const Tensor& t, Dtype d) { return t.dim() == 0 && t.dtype() == d; }

}  // namespace

LoadReport Optimizer::load_state_dict(const StateDict& state, bool strict) {
  const std::size_t num_groups = group_params_.size();
  std::vector<std::size_t> group_of, index_in_group;  // by global parameter index
  std::vector<std::size_t> group_start;                // global index of each group's first parameter
  for (std::size_t g = 0; g < num_groups; ++g) {
    group_start.push_back(group_of.size());
    for (std::size_t i = 0; i < group_params_[g].size(); ++i) {
      group_of.push_back(g);
      index_in_group.push_back(i);
    }
  }
  const std::vector<std::string> known_buffers = buffer_names();

  LoadReport report;
  std::vector<std::string> problems;  // always fatal
  std::vector<std::string> details;   // why a key is mismatched
  std::vector<OptionValues> new_options(num_groups);
  std::vector<std::optional<double>> new_initial_lrs(num_groups);  // set by a scheduler, if any
  std::vector<bool> group_listed(num_groups, false);
  std::size_t groups_in_state = 0;
  std::map<std::size_t, ParamState> new_state;
  std::map<std::size_t, bool> has_step;

  auto mismatched = [&](const std::string& key, std::string why) {
    report.mismatched_keys.push_back(key);
    details.push_back(fmt::format("{}: {}", key, why));
  };

  for (const auto& [key, value] : state) {
    std::string_view rest = key;
    if (rest.starts_with("param_groups.")) {
      const auto split = split_index(rest.substr(13));
      if (!split) {
        report.unexpected_keys.push_back(key);
        continue;
      }
      const auto& [g, option] = *split;
      groups_in_state = std::max(groups_in_state, g + 1);
      if (g >= num_groups) continue;  // counted above, reported as a group-count problem
      if (option == "params") {
        group_listed[g] = true;
        const auto& expected = group_params_[g];
        if (value.dim() != 1 || value.dtype() != Dtype::int64 ||
            value.numel() != static_cast<std::int64_t>(expected.size())) {
          problems.push_back(fmt::format("{}: {} in the state, expected int64 [{}] (group {} has {} parameters)", key,
                                         describe(value), expected.size(), g, expected.size()));
          continue;
        }
        const auto indices = value.to_vector<std::int64_t>();
        for (std::size_t i = 0; i < indices.size(); ++i) {
          const std::size_t global = group_start[g] + i;
          if (indices[i] != static_cast<std::int64_t>(global)) {
            problems.push_back(fmt::format("{}: entry {} is parameter {}, expected {}", key, i, indices[i], global));
            break;
          }
        }
        continue;
      }
      if (option == "initial_lr") {
        if (!is_scalar_of(value, Dtype::float64) || !(value.item() >= 0))
          mismatched(key, fmt::format("{} in the state, expected a 0-d float64 >= 0", describe(value)));
        else
          new_initial_lrs[g] = value.item();
        continue;
      }
      const auto current = option_values(g);
      if (!current.contains(option)) {
        report.unexpected_keys.push_back(key);
      } else if (!is_scalar_of(value, Dtype::float64)) {
        mismatched(key, fmt::format("{} in the state, expected a 0-d float64", describe(value)));
      } else {
        new_options[g][option] = value.item();
      }
    } else if (rest.starts_with("state.")) {
      const auto split = split_index(rest.substr(6));
      if (!split || split->first >= group_of.size()) {
        report.unexpected_keys.push_back(key);
        continue;
      }
      const auto& [index, buffer] = *split;
      const Tensor& p = group_params_[group_of[index]][index_in_group[index]];
      if (buffer == "step" && counts_steps()) {
        if (!is_scalar_of(value, Dtype::int64) || value.item<std::int64_t>() < 0) {
          mismatched(key, fmt::format("{} in the state, expected a non-negative 0-d int64", describe(value)));
        } else {
          new_state[index].step = static_cast<double>(value.item<std::int64_t>());
          has_step[index] = true;
        }
      } else if (std::find(known_buffers.begin(), known_buffers.end(), buffer) == known_buffers.end()) {
        report.unexpected_keys.push_back(key);
      } else if (value.shape() != p.shape() || value.dtype() != p.dtype()) {
        mismatched(key, fmt::format("{} in the state, the parameter is {}", describe(value), describe(p)));
      } else {
        new_state[index].buffers.emplace_back(buffer, value);
      }
    } else {
      report.unexpected_keys.push_back(key);
    }
  }

  if (groups_in_state != num_groups)
    problems.push_back(fmt::format("the state has {} parameter groups, this {} has {}", groups_in_state, name(),
                                   num_groups));
  for (std::size_t g = 0; g < num_groups; ++g) {
    if (g < groups_in_state && !group_listed[g])
      problems.push_back(fmt::format("param_groups.{}.params is missing (the group's parameter indices)", g));
    for (const auto& [option, value] : option_values(g))
      if (!new_options[g].contains(option)) report.missing_keys.push_back(fmt::format("param_groups.{}.{}", g, option));
    for (const auto& p : option_problems(g, new_options[g]))
      problems.push_back(fmt::format("param_groups.{}: {}", g, p));
  }
  if (counts_steps())
    for (const auto& [index, s] : new_state)
      if (!has_step[index]) report.missing_keys.push_back(fmt::format("state.{}.step", index));

  const bool refuse = !problems.empty() || (strict && !report.complete());
  if (refuse) {
    std::string message = fmt::format("{}.load_state_dict: the state does not fit; nothing was loaded:", name());
    for (const auto& p : problems) message += "\n  " + p;
    for (const auto& k : report.missing_keys) message += "\n  missing: " + k;
    for (const auto& k : report.unexpected_keys) message += "\n  unexpected: " + k;
    for (const auto& d : details) message += "\n  mismatched: " + d;
    throw Error(message);
  }

  NoGradGuard no_grad;
  for (std::size_t g = 0; g < num_groups; ++g) {
    apply_option_values(g, new_options[g]);
    if (new_initial_lrs[g]) initial_lrs_[g] = new_initial_lrs[g];
  }
  for (auto& group : state_)
    for (auto& s : group) s.reset();
  for (auto& [index, s] : new_state) {
    for (auto& [buffer_name, buffer] : s.buffers) buffer = buffer.detach().clone();  // own copies
    state_[group_of[index]][index_in_group[index]] = std::move(s);
  }
  return report;
}

// ---- OptimizerWithOptions helpers

namespace detail {

void raise_option_problems(const std::string& optimizer, const std::vector<std::string>& problems) {
  std::string message = fmt::format("{}: invalid options:", optimizer);
  for (const auto& p : problems) message += (problems.size() == 1 ? " " : "\n  ") + p;
  throw Error(message);
}

std::string bool_option_problem(const char* field, double value) {
  return fmt::format("{} = {}: a flag must be 0 or 1", field, value);
}

}  // namespace detail

}  // namespace xgrad::optim
