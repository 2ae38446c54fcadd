#pragma once
// Node: one recorded op in the graph. It holds an edge per input (to the node that produced
// that input, or to the leaf's gradient accumulator), the tensors its VJP needs, and the VJP.
// Every node has exactly one output; multi-output ops (split, chunk) are made of single-output ones.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "xgrad/inline_list.h"
#include "xgrad/tensor.h"

namespace xgrad {

using TensorList = std::vector<Tensor>;

struct Edge {
  std::shared_ptr<Node> fn;  // null when that input does not require grad
  Shape shape;               // the input's shape and dtype: the gradient must match them
  Dtype dtype = Dtype::float32;
};

// A tensor saved for backward. Saving an op's own output stores the data without its grad_fn
// (that would be a reference cycle) and reattaches the owning node when unpacked. It remembers
// the buffer's version: unpacking after an in-place write (mutable_data) raises.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(Node& owner) const;
  void reset() { data_ = Tensor(); }

 private:
  Tensor data_;
  bool is_output_ = false;
  std::uint32_t version_ = 0;
};

// A post-hook: called after a node's VJP with the gradients it produced for its inputs and the
// gradient it received; may return replacements (an empty list keeps them).
using PostHook = std::function<TensorList(const TensorList& grad_inputs, const Tensor& grad_output)>;

class Node : public std::enable_shared_from_this<Node> {
 public:
  explicit Node(const char* name);
  Node(const char* name, std::uint64_t sequence_nr);
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The VJP: given dL/d(output), returns dL/d(input) for every input (undefined where the
  // input needs no gradient). Runs with grad mode on only under create_graph.
  virtual TensorList apply(const Tensor& grad_output) = 0;

  const char* name() const { return name_; }
  std::uint64_t sequence_nr() const { return seq_; }
  std::span<const Edge> next_edges() const { return next_.span(); }
  bool needs_input_grad(std::size_t i) const { return i < next_.size() && next_[i].fn != nullptr; }

  // Saved tensors, in the order they were saved. Raises once the graph has been freed.
  Tensor saved(std::size_t i);
  std::size_t num_saved() const { return saved_.size(); }
  bool saved_released() const { return released_; }

  // Hooks. Every handle comes from one counter shared with Tensor::register_hook, so handles never
  // collide; remove_hook removes a pre- or post-hook by handle. Pre-hooks see (and may replace) the
  // gradient arriving at this node before its VJP runs, the hooks of the output tensor included;
  // post-hooks see what the VJP produced. Register hooks before a backward pass starts, not while
  // another thread runs one through this node.
  std::size_t register_hook(GradHook hook);
  std::size_t register_post_hook(PostHook hook);
  void remove_hook(std::size_t handle);
  void set_retains_grad(const std::shared_ptr<TensorImpl>& out);
  bool retains_grad() const { return !retain_target_.expired(); }
  // True only for the node that accumulates into a leaf's .grad (grad() skips running it).
  virtual bool accumulates_leaf() const { return false; }

 protected:
  // Runs the pre-hooks on a gradient about to flow through this node, then feeds retain_grad.
  virtual Tensor run_pre_hooks(Tensor grad);
  TensorList run_post_hooks(TensorList grad_inputs, const Tensor& grad_output);

 private:
  friend struct NodeInternals;  // the recorder and the engine (core/node_internals.h)

  InlineList<Edge, 3> next_;
  const char* name_;
  std::uint64_t seq_;
  InlineList<SavedTensor, 4> saved_;
  bool released_ = false;
  std::vector<std::pair<std::size_t, GradHook>> hooks_;
  std::vector<std::pair<std::size_t, PostHook>> post_hooks_;
  std::weak_ptr<TensorImpl> retain_target_;
  // Serialises apply + release of saved tensors (two passes through one node on two threads) and
  // the retain_grad accumulation.
  std::mutex mutex_;
};

// Runs a VJP written as a lambda: TensorList(Node&, const Tensor& grad_output).
// The lambda must capture plain values only; tensors it needs go through Node::save.
template <class F>
class LambdaNode final : public Node {
 public:
  LambdaNode(const char* name, F vjp) : Node(name), vjp_(std::move(vjp)) {}
  TensorList apply(const Tensor& grad_output) override { return vjp_(*this, grad_output); }

 private:
  F vjp_;
};

// True when an op with these inputs must record a node (grad mode on, some input requires grad).
bool should_record(std::initializer_list<Tensor> inputs);
bool should_record(const TensorList& inputs);

// Connects `node` into the graph: an edge per input, `saved` tensors saved (the output itself
// is recognised and saved without a cycle), and `output` gets the node as its grad_fn.
Node* attach_node(std::shared_ptr<Node> node, Tensor& output, std::initializer_list<Tensor> inputs,
                  std::initializer_list<Tensor> saved);
Node* attach_node_list(std::shared_ptr<Node> node, Tensor& output, const TensorList& inputs,
                       const TensorList& saved);

// An op declared once: the name its nodes carry (and its registry entry), how many tensor inputs
// each of its nodes has (kVariadic for a list, as cat), and its local gradient in words, as the
// registry and graph dumps show it. Every op of ops/ records through one of these.
struct OpDecl {
  static constexpr int kVariadic = -1;
  const char* name;
  int arity;
  const char* formula;
};

// Raises when a node of `op` would get another input count than declared (an internal error).
void check_declared_arity(const OpDecl& op, std::size_t inputs);

// The op-definition pattern's one call: records `output` = op(inputs) with the given VJP when
// recording is on; returns the node or nullptr.
//   constexpr OpDecl kTanh{"tanh", 1, "dx = dy * (1 - y^2)"};
//   record(y, kTanh, {x}, {y}, [](Node& n, const Tensor& gy) -> TensorList {
//     Tensor y = n.saved(0);
//     return {gy * (1 - y * y)};
//   });
// The overloads taking a plain name serve ops declared nowhere else (a user's one-off op).
template <class F>
Node* record(Tensor& output, const char* name, std::initializer_list<Tensor> inputs,
             std::initializer_list<Tensor> saved, F&& vjp) {
  if (!should_record(inputs)) return nullptr;
  return attach_node(std::make_shared<LambdaNode<std::decay_t<F>>>(name, std::forward<F>(vjp)),
                     output, inputs, saved);
}
template <class F>
Node* record_list(Tensor& output, const char* name, const TensorList& inputs, const TensorList& saved,
                  F&& vjp) {
  if (!should_record(inputs)) return nullptr;
  return attach_node_list(std::make_shared<LambdaNode<std::decay_t<F>>>(name, std::forward<F>(vjp)),
                          output, inputs, saved);
}

template <class F>
Node* record(Tensor& output, const OpDecl& op, std::initializer_list<Tensor> inputs,
             std::initializer_list<Tensor> saved, F&& vjp) {
  if (!should_record(inputs)) return nullptr;
  check_declared_arity(op, inputs.size());
  return attach_node(std::make_shared<LambdaNode<std::decay_t<F>>>(op.name, std::forward<F>(vjp)),
                     output, inputs, saved);
}
template <class F>
Node* record_list(Tensor& output, const OpDecl& op, const TensorList& inputs, const TensorList& saved,
                  F&& vjp) {
  if (!should_record(inputs)) return nullptr;
  check_declared_arity(op, inputs.size());
  return attach_node_list(std::make_shared<LambdaNode<std::decay_t<F>>>(op.name, std::forward<F>(vjp)),
                          output, inputs, saved);
}

}  // namespace xgrad
