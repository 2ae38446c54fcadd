#include "xgrad/state_dict.h"

#include "xgrad/error.h"

namespace xgrad {

void StateDict::insert(std::string name, Tensor value) {
  XGRAD_CHECK(!name.empty(), "StateDict::insert: empty name");
  XGRAD_CHECK(!index_.contains(name), "StateDict::insert: '{}' is already present", name);
  index_.emplace(name, entries_.size());
  entries_.push_back({std::move(name), std::move(value)});
}

void StateDict::insert_or_assign(std::string name, Tensor value) {
  if (auto it = index_.find(name); it != index_.end()) {
    entries_[it->second].value = std::move(value);
    return;
  }
  insert(std::move(name), std::move(value));
}

bool StateDict::contains(std::string_view name) const { return find(name) != nullptr; }

const Tensor* StateDict::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &entries_[it->second].value;
}

const Tensor& StateDict::at(std::string_view name) const {
  const Tensor* t = find(name);
  XGRAD_CHECK(t != nullptr, "StateDict: no entry named '{}' ({} entries)", name, entries_.size());
  return *t;
}

bool StateDict::erase(std::string_view name) {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].name, i);
  return true;
}

void StateDict::insert_prefixed(std::string_view prefix, const StateDict& other) {
  for (const auto& e : other) insert(std::string(prefix) + e.name, e.value);
}

StateDict StateDict::with_prefix(std::string_view prefix) const {
  StateDict out;
  for (const auto& e : entries_)
    if (e.name.size() > prefix.size() && e.name.starts_with(prefix)) out.insert(e.name.substr(prefix.size()), e.value);
  return out;
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

}  // namespace xgrad
