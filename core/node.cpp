#include "xgrad/node.h"

#include <atomic>

#include <fmt/format.h>

#include "node_internals.h"
#include "primitives.h"
#include "tensor_impl.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

// ---------------------------------------------------------------- release without recursion

// Dropping the last reference to the head of a long chain would destroy node -> edge -> node ...
// recursively. Instead every destructor hands the nodes it owns to this per-thread list and only
// the outermost call drains it, so the depth stays constant.
namespace {
thread_local std::vector<std::shared_ptr<Node>> pending_release;
thread_local bool draining = false;

// A graph this big leaves hundreds of MB of freed nodes and small buffers in the heap, which glibc
// keeps for the process: when that many nodes die at once, the free pages go back to the system.
// Not for smaller graphs: the next graph re-faults those pages (a 300,000-op chain built in 0.75 s
// after a release, 0.07-0.1 s without; trimming after every graph of a 100,000-op loop made it
// 2.5x slower), so only graphs far beyond a training step's pay that, for ~300 MB given back.
constexpr std::size_t kReleaseHeapAfterNodes = std::size_t{1} << 19;
}  // namespace

void release_node(std::shared_ptr<Node>&& node) {
  if (!node) return;
  if (node.use_count() > 1) {  // not the last owner: nothing to unwind
    node.reset();
    return;
  }
  pending_release.push_back(std::move(node));
  if (draining) return;
  draining = true;
  std::size_t released = 0;
  while (!pending_release.empty()) {
    std::shared_ptr<Node> n = std::move(pending_release.back());
    pending_release.pop_back();
    n.reset();  // may push more nodes; they are drained by this loop
    ++released;
  }
  draining = false;
  if (released >= kReleaseHeapAfterNodes) {
    pending_release.shrink_to_fit();
    release_free_heap();
  }
}

// ---------------------------------------------------------------- Node

namespace {
std::atomic<std::uint64_t> next_sequence_nr{0};
}

Node::Node(const char* name) : name_(name), seq_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}
Node::Node(const char* name, std::uint64_t sequence_nr) : name_(name), seq_(sequence_nr) {}

Node::~Node() {
  for (Edge& e : next_) release_node(std::move(e.fn));
}

Tensor Node::saved(std::size_t i) {
  XGRAD_CHECK(!released_,
              "{}: trying to backward through the graph a second time (or to use its saved tensors after they "
              "were freed). Saved values are freed by backward() and grad(); pass retain_graph = true to "
              "the first call to keep them.",
              name_);
  XGRAD_CHECK(i < saved_.size(), "{}: saved tensor {} requested but only {} were saved", name_, i, saved_.size());
  return saved_[i].unpack(*this);
}

namespace {
std::atomic<std::size_t> hook_handles{1};
}
std::size_t next_hook_handle() { return hook_handles.fetch_add(1, std::memory_order_relaxed); }

std::size_t Node::register_hook(GradHook hook) {
  XGRAD_CHECK(hook != nullptr, "register_hook: the hook of node '{}' is empty", name_);
  const std::size_t handle = next_hook_handle();
  hooks_.emplace_back(handle, std::move(hook));
  return handle;
}

std::size_t Node::register_post_hook(PostHook hook) {
  XGRAD_CHECK(hook != nullptr, "register_post_hook: the hook of node '{}' is empty", name_);
  const std::size_t handle = next_hook_handle();
  post_hooks_.emplace_back(handle, std::move(hook));
  return handle;
}

void Node::remove_hook(std::size_t handle) {
  std::erase_if(hooks_, [&](const auto& h) { return h.first == handle; });
  std::erase_if(post_hooks_, [&](const auto& h) { return h.first == handle; });
}

void Node::set_retains_grad(const std::shared_ptr<TensorImpl>& out) { retain_target_ = out; }

// Striped locks guard what several threads may touch on one tensor at once: creating its autograd
// metadata and gradient accumulator (two threads recording ops on a shared parameter) and adding
// into its .grad (two backward passes reaching it). A stripe per tensor address: no mutex per tensor.
std::mutex& tensor_lock(const TensorImpl* t) {
  static std::mutex stripes[64];
  return stripes[(reinterpret_cast<std::uintptr_t>(t) >> 6) % 64];
}

namespace {
// .grad accumulation shared by leaves and retain_grad: keeps history only under create_graph.
// A first gradient is adopted only if nothing else holds its buffer; a shared one (add passes the
// same gy to both inputs, a seed the caller still holds) is copied, so writing into one .grad
// never changes another.
void accumulate_into(TensorImpl& impl, const Tensor& g) {
  const bool keep_history = is_grad_enabled();
  const auto& storage = g.impl()->storage();
  const bool shared = g.impl_ptr().use_count() > 1 || (storage && storage.use_count() > 1);
  const Tensor incoming = keep_history ? g : g.detach();
  // Compare-and-swap under the tensor's lock: the sum itself runs unlocked (under create_graph it
  // records nodes, which may take tensor locks), and a pass that lost the race adds again.
  for (;;) {
    Tensor old;
    {
      std::lock_guard lock(tensor_lock(&impl));
      old = impl.meta().grad;
    }
    Tensor updated;
    if (old.defined()) {
      updated = add_same_shape(old, incoming);
    } else {
      updated = shared ? incoming.clone() : incoming;  // clone is recorded only under create_graph
    }
    std::lock_guard lock(tensor_lock(&impl));
    Tensor& slot = impl.meta().grad;
    if (slot.impl() == old.impl()) {
      std::swap(slot, updated);  // the old value dies after the unlock
      return;
    }
  }
}

Tensor run_hook_list(const std::vector<std::pair<std::size_t, GradHook>>& hooks, Tensor grad) {
  for (const auto& [handle, hook] : hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) {
      XGRAD_CHECK(replaced.shape() == grad.shape() && replaced.dtype() == grad.dtype(),
                  "hook: a gradient hook returned {} {} for a gradient of {} {}", dtype_name(replaced.dtype()),
                  to_string(replaced.shape()), dtype_name(grad.dtype()), to_string(grad.shape()));
      grad = std::move(replaced);
    }
  }
  return grad;
}
}  // namespace

Tensor Node::run_pre_hooks(Tensor grad) {
  if (!hooks_.empty()) grad = run_hook_list(hooks_, std::move(grad));
  if (auto out = retain_target_.lock()) accumulate_into(*out, grad);
  return grad;
}

TensorList Node::run_post_hooks(TensorList grad_inputs, const Tensor& grad_output) {
  for (const auto& [handle, hook] : post_hooks_) {
    TensorList replaced = hook(grad_inputs, grad_output);
    if (replaced.empty()) continue;
    XGRAD_CHECK(replaced.size() == next_.size(),
                "post-hook of '{}': returned {} gradients for a node with {} inputs", name_, replaced.size(),
                next_.size());
    grad_inputs = std::move(replaced);
  }
  return grad_inputs;
}

// ---------------------------------------------------------------- leaves

namespace {
// The node that a leaf's gradient flows into: runs the leaf's hooks and adds to .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
      : Node("AccumulateGrad", UINT64_MAX), leaf_(std::move(leaf)) {}
  TensorList apply(const Tensor& grad) override {
    accumulate_into(*leaf_, grad);
    return {};
  }
  bool accumulates_leaf() const override { return true; }

 protected:
  // The leaf's own hooks first (registered on the tensor), then hooks registered on this node.
  Tensor run_pre_hooks(Tensor grad) override {
    if (auto* meta = leaf_->meta_if_any(); meta && !meta->hooks.empty())
      grad = run_hook_list(meta->hooks, std::move(grad));
    return Node::run_pre_hooks(std::move(grad));
  }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};
}  // namespace

std::shared_ptr<Node> grad_accumulator(const std::shared_ptr<TensorImpl>& leaf) {
  std::lock_guard lock(tensor_lock(leaf.get()));
  auto& meta = leaf->meta();
  if (auto existing = meta.grad_accumulator.lock()) return existing;
  auto acc = std::make_shared<AccumulateGrad>(leaf);
  meta.grad_accumulator = acc;
  return acc;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined()) return nullptr;
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  if (!impl->requires_grad) return nullptr;
  return grad_accumulator(t.impl_ptr());
}

// ---------------------------------------------------------------- saved tensors

SavedTensor::SavedTensor(const Tensor& t, bool is_output)
    : is_output_(is_output), version_(t.defined() ? t.version() : 0) {
  // An output is stored without its grad_fn: the node saving it is that grad_fn.
  data_ = (is_output && t.defined()) ? t.detach() : t;
}

Tensor SavedTensor::unpack(Node& owner) const {
  XGRAD_CHECK(!data_.defined() || data_.version() == version_,
              "{}: a tensor it saved for backward ({} {}, {}) was modified in place after the forward pass: "
              "its buffer is at version {}, backward needs version {}. Write into a clone() instead, or run "
              "backward before the in-place write.",
              owner.name(), dtype_name(data_.dtype()), to_string(data_.shape()),
              is_output_ ? "its own output" : "one of its inputs", data_.version(), version_);
  if (!is_output_ || !data_.defined() || !is_grad_enabled()) return data_;
  // Under create_graph the output must lead back into the graph through its own node.
  Tensor t = data_.detach();
  t.impl()->grad_fn = owner.shared_from_this();
  t.impl()->requires_grad = true;
  return t;
}

// ---------------------------------------------------------------- recording

namespace {
template <class List>
bool any_requires_grad(const List& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.impl()->requires_grad) return true;
  return false;
}

template <class List>
Node* attach(std::shared_ptr<Node> node, Tensor& output, const List& inputs, const List& saved) {
  auto& edges = NodeInternals::edges(*node);
  edges.reserve(inputs.size());
  for (const Tensor& in : inputs) {
    if (in.defined())
      edges.push_back(Edge{gradient_edge(in), in.shape(), in.dtype()});
    else
      edges.push_back(Edge{});
  }
  TensorImpl* out = output.impl();
  NodeInternals::reserve_saved(*node, saved.size());
  for (const Tensor& s : saved) NodeInternals::save(*node, s, s.defined() && s.impl() == out);
  out->requires_grad = true;
  out->grad_fn = std::move(node);
  return out->grad_fn.get();
}
}  // namespace

bool should_record(std::initializer_list<Tensor> inputs) { return any_requires_grad(inputs); }
bool should_record(const TensorList& inputs) { return any_requires_grad(inputs); }

void check_declared_arity(const OpDecl& op, std::size_t inputs) {
  if (op.arity == OpDecl::kVariadic || static_cast<std::size_t>(op.arity) == inputs) return;
  throw Error(fmt::format("{}: records a node with {} inputs, but the op is declared with {} "
                          "(an internal error in xgrad: please report it)",
                          op.name, inputs, op.arity));
}

Node* attach_node(std::shared_ptr<Node> node, Tensor& output, std::initializer_list<Tensor> inputs,
                  std::initializer_list<Tensor> saved) {
  return attach(std::move(node), output, inputs, saved);
}

Node* attach_node_list(std::shared_ptr<Node> node, Tensor& output, const TensorList& inputs,
                       const TensorList& saved) {
  return attach(std::move(node), output, inputs, saved);
}

}  // namespace xgrad
