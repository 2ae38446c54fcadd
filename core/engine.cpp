// The reverse-mode engine: counts dependencies from the roots with an explicit stack, sums
// fan-in into one gradient buffer per node, and runs a node once all its consumers have run,
// newest node first (deterministic). No recursion anywhere.
#include <atomic>
#include <queue>
#include <unordered_map>

#include "tensor_impl.h"
#include "xgrad/autograd.h"
#include "xgrad/grad_mode.h"
#include "xgrad/ops.h"

namespace xgrad {

namespace {

std::atomic<std::uint64_t> next_epoch{1};

struct NewestFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

void add_to_buffer(Tensor& buffer, const Tensor& g) { buffer = buffer.defined() ? add(buffer, g) : g; }

// Holds every node visited in this pass so their buffers are cleared however the pass ends.
struct Pass {
  std::uint64_t epoch = next_epoch.fetch_add(1);
  std::vector<Node*> visited;
  ~Pass() {
    for (Node* n : visited) n->engine_slot.buffer = Tensor();
  }
  void visit(Node* n) {
    if (n->engine_slot.epoch == epoch) return;
    n->engine_slot.epoch = epoch;
    n->engine_slot.dependencies = 0;
    n->engine_slot.buffer = Tensor();
    visited.push_back(n);
  }
  bool seen(const Node* n) const { return n->engine_slot.epoch == epoch; }
};

Tensor checked_input_grad(Node& node, std::size_t i, Tensor g) {
  const Edge& e = node.next_edges()[i];
  XGRAD_CHECK(g.shape() == e.shape,
              "backward of '{}': the gradient for input {} has shape {} but the input has shape {} "
              "(a VJP bug)",
              node.name(), i, to_string(g.shape()), to_string(e.shape));
  if (g.dtype() != e.dtype) g = to_dtype(g, e.dtype);
  return g;
}

// Runs the pass. With `capture` (xgrad::grad) the gradients reaching the captured nodes are
// returned instead of being accumulated into leaves' .grad.
void run_backward(const TensorList& roots, const TensorList& root_grads, bool keep_graph, bool create_graph,
                  const std::unordered_map<Node*, std::vector<std::size_t>>* capture, TensorList* captured) {
  XGRAD_CHECK(root_grads.empty() || root_grads.size() == roots.size(),
              "backward: {} gradients given for {} outputs", root_grads.size(), roots.size());
  Pass pass;
  std::vector<std::pair<Node*, Tensor>> seeds;
  // A leaf root's AccumulateGrad may be created just now and is held only weakly by the leaf.
  std::vector<std::shared_ptr<Node>> seed_owners;
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    XGRAD_CHECK(root.defined(), "backward: output {} is undefined", i);
    XGRAD_CHECK(root.requires_grad(),
                "backward: output {} does not require grad and has no grad_fn (was it computed under "
                "NoGradGuard, or from tensors without requires_grad?)",
                i);
    Tensor g = i < root_grads.size() ? root_grads[i] : Tensor();
    if (!g.defined()) {
      XGRAD_CHECK(root.numel() == 1,
                  "backward: a gradient can be created implicitly only for scalar outputs; output {} has "
                  "shape {}, so pass a gradient of that shape",
                  i, to_string(root.shape()));
      g = ones_like(root);
    } else {
      XGRAD_CHECK(g.shape() == root.shape(), "backward: gradient of shape {} given for output {} of shape {}",
                  to_string(g.shape()), i, to_string(root.shape()));
      if (g.dtype() != root.dtype()) g = to_dtype(g, root.dtype());
    }
    seed_owners.push_back(gradient_edge(root));
    seeds.emplace_back(seed_owners.back().get(), std::move(g));
  }

  // Count, for each reachable node, how many edges lead into it.
  std::vector<Node*> stack;
  for (auto& [node, g] : seeds) {
    if (!pass.seen(node)) {
      pass.visit(node);
      stack.push_back(node);
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges()) {
      Node* next = e.fn.get();
      if (!next) continue;
      if (!pass.seen(next)) {
        pass.visit(next);
        stack.push_back(next);
      }
      ++next->engine_slot.dependencies;
    }
  }

  AutoGradMode mode(create_graph);
  for (auto& [node, g] : seeds) add_to_buffer(node->engine_slot.buffer, g);

  std::priority_queue<Node*, std::vector<Node*>, NewestFirst> ready;
  for (auto& [node, g] : seeds)
    if (node->engine_slot.dependencies == 0) {
      node->engine_slot.dependencies = -1;  // queued once even if it seeds twice
      ready.push(node);
    }

  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    Tensor grad = std::move(n->engine_slot.buffer);
    TensorList input_grads;
    if (grad.defined()) {
      grad = n->run_hooks(std::move(grad));
      if (capture) {
        auto it = capture->find(n);
        if (it != capture->end())
          for (std::size_t slot : it->second) (*captured)[slot] = create_graph ? grad : grad.detach();
      }
      if (!(capture && n->accumulates_leaf())) {
        input_grads = n->apply(grad);
        XGRAD_CHECK(input_grads.empty() || input_grads.size() == n->next_edges().size(),
                    "backward of '{}': the VJP returned {} gradients for {} inputs", n->name(), input_grads.size(),
                    n->next_edges().size());
        if (!keep_graph) n->release_saved();
      }
    }
    const auto& edges = n->next_edges();
    for (std::size_t i = 0; i < edges.size(); ++i) {
      Node* next = edges[i].fn.get();
      if (!next) continue;
      if (i < input_grads.size() && input_grads[i].defined())
        add_to_buffer(next->engine_slot.buffer, checked_input_grad(*n, i, std::move(input_grads[i])));
      if (--next->engine_slot.dependencies == 0) ready.push(next);
    }
  }
}

}  // namespace

void backward(const TensorList& outputs, const TensorList& grad_outputs, const GradOptions& opts) {
  run_backward(outputs, grad_outputs, opts.retain_graph.value_or(opts.create_graph), opts.create_graph, nullptr,
               nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                const GradOptions& opts) {
  std::unordered_map<Node*, std::vector<std::size_t>> capture;
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    XGRAD_CHECK(inputs[i].defined() && inputs[i].requires_grad(),
                "grad: input {} does not require grad, so no gradient can be computed for it", i);
    auto node = gradient_edge(inputs[i]);
    capture[node.get()].push_back(i);
    keep_alive.push_back(std::move(node));
  }
  TensorList result(inputs.size());
  run_backward(outputs, grad_outputs, opts.retain_graph.value_or(opts.create_graph), opts.create_graph, &capture,
               &result);
  for (std::size_t i = 0; i < result.size(); ++i)
    XGRAD_CHECK(result[i].defined() || opts.allow_unused,
                "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused = true to get "
                "an undefined gradient for it",
                i, to_string(inputs[i].shape()));
  return result;
}

}  // namespace xgrad
