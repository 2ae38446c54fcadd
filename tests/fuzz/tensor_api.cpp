// Fuzz entries for include/xgrad/tensor.h (factories, Tensor's methods, printing) and
// include/xgrad/autograd.h (grad, backward). Keys of methods are "Tensor::<name>"; their errors
// must name the method. See public_ops.cpp for the conventions.
#include <algorithm>
#include <xgrad/xtensor.h>

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "fuzz.h"

namespace xgrad::fuzz {

namespace {

using Fn = std::function<TensorList(FuzzCall&)>;
using L1 = std::initializer_list<double>;
using L2 = std::initializer_list<L1>;
using L3 = std::initializer_list<L2>;

std::optional<std::int64_t> checked_numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  return n;
}

// The expected result shape of a factory: checked when the call returns.
void expect_shape(FuzzCall& g, const Tensor& y, const Shape& s) {
  g.expect(y.shape() == s, "result shape " + describe_shape(y.shape()) + " != requested " + describe_shape(s));
  const auto n = checked_numel(s);
  g.expect(n && y.numel() == *n, "numel " + std::to_string(y.numel()) + " does not match the requested shape");
}

// A tensor that usually holds one element (for item) or is small.
Tensor few(FuzzCall& g, const char* name) {
  return g.chance(0.6) ? g.tensor(name, g.chance(0.5) ? Shape{} : Shape{1}) : g.tensor(name);
}

// A small graph y = f(x) with x a leaf requiring grad. Building it must not fail for the
// reason the entry tests, so a failure to build skips the call (nullopt).
struct Graph {
  Tensor x, y;
  // backward with create_graph leaves x a .grad whose history leads back to x: a cycle that only
  // zero_grad() breaks (as in PyTorch; GradOptions says so). Without it LeakSanitizer reports it.
  ~Graph() {
    if (x.defined()) x.zero_grad();
  }
  Graph() = default;
  Graph(const Graph&) = default;
  Graph(Graph&&) = default;
  Graph& operator=(const Graph&) = default;
  Graph& operator=(Graph&&) = default;
};
std::optional<Graph> graph(FuzzCall& g) {
  Graph gr;
  gr.x = g.tensor("x");
  try {
    if (gr.x.defined() && is_floating(gr.x.dtype()) && g.chance(0.9)) gr.x.requires_grad_();
    switch (g.uniform(0, 4)) {
      case 0: g.note("y=x*x"); gr.y = gr.x.defined() ? xgrad::mul(gr.x, gr.x) : gr.x; break;
      case 1: g.note("y=sum(x)"); gr.y = gr.x.defined() ? xgrad::sum(gr.x) : gr.x; break;
      case 2: g.note("y=tanh(x)"); gr.y = gr.x.defined() ? xgrad::tanh(gr.x) : gr.x; break;
      case 3: g.note("y=x"); gr.y = gr.x; break;
      default: g.note("y=detach(x)"); gr.y = gr.x.defined() ? gr.x.detach() : gr.x; break;
    }
  } catch (const Error&) {
    g.note("(graph not built)");
    return std::nullopt;
  }
  return gr;
}

GradOptions grad_options(FuzzCall& g) {
  GradOptions o;
  const auto r = g.uniform(0, 2);
  if (r < 2) o.retain_graph = r == 1;
  o.create_graph = g.chance(0.3);
  o.allow_unused = g.chance(0.5);
  g.note(fmt::format("opts={{retain_graph={}, create_graph={}, allow_unused={}}}",
                     o.retain_graph ? (*o.retain_graph ? "true" : "false") : "default", o.create_graph,
                     o.allow_unused));
  return o;
}

// A sequence of up to 3 tensors from {y, x, a random tensor, undefined}.
TensorList some_of(FuzzCall& g, const char* name, const Graph& gr) {
  TensorList list;
  const auto count = g.uniform(0, 3);
  std::string d;
  for (std::int64_t i = 0; i < count; ++i) {
    switch (g.uniform(0, 5)) {
      case 0: case 1: list.push_back(gr.y); d += " y"; break;
      case 2: list.push_back(gr.x); d += " x"; break;
      case 3: list.push_back(Tensor()); d += " undefined"; break;
      default: {
        const std::string item = fmt::format("{}[{}]", name, i);
        list.push_back(g.tensor_like(item.c_str(), gr.y));
        d += " " + item;
      }
    }
  }
  g.note(fmt::format("{}={{{}}}", name, d));
  return list;
}

// Arguments of arange: when the element count lies between a moderate size and the hostile ones,
// the step is changed so a correct library does not fill gigabytes.
double tame_step(FuzzCall& g, double start, double end, double step) {
  const double count = std::ceil((end - start) / step);
  if (std::isfinite(count) && count >= static_cast<double>(kModerateElements) &&
      count < static_cast<double>(kHostileElements)) {
    g.note("(step widened)");
    return (end - start) / 1000.0;
  }
  return step;
}

template <class T>
T cast_value(double v) {  // the generator's doubles as T, without undefined conversions here
  if constexpr (std::is_same_v<T, double>) return v;
  else if constexpr (std::is_same_v<T, float>) return std::isfinite(v) && std::abs(v) > 3e38 ? static_cast<float>(std::copysign(INFINITY, v)) : static_cast<float>(v);
  else return std::isfinite(v) && std::abs(v) < 9e18 ? static_cast<T>(v) : T(7);
}

template <class T>
TensorList from_buffer_call(FuzzCall& g) {
  constexpr std::size_t kBuffer = 64;
  std::vector<T> buffer(kBuffer);
  for (auto& v : buffer) v = cast_value<T>(g.normal() * 3);
  Shape s = g.shape("shape");
  const auto n = checked_numel(s);
  if (n && *n > static_cast<std::int64_t>(kBuffer) && *n < kHostileElements) {
    s = Shape{8, 8};  // the buffer must hold the shape; from_buffer cannot check that
    g.note("(shape replaced by [8,8])");
  }
  auto opts = g.options("opts");
  auto y = xgrad::from_buffer<T>(buffer.data(), s, opts);
  expect_shape(g, y, s);
  return {y};
}

template <class T>
TensorList vector_call(FuzzCall& g) {
  std::vector<T> values(static_cast<std::size_t>(g.uniform(0, 8)));
  for (auto& v : values) v = cast_value<T>(g.real("v", -3, 3));
  Shape s = g.chance(0.5) ? Shape{static_cast<std::int64_t>(values.size())} : g.shape("shape");
  if (s.size() == 1 && s[0] == static_cast<std::int64_t>(values.size())) g.note("shape=" + describe_shape(s));
  auto opts = g.options("opts");
  auto y = xgrad::tensor(values, s, opts);
  expect_shape(g, y, s);
  return {y};
}

// One of float/double/int64 for the typed accessors.
int type_choice(FuzzCall& g) {
  const int k = static_cast<int>(g.uniform(0, 2));
  g.note(k == 0 ? "T=float" : k == 1 ? "T=double" : "T=int64_t");
  return k;
}

std::vector<FuzzedFunction> tensor_table() {
  std::vector<FuzzedFunction> t;
  auto def = [&t](const char* key, const char* op, Fn fn) { t.push_back({key, op, std::move(fn)}); };

  // ---- factories
  using ShapeFactory = Tensor (*)(const Shape&, TensorOptions);
  for (auto [name, f] : {std::pair<const char*, ShapeFactory>{"empty", xgrad::empty}, {"zeros", xgrad::zeros},
                         {"ones", xgrad::ones}, {"rand", xgrad::rand}, {"randn", xgrad::randn}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto s = g.shape("shape");
      auto opts = g.options("opts");
      auto y = f(s, opts);
      expect_shape(g, y, s);
      return {y};
    });
  }
  def("full", "full", [](FuzzCall& g) -> TensorList {
    auto s = g.shape("shape");
    auto v = g.real("value", -3, 3);
    auto opts = g.options("opts");
    auto y = xgrad::full(s, v, opts);
    expect_shape(g, y, s);
    return {y};
  });
  def("zeros_like", "zeros_like", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("t");
    auto opts = g.options("opts");
    return {xgrad::zeros_like(x, opts)};
  });
  using Like = Tensor (*)(const Tensor&);
  for (auto [name, f] : {std::pair<const char*, Like>{"zeros_like", xgrad::zeros_like}, {"ones_like", xgrad::ones_like}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("t");
      auto y = f(x);
      expect_shape(g, y, x.shape());
      return {y};
    });
  }
  def("full_like", "full_like", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("t");
    auto v = g.real("value", -3, 3);
    auto y = xgrad::full_like(x, v);
    expect_shape(g, y, x.shape());
    return {y};
  });
  def("scalar_tensor", "scalar_tensor", [](FuzzCall& g) -> TensorList {
    auto v = g.real("value", -3, 3);
    auto opts = g.options("opts");
    auto y = xgrad::scalar_tensor(v, opts);
    expect_shape(g, y, Shape{});
    return {y};
  });
  def("arange", "arange", [](FuzzCall& g) -> TensorList {
    auto end = g.real("end", -5, 20);
    auto opts = g.options("opts");
    const double step = tame_step(g, 0, end, 1);
    return {step == 1 ? xgrad::arange(end, opts) : xgrad::arange(0, end, step, opts)};
  });
  def("arange", "arange", [](FuzzCall& g) -> TensorList {
    auto start = g.real("start", -5, 5);
    auto end = g.real("end", -5, 20);
    auto step = tame_step(g, start, end, g.real("step", -2, 3));
    auto opts = g.options("opts");
    return {xgrad::arange(start, end, step, opts)};
  });
  def("linspace", "linspace", [](FuzzCall& g) -> TensorList {
    auto start = g.real("start", -5, 5);
    auto end = g.real("end", -5, 5);
    auto steps = g.extent("steps", 0, 10);
    auto opts = g.options("opts");
    auto y = xgrad::linspace(start, end, steps, opts);
    expect_shape(g, y, Shape{steps});
    return {y};
  });
  def("eye", "eye", [](FuzzCall& g) -> TensorList {
    auto n = g.extent("n", 0, 5);
    auto opts = g.options("opts");
    auto y = xgrad::eye(n, opts);
    expect_shape(g, y, Shape{n, n});
    return {y};
  });
  def("eye", "eye", [](FuzzCall& g) -> TensorList {
    auto n = g.extent("n", 0, 5);
    auto m = g.extent("m", 0, 5);
    auto opts = g.options("opts");
    auto y = xgrad::eye(n, m, opts);
    expect_shape(g, y, Shape{n, m});
    return {y};
  });
  def("uniform", "uniform", [](FuzzCall& g) -> TensorList {
    auto s = g.shape("shape");
    auto lo = g.real("low", -3, 0);
    auto hi = g.real("high", 0, 3);
    auto opts = g.options("opts");
    Generator gen(g.bits());
    auto y = g.flag("generator") ? xgrad::uniform(s, lo, hi, gen, opts) : xgrad::uniform(s, lo, hi, opts);
    expect_shape(g, y, s);
    return {y};
  });
  def("normal", "normal", [](FuzzCall& g) -> TensorList {
    auto s = g.shape("shape");
    auto mean = g.real("mean", -3, 3);
    auto sd = g.real("std", -1, 3);
    auto opts = g.options("opts");
    Generator gen(g.bits());
    auto y = g.flag("generator") ? xgrad::normal(s, mean, sd, gen, opts) : xgrad::normal(s, mean, sd, opts);
    expect_shape(g, y, s);
    return {y};
  });
  def("randperm", "randperm", [](FuzzCall& g) -> TensorList {
    auto n = g.extent("n", -2, 40);
    auto opts = g.chance(0.7) ? TensorOptions{.dtype = int64} : g.options("opts");
    Generator gen(g.bits());
    auto y = g.flag("generator") ? xgrad::randperm(n, gen, opts) : xgrad::randperm(n, opts);
    expect_shape(g, y, Shape{n});
    auto v = y.to_vector<std::int64_t>();
    std::sort(v.begin(), v.end());
    for (std::int64_t i = 0; i < n; ++i) g.expect(v[static_cast<std::size_t>(i)] == i, "not a permutation of 0..n-1");
    return {y};
  });
  def("bernoulli", "bernoulli", [](FuzzCall& g) -> TensorList {
    Generator gen(g.bits());
    const bool with_gen = g.flag("generator");
    if (g.flag("probs")) {
      auto probs = g.tensor("probs");
      auto y = with_gen ? xgrad::bernoulli(probs, gen) : xgrad::bernoulli(probs);
      expect_shape(g, y, probs.shape());
      return {y};
    }
    auto s = g.shape("shape");
    auto p = g.real("p", -0.5, 1.5);
    auto opts = g.options("opts");
    auto y = with_gen ? xgrad::bernoulli(s, p, gen, opts) : xgrad::bernoulli(s, p, opts);
    expect_shape(g, y, s);
    return {y};
  });
  def("randint", "randint", [](FuzzCall& g) -> TensorList {
    auto lo = g.integer("low", -5, 0);
    auto hi = g.integer("high", 1, 10);
    auto s = g.shape("shape");
    auto opts = g.chance(0.7) ? TensorOptions{.dtype = int64} : g.options("opts");
    Generator gen(g.bits());
    auto y = g.flag("generator") ? xgrad::randint(lo, hi, s, gen, opts) : xgrad::randint(lo, hi, s, opts);
    expect_shape(g, y, s);
    if (y.dtype() == int64) {  // every value drawn in [low, high)
      const auto v = y.to_vector<std::int64_t>();
      g.expect(std::all_of(v.begin(), v.end(), [&](std::int64_t e) { return e >= lo && e < hi; }),
               "a value outside [low, high)");
    }
    return {y};
  });
  // Nested initializer lists, ragged ones included.
  def("tensor", "tensor", [](FuzzCall& g) -> TensorList {
    auto a = g.real("a", -3, 3);
    auto b = g.real("b", -3, 3);
    auto opts = g.options("opts");
    return {g.chance(0.5) ? xgrad::tensor(L1{a}, opts) : xgrad::tensor(L1{a, b}, opts)};
  });
  def("tensor", "tensor", [](FuzzCall& g) -> TensorList {
    auto a = g.real("a", -3, 3);
    auto b = g.real("b", -3, 3);
    auto opts = g.options("opts");
    switch (g.uniform(0, 2)) {
      case 0: g.note("{{a,b},{b,a}}"); return {xgrad::tensor(L2{L1{a, b}, L1{b, a}}, opts)};
      case 1: g.note("{{a,b},{a}} (ragged)"); return {xgrad::tensor(L2{L1{a, b}, L1{a}}, opts)};
      default: g.note("{{a}}"); return {xgrad::tensor(L2{L1{a}}, opts)};
    }
  });
  def("tensor", "tensor", [](FuzzCall& g) -> TensorList {
    auto a = g.real("a", -3, 3);
    auto b = g.real("b", -3, 3);
    auto opts = g.options("opts");
    switch (g.uniform(0, 2)) {
      case 0: g.note("{{{a},{b}},{{b},{a}}}"); return {xgrad::tensor(L3{L2{L1{a}, L1{b}}, L2{L1{b}, L1{a}}}, opts)};
      case 1: g.note("{{{a},{b}},{{b}}} (ragged blocks)"); return {xgrad::tensor(L3{L2{L1{a}, L1{b}}, L2{L1{b}}}, opts)};
      default: g.note("{{{a,b},{a}}} (ragged rows)"); return {xgrad::tensor(L3{L2{L1{a, b}, L1{a}}}, opts)};
    }
  });
  def("tensor", "tensor", vector_call<double>);
  def("tensor", "tensor", vector_call<float>);
  def("tensor", "tensor", vector_call<std::int64_t>);
  def("tensor", "tensor", [](FuzzCall& g) -> TensorList {  // <xgrad/xtensor.h>: from an xtensor expression
    xt::xarray<double> a = xt::zeros<double>({static_cast<std::size_t>(g.uniform(0, 3)), static_cast<std::size_t>(g.uniform(0, 3))});
    for (auto& v : a) v = g.real("v", -3, 3);
    auto opts = g.options("opts");
    return {xgrad::tensor(a, opts)};
  });
  def("from_buffer", "from_buffer", from_buffer_call<float>);
  def("from_buffer", "from_buffer", from_buffer_call<double>);
  def("from_buffer", "from_buffer", from_buffer_call<std::int64_t>);
  def("from_blob", "from_blob", [](FuzzCall& g) -> TensorList {
    auto s = g.shape("shape");
    auto opts = g.options("opts");
    const auto n = checked_numel(s);
    // A buffer that fits the shape when it is moderate; a hostile shape must be refused before any
    // access, so it gets a one-element buffer.
    const std::size_t words = n && *n <= kModerateElements ? static_cast<std::size_t>(*n) + 1 : 1;
    auto buffer = std::make_shared<std::vector<double>>(words, 0.0);  // zero bytes: valid for bool too
    int deleted = 0;
    {
      Tensor t = from_blob(buffer->data(), s, opts, [&deleted](void*) { ++deleted; });
      expect_shape(g, t, s);
      (void)t.sum();
      (void)t.clone();
    }
    g.expect(deleted == 1, "the deleter ran " + std::to_string(deleted) + " times, not once");
    return {};
  });
  def("manual_seed", "manual_seed", [](FuzzCall& g) -> TensorList {
    const auto seed = g.bits();
    g.note(fmt::format("seed={}", seed));
    xgrad::manual_seed(seed);
    return {};
  });
  def("empty_cache", "empty_cache", [](FuzzCall&) -> TensorList {
    xgrad::empty_cache();
    return {};
  });
  def("cached_bytes", "cached_bytes", [](FuzzCall& g) -> TensorList {
    g.expect(xgrad::cached_bytes() <= xgrad::cache_limit(), "cached_bytes() <= cache_limit()");
    return {};
  });
  def("cache_limit", "cache_limit", [](FuzzCall& g) -> TensorList {
    g.expect(xgrad::cache_limit() > 0, "the default cache limit is positive");
    return {};
  });
  // Any limit (0, tiny, huge), then an allocation under it; the caller's limit comes back after.
  def("set_cache_limit", "set_cache_limit", [](FuzzCall& g) -> TensorList {
    const std::size_t before = xgrad::cache_limit();
    const auto pick = g.integer("bytes", 0, 1 << 20);
    const std::size_t bytes = pick < 0 ? static_cast<std::size_t>(-(pick + 1)) : static_cast<std::size_t>(pick);
    xgrad::set_cache_limit(bytes);
    const bool within = xgrad::cached_bytes() <= bytes;
    (void)xgrad::zeros({64, 64});
    const bool still_within = xgrad::cached_bytes() <= bytes;
    xgrad::set_cache_limit(before);
    g.expect(within && still_within, "cached_bytes() stays within the limit just set");
    return {};
  });
  def("to_string", "to_string", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("t");
    (void)xgrad::to_string(x);
    return {};
  });
  def("operator<<", "to_string|operator<<", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("t");
    std::ostringstream os;
    os << x;
    return {};
  });

  // ---- Tensor methods
  def("Tensor::defined", "defined", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    (void)x.defined();
    (void)x.impl();
    (void)x.impl_ptr();
    (void)x.is_same(x);
    return {};
  });
  def("Tensor::impl", "impl", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    g.expect((x.impl() != nullptr) == x.defined(), "impl() does not match defined()");
    return {};
  });
  def("Tensor::impl_ptr", "impl_ptr", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    g.expect(x.impl_ptr().get() == x.impl(), "impl_ptr() differs from impl()");
    return {};
  });
  def("Tensor::is_same", "is_same", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    g.expect(x.is_same(x) && x.is_same(Tensor()) == !x.defined(), "is_same");
    return {};
  });
  // Metadata and state accessors: any tensor, undefined ones included.
  using Accessor = void (*)(const Tensor&);
  for (auto [key, name, f] : std::vector<std::tuple<const char*, const char*, Accessor>>{
           {"Tensor::shape", "shape", [](const Tensor& x) { (void)x.shape(); }},
           {"Tensor::dim", "dim", [](const Tensor& x) { (void)x.dim(); }},
           {"Tensor::numel", "numel", [](const Tensor& x) { (void)x.numel(); }},
           {"Tensor::dtype", "dtype", [](const Tensor& x) { (void)x.dtype(); }},
           {"Tensor::version", "version", [](const Tensor& x) { (void)x.version(); }},
           {"Tensor::requires_grad", "requires_grad", [](const Tensor& x) { (void)x.requires_grad(); }},
           {"Tensor::is_leaf", "is_leaf", [](const Tensor& x) { (void)x.is_leaf(); }},
           {"Tensor::grad", "grad", [](const Tensor& x) { (void)x.grad(); }},
           {"Tensor::retains_grad", "retains_grad", [](const Tensor& x) { (void)x.retains_grad(); }},
           {"Tensor::grad_fn", "grad_fn", [](const Tensor& x) { (void)x.grad_fn(); }},
           {"Tensor::grad_fn_name", "grad_fn_name", [](const Tensor& x) { (void)x.grad_fn_name(); }},
           {"Tensor::detach", "detach", [](const Tensor& x) { (void)x.detach(); }},
           {"Tensor::zero_grad", "zero_grad", [](const Tensor& x) { Tensor y = x; y.zero_grad(); }},
           {"Tensor::retain_grad", "retain_grad", [](const Tensor& x) { Tensor y = x; y.retain_grad(); }},
       }) {
    def(key, name, [f](FuzzCall& g) -> TensorList {
      auto gr = graph(g);
      if (!gr) return {};
      const bool on_output = g.chance(0.5);
      g.note(on_output ? "on y" : "on x");
      f(on_output ? gr->y : gr->x);
      return {};
    });
  }
  def("Tensor::size", "size", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto d = g.dim("d", x);
    (void)x.size(d);
    return {};
  });
  def("Tensor::to", "to", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto d = g.dtype("dtype");
    auto y = x.to(d);
    g.expect(y.shape() == x.shape() && y.dtype() == d, "to: wrong shape or dtype");
    return {y};
  });
  def("Tensor::item", "item", [](FuzzCall& g) -> TensorList {
    auto x = few(g, "x");
    switch (type_choice(g)) {
      case 0: (void)x.item<float>(); break;
      case 1: (void)x.item<double>(); break;
      default: (void)(g.flag("untyped") ? x.item() : static_cast<double>(x.item<std::int64_t>())); break;
    }
    return {};
  });
  def("Tensor::at", "at", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    const int k = type_choice(g);
    const auto i = g.integer("i", -2, 4);
    const auto j = g.integer("j", -2, 4);
    const auto count = g.uniform(0, 3);
    g.note(fmt::format("indices={}", count));
    auto at = [&](auto tag) {
      using T = decltype(tag);
      switch (count) {
        case 0: return static_cast<double>(x.at<T>({}));
        case 1: return static_cast<double>(x.at<T>({i}));
        case 2: return static_cast<double>(x.at<T>({i, j}));
        default: return static_cast<double>(x.at<T>({i, j, i}));
      }
    };
    if (k == 0) (void)at(float{});
    else if (k == 1) (void)at(double{});
    else (void)at(std::int64_t{});
    return {};
  });
  def("Tensor::data", "data", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    const int k = type_choice(g);
    const bool read = x.defined() && x.numel() > 0;
    if (k == 0) { auto p = x.data<float>(); if (read) (void)*p; }
    else if (k == 1) { auto p = x.data<double>(); if (read) (void)*p; }
    else { auto p = x.data<std::int64_t>(); if (read) (void)*p; }
    return {};
  });
  def("Tensor::mutable_data", "mutable_data", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    const int k = type_choice(g);
    const bool write = x.defined() && x.numel() > 0;
    if (k == 0) { auto p = x.mutable_data<float>(); if (write) p[x.numel() - 1] = 1; }
    else if (k == 1) { auto p = x.mutable_data<double>(); if (write) p[x.numel() - 1] = 1; }
    else { auto p = x.mutable_data<std::int64_t>(); if (write) p[x.numel() - 1] = 1; }
    return {};
  });
  def("Tensor::to_vector", "to_vector", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    switch (type_choice(g)) {
      case 0: (void)x.to_vector<float>(); break;
      case 1: (void)x.to_vector<double>(); break;
      default: (void)x.to_vector<std::int64_t>(); break;
    }
    return {};
  });
  def("Tensor::to_xarray", "to_xarray|to_vector", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    switch (type_choice(g)) {
      case 0: (void)x.to_xarray<float>(); break;
      case 1: (void)x.to_xarray<double>(); break;
      default: (void)x.to_xarray<std::int64_t>(); break;
    }
    return {};
  });
  def("Tensor::requires_grad_", "requires_grad_", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    const bool on_output = g.chance(0.5);
    auto on = g.flag(on_output ? "y.requires_grad_" : "x.requires_grad_");
    (on_output ? gr->y : gr->x).requires_grad_(on);
    return {};
  });
  def("Tensor::set_grad", "set_grad", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    auto grad = g.tensor_like("g", gr->x);
    gr->x.set_grad(grad);
    return {};
  });
  def("Tensor::backward", "backward", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    auto gradient = g.chance(0.5) ? Tensor() : g.tensor_like("gradient", gr->y);
    auto opts = grad_options(g);
    gr->y.backward(gradient, opts);
    if (g.chance(0.3)) {
      g.note("twice");
      gr->y.backward(gradient, opts);
    }
    return {};
  });
  def("Tensor::register_hook", "register_hook|backward|hook", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    auto replacement = g.chance(0.4) ? Tensor() : g.tensor_like("hook returns", gr->x);
    const bool on_output = g.chance(0.5);
    g.note(on_output ? "hook on y" : "hook on x");
    (on_output ? gr->y : gr->x).register_hook([replacement](const Tensor&) { return replacement; });
    if (gr->y.defined() && gr->y.requires_grad()) gr->y.sum().backward();
    return {};
  });
  def("Tensor::remove_hook", "remove_hook", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    std::size_t handle = 0;
    if (gr->x.defined() && gr->x.requires_grad() && g.chance(0.5))
      handle = gr->x.register_hook([](const Tensor& t) { return t; });
    else
      handle = static_cast<std::size_t>(g.integer("handle", 0, 100));
    gr->x.remove_hook(handle);
    gr->x.remove_hook(handle);  // twice: the second finds nothing
    return {};
  });
  def("Tensor::reshape", "reshape", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto s = g.shape_near("shape", x);
    return {x.reshape(s)};
  });
  // In-place ops: on the tensor itself (a leaf requiring grad raises), on a copy with history, or
  // under NoGradGuard (the optimizer pattern).
  auto inplace = [&](const char* key, const char* name, std::function<void(FuzzCall&, Tensor&)> f) {
    def(key, name, [f](FuzzCall& g) -> TensorList {
      Tensor x = g.tensor("x");
      const int mode = static_cast<int>(g.uniform(0, 2));
      g.note(mode == 0 ? "on x" : mode == 1 ? "on x.clone()" : "on x under NoGradGuard");
      if (mode == 1 && x.defined()) x = x.clone();
      std::optional<NoGradGuard> no_grad;
      if (mode == 2) no_grad.emplace();
      f(g, x);
      return {x};
    });
  };
  inplace("Tensor::add_", "add_", [](FuzzCall& g, Tensor& x) {
    if (g.chance(0.3)) x.add_(g.real("other", -2, 2), g.real("alpha", -2, 2));
    else x.add_(g.tensor_like("other", x), g.real("alpha", -2, 2));
  });
  inplace("Tensor::sub_", "sub_", [](FuzzCall& g, Tensor& x) {
    if (g.chance(0.3)) x.sub_(g.real("other", -2, 2));
    else x -= g.tensor_like("other", x);
  });
  inplace("Tensor::mul_", "mul_", [](FuzzCall& g, Tensor& x) {
    if (g.chance(0.3)) x *= g.real("other", -2, 2);
    else x.mul_(g.tensor_like("other", x));
  });
  inplace("Tensor::div_", "div_", [](FuzzCall& g, Tensor& x) {
    if (g.chance(0.3)) x /= g.real("other", -2, 2);
    else x.div_(g.tensor_like("other", x));
  });
  inplace("Tensor::addcmul_", "addcmul_", [](FuzzCall& g, Tensor& x) {
    x.addcmul_(g.tensor_like("t1", x), g.tensor_like("t2", x), g.real("value", -2, 2));
  });
  inplace("Tensor::addcdiv_", "addcdiv_", [](FuzzCall& g, Tensor& x) {
    x.addcdiv_(g.tensor_like("t1", x), g.tensor_like("t2", x), g.real("value", -2, 2));
  });
  // The compound operators forward to add_ / sub_ / mul_ / div_, whose names their errors carry.
  inplace("Tensor::operator+=", "add_", [](FuzzCall& g, Tensor& x) {
    if (g.flag("scalar")) x += g.real("other", -2, 2);
    else x += g.tensor_like("other", x);
  });
  inplace("Tensor::operator-=", "sub_", [](FuzzCall& g, Tensor& x) {
    if (g.flag("scalar")) x -= g.real("other", -2, 2);
    else x -= g.tensor_like("other", x);
  });
  inplace("Tensor::operator*=", "mul_", [](FuzzCall& g, Tensor& x) {
    if (g.flag("scalar")) x *= g.real("other", -2, 2);
    else x *= g.tensor_like("other", x);
  });
  inplace("Tensor::operator/=", "div_", [](FuzzCall& g, Tensor& x) {
    if (g.flag("scalar")) x /= g.real("other", -2, 2);
    else x /= g.tensor_like("other", x);
  });
  inplace("Tensor::copy_", "copy_", [](FuzzCall& g, Tensor& x) { x.copy_(g.tensor_like("src", x)); });
  inplace("Tensor::zero_", "zero_", [](FuzzCall&, Tensor& x) { x.zero_(); });
  inplace("Tensor::fill_", "fill_", [](FuzzCall& g, Tensor& x) { x.fill_(g.real("value", -2, 2)); });
  inplace("Tensor::clamp_", "clamp_", [](FuzzCall& g, Tensor& x) {
    x.clamp_(g.optional_real("min", -2, 0), g.optional_real("max", 0, 2));
  });
  inplace("Tensor::uniform_", "uniform_", [](FuzzCall& g, Tensor& x) {
    Generator gen(g.bits());
    if (g.flag("generator")) x.uniform_(g.real("low", -2, 0), g.real("high", 0, 2), gen);
    else x.uniform_(g.real("low", -2, 0), g.real("high", 0, 2));
  });
  inplace("Tensor::normal_", "normal_", [](FuzzCall& g, Tensor& x) {
    Generator gen(g.bits());
    if (g.flag("generator")) x.normal_(g.real("mean", -2, 2), g.real("std", 0, 2), gen);
    else x.normal_(g.real("mean", -2, 2), g.real("std", 0, 2));
  });
  def("Tensor::clone", "clone", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.clone()};
  });
  def("Tensor::sum", "sum", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    if (g.flag("all")) return {x.sum()};
    auto dims = g.dims("dims", x);
    return {x.sum(dims, g.flag("keepdim"))};
  });
  def("Tensor::mean", "mean", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    if (g.flag("all")) return {x.mean()};
    auto dims = g.dims("dims", x);
    return {x.mean(dims, g.flag("keepdim"))};
  });
  def("Tensor::transpose", "transpose", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto d0 = g.dim("d0", x);
    auto d1 = g.dim("d1", x);
    return {x.transpose(d0, d1)};
  });
  def("Tensor::t", "t", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.t()};
  });
  def("Tensor::view", "reshape", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto s = g.shape_near("shape", x);
    return {x.view(s)};
  });
  def("Tensor::permute", "permute", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.permute(g.permutation("dims", x))};
  });
  def("Tensor::flatten", "flatten", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto a = g.dim("start_dim", x);
    auto b = g.dim("end_dim", x);
    return {x.flatten(a, b)};
  });
  def("Tensor::squeeze", "squeeze", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {g.flag("all") ? x.squeeze() : x.squeeze(g.dim("dim", x))};
  });
  def("Tensor::unsqueeze", "unsqueeze", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.unsqueeze(g.dim("dim", x))};
  });
  def("Tensor::operator[]", "operator[]", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x[g.integer("i", -4, 4)]};
  });
  def("Tensor::operator[]", "index", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto index = g.chance(0.5) && x.defined() ? mask_of(g.tensor_like("mask_values", x))
                                              : g.index("index", {g.uniform(0, 3)}, x.defined() && x.dim() > 0 ? x.size(0) : 1);
    return {x[index]};
  });
  // Indexing: a few entries of every kind, mostly fitting x's dims.
  auto draw_indices = [](FuzzCall& g, const Tensor& x) {
    std::vector<TensorIndex> ix;
    const std::int64_t rank = x.defined() ? x.dim() : 0;
    std::int64_t d = 0;  // the dim of x the next entry most likely meets
    for (std::int64_t k = 0, n = g.uniform(0, 4); k < n; ++k) {
      const std::int64_t size = d < rank ? x.size(d) : 1;
      switch (g.uniform(0, 6)) {
        case 0: ix.emplace_back(g.integer("i", -size, size - 1)); ++d; break;
        case 1: {
          auto start = g.optional_integer("start", -size, size);
          auto stop = g.optional_integer("stop", -size, size);
          auto step = g.optional_integer("step", 1, 3);
          ix.emplace_back(indexing::Slice(start ? indexing::SliceBound(*start) : indexing::SliceBound(),
                                          stop ? indexing::SliceBound(*stop) : indexing::SliceBound(),
                                          step ? indexing::SliceBound(*step) : indexing::SliceBound()));
          ++d;
          break;
        }
        case 2: g.note("None"); ix.emplace_back(indexing::None); break;
        case 3: g.note("Ellipsis"); ix.emplace_back(indexing::Ellipsis); d = rank; break;
        case 4: ix.emplace_back(g.index("index", {g.uniform(0, 3)}, size)); ++d; break;
        case 5: ix.emplace_back(g.tensor("index_any")); ++d; break;
        default: {  // a mask over the next dims of x (all of them, or one)
          Shape ms;
          for (std::int64_t j = d; j < rank && (ms.empty() || g.chance(0.5)); ++j) ms.push_back(x.size(j));
          ix.emplace_back(mask_of(g.tensor("mask_values", ms, float32)));
          d += static_cast<std::int64_t>(ms.size());
        }
      }
    }
    return ix;
  };
  def("Tensor::index", "index", [draw_indices](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.index(draw_indices(g, x))};
  });
  def("Tensor::index_put_", "index_put_", [draw_indices](FuzzCall& g) -> TensorList {
    Tensor x = g.tensor("x");
    const bool on_clone = g.flag("on_clone");
    if (on_clone && x.defined()) x = x.clone();
    auto ix = draw_indices(g, x);
    const bool accumulate = g.flag("accumulate");
    if (g.chance(0.3)) {
      x.index_put_({ix.empty() ? TensorIndex(indexing::Ellipsis) : ix.front()}, g.real("value", -2, 2), accumulate);
      return {x};
    }
    // Values of the indexed shape (when it can be taken), broadcastable, or anything.
    Tensor values;
    try {
      NoGradGuard no_grad;
      values = g.tensor_like("values", x.index(ix));
    } catch (const Error&) {
      values = g.tensor("values");
    }
    x.index_put_(ix, values, accumulate);
    return {x};
  });
  def("Tensor::masked_fill", "masked_fill", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto mask = x.defined() && g.chance(0.8) ? mask_of(g.tensor_like("mask_values", x)) : g.tensor("mask");
    return {x.masked_fill(mask, g.real("value", -2, 2))};
  });
  def("Tensor::masked_select", "masked_select", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto mask = x.defined() && g.chance(0.8) ? mask_of(g.tensor_like("mask_values", x)) : g.tensor("mask");
    return {x.masked_select(mask)};
  });
  for (auto [key, name, all] : std::vector<std::tuple<const char*, const char*, bool>>{{"Tensor::any", "any", false},
                                                                                       {"Tensor::all", "all", true}}) {
    def(key, name, [all](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      if (g.flag("whole")) return {all ? x.all() : x.any()};
      auto d = g.dim("dim", x);
      auto keepdim = g.flag("keepdim");
      return {all ? x.all(d, keepdim) : x.any(d, keepdim)};
    });
  }
  def("Tensor::logical_not", "logical_not", [](FuzzCall& g) -> TensorList { return {g.tensor("x").logical_not()}; });
  // Reductions and math: thin forwards, each drawn like its free function.
  def("Tensor::max", "max", [](FuzzCall& g) -> TensorList { return {g.tensor("x").max()}; });
  def("Tensor::min", "min", [](FuzzCall& g) -> TensorList { return {g.tensor("x").min()}; });
  def("Tensor::argmax", "argmax", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    if (g.flag("all")) return {x.argmax()};
    auto d = g.dim("dim", x);
    return {x.argmax(d, g.flag("keepdim"))};
  });
  def("Tensor::argmin", "argmin", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    if (g.flag("all")) return {x.argmin()};
    auto d = g.dim("dim", x);
    return {x.argmin(d, g.flag("keepdim"))};
  });
  def("Tensor::neg", "neg", [](FuzzCall& g) -> TensorList { return {g.tensor("x").neg()}; });
  def("Tensor::exp", "exp", [](FuzzCall& g) -> TensorList { return {g.tensor("x").exp()}; });
  def("Tensor::log", "log", [](FuzzCall& g) -> TensorList { return {g.tensor("x").log()}; });
  def("Tensor::sqrt", "sqrt", [](FuzzCall& g) -> TensorList { return {g.tensor("x").sqrt()}; });
  def("Tensor::abs", "abs", [](FuzzCall& g) -> TensorList { return {g.tensor("x").abs()}; });
  def("Tensor::pow", "pow", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    if (g.flag("tensor_exponent")) return {x.pow(g.tensor_like("exponent", x))};
    return {x.pow(g.real("exponent", -3, 3))};
  });
  def("Tensor::relu", "relu", [](FuzzCall& g) -> TensorList { return {g.tensor("x").relu()}; });
  def("Tensor::sigmoid", "sigmoid", [](FuzzCall& g) -> TensorList { return {g.tensor("x").sigmoid()}; });
  def("Tensor::tanh", "tanh", [](FuzzCall& g) -> TensorList { return {g.tensor("x").tanh()}; });
  def("Tensor::softmax", "softmax", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.softmax(g.dim("dim", x))};
  });
  def("Tensor::log_softmax", "log_softmax", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {x.log_softmax(g.dim("dim", x))};
  });

  // ---- autograd.h
  def("grad", "grad", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    auto outputs = some_of(g, "outputs", *gr);
    auto inputs = some_of(g, "inputs", *gr);
    auto grad_outputs = g.chance(0.5) ? TensorList{} : some_of(g, "grad_outputs", *gr);
    auto opts = grad_options(g);
    auto grads = xgrad::grad(outputs, inputs, grad_outputs, opts);
    g.expect(grads.size() == inputs.size(), "grad returned " + std::to_string(grads.size()) + " gradients");
    return {};
  });
  def("backward", "backward", [](FuzzCall& g) -> TensorList {
    auto gr = graph(g);
    if (!gr) return {};
    auto outputs = some_of(g, "outputs", *gr);
    auto grad_outputs = g.chance(0.5) ? TensorList{} : some_of(g, "grad_outputs", *gr);
    auto opts = grad_options(g);
    xgrad::backward(outputs, grad_outputs, opts);
    return {};
  });
  return t;
}

}  // namespace

void add_tensor_api_functions(std::vector<FuzzedFunction>& table) {
  for (auto& f : tensor_table()) table.push_back(std::move(f));
}

}  // namespace xgrad::fuzz
