#pragma once
// Private: the Node mutators only the recorder (node.cpp) and the engine (engine.cpp) use. They
// stay out of the public node.h so that a user walking the graph cannot rewire or free it.
#include <mutex>

#include "xgrad/node.h"

namespace xgrad {

struct NodeInternals {
  static InlineList<Edge, 3>& edges(Node& n) { return n.next_; }
  static void reserve_saved(Node& n, std::size_t count) { n.saved_.reserve(count); }
  static void save(Node& n, const Tensor& t, bool is_output) { n.saved_.emplace_back(t, is_output); }
  static void release_saved(Node& n) {
    if (n.saved_.empty()) return;
    n.saved_.clear();
    n.released_ = true;
  }
  static std::mutex& mutex(Node& n) { return n.mutex_; }
  static Tensor run_pre_hooks(Node& n, Tensor grad) { return n.run_pre_hooks(std::move(grad)); }
  static bool has_post_hooks(const Node& n) { return !n.post_hooks_.empty(); }
  static TensorList run_post_hooks(Node& n, TensorList grad_inputs, const Tensor& grad_output) {
    return n.run_post_hooks(std::move(grad_inputs), grad_output);
  }
};

// Handles for every hook (tensor or node, pre or post) come from this one counter.
std::size_t next_hook_handle();

}  // namespace xgrad
