#pragma once
// StateDict: named tensors in insertion order. What a module (parameters and buffers), an
// optimizer (per-parameter state, group options) or a scheduler saves and loads; checkpoints
// (<xgrad/checkpoint.h>) write one as a NumPy .npz. Scalars (step counts, learning rates) are
// 0-d tensors, so one format holds everything.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xgrad/tensor.h"

namespace xgrad {

struct StateEntry {
  std::string name;
  Tensor value;
};

class StateDict {
 public:
  StateDict() = default;

  // Appends; raises on an empty name or a name already present.
  void insert(std::string name, Tensor value);
  // Replaces the value of an existing name, or appends a new one.
  void insert_or_assign(std::string name, Tensor value);
  bool contains(std::string_view name) const;
  const Tensor* find(std::string_view name) const;  // nullptr when absent
  const Tensor& at(std::string_view name) const;    // raises naming the missing key
  bool erase(std::string_view name);

  // Every entry of `other` under "prefix" + name (prefix usually ends with '.').
  void insert_prefixed(std::string_view prefix, const StateDict& other);
  // The entries whose names start with prefix, with the prefix removed.
  StateDict with_prefix(std::string_view prefix) const;

  std::vector<std::string> keys() const;
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<StateEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

// What load_state_dict(..., strict = false) left out. With strict = true any of these raises
// instead (listing all of them) and nothing is loaded.
struct LoadReport {
  std::vector<std::string> missing_keys;     // expected by the object, absent from the state
  std::vector<std::string> unexpected_keys;  // in the state, unknown to the object
  std::vector<std::string> mismatched_keys;  // present in both with another shape or dtype
  bool complete() const { return missing_keys.empty() && unexpected_keys.empty() && mismatched_keys.empty(); }
};

}  // namespace xgrad
