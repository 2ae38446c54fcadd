#pragma once
// nn::Module: the base of every layer, container and user model. A module owns its parameters and
// buffers (each in a slot of its own, so a reference returned by register_parameter stays valid
// when the module is moved or converted with to()) and holds its children through
// std::shared_ptr<Module>, so one child can sit in two models and a Handle can outlive its parent.
// Names, order and printing follow PyTorch's torch.nn.Module. See nn/README.md.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "xgrad/state_dict.h"
#include "xgrad/tensor.h"

namespace xgrad::nn {

class Module;

// A shared handle on a module of type M: `->` reaches its members, a call runs the module
// (hooks included), and it converts to std::shared_ptr<M> / std::shared_ptr<Module>.
template <class M>
class Handle {
 public:
  Handle() = default;
  Handle(std::shared_ptr<M> module) : module_(std::move(module)) {}  // NOLINT: implicit on purpose
  template <class N>
    requires std::is_convertible_v<N*, M*>
  Handle(const Handle<N>& other) : module_(other.ptr()) {}  // NOLINT

  M* operator->() const { return module_.get(); }
  M& operator*() const { return *module_; }
  M* get() const { return module_.get(); }
  const std::shared_ptr<M>& ptr() const { return module_; }
  operator std::shared_ptr<M>() const { return module_; }  // NOLINT
  explicit operator bool() const { return module_ != nullptr; }

  template <class... Args>
  decltype(auto) operator()(Args&&... args) const {
    return (*module_)(std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<M> module_;
};

// Removes the hook it was returned for; removing twice, or after the module died, does nothing.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<void> owner, std::function<void()> remover)
      : owner_(std::move(owner)), remover_(std::move(remover)) {}
  void remove();

 private:
  std::weak_ptr<void> owner_;
  std::function<void()> remover_;
};

// A child given to a container by name: {"conv", nn::Conv1d(1, 15, 3)}.
struct NamedModule {
  template <class M>
    requires std::is_base_of_v<Module, std::remove_cvref_t<M>> && (!std::is_lvalue_reference_v<M>)
  NamedModule(std::string n, M&& m)  // NOLINT: implicit, for brace lists
      : name(std::move(n)), module(std::make_shared<std::remove_cvref_t<M>>(std::move(m))) {}
  template <class M>
  NamedModule(std::string n, std::shared_ptr<M> m) : name(std::move(n)), module(std::move(m)) {}  // NOLINT
  template <class M>
  NamedModule(std::string n, const Handle<M>& m) : name(std::move(n)), module(m.ptr()) {}  // NOLINT

  std::string name;
  std::shared_ptr<Module> module;
};

namespace detail {
// Makes a shared module out of a module value (moved), a shared_ptr or a Handle.
template <class M>
  requires std::is_base_of_v<Module, std::remove_cvref_t<M>> && (!std::is_lvalue_reference_v<M>)
std::shared_ptr<std::remove_cvref_t<M>> share(M&& m) {
  return std::make_shared<std::remove_cvref_t<M>>(std::move(m));
}
// A named module variable cannot be shared by value: say so instead of listing overloads.
template <class M>
  requires std::is_base_of_v<Module, std::remove_cvref_t<M>> && std::is_lvalue_reference_v<M>
std::shared_ptr<std::remove_cvref_t<M>> share(M&&) {
  static_assert(!sizeof(std::remove_reference_t<M>*),
                "nn: a module value is moved into its parent: pass std::move(module), a std::shared_ptr or a Handle");
  return nullptr;
}
template <class M>
std::shared_ptr<M> share(std::shared_ptr<M> m) {
  return m;
}
template <class M>
std::shared_ptr<M> share(const Handle<M>& m) {
  return m.ptr();
}
}  // namespace detail

class Module {
 public:
  using ForwardPreHook = std::function<void(Module&, const Tensor& input)>;
  using ForwardHook = std::function<void(Module&, const Tensor& input, const Tensor& output)>;

  Module();
  virtual ~Module();
  // Copying would silently share or duplicate parameters: move a module, or share it by pointer.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) noexcept;
  Module& operator=(Module&&) = delete;

  // Runs the forward pre-hooks, forward(), then the forward hooks.
  Tensor operator()(const Tensor& input);
  // Two-input modules (losses): forward(input, target), with the same hooks (given the input).
  Tensor operator()(const Tensor& input, const Tensor& target);
  virtual Tensor forward(const Tensor& input);                        // raises unless overridden
  virtual Tensor forward(const Tensor& input, const Tensor& target);  // raises unless overridden

  HookHandle register_forward_pre_hook(ForwardPreHook hook);
  HookHandle register_forward_hook(ForwardHook hook);

  // Registration. Names are non-empty, have no '.', and are unique among this module's
  // parameters, buffers and children. The returned reference names the slot: it stays valid for
  // the module's life (to() and load_state_dict() update the slot, never move it).
  // An undefined tensor registers an absent entry (PyTorch's None: Linear's bias=False), which
  // parameters() and state_dict() skip.
  Tensor& register_parameter(std::string name, Tensor value, bool requires_grad = true);
  Tensor& register_buffer(std::string name, Tensor value, bool persistent = true);
  template <class M>
  auto register_module(std::string name, M&& module) {
    auto shared = detail::share(std::forward<M>(module));
    add_child(std::move(name), shared);
    using Type = typename decltype(shared)::element_type;
    return Handle<Type>(std::move(shared));
  }

  // Parameters and buffers: own entries in registration order, then each child's (prefixed
  // "<child>."); an entry reachable twice (shared module or tensor) is listed once.
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // This module first (name ""), then its descendants depth-first, each module once.
  std::vector<Module*> modules();
  std::vector<std::pair<std::string, Module*>> named_modules();

  // Training mode, for this module and every descendant.
  Module& train(bool on = true);
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }

  // set_to_none drops the gradients (PyTorch 2's default); false zeroes them in place.
  void zero_grad(bool set_to_none = true);

  // Converts every floating parameter and buffer (and gradient) to `dtype`. The slots get new
  // tensors: build optimizers after calling it, as in PyTorch, or they keep the old ones.
  Module& to(Dtype dtype);

  // Parameters and persistent buffers under hierarchical names ("0.weight", "fc1.bias").
  StateDict state_dict() const;
  // Validates everything first (missing, unexpected, shape or dtype mismatch) and with strict
  // raises one xgrad::Error listing every problem, changing nothing. Otherwise copies the values
  // into the existing tensors (no graph; parameters keep their identity, so optimizers stay
  // valid); strict = false loads the matching subset and reports the rest.
  LoadReport load_state_dict(const StateDict& state, bool strict = true);

  // Printing, PyTorch's repr: "Type(extra_repr)" or a tree of "(name): child" lines.
  virtual std::string type_name() const;  // the class name without namespaces, "Conv1d"
  virtual std::string extra_repr() const { return ""; }
  virtual std::string repr() const;

  // A registered parameter or buffer by its own name (not hierarchical); raises if absent.
  const Tensor& parameter(std::string_view name) const;
  const Tensor& buffer(std::string_view name) const;

 protected:
  void add_child(std::string name, std::shared_ptr<Module> child);
  // The child entries, for containers.
  struct Child {
    std::string name;
    std::shared_ptr<Module> module;
  };
  const std::vector<Child>& child_entries() const { return children_; }
  std::vector<Child>& child_entries() { return children_; }
  void check_name(const std::string& name, const char* what) const;

 private:
  struct Slot {
    std::string name;
    Tensor value;
    bool persistent = true;  // buffers only
  };
  struct Hooks;

  void collect(bool params, bool recurse, std::vector<std::pair<std::string, Tensor>>& out) const;
  void save_into(StateDict& out, const std::string& prefix) const;
  void expected_entries(std::vector<std::pair<std::string, Tensor*>>& out, const std::string& prefix);

  std::vector<std::unique_ptr<Slot>> params_;
  std::vector<std::unique_ptr<Slot>> buffers_;
  std::vector<Child> children_;
  std::shared_ptr<Hooks> hooks_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);
template <class M>
std::ostream& operator<<(std::ostream& os, const Handle<M>& m) {
  return os << *m;
}

namespace detail {
// Python's repr of a float (1.0, 0.01, 1e-05) and of a bool (True/False), for extra_repr.
std::string py_float(double v);
inline const char* py_bool(bool b) { return b ? "True" : "False"; }
// "(3,)" for one number, "(3, 5)" for two: PyTorch's tuples.
std::string py_tuple(const std::vector<std::int64_t>& v);
// Python's _addindent: every line after the first indented by `spaces`.
std::string add_indent(const std::string& s, int spaces);
}  // namespace detail

}  // namespace xgrad::nn

template <class M>
  requires std::is_base_of_v<xgrad::nn::Module, M>
struct fmt::formatter<M> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const M& m, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(m.repr(), ctx);
  }
};

template <class M>
struct fmt::formatter<xgrad::nn::Handle<M>> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const xgrad::nn::Handle<M>& m, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(m->repr(), ctx);
  }
};
