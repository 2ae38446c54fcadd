// The reverse-mode engine: counts dependencies from the roots with an explicit stack, sums
// fan-in into one gradient buffer per node, and runs a node once all its consumers have run,
// newest node first (deterministic). No recursion anywhere.
//
// All per-pass state lives in a GraphTask owned by the pass, never on the nodes: a backward
// started inside a hook, or on another thread over a graph sharing nodes, has its own counts and
// buffers (PyTorch's GraphTask is the model).
#include <algorithm>
#include <queue>
#include <unordered_map>

#include "node_internals.h"
#include "primitives.h"
#include "tensor_impl.h"
#include "xgrad/autograd.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

namespace {

constexpr std::uint32_t kNoTask = UINT32_MAX;

// One node's state in one pass.
struct NodeTask {
  explicit NodeTask(Node* n) : node(n) {}
  Node* node;
  int dependencies = 0;      // consumers that have not run yet
  std::uint32_t first_edge = 0;  // its edges' targets are targets[first_edge, first_edge + edge count)
  bool needed = true;        // grad(): a requested input, or leads to one: hooks run
  bool apply = true;         // grad(): leads to a requested input: the VJP runs
  Tensor buffer;             // the sum of the gradients received so far
};

// The nodes reachable from the roots, found once; each edge's target resolved to a task index
// while counting, so running the pass needs no lookups.
class GraphTask {
 public:
  std::vector<NodeTask> tasks;
  std::vector<std::uint32_t> targets;

  // The task of `n`, created (and reported through `created`) on first sight.
  std::uint32_t task_of(Node* n, bool& created) {
    if (slots_.size() < 2 * (tasks.size() + 1)) grow();
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(n) & mask;; i = (i + 1) & mask) {
      std::uint32_t& slot = slots_[i];
      if (slot == kNoTask) {
        slot = static_cast<std::uint32_t>(tasks.size());
        tasks.emplace_back(n);
        created = true;
        return slot;
      }
      if (tasks[slot].node == n) {
        created = false;
        return slot;
      }
    }
  }
  std::uint32_t find(Node* n) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(n) & mask;; i = (i + 1) & mask) {
      const std::uint32_t slot = slots_[i];
      if (slot == kNoTask || tasks[slot].node == n) return slot;
    }
  }

 private:
  std::vector<std::uint32_t> slots_;  // open addressing, linear probing; size a power of two

  static std::size_t hash(const Node* n) {
    return static_cast<std::size_t>((reinterpret_cast<std::uintptr_t>(n) >> 4) * 0x9E3779B97F4A7C15ull >> 20);
  }
  void grow() {
    slots_.assign(std::max<std::size_t>(64, slots_.size() * 2), kNoTask);
    const std::size_t mask = slots_.size() - 1;
    for (std::uint32_t t = 0; t < tasks.size(); ++t) {
      std::size_t i = hash(tasks[t].node) & mask;
      while (slots_[i] != kNoTask) i = (i + 1) & mask;
      slots_[i] = t;
    }
  }
};

void add_to_buffer(Tensor& buffer, Tensor g) {
  if (buffer.defined())
    buffer = add_same_shape(buffer, g);
  else
    buffer = std::move(g);
}

Tensor checked_input_grad(Node& node, std::size_t i, Tensor g) {
  const Edge& e = node.next_edges()[i];
  XGRAD_CHECK(g.shape() == e.shape,
              "backward of '{}': the gradient for input {} has shape {} but the input has shape {} "
              "(a VJP bug)",
              node.name(), i, to_string(g.shape()), to_string(e.shape));
  if (g.dtype() != e.dtype) g = g.to(e.dtype);
  return g;
}

struct Seed {
  std::shared_ptr<Node> node;  // owned: a leaf root's accumulator may exist only for this pass
  Tensor grad;
};

// op: "backward" or "grad", the function the user called.
std::vector<Seed> make_seeds(const char* op, const TensorList& roots, const TensorList& root_grads) {
  XGRAD_CHECK(root_grads.empty() || root_grads.size() == roots.size(),
              "{}: {} gradients given for {} outputs", op, root_grads.size(), roots.size());
  std::vector<Seed> seeds;
  seeds.reserve(roots.size());
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    XGRAD_CHECK(root.defined(), "{}: output {} is undefined", op, i);
    XGRAD_CHECK(root.requires_grad(),
                "{}: output {} does not require grad and has no grad_fn (was it computed under "
                "NoGradGuard, or from tensors without requires_grad?)",
                op, i);
    Tensor g = i < root_grads.size() ? root_grads[i] : Tensor();
    if (!g.defined()) {
      XGRAD_CHECK(root.numel() == 1,
                  "{}: a gradient can be created implicitly only for scalar outputs; output {} has "
                  "shape {}, so pass a gradient of that shape",
                  op, i, to_string(root.shape()));
      g = ones_like(root);
    } else {
      XGRAD_CHECK(g.shape() == root.shape(), "{}: gradient of shape {} given for output {} of shape {}", op,
                  to_string(g.shape()), i, to_string(root.shape()));
      if (g.dtype() != root.dtype()) g = g.to(root.dtype());
    }
    seeds.push_back(Seed{gradient_edge(root), std::move(g)});
  }
  return seeds;
}

// Counts, for each node reachable from the seeds, how many edges lead into it.
void discover(GraphTask& task, const std::vector<Seed>& seeds) {
  std::vector<std::uint32_t> stack;
  for (const Seed& s : seeds) {
    bool created = false;
    const std::uint32_t t = task.task_of(s.node.get(), created);
    if (created) stack.push_back(t);
  }
  while (!stack.empty()) {
    const std::uint32_t t = stack.back();
    stack.pop_back();
    const auto& edges = task.tasks[t].node->next_edges();
    task.tasks[t].first_edge = static_cast<std::uint32_t>(task.targets.size());
    for (const Edge& e : edges) {
      std::uint32_t target = kNoTask;
      if (Node* next = e.fn.get()) {
        bool created = false;
        target = task.task_of(next, created);
        if (created) stack.push_back(target);
        ++task.tasks[target].dependencies;
      }
      task.targets.push_back(target);
    }
  }
}

// grad(): only nodes on a path to a requested input run (as in PyTorch), so hooks and VJPs of
// other branches do not, and a requested input's own VJP runs only if it leads to another one.
// A node's inputs are older than the node, so ascending sequence numbers visit every node after
// all its edge targets.
void mark_needed(GraphTask& task, const std::unordered_map<Node*, std::vector<std::size_t>>& capture) {
  std::vector<std::uint32_t> order(task.tasks.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  // Nodes without edges first: accumulators carry the largest sequence number.
  const auto key = [&](std::uint32_t t) {
    const Node* n = task.tasks[t].node;
    return std::pair(!n->next_edges().empty(), n->sequence_nr());
  };
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
  for (std::uint32_t t : order) {
    NodeTask& nt = task.tasks[t];
    bool leads_to_input = false;
    const std::size_t n_edges = nt.node->next_edges().size();
    for (std::size_t e = 0; e < n_edges && !leads_to_input; ++e) {
      const std::uint32_t target = task.targets[nt.first_edge + e];
      leads_to_input = target != kNoTask && task.tasks[target].needed;
    }
    nt.apply = leads_to_input;
    nt.needed = leads_to_input || capture.count(nt.node) > 0;
  }
}

// Runs the node's VJP (and its post-hooks); its saved tensors are freed unless keep_graph.
TensorList apply_node(Node& n, const Tensor& grad, bool keep_graph) {
  TensorList input_grads;
  {
    // Two passes through one node on two threads: one VJP at a time, and a pass that freed the
    // saved tensors makes the other one raise the usual "second time" error.
    std::lock_guard lock(NodeInternals::mutex(n));
    input_grads = n.apply(grad);
    if (!keep_graph) NodeInternals::release_saved(n);
  }
  XGRAD_CHECK(input_grads.empty() || input_grads.size() == n.next_edges().size(),
              "backward of '{}': the VJP returned {} gradients for {} inputs", n.name(), input_grads.size(),
              n.next_edges().size());
  if (NodeInternals::has_post_hooks(n)) input_grads = NodeInternals::run_post_hooks(n, std::move(input_grads), grad);
  return input_grads;
}

struct NewestFirst {
  const GraphTask* task;
  bool operator()(std::uint32_t a, std::uint32_t b) const {
    return task->tasks[a].node->sequence_nr() < task->tasks[b].node->sequence_nr();
  }
};

// Runs the pass. With `capture` (xgrad::grad) the gradients reaching the captured nodes are
// returned instead of being accumulated into leaves' .grad.
void run_backward(const TensorList& roots, const TensorList& root_grads, bool keep_graph, bool create_graph,
                  const std::unordered_map<Node*, std::vector<std::size_t>>* capture, TensorList* captured) {
  std::vector<Seed> seeds = make_seeds(capture ? "grad" : "backward", roots, root_grads);
  GraphTask task;
  discover(task, seeds);
  if (capture) mark_needed(task, *capture);

  AutoGradMode mode(create_graph);
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, NewestFirst> ready(NewestFirst{&task});
  for (Seed& s : seeds) {
    const std::uint32_t t = task.find(s.node.get());
    add_to_buffer(task.tasks[t].buffer, std::move(s.grad));
    if (task.tasks[t].dependencies == 0) {
      task.tasks[t].dependencies = -1;  // queued once even if it seeds twice
      ready.push(t);
    }
  }

  while (!ready.empty()) {
    const std::uint32_t t = ready.top();
    ready.pop();
    Node& n = *task.tasks[t].node;
    Tensor grad = std::move(task.tasks[t].buffer);
    TensorList input_grads;
    if (grad.defined() && task.tasks[t].needed) {
      grad = NodeInternals::run_pre_hooks(n, std::move(grad));
      if (capture) {
        auto it = capture->find(&n);
        if (it != capture->end())
          for (std::size_t slot : it->second) (*captured)[slot] = create_graph ? grad : grad.detach();
      }
      if (task.tasks[t].apply) input_grads = apply_node(n, grad, keep_graph);
    }
    const std::size_t n_edges = n.next_edges().size();
    const std::uint32_t first = task.tasks[t].first_edge;
    for (std::size_t i = 0; i < n_edges; ++i) {
      const std::uint32_t target = task.targets[first + i];
      if (target == kNoTask) continue;
      if (i < input_grads.size() && input_grads[i].defined())
        add_to_buffer(task.tasks[target].buffer, checked_input_grad(n, i, std::move(input_grads[i])));
      if (--task.tasks[target].dependencies == 0) ready.push(target);
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
