#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <iterator>
#include <new>
#include <ostream>

#include "arg_checks.h"
#include "convert.h"
#include "dispatch.h"
#include "random.h"
#include "node_internals.h"
#include "tensor_impl.h"
#include "xgrad/autograd.h"
#include "xgrad/generator.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

// ---------------------------------------------------------------- storage and impl

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseInlineStorage = false;  // ASan checks every buffer as its own allocation
#else
constexpr bool kUseInlineStorage = true;
#endif

Storage::Storage(std::size_t bytes)
    : ptr_(kUseInlineStorage && bytes <= kInlineBytes ? static_cast<void*>(inline_) : cached_alloc(bytes)),
      bytes_(bytes) {}
Storage::Storage(void* external, std::size_t bytes, std::function<void(void*)> deleter)
    : ptr_(external), bytes_(bytes),
      external_deleter_(std::make_unique<std::function<void(void*)>>(std::move(deleter))) {}
Storage::~Storage() {
  if (external_deleter_) {
    if (*external_deleter_) (*external_deleter_)(ptr_);  // the caller's memory: never the allocator's
  } else if (ptr_ != inline_) {
    cached_free(ptr_, bytes_);
  }
}

namespace {
// Ops and kernels that do not name themselves get this in allocation errors.
const char* op_or_default(const char* op) { return op ? op : "new tensor"; }
}  // namespace

std::string format_bytes(long double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++u;
  }
  return bytes == std::floor(bytes) ? fmt::format("{:.0f} {}", static_cast<double>(bytes), kUnits[u])
                                    : fmt::format("{:.1f} {}", static_cast<double>(bytes), kUnits[u]);
}

namespace {
std::size_t checked_bytes_of(std::int64_t numel, const Shape& shape, Dtype dtype, const char* op) {
  const auto bytes = static_cast<unsigned __int128>(numel) * dtype_size(dtype);
  XGRAD_CHECK(bytes <= max_alloc_bytes(),
              "{}: cannot allocate {} for shape {} {} (more than this machine's memory, {})", op_or_default(op),
              format_bytes(static_cast<long double>(bytes)), to_string(shape), dtype_name(dtype),
              format_bytes(static_cast<long double>(max_alloc_bytes())));
  return static_cast<std::size_t>(bytes);
}
}  // namespace

std::size_t checked_bytes(const Shape& shape, Dtype dtype, const char* op) {
  return checked_bytes_of(checked_numel(shape, op_or_default(op)), shape, dtype, op);
}

TensorImpl::TensorImpl(Shape shape, Dtype dtype, const char* op) : shape_(std::move(shape)), numel_(0), dtype_(dtype) {
  // The hot path (every op output): one pass with overflow flags; the checked functions run, and
  // word the error, only when something is off. Up to 2^26 elements (512 MiB) fit any machine.
  bool bad = false, has_zero = false;
  std::int64_t nonzero = 1;
  for (const std::int64_t d : shape_) {
    bad |= d < 0;
    has_zero |= d == 0;
    bad |= __builtin_mul_overflow(nonzero, d == 0 ? 1 : d, &nonzero);
  }
  numel_ = has_zero ? 0 : nonzero;
  if (bad) [[unlikely]] checked_numel(shape_, op_or_default(op));  // raises
  const std::size_t bytes = numel_ <= (std::int64_t{1} << 26)
                                ? static_cast<std::size_t>(numel_) * dtype_size(dtype)
                                : checked_bytes_of(numel_, shape_, dtype, op);
  try {
    storage_ = std::make_shared<Storage>(bytes);
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: cannot allocate {} for shape {} {}: out of memory", op_or_default(op),
                            format_bytes(static_cast<long double>(bytes)), to_string(shape_), dtype_name(dtype)));
  }
}

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Dtype dtype)
    : is_view(true), storage_(std::move(storage)), shape_(std::move(shape)), numel_(numel_of(shape_)), dtype_(dtype) {}

TensorImpl::~TensorImpl() {
  release_node(std::move(grad_fn));
  delete meta_.load(std::memory_order_relaxed);
}

AutogradMeta& TensorImpl::create_meta() {
  auto fresh = std::make_unique<AutogradMeta>();
  AutogradMeta* expected = nullptr;
  if (meta_.compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) return *fresh.release();
  return *expected;  // another thread created it first
}

Tensor alias_with_shape(const Tensor& t, const Shape& shape) {
  return Tensor(std::make_shared<TensorImpl>(t.impl()->storage(), shape, t.dtype()));
}

// ---------------------------------------------------------------- metadata and values

namespace {
TensorImpl& checked(const Tensor& t, const char* what) {
  XGRAD_CHECK(t.defined(),
              "Tensor::{}(): called on an undefined tensor (a default-constructed Tensor, or the .grad() of a "
              "tensor that no backward pass has reached)",
              what);
  return *t.impl();
}
}  // namespace

const Shape& Tensor::shape() const { return checked(*this, "shape").shape(); }
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(checked(*this, "dim").shape().size()); }
std::int64_t Tensor::numel() const { return checked(*this, "numel").numel(); }
Dtype Tensor::dtype() const { return checked(*this, "dtype").dtype(); }
std::int64_t Tensor::size(std::int64_t d) const {
  checked(*this, "size");
  XGRAD_CHECK(dim() > 0, "size: a 0-d tensor has no dim {}", d);
  return shape()[static_cast<std::size_t>(wrap_dim(d, dim(), "size"))];
}

template <class T>
T Tensor::item() const {
  checked(*this, "item");
  XGRAD_CHECK(numel() == 1, "item: only one-element tensors can be converted to a scalar, got shape {}",
              to_string(shape()));
  T v{};
  XGRAD_DISPATCH_WITH_BOOL(dtype(), S, v = convert<T>(impl()->data<S>()[0]));
  return v;
}

double Tensor::item() const { return item<double>(); }

template <class T>
T Tensor::at(std::initializer_list<std::int64_t> index) const {
  checked(*this, "at");
  const Shape& s = shape();
  XGRAD_CHECK(index.size() == s.size(), "at: {} indices given for a tensor of shape {}", index.size(),
              to_string(s));
  std::int64_t flat = 0;
  std::size_t i = 0;
  for (std::int64_t ix : index) {
    XGRAD_CHECK(ix >= -s[i] && ix < s[i], "at: index {} is out of range for dim {} of size {} (shape {})", ix,
                i, s[i], to_string(s));
    flat = flat * s[i] + (ix < 0 ? ix + s[i] : ix);
    ++i;
  }
  T v{};
  XGRAD_DISPATCH_WITH_BOOL(dtype(), S, v = convert<T>(impl()->data<S>()[flat]));
  return v;
}

namespace {
template <class T>
T* typed_data(const Tensor& t, const char* what) {
  checked(t, what);
  XGRAD_CHECK(t.dtype() == dtype_of_v<T>, "{}: the tensor holds {} but {} was requested", what,
              dtype_name(t.dtype()), dtype_name(dtype_of_v<T>));
  return t.impl()->data<T>();
}
}  // namespace

template <class T>
const T* Tensor::data() const {
  return typed_data<T>(*this, "data");
}

template <class T>
T* Tensor::mutable_data() {
  T* p = typed_data<T>(*this, "mutable_data");
  if (const auto& s = impl()->storage()) s->bump_version();
  return p;
}

std::uint32_t Tensor::version() const {
  const auto& s = checked(*this, "version").storage();
  return s ? s->version() : 0;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  checked(*this, "to_vector");
  std::vector<T> out(static_cast<std::size_t>(numel()));
  XGRAD_DISPATCH_WITH_BOOL(dtype(), S, {
    const S* p = impl()->data<S>();
    std::transform(p, p + numel(), out.begin(), [](S v) { return convert<T>(v); });
  });
  return out;
}

#define XGRAD_INSTANTIATE_ACCESSORS(T)                                         \
  template T Tensor::item<T>() const;                                          \
  template T Tensor::at<T>(std::initializer_list<std::int64_t>) const;         \
  template const T* Tensor::data<T>() const;                                   \
  template T* Tensor::mutable_data<T>();                                       \
  template std::vector<T> Tensor::to_vector<T>() const;
XGRAD_INSTANTIATE_ACCESSORS(float)
XGRAD_INSTANTIATE_ACCESSORS(double)
XGRAD_INSTANTIATE_ACCESSORS(std::int64_t)
XGRAD_INSTANTIATE_ACCESSORS(bool)
#undef XGRAD_INSTANTIATE_ACCESSORS

// ---------------------------------------------------------------- autograd state

bool Tensor::requires_grad() const { return checked(*this, "requires_grad").requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  auto& impl = checked(*this, "requires_grad_");
  XGRAD_CHECK(!on || is_floating(impl.dtype()),
              "requires_grad_: only floating-point tensors can require gradients, got {}",
              dtype_name(impl.dtype()));
  XGRAD_CHECK(impl.grad_fn == nullptr || on,
              "requires_grad_: cannot turn off requires_grad on a non-leaf tensor (made by '{}'); use detach()",
              impl.grad_fn ? impl.grad_fn->name() : "");
  impl.requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return checked(*this, "is_leaf").grad_fn == nullptr; }

Tensor Tensor::grad() const {
  auto* meta = checked(*this, "grad").meta_if_any();
  return meta ? meta->grad : Tensor();
}

void Tensor::zero_grad() {
  if (auto* meta = checked(*this, "zero_grad").meta_if_any()) meta->grad = Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  auto& impl = checked(*this, "set_grad");
  XGRAD_CHECK(!g.defined() || (g.shape() == impl.shape() && g.dtype() == impl.dtype()),
              "set_grad: gradient of shape {} ({}) does not match the tensor's shape {} ({})",
              to_string(g.shape()), dtype_name(g.dtype()), to_string(impl.shape()), dtype_name(impl.dtype()));
  impl.meta().grad = g;
}

void Tensor::retain_grad() {
  auto& impl = checked(*this, "retain_grad");
  XGRAD_CHECK(impl.requires_grad, "retain_grad: the tensor does not require grad, so it never gets one");
  if (impl.grad_fn) impl.grad_fn->set_retains_grad(impl_);
}

bool Tensor::retains_grad() const {
  auto& impl = checked(*this, "retains_grad");
  return impl.grad_fn && impl.grad_fn->retains_grad();
}

Tensor Tensor::detach() const { return alias_with_shape(*this, checked(*this, "detach").shape()); }

std::shared_ptr<Node> Tensor::grad_fn() const { return checked(*this, "grad_fn").grad_fn; }

std::string Tensor::grad_fn_name() const {
  auto& fn = checked(*this, "grad_fn_name").grad_fn;
  return fn ? fn->name() : "";
}

void Tensor::backward(const Tensor& gradient, const GradOptions& opts) const {
  xgrad::backward({*this}, {gradient}, opts);
}

std::size_t Tensor::register_hook(GradHook hook) {
  auto& impl = checked(*this, "register_hook");
  XGRAD_CHECK(impl.requires_grad, "register_hook: cannot register a hook on a tensor that does not require grad");
  XGRAD_CHECK(hook != nullptr, "register_hook: the hook is empty");
  if (impl.grad_fn) return impl.grad_fn->register_hook(std::move(hook));
  const std::size_t handle = next_hook_handle();
  impl.meta().hooks.emplace_back(handle, std::move(hook));
  return handle;
}

void Tensor::remove_hook(std::size_t handle) {
  auto& impl = checked(*this, "remove_hook");
  if (impl.grad_fn) impl.grad_fn->remove_hook(handle);
  if (auto* meta = impl.meta_if_any())
    std::erase_if(meta->hooks, [&](const auto& h) { return h.first == handle; });
}

// ---------------------------------------------------------------- factories

namespace {

// Options are checked before anything is allocated, in the words of the factory the user called.
void check_options(const char* op, const TensorOptions& opts) {
  XGRAD_CHECK(!opts.requires_grad || is_floating(opts.dtype),
              "{}: requires_grad=true needs a floating dtype (float32 or float64), got {}", op,
              dtype_name(opts.dtype));
}

Tensor make_for(const char* op, const Shape& shape, const TensorOptions& opts) {
  check_options(op, opts);
  return make_tensor(shape, opts.dtype, op);
}

Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

template <class F>
Tensor generate(const char* op, const Shape& shape, const TensorOptions& opts, F value_at) {
  Tensor t = make_for(op, shape, opts);
  const std::int64_t n = t.numel();
  XGRAD_DISPATCH_WITH_BOOL(opts.dtype, T, {
    T* p = t.impl()->data<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = convert<T>(value_at(i));
  });
  return finish(std::move(t), opts);
}

void check_float_for_random(const char* op, Dtype d) {
  XGRAD_CHECK(is_floating(d), "{}: expects a floating dtype, got {}", op, dtype_name(d));
}

Tensor zeros_named(const char* op, const Shape& shape, const TensorOptions& opts) {
  Tensor t = make_for(op, shape, opts);
  if (t.numel()) std::memset(t.impl()->raw(), 0, static_cast<std::size_t>(t.numel()) * dtype_size(opts.dtype));
  return finish(std::move(t), opts);
}

Tensor full_named(const char* op, const Shape& shape, double value, const TensorOptions& opts) {
  Tensor t = make_for(op, shape, opts);
  XGRAD_DISPATCH_WITH_BOOL(opts.dtype, T, std::fill_n(t.impl()->data<T>(), t.numel(), convert<T>(value)));
  return finish(std::move(t), opts);
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions opts) {
  // A bool byte other than 0 or 1 is no valid C++ bool: uninitialised masks start false instead.
  if (opts.dtype == Dtype::boolean) return zeros_named("empty", shape, opts);
  return finish(make_for("empty", shape, opts), opts);
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return zeros_named("zeros", shape, opts); }
Tensor full(const Shape& shape, double value, TensorOptions opts) { return full_named("full", shape, value, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full_named("ones", shape, 1.0, opts); }
Tensor zeros_like(const Tensor& t, TensorOptions opts) {
  check_defined("zeros_like", {{t, "input"}});
  return zeros_named("zeros_like", t.shape(), opts);
}
Tensor zeros_like(const Tensor& t) {
  check_defined("zeros_like", {{t, "input"}});
  return zeros_named("zeros_like", t.shape(), {.dtype = t.dtype()});
}
Tensor ones_like(const Tensor& t) {
  check_defined("ones_like", {{t, "input"}});
  return full_named("ones_like", t.shape(), 1.0, {.dtype = t.dtype()});
}
Tensor full_like(const Tensor& t, double value) {
  check_defined("full_like", {{t, "input"}});
  return full_named("full_like", t.shape(), value, {.dtype = t.dtype()});
}
Tensor scalar_tensor(double value, TensorOptions opts) { return full_named("scalar_tensor", Shape{}, value, opts); }

Tensor arange(double end, TensorOptions opts) { return arange(0.0, end, 1.0, opts); }

Tensor arange(double start, double end, double step, TensorOptions opts) {
  XGRAD_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
              "arange: expects finite start, end and a non-zero step, got start={} end={} step={}", start, end, step);
  // end - start can overflow to inf (arange(-1e308, 1e308, 1e-300)): count in long double.
  const long double count = std::ceil((static_cast<long double>(end) - start) / step);
  XGRAD_CHECK(count >= 0, "arange: the step {} points away from end: start={} end={}", step, start, end);
  XGRAD_CHECK(count <= static_cast<long double>(INT64_MAX),
              "arange: too many elements: (end - start) / step = ({} - {}) / {} = {:.4g} (at most {})", end, start,
              step, static_cast<double>(count), INT64_MAX);
  const auto n = static_cast<std::int64_t>(count);
  return generate("arange", {n}, opts, [&](std::int64_t i) { return start + static_cast<double>(i) * step; });
}

Tensor linspace(double start, double end, std::int64_t steps, TensorOptions opts) {
  XGRAD_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got {}", steps);
  const double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  return generate("linspace", {steps}, opts, [&](std::int64_t i) {
    return i == steps - 1 ? end : start + static_cast<double>(i) * delta;
  });
}

Tensor eye(std::int64_t n, TensorOptions opts) { return eye(n, n, opts); }

Tensor eye(std::int64_t n, std::int64_t m, TensorOptions opts) {
  XGRAD_CHECK(n >= 0 && m >= 0, "eye: sizes must be non-negative, got n={} m={}", n, m);
  return generate("eye", {n, m}, opts, [&](std::int64_t i) { return i / m == i % m ? 1.0 : 0.0; });
}

namespace {

// Draws n doubles in one call (one lock on the generator), then converts them to the dtype.
template <class Fill, class F>
Tensor generate_random(const char* op, const Shape& shape, const TensorOptions& opts, Fill fill, F transform) {
  check_float_for_random(op, opts.dtype);
  Tensor t = make_for(op, shape, opts);
  const auto n = static_cast<std::size_t>(t.numel());
  std::vector<double> draws(n);
  fill(draws.data(), n);
  XGRAD_DISPATCH_FLOAT(opts.dtype, T, {
    T* p = t.impl()->data<T>();
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<T>(transform(draws[i]));
  });
  return finish(std::move(t), opts);
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions opts) { return rand(shape, default_generator(), opts); }
Tensor rand(const Shape& shape, Generator& gen, TensorOptions opts) {
  return generate_random(
      "rand", shape, opts, [&](double* out, std::size_t n) { gen.fill_uniform01(out, n); }, [](double u) { return u; });
}

Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts) {
  return uniform(shape, low, high, default_generator(), opts);
}
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, TensorOptions opts) {
  XGRAD_CHECK(low <= high && std::isfinite(low) && std::isfinite(high),
              "uniform: expects finite low <= high, got low={} high={}", low, high);
  const double span = high - low;
  // Weighted form when high - low overflows to inf.
  return generate_random(
      "uniform", shape, opts, [&](double* out, std::size_t n) { gen.fill_uniform01(out, n); },
      [&](double u) { return std::isfinite(span) ? low + span * u : std::min(low * (1 - u) + high * u, high); });
}

Tensor randn(const Shape& shape, TensorOptions opts) { return randn(shape, default_generator(), opts); }
Tensor randn(const Shape& shape, Generator& gen, TensorOptions opts) {
  return generate_random(
      "randn", shape, opts, [&](double* out, std::size_t n) { gen.fill_normal01(out, n); }, [](double z) { return z; });
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts) {
  return normal(shape, mean, std, default_generator(), opts);
}
Tensor normal(const Shape& shape, double mean, double std, Generator& gen, TensorOptions opts) {
  XGRAD_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0,
              "normal: expects a finite mean and a finite std >= 0, got mean={} std={}", mean, std);
  return generate_random(
      "normal", shape, opts, [&](double* out, std::size_t n) { gen.fill_normal01(out, n); },
      [&](double z) { return mean + std * z; });
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions opts) {
  return randint(low, high, shape, default_generator(), opts);
}
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen, TensorOptions opts) {
  XGRAD_CHECK(low < high, "randint: expects low < high, got low={} high={}", low, high);
  XGRAD_CHECK(opts.dtype != Dtype::boolean, "randint: expects a numeric dtype, got bool");
  // Exact integers in [low, high) (no rounding through double; high - low may exceed INT64_MAX).
  const std::uint64_t range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  Tensor t = make_for("randint", shape, opts);
  const auto n = static_cast<std::size_t>(t.numel());
  std::vector<std::uint64_t> draws(n);
  gen.fill_below(draws.data(), n, range);
  XGRAD_DISPATCH_ALL(opts.dtype, T, {
    T* p = t.impl()->data<T>();
    for (std::size_t i = 0; i < n; ++i)
      p[i] = static_cast<T>(static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + draws[i]));
  });
  return finish(std::move(t), opts);
}

Tensor randperm(std::int64_t n, TensorOptions opts) { return randperm(n, default_generator(), opts); }
Tensor randperm(std::int64_t n, Generator& gen, TensorOptions opts) {
  XGRAD_CHECK(n >= 0, "randperm: n must be non-negative, got {}", n);
  XGRAD_CHECK(!opts.requires_grad, "randperm: a permutation cannot require grad");
  XGRAD_CHECK(opts.dtype != Dtype::boolean, "randperm: expects a numeric dtype, got bool");
  // The output first: it checks n against the machine's memory before the scratch vector is sized.
  Tensor t = make_for("randperm", {n}, opts);
  // Fisher-Yates from the back: position k swaps with a uniform index in [0, k].
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
  for (std::size_t k = perm.size(); k > 1; --k) std::swap(perm[k - 1], perm[gen.below(k)]);
  XGRAD_DISPATCH_ALL(opts.dtype, T, {
    T* p = t.impl()->data<T>();
    for (std::size_t i = 0; i < perm.size(); ++i) p[i] = static_cast<T>(perm[i]);
  });
  return t;
}

Tensor bernoulli(const Tensor& probs) { return bernoulli(probs, default_generator()); }
Tensor bernoulli(const Tensor& probs, Generator& gen) {
  XGRAD_CHECK(probs.defined() && is_floating(probs.dtype()),
              "bernoulli: expects a float32 or float64 tensor of probabilities, got {}",
              probs.defined() ? dtype_name(probs.dtype()) : "an undefined tensor");
  const std::vector<double> p = probs.to_vector<double>();
  for (std::size_t i = 0; i < p.size(); ++i)
    XGRAD_CHECK(p[i] >= 0 && p[i] <= 1, "bernoulli: probability {} at flat index {} is outside [0, 1]", p[i], i);
  std::vector<double> u(p.size());
  gen.fill_uniform01(u.data(), u.size());
  for (std::size_t i = 0; i < p.size(); ++i) u[i] = u[i] < p[i] ? 1.0 : 0.0;
  return tensor(u, probs.shape(), {.dtype = probs.dtype()});
}

Tensor bernoulli(const Shape& shape, double p, TensorOptions opts) { return bernoulli(shape, p, default_generator(), opts); }
Tensor bernoulli(const Shape& shape, double p, Generator& gen, TensorOptions opts) {
  XGRAD_CHECK(p >= 0 && p <= 1, "bernoulli: probability p={} is outside [0, 1]", p);
  return generate_random(
      "bernoulli", shape, opts, [&](double* out, std::size_t n) { gen.fill_uniform01(out, n); },
      [&](double u) { return u < p ? 1.0 : 0.0; });
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions opts) {
  const std::int64_t numel = checked_numel(shape, "tensor");
  XGRAD_CHECK(static_cast<std::int64_t>(values.size()) == numel, "tensor: {} values cannot fill shape {} ({} elements)",
              values.size(), to_string(shape), numel);
  return generate("tensor", shape, opts, [&](std::int64_t i) { return values[static_cast<std::size_t>(i)]; });
}

Tensor tensor(const std::vector<float>& values, const Shape& shape, TensorOptions opts) {
  return tensor(std::vector<double>(values.begin(), values.end()), shape, opts);
}

Tensor tensor(const std::vector<std::int64_t>& values, const Shape& shape, TensorOptions opts) {
  const std::int64_t numel = checked_numel(shape, "tensor");
  XGRAD_CHECK(static_cast<std::int64_t>(values.size()) == numel, "tensor: {} values cannot fill shape {} ({} elements)",
              values.size(), to_string(shape), numel);
  Tensor t = make_for("tensor", shape, opts);
  XGRAD_DISPATCH_WITH_BOOL(opts.dtype, T,
                           std::transform(values.begin(), values.end(), t.impl()->data<T>(),
                                          [](std::int64_t v) { return convert<T>(v); }));
  return finish(std::move(t), opts);
}

Tensor tensor(std::initializer_list<double> values, TensorOptions opts) {
  return tensor(std::vector<double>(values), Shape{static_cast<std::int64_t>(values.size())}, opts);
}

Tensor tensor(std::initializer_list<std::initializer_list<double>> rows, TensorOptions opts) {
  std::vector<double> flat;
  const std::size_t cols = rows.size() ? rows.begin()->size() : 0;
  for (const auto& row : rows) {
    XGRAD_CHECK(row.size() == cols, "tensor: ragged nested list: a row has {} values, the first has {}",
                row.size(), cols);
    flat.insert(flat.end(), row.begin(), row.end());
  }
  return tensor(flat, Shape{static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(cols)}, opts);
}

Tensor tensor(std::initializer_list<std::initializer_list<std::initializer_list<double>>> blocks,
              TensorOptions opts) {
  std::vector<double> flat;
  const std::size_t rows = blocks.size() ? blocks.begin()->size() : 0;
  const std::size_t cols = rows ? blocks.begin()->begin()->size() : 0;
  for (const auto& block : blocks) {
    XGRAD_CHECK(block.size() == rows, "tensor: ragged nested list: a block has {} rows, the first has {}",
                block.size(), rows);
    for (const auto& row : block) {
      XGRAD_CHECK(row.size() == cols, "tensor: ragged nested list: a row has {} values, the first has {}",
                  row.size(), cols);
      flat.insert(flat.end(), row.begin(), row.end());
    }
  }
  return tensor(flat,
                Shape{static_cast<std::int64_t>(blocks.size()), static_cast<std::int64_t>(rows),
                      static_cast<std::int64_t>(cols)},
                opts);
}

template <class T>
Tensor from_buffer(const T* values, const Shape& shape, TensorOptions opts) {
  check_options("from_buffer", opts);
  Tensor t = make_tensor(shape, dtype_of_v<T>, "from_buffer");
  if (t.numel()) std::memcpy(t.impl()->raw(), values, static_cast<std::size_t>(t.numel()) * sizeof(T));
  if (opts.dtype != dtype_of_v<T>) t = t.to(opts.dtype);
  return finish(std::move(t), opts);
}
template Tensor from_buffer<float>(const float*, const Shape&, TensorOptions);
template Tensor from_buffer<double>(const double*, const Shape&, TensorOptions);
template Tensor from_buffer<std::int64_t>(const std::int64_t*, const Shape&, TensorOptions);
template Tensor from_buffer<bool>(const bool*, const Shape&, TensorOptions);

Tensor from_blob(void* data, const Shape& shape, TensorOptions opts, std::function<void(void*)> deleter) {
  check_options("from_blob", opts);
  const std::size_t bytes = checked_bytes(shape, opts.dtype, "from_blob");
  XGRAD_CHECK(data != nullptr || bytes == 0, "from_blob: data is a null pointer for shape {} {}", to_string(shape),
              dtype_name(opts.dtype));
  XGRAD_CHECK(reinterpret_cast<std::uintptr_t>(data) % dtype_size(opts.dtype) == 0,
              "from_blob: data {} is not aligned for {} (a multiple of {} bytes expected)", data,
              dtype_name(opts.dtype), dtype_size(opts.dtype));
  auto storage = std::make_shared<Storage>(data, bytes, std::move(deleter));
  auto impl = std::make_shared<TensorImpl>(std::move(storage), shape, opts.dtype);
  impl->is_view = false;  // the tensor owns its (borrowed) buffer: no other handle shares it yet
  return finish(Tensor(std::move(impl)), opts);
}

// ---------------------------------------------------------------- printing

namespace {

struct NumberFormat {
  bool integral = true;
  bool scientific = false;
  int width = 1;
};

template <class T>
std::string format_number(T v, const NumberFormat& f) {
  if constexpr (std::is_same_v<T, bool>) {
    return fmt::format("{:>{}}", v ? "True" : "False", f.width);  // PyTorch's spelling
  } else if constexpr (std::is_integral_v<T>) {
    return fmt::format("{:>{}}", v, f.width);
  } else {
    if (std::isnan(v) || std::isinf(v)) return fmt::format("{:>{}}", v, f.width);
    if (f.scientific) return fmt::format("{:>{}.4e}", v, f.width);
    if (f.integral) return fmt::format("{:>{}}", fmt::format("{:.0f}.", v), f.width);
    return fmt::format("{:>{}.4f}", v, f.width);
  }
}

template <class T>
NumberFormat choose_format(const T* p, std::int64_t n) {
  NumberFormat f;
  double max_abs = 0, min_abs = INFINITY;
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(p[i]);
    if (!std::isfinite(v)) continue;
    if (v != std::round(v)) f.integral = false;
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  if constexpr (!std::is_integral_v<T>)
    f.scientific = max_abs >= 1e8 || (!f.integral && min_abs < 1e-4) || (max_abs / min_abs > 1e3 && !f.integral);
  for (std::int64_t i = 0; i < n; ++i) f.width = std::max<int>(f.width, static_cast<int>(format_number(p[i], f).size()));
  return f;
}

template <class T>
void format_dim(std::string& out, const T* p, const Shape& s, std::size_t d, std::int64_t offset,
                const NumberFormat& f, bool summarize, int indent) {
  const std::int64_t n = s[d];
  std::int64_t inner = 1;
  for (std::size_t k = d + 1; k < s.size(); ++k) inner *= s[k];
  constexpr std::int64_t kEdge = 3;
  out += '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdge && i == kEdge) {
      out += d + 1 == s.size() ? "..., " : fmt::format("...,\n{:{}}", "", indent + 1);
      i = n - kEdge;
    }
    if (d + 1 == s.size())
      out += format_number(p[offset + i], f);
    else
      format_dim(out, p, s, d + 1, offset + i * inner, f, summarize, indent + 1);
    if (i + 1 < n) out += d + 1 == s.size() ? ", " : fmt::format(",{}{:{}}", std::string(s.size() - d - 1, '\n'), "", indent + 1);
  }
  out += ']';
}

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  std::string body;
  XGRAD_DISPATCH_WITH_BOOL(t.dtype(), T, {
    const T* p = t.impl()->data<T>();
    const NumberFormat f = choose_format(p, t.numel());
    if (t.dim() == 0)
      body = format_number(p[0], NumberFormat{f.integral, f.scientific, 1});
    else
      format_dim(body, p, t.shape(), 0, 0, f, t.numel() > 1000, 7);
  });
  std::string out = "tensor(" + body;
  out += fmt::format(", shape={}, dtype={}", to_string(t.shape()), dtype_name(t.dtype()));
  if (t.grad_fn())
    out += fmt::format(", grad_fn=<{}>", t.grad_fn_name());
  else if (t.requires_grad())
    out += ", requires_grad=true";
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace xgrad
