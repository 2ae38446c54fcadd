#include "xgrad/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>

#include <fmt/ranges.h>

#include "xgrad/error.h"
#include "xgrad/grad_mode.h"

namespace xgrad::nn {

struct Module::Hooks {
  std::uint64_t next_id = 0;
  std::vector<std::pair<std::uint64_t, ForwardPreHook>> pre;
  std::vector<std::pair<std::uint64_t, ForwardHook>> post;
};

void HookHandle::remove() {
  if (owner_.lock() && remover_) remover_();
  remover_ = nullptr;
}

Module::Module() : hooks_(std::make_shared<Hooks>()) {}
Module::~Module() = default;
Module::Module(Module&&) noexcept = default;

// ---- calling

Tensor Module::operator()(const Tensor& input) {
  if (!hooks_ || (hooks_->pre.empty() && hooks_->post.empty())) return forward(input);
  const auto pre = hooks_->pre;  // copies: a hook may remove itself
  for (const auto& [id, hook] : pre) hook(*this, input);
  Tensor output = forward(input);
  const auto post = hooks_->post;
  for (const auto& [id, hook] : post) hook(*this, input, output);
  return output;
}

Tensor Module::operator()(const Tensor& input, const Tensor& target) {
  if (!hooks_ || (hooks_->pre.empty() && hooks_->post.empty())) return forward(input, target);
  const auto pre = hooks_->pre;
  for (const auto& [id, hook] : pre) hook(*this, input);
  Tensor output = forward(input, target);
  const auto post = hooks_->post;
  for (const auto& [id, hook] : post) hook(*this, input, output);
  return output;
}

Tensor Module::forward(const Tensor&) {
  XGRAD_CHECK(false, "{}: cannot be called with one input (it defines no forward(input){})", type_name(),
              "; a loss takes (input, target)");
  return {};
}

Tensor Module::forward(const Tensor&, const Tensor&) {
  XGRAD_CHECK(false, "{}: cannot be called with two inputs (it defines no forward(input, target); call it with one)",
              type_name());
  return {};
}

HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  XGRAD_CHECK(hook != nullptr, "{}::register_forward_pre_hook: empty hook", type_name());
  if (!hooks_) hooks_ = std::make_shared<Hooks>();  // a moved-from module
  const std::uint64_t id = hooks_->next_id++;
  hooks_->pre.emplace_back(id, std::move(hook));
  std::weak_ptr<Hooks> weak = hooks_;
  return HookHandle(hooks_, [weak, id] {
    if (auto h = weak.lock()) std::erase_if(h->pre, [id](const auto& e) { return e.first == id; });
  });
}

HookHandle Module::register_forward_hook(ForwardHook hook) {
  XGRAD_CHECK(hook != nullptr, "{}::register_forward_hook: empty hook", type_name());
  if (!hooks_) hooks_ = std::make_shared<Hooks>();
  const std::uint64_t id = hooks_->next_id++;
  hooks_->post.emplace_back(id, std::move(hook));
  std::weak_ptr<Hooks> weak = hooks_;
  return HookHandle(hooks_, [weak, id] {
    if (auto h = weak.lock()) std::erase_if(h->post, [id](const auto& e) { return e.first == id; });
  });
}

// ---- registration

void Module::check_name(const std::string& name, const char* what) const {
  XGRAD_CHECK(!name.empty(), "{}::register_{}: the name must not be empty", type_name(), what);
  XGRAD_CHECK(name.find('.') == std::string::npos, "{}::register_{}: name '{}' must not contain '.'", type_name(),
              what, name);
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e->name == name; });
  };
  XGRAD_CHECK(!taken(params_), "{}::register_{}: '{}' is already a parameter", type_name(), what, name);
  XGRAD_CHECK(!taken(buffers_), "{}::register_{}: '{}' is already a buffer", type_name(), what, name);
  const bool child = std::any_of(children_.begin(), children_.end(), [&](const Child& c) { return c.name == name; });
  XGRAD_CHECK(!child, "{}::register_{}: '{}' is already a submodule", type_name(), what, name);
}

Tensor& Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  check_name(name, "parameter");
  if (value.defined()) {
    XGRAD_CHECK(is_floating(value.dtype()) || !requires_grad,
                "{}::register_parameter: '{}' is {}; a parameter that requires grad must be float32 or float64",
                type_name(), name, dtype_name(value.dtype()));
    XGRAD_CHECK(value.is_leaf(), "{}::register_parameter: '{}' has history ({}); register a leaf (detach() it)",
                type_name(), name, value.grad_fn_name());
    value.requires_grad_(requires_grad);
  }
  params_.push_back(std::make_unique<Slot>(Slot{std::move(name), std::move(value), true}));
  return params_.back()->value;
}

Tensor& Module::register_buffer(std::string name, Tensor value, bool persistent) {
  check_name(name, "buffer");
  buffers_.push_back(std::make_unique<Slot>(Slot{std::move(name), std::move(value), persistent}));
  return buffers_.back()->value;
}

void Module::add_child(std::string name, std::shared_ptr<Module> child) {
  check_name(name, "module");
  XGRAD_CHECK(child != nullptr, "{}::register_module: '{}' is a null module", type_name(), name);
  XGRAD_CHECK(child.get() != this, "{}::register_module: '{}' is the module itself", type_name(), name);
  children_.push_back({std::move(name), std::move(child)});
}

const Tensor& Module::parameter(std::string_view name) const {
  for (const auto& s : params_)
    if (s->name == name) return s->value;
  XGRAD_CHECK(false, "{}: no parameter named '{}'", type_name(), name);
  return params_.front()->value;
}

const Tensor& Module::buffer(std::string_view name) const {
  for (const auto& s : buffers_)
    if (s->name == name) return s->value;
  XGRAD_CHECK(false, "{}: no buffer named '{}'", type_name(), name);
  return buffers_.front()->value;
}

// ---- traversal

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  std::unordered_set<const Module*> seen;
  // Depth-first, pre-order, children in registration order: an explicit stack of (name, module).
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [name, m] = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(m).second) continue;
    out.emplace_back(name, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(name.empty() ? it->name : name + "." + it->name, it->module.get());
  }
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [name, m] : named_modules()) out.push_back(m);
  return out;
}

void Module::collect(bool params, bool recurse, std::vector<std::pair<std::string, Tensor>>& out) const {
  std::unordered_set<const void*> seen;
  auto own = [&](const Module& m, const std::string& prefix) {
    for (const auto& s : params ? m.params_ : m.buffers_) {
      if (!s->value.defined() || !seen.insert(s->value.impl()).second) continue;
      out.emplace_back(prefix.empty() ? s->name : prefix + "." + s->name, s->value);
    }
  };
  if (!recurse) {
    own(*this, "");
    return;
  }
  for (auto& [name, m] : const_cast<Module*>(this)->named_modules()) own(*m, name);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect(true, recurse, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect(false, recurse, out);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::unordered_set<const Module*> seen;
  for (const auto& c : children_)
    if (seen.insert(c.module.get()).second) out.emplace_back(c.name, c.module);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& [name, m] : named_children()) out.push_back(m);
  return out;
}

// ---- modes and gradients

Module& Module::train(bool on) {
  for (Module* m : modules()) m->training_ = on;
  return *this;
}

void Module::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (Tensor& p : parameters()) {
    if (!p.grad().defined()) continue;
    if (set_to_none) {
      p.zero_grad();
    } else {
      Tensor g = p.grad();
      g.zero_();
    }
  }
}

Module& Module::to(Dtype dtype) {
  XGRAD_CHECK(is_floating(dtype), "{}::to: target dtype must be float32 or float64, got {}", type_name(),
              dtype_name(dtype));
  NoGradGuard no_grad;
  // A tensor registered in several slots (tied weights) becomes one converted tensor again.
  std::unordered_map<const void*, Tensor> converted_of;
  auto convert = [&](Tensor& t) {
    if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == dtype) return;
    auto [it, fresh] = converted_of.try_emplace(t.impl());
    if (fresh) {
      it->second = t.detach().to(dtype);
      if (t.requires_grad()) it->second.requires_grad_(true);
      if (t.grad().defined()) it->second.set_grad(t.grad().to(dtype));
    }
    t = it->second;
  };
  for (Module* m : modules()) {
    for (auto& s : m->params_) convert(s->value);
    for (auto& s : m->buffers_) convert(s->value);
  }
  return *this;
}

// ---- state

void Module::save_into(StateDict& out, const std::string& prefix) const {
  for (const auto& s : params_)
    if (s->value.defined()) out.insert(prefix + s->name, s->value.detach());
  for (const auto& s : buffers_)
    if (s->value.defined() && s->persistent) out.insert(prefix + s->name, s->value.detach());
  for (const auto& c : children_) c.module->save_into(out, prefix + c.name + ".");
}

StateDict Module::state_dict() const {
  StateDict out;
  save_into(out, "");
  return out;
}

void Module::expected_entries(std::vector<std::pair<std::string, Tensor*>>& out, const std::string& prefix) {
  for (auto& s : params_)
    if (s->value.defined()) out.emplace_back(prefix + s->name, &s->value);
  for (auto& s : buffers_)
    if (s->value.defined() && s->persistent) out.emplace_back(prefix + s->name, &s->value);
  for (auto& c : children_) c.module->expected_entries(out, prefix + c.name + ".");
}

namespace {
std::string describe(const Tensor& t) {
  return t.defined() ? fmt::format("{} {}", dtype_name(t.dtype()), to_string(t.shape())) : "an undefined tensor";
}
}  // namespace

LoadReport Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<std::pair<std::string, Tensor*>> expected;
  expected_entries(expected, "");

  LoadReport report;
  std::vector<std::string> problems;
  std::vector<std::pair<Tensor*, Tensor>> to_copy;
  std::unordered_set<std::string> expected_names;
  for (auto& [name, slot] : expected) {
    expected_names.insert(name);
    const Tensor* found = state.find(name);
    if (found == nullptr) {
      report.missing_keys.push_back(name);
      problems.push_back(fmt::format("missing key '{}': expected {}", name, describe(*slot)));
    } else if (!found->defined() || found->shape() != slot->shape() || found->dtype() != slot->dtype()) {
      report.mismatched_keys.push_back(name);
      problems.push_back(
          fmt::format("mismatched key '{}': expected {}, found {}", name, describe(*slot), describe(*found)));
    } else {
      to_copy.emplace_back(slot, *found);
    }
  }
  for (const auto& entry : state)
    if (!expected_names.contains(entry.name)) {
      report.unexpected_keys.push_back(entry.name);
      problems.push_back(fmt::format("unexpected key '{}': {}", entry.name, describe(entry.value)));
    }

  XGRAD_CHECK(!strict || problems.empty(),
              "{}::load_state_dict: {} problem{} (nothing was loaded):\n  {}", type_name(), problems.size(),
              problems.size() == 1 ? "" : "s", fmt::join(problems, "\n  "));

  NoGradGuard no_grad;
  for (auto& [slot, value] : to_copy) slot->copy_(value);
  return report;
}

// ---- printing

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = (status == 0 && demangled != nullptr) ? demangled : mangled;
  std::free(demangled);
  // Drop namespaces ("xgrad::nn::Linear", "(anonymous namespace)::Net"), not those inside <...>.
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '<') ++depth;
    if (name[i] == '>') --depth;
    if (depth == 0 && name[i] == ':' && i + 1 < name.size() && name[i + 1] == ':') start = i + 2;
  }
  return name.substr(start);
}

namespace detail {

std::string add_indent(const std::string& s, int spaces) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out.append(static_cast<std::size_t>(spaces), ' ');
  }
  return out;
}

std::string py_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_not_of("-0123456789") == std::string::npos) s += ".0";
  return s;
}

std::string py_tuple(const std::vector<std::int64_t>& v) {
  if (v.size() == 1) return fmt::format("({},)", v[0]);
  return fmt::format("({})", fmt::join(v, ", "));
}

}  // namespace detail

std::string Module::repr() const {
  std::vector<std::string> extra_lines;
  const std::string extra = extra_repr();
  if (!extra.empty()) {
    std::size_t start = 0;
    for (std::size_t nl; (nl = extra.find('\n', start)) != std::string::npos; start = nl + 1)
      extra_lines.push_back(extra.substr(start, nl - start));
    extra_lines.push_back(extra.substr(start));
  }
  std::vector<std::string> lines = extra_lines;
  for (const auto& c : children_) lines.push_back("(" + c.name + "): " + detail::add_indent(c.module->repr(), 2));
  std::string out = type_name() + "(";
  if (!lines.empty()) {
    if (extra_lines.size() == 1 && children_.empty())
      out += extra_lines[0];
    else
      out += fmt::format("\n  {}\n", fmt::join(lines, "\n  "));
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

}  // namespace xgrad::nn
