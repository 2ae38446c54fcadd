#pragma once
// Containers: Sequential (children named "0", "1", ... or by the caller, forward chains them),
// ModuleList (indexable list, no forward) and ModuleDict (named children, no forward). A child is
// given as a module value (moved in), a std::shared_ptr or a Handle (shared with its other owners).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xgrad/error.h"
#include "xgrad/nn/module.h"

namespace xgrad::nn {

namespace detail {
template <class M>
concept ModuleArg = requires(M&& m) { share(std::forward<M>(m)); };

}  // namespace detail

// The shared part of Sequential and ModuleList: an ordered list of children.
class ModuleSequence : public Module {
 public:
  std::size_t size() const { return child_entries().size(); }
  bool empty() const { return child_entries().empty(); }
  // i < 0 counts from the end; raises when out of range.
  const std::shared_ptr<Module>& operator[](std::int64_t i) const;
  // The child as type M; raises if it is another type.
  template <class M>
  std::shared_ptr<M> at(std::int64_t i) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[i]);
    XGRAD_CHECK(typed != nullptr, "{}: element {} is a {}, not the type asked for", type_name(), i,
                (*this)[i]->type_name());
    return typed;
  }

  class iterator {
   public:
    using difference_type = std::ptrdiff_t;
    using value_type = std::shared_ptr<Module>;
    iterator() = default;
    explicit iterator(std::vector<Child>::const_iterator it) : it_(it) {}
    const std::shared_ptr<Module>& operator*() const { return it_->module; }
    const std::shared_ptr<Module>* operator->() const { return &it_->module; }
    iterator& operator++() {
      ++it_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++it_;
      return old;
    }
    bool operator==(const iterator&) const = default;

   private:
    std::vector<Child>::const_iterator it_;
  };
  iterator begin() const { return iterator(child_entries().begin()); }
  iterator end() const { return iterator(child_entries().end()); }

 protected:
  ModuleSequence() = default;
  ModuleSequence(ModuleSequence&&) noexcept = default;
  void append_child(std::shared_ptr<Module> m) { add_child(std::to_string(size()), std::move(m)); }
};

class Sequential : public ModuleSequence {
 public:
  Sequential() = default;
  Sequential(Sequential&&) noexcept = default;
  // Sequential(Conv1d(1, 15, 3), ReLU(), ...): children "0", "1", ...
  // (One Sequential as the only argument is C++'s move, not nesting: nest it with push_back.)
  template <class... M>
    requires(sizeof...(M) > 0) && (detail::ModuleArg<M> && ...)
  explicit Sequential(M&&... modules) {
    (append_child(detail::share(std::forward<M>(modules))), ...);
  }
  // Sequential({{"conv", Conv1d(1, 15, 3)}, {"act", ReLU()}}): children under the given names.
  Sequential(std::initializer_list<NamedModule> named);

  template <detail::ModuleArg M>
  Sequential& push_back(M&& module) {
    append_child(detail::share(std::forward<M>(module)));
    return *this;
  }
  template <detail::ModuleArg M>
  Sequential& push_back(std::string name, M&& module) {
    add_child(std::move(name), detail::share(std::forward<M>(module)));
    return *this;
  }
  template <detail::ModuleArg M>
  Sequential& append(M&& module) {
    return push_back(std::forward<M>(module));
  }

  // Each child's output is the next one's input (through the children's call operators, so their
  // hooks run); an empty Sequential returns its input.
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }
};

class ModuleList : public ModuleSequence {
 public:
  ModuleList() = default;
  ModuleList(ModuleList&&) noexcept = default;
  template <class... M>
    requires(sizeof...(M) > 0) && (detail::ModuleArg<M> && ...)
  explicit ModuleList(M&&... modules) {
    (append_child(detail::share(std::forward<M>(modules))), ...);
  }

  template <detail::ModuleArg M>
  ModuleList& push_back(M&& module) {
    append_child(detail::share(std::forward<M>(module)));
    return *this;
  }
  template <detail::ModuleArg M>
  ModuleList& append(M&& module) {
    return push_back(std::forward<M>(module));
  }

  std::string type_name() const override { return "ModuleList"; }
  // PyTorch's ModuleList repr: runs of identical children collapse to "(0-2): 3 x Linear(...)".
  std::string repr() const override;
};

class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  ModuleDict(ModuleDict&&) noexcept = default;
  ModuleDict(std::initializer_list<NamedModule> named);

  template <detail::ModuleArg M>
  ModuleDict& insert(std::string name, M&& module) {
    add_child(std::move(name), detail::share(std::forward<M>(module)));
    return *this;
  }
  std::size_t size() const { return child_entries().size(); }
  bool contains(std::string_view name) const;
  const std::shared_ptr<Module>& operator[](std::string_view name) const;  // raises naming the key
  template <class M>
  std::shared_ptr<M> at(std::string_view name) const {
    auto typed = std::dynamic_pointer_cast<M>((*this)[name]);
    XGRAD_CHECK(typed != nullptr, "ModuleDict: '{}' is a {}, not the type asked for", name, (*this)[name]->type_name());
    return typed;
  }
  std::vector<std::string> keys() const;

  std::string type_name() const override { return "ModuleDict"; }
};

}  // namespace xgrad::nn
