// Fuzz entries for every function of include/xgrad/ops.h, one entry per overload. The key is the
// function's name as declared (the coverage test parses ops.h and looks each name up here); `op`
// is the name its errors must contain. Arguments are drawn in separate statements so the draw
// order, and so the replay of a call, does not depend on the compiler's argument evaluation order.
#include "fuzz.h"

namespace xgrad::fuzz {

namespace {

using Fn = std::function<TensorList(FuzzCall&)>;

// A floating tensor of the given shape (the generator still swaps in another dtype sometimes).
Tensor floating(FuzzCall& g, const char* name, const Shape& s, std::optional<Dtype> like = std::nullopt) {
  return g.tensor(name, s, like ? *like : (g.chance(0.5) ? float32 : float64));
}
Dtype dtype_or_f32(const Tensor& t) { return t.defined() ? t.dtype() : float32; }

// An optional tensor argument (weight, bias, ...): undefined half of the time.
Tensor maybe(FuzzCall& g, const char* name, const Shape& s, Dtype d) {
  if (g.chance(0.5)) {
    g.note(std::string(name) + "=none");
    return Tensor();
  }
  return g.tensor(name, s, d);
}

// [N, C, spatial...] (sometimes without N) with small sizes, the kernel and groups plausible.
struct ConvSetup {
  Tensor x, weight, bias;
  std::int64_t groups_hint;
};
ConvSetup conv_setup(FuzzCall& g, int spatial, bool transposed) {
  const auto groups = g.uniform(1, 2);
  const auto c_in = groups * g.uniform(1, 2), c_out = groups * g.uniform(1, 2);
  Shape xs;
  if (g.chance(0.8)) xs.push_back(g.uniform(1, 2));
  xs.push_back(c_in);
  for (int i = 0; i < spatial; ++i) xs.push_back(g.uniform(1, 6));
  Shape ws = transposed ? Shape{c_in, c_out / groups} : Shape{c_out, c_in / groups};
  for (int i = 0; i < spatial; ++i) ws.push_back(g.uniform(1, 3));
  ConvSetup s;
  s.x = floating(g, "x", xs);
  s.weight = floating(g, "weight", ws, dtype_or_f32(s.x));
  s.bias = maybe(g, "bias", {c_out}, dtype_or_f32(s.x));
  s.groups_hint = groups;
  return s;
}

// [N, C, spatial...] input for pooling.
Tensor pool_input(FuzzCall& g, int spatial) {
  Shape s;
  if (g.chance(0.8)) s.push_back(g.uniform(1, 2));
  s.push_back(g.uniform(1, 3));
  for (int i = 0; i < spatial; ++i) s.push_back(g.uniform(1, 7));
  return floating(g, "x", s);
}

// Logits [N, C], [C] or [N, C, d] and a matching target of class indices or probabilities.
struct ClassSetup {
  Tensor logits, target;
  std::int64_t classes;
};
ClassSetup class_setup(FuzzCall& g, bool allow_probabilities) {
  const auto n = g.uniform(0, 3), c = g.uniform(1, 4);
  const auto form = g.uniform(0, 2);
  const Shape ls = form == 0 ? Shape{n, c} : form == 1 ? Shape{c} : Shape{n, c, g.uniform(1, 3)};
  Shape ts = form == 0 ? Shape{n} : form == 1 ? Shape{} : Shape{n, ls[2]};
  ClassSetup s;
  s.classes = c;
  s.logits = floating(g, "input", ls);
  s.target = allow_probabilities && g.chance(0.3) ? g.tensor("target", ls, dtype_or_f32(s.logits)) : g.index("target", ts, c);
  return s;
}

// Operands of a matrix product: [batch..., m, k] x [batch..., k, n], 1-D forms included.
std::pair<Tensor, Tensor> matmul_operands(FuzzCall& g) {
  const auto m = g.uniform(0, 4), k = g.uniform(0, 4), n = g.uniform(0, 4);
  Shape a = g.chance(0.2) ? Shape{k} : Shape{m, k};
  Shape b = g.chance(0.2) ? Shape{k} : Shape{k, n};
  if (a.size() == 2 && g.chance(0.3)) a.insert(0, g.uniform(1, 3));
  if (b.size() == 2 && g.chance(0.3)) b.insert(0, g.chance(0.5) ? 1 : g.uniform(1, 3));
  Tensor ta = floating(g, "a", a);
  return {ta, floating(g, "b", b, dtype_or_f32(ta))};
}

std::vector<FuzzedFunction> ops_table() {
  std::vector<FuzzedFunction> t;
  auto def = [&t](const char* key, const char* op, Fn fn) { t.push_back({key, op, std::move(fn)}); };
  // Same-shape result: checked where the shape is predictable.
  auto same_shape = [](FuzzCall& g, const Tensor& x, const Tensor& y) {
    g.expect(y.shape() == x.shape(), "result shape " + describe_shape(y.shape()) + " != input shape");
    return TensorList{y};
  };

  // ---- elementwise binary
  using Binary = Tensor (*)(const Tensor&, const Tensor&);
  for (auto [name, f] : {std::pair<const char*, Binary>{"add", xgrad::add}, {"sub", xgrad::sub}, {"mul", xgrad::mul},
                         {"div", xgrad::div}, {"maximum", xgrad::maximum}, {"minimum", xgrad::minimum},
                         {"eq", xgrad::eq}, {"ne", xgrad::ne}, {"lt", xgrad::lt}, {"le", xgrad::le},
                         {"gt", xgrad::gt}, {"ge", xgrad::ge}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto a = g.tensor("a");
      auto b = g.tensor_like("b", a);
      return {f(a, b)};
    });
  }
  def("pow", "pow", [](FuzzCall& g) -> TensorList {
    auto a = g.tensor("base");
    auto b = g.tensor_like("exponent", a);
    return {xgrad::pow(a, b)};
  });
  def("pow", "pow", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("base");
    auto e = g.real("exponent", -3, 3);
    auto y = xgrad::pow(x, e);
    return same_shape(g, x, y);
  });
  def("where", "where", [](FuzzCall& g) -> TensorList {
    auto c = g.tensor("condition");
    auto a = g.tensor_like("a", c);
    auto b = g.tensor_like("b", c);
    return {xgrad::where(c, a, b)};
  });

  // ---- elementwise unary
  using Unary = Tensor (*)(const Tensor&);
  for (auto [name, f] : {std::pair<const char*, Unary>{"neg", xgrad::neg}, {"exp", xgrad::exp}, {"log", xgrad::log},
                         {"sqrt", xgrad::sqrt}, {"abs", xgrad::abs}, {"sign", xgrad::sign}, {"sin", xgrad::sin},
                         {"cos", xgrad::cos}, {"tanh", xgrad::tanh}, {"sigmoid", xgrad::sigmoid},
                         {"relu", xgrad::relu}, {"clone", xgrad::clone}, {"erf", xgrad::erf}}) {
    def(name, name, [f, same_shape](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      return same_shape(g, x, f(x));
    });
  }
  def("leaky_relu", "leaky_relu", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto s = g.real("negative_slope", -1, 1);
    return same_shape(g, x, xgrad::leaky_relu(x, s));
  });
  def("elu", "elu", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto a = g.real("alpha", 0, 2);
    return same_shape(g, x, xgrad::elu(x, a));
  });
  def("gelu", "gelu", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    const bool tanh_form = g.flag("tanh");
    return same_shape(g, x, xgrad::gelu(x, tanh_form ? "tanh" : "none"));
  });
  def("softplus", "softplus", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto beta = g.real("beta", 0.1, 5);
    auto threshold = g.real("threshold", 0, 30);
    return same_shape(g, x, xgrad::softplus(x, beta, threshold));
  });
  def("clamp", "clamp", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto lo = g.optional_real("min", -2, 1);
    auto hi = g.optional_real("max", -1, 2);
    return same_shape(g, x, xgrad::clamp(x, lo, hi));
  });

  // ---- comparisons returning bool
  def("allclose", "allclose", [](FuzzCall& g) -> TensorList {
    auto a = g.tensor("a");
    auto b = g.tensor_like("b", a);
    auto rtol = g.real("rtol", 0, 1e-3);
    auto atol = g.real("atol", 0, 1e-3);
    (void)xgrad::allclose(a, b, rtol, atol);
    return {};
  });
  def("equal", "equal", [](FuzzCall& g) -> TensorList {
    auto a = g.tensor("a");
    auto b = g.tensor_like("b", a);
    (void)xgrad::equal(a, b);
    return {};
  });

  // ---- logical ops and masks (any dtype counts as nonzero; the operators take bool only)
  using Binary = Tensor (*)(const Tensor&, const Tensor&);
  for (auto [key, name, f] : std::vector<std::tuple<const char*, const char*, Binary>>{
           {"logical_and", "logical_and", xgrad::logical_and}, {"logical_or", "logical_or", xgrad::logical_or},
           {"logical_xor", "logical_xor", xgrad::logical_xor}, {"operator&", "bitwise_and", xgrad::operator&},
           {"operator|", "bitwise_or", xgrad::operator|}, {"operator^", "bitwise_xor", xgrad::operator^}}) {
    def(key, name, [f](FuzzCall& g) -> TensorList {
      auto a = g.tensor("a");
      auto b = g.tensor_like("b", a);
      auto y = f(a, b);
      g.expect(y.dtype() == boolean, "a logical op returned " + std::string(dtype_name(y.dtype())));
      return {};
    });
  }
  def("logical_not", "logical_not", [](FuzzCall& g) -> TensorList { return {xgrad::logical_not(g.tensor("x"))}; });
  def("operator~", "bitwise_not", [](FuzzCall& g) -> TensorList { return {~g.tensor("x")}; });
  for (auto [name, all] : std::vector<std::pair<const char*, bool>>{{"any", false}, {"all", true}}) {
    def(name, name, [all](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      if (g.chance(0.5)) return {all ? xgrad::all(x) : xgrad::any(x)};
      auto dim = g.dim("dim", x);
      auto keepdim = g.flag("keepdim");
      return {all ? xgrad::all(x, dim, keepdim) : xgrad::any(x, dim, keepdim)};
    });
  }
  // A mask of x's shape (or a broadcastable one, or now and then a tensor of another dtype).
  auto mask_for = [](FuzzCall& g, const Tensor& x) {
    return g.chance(0.8) && x.defined() ? mask_of(g.tensor_like("mask_values", x)) : g.tensor("mask");
  };
  def("masked_fill", "masked_fill", [mask_for](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto mask = mask_for(g, x);
    auto value = g.real("value", -2, 2);
    return {xgrad::masked_fill(x, mask, value)};
  });
  def("masked_select", "masked_select", [mask_for](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto mask = mask_for(g, x);
    return {xgrad::masked_select(x, mask)};
  });

  // ---- reductions
  using Whole = Tensor (*)(const Tensor&);
  for (auto [name, f] : {std::pair<const char*, Whole>{"sum", xgrad::sum}, {"mean", xgrad::mean}, {"prod", xgrad::prod},
                         {"max", xgrad::max}, {"min", xgrad::min}, {"argmax", xgrad::argmax},
                         {"argmin", xgrad::argmin}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      auto y = f(x);
      g.expect(y.dim() == 0, "a full reduction is not 0-d");
      return {y};
    });
  }
  using OverDims = Tensor (*)(const Tensor&, const Dims&, bool);
  for (auto [name, f] : {std::pair<const char*, OverDims>{"sum", xgrad::sum}, {"mean", xgrad::mean},
                         {"logsumexp", xgrad::logsumexp}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      auto dims = g.dims("dims", x);
      auto keepdim = g.flag("keepdim");
      return {f(x, dims, keepdim)};
    });
  }
  using OverDim = Tensor (*)(const Tensor&, std::int64_t, bool);
  for (auto [name, f] : {std::pair<const char*, OverDim>{"prod", xgrad::prod}, {"max", xgrad::max}, {"min", xgrad::min},
                         {"argmax", xgrad::argmax}, {"argmin", xgrad::argmin}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      auto dim = g.dim("dim", x);
      auto keepdim = g.flag("keepdim");
      return {f(x, dim, keepdim)};
    });
  }
  using Spread = Tensor (*)(const Tensor&, const Dims&, std::int64_t, bool);
  for (auto [name, f] : {std::pair<const char*, Spread>{"var", xgrad::var}, {"std", xgrad::std}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      auto dims = g.dims("dims", x);
      auto correction = g.integer("correction", 0, 2);
      auto keepdim = g.flag("keepdim");
      return {f(x, dims, correction, keepdim)};
    });
  }

  // ---- linear algebra
  def("matmul", "matmul", [](FuzzCall& g) -> TensorList {
    auto [a, b] = matmul_operands(g);
    return {xgrad::matmul(a, b)};
  });
  def("linear", "linear", [](FuzzCall& g) -> TensorList {
    const auto in = g.uniform(0, 4), out = g.uniform(0, 4);
    Shape xs{in};
    if (g.chance(0.7)) xs.insert(0, g.uniform(0, 3));
    auto x = floating(g, "x", xs);
    auto w = floating(g, "weight", {out, in}, dtype_or_f32(x));
    auto b = maybe(g, "bias", {out}, dtype_or_f32(x));
    return {xgrad::linear(x, w, b)};
  });
  def("matmul_transposed", "matmul_transposed", [](FuzzCall& g) -> TensorList {
    const auto m = g.uniform(0, 4), k = g.uniform(0, 4), n = g.uniform(0, 4);
    auto ta = g.flag("transpose_a");
    auto tb = g.flag("transpose_b");
    auto a = floating(g, "a", ta ? Shape{k, m} : Shape{m, k});
    auto b = floating(g, "b", tb ? Shape{n, k} : Shape{k, n}, dtype_or_f32(a));
    return {xgrad::matmul_transposed(a, ta, b, tb)};
  });

  // ---- shape
  def("reshape", "reshape", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto s = g.shape_near("shape", x);
    return {xgrad::reshape(x, s)};
  });
  def("flatten", "flatten", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto start = g.dim("start_dim", x);
    auto end = g.dim("end_dim", x);
    return {xgrad::flatten(x, start, end)};
  });
  def("squeeze", "squeeze", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return {xgrad::squeeze(x)};
  });
  def("squeeze", "squeeze", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    return {xgrad::squeeze(x, dim)};
  });
  def("unsqueeze", "unsqueeze", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    return {xgrad::unsqueeze(x, dim)};
  });
  def("transpose", "transpose", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto d0 = g.dim("dim0", x);
    auto d1 = g.dim("dim1", x);
    return {xgrad::transpose(x, d0, d1)};
  });
  def("permute", "permute", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dims = g.permutation("dims", x);
    return {xgrad::permute(x, dims)};
  });
  using ToShape = Tensor (*)(const Tensor&, const Shape&);
  for (auto [name, f] : {std::pair<const char*, ToShape>{"expand", xgrad::expand}, {"broadcast_to", xgrad::broadcast_to},
                         {"sum_to", xgrad::sum_to}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      auto s = g.shape_near("shape", x);
      return {f(x, s)};
    });
  }
  def("to_dtype", "to_dtype", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto d = g.dtype("dtype");
    return same_shape(g, x, xgrad::to_dtype(x, d));
  });
  def("slice", "slice", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    auto start = g.optional_integer("start", -4, 4);
    auto stop = g.optional_integer("stop", -4, 8);
    auto step = g.integer("step", 1, 3);
    return {xgrad::slice(x, dim, start, stop, step)};
  });
  def("narrow", "narrow", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    auto start = g.integer("start", -2, 3);
    auto length = g.integer("length", 0, 3);
    return {xgrad::narrow(x, dim, start, length)};
  });
  def("index_select", "index_select", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    const auto bound = x.defined() && x.dim() > 0 ? x.shape()[static_cast<std::size_t>(((dim % x.dim()) + x.dim()) % x.dim())] : 1;
    auto index = g.index("index", {g.uniform(0, 4)}, bound);
    return {xgrad::index_select(x, dim, index)};
  });
  // index_add, gather, scatter_add: the index (and source) shaped from x's shape along dim.
  auto along = [](const Tensor& x, std::int64_t dim, std::int64_t length) {
    Shape s = x.defined() ? x.shape() : Shape{};
    if (!s.empty()) s[static_cast<std::size_t>(((dim % x.dim()) + x.dim()) % x.dim())] = length;
    return s;
  };
  auto bound_of = [](const Tensor& x, std::int64_t dim) -> std::int64_t {
    if (!x.defined() || x.dim() == 0) return 1;
    return x.shape()[static_cast<std::size_t>(((dim % x.dim()) + x.dim()) % x.dim())];
  };
  def("index_add", "index_add", [along, bound_of](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    const auto length = g.uniform(0, 4);
    auto index = g.index("index", {length}, bound_of(x, dim));
    auto source = g.tensor("source", along(x, dim, length), dtype_or_f32(x));
    return {xgrad::index_add(x, dim, index, source)};
  });
  def("gather", "gather", [along, bound_of](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    auto index = g.index("index", along(x, dim, g.uniform(0, 4)), bound_of(x, dim));
    return {xgrad::gather(x, dim, index)};
  });
  def("scatter_add", "scatter_add", [along, bound_of](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto dim = g.dim("dim", x);
    const Shape s = along(x, dim, g.uniform(0, 4));
    auto index = g.index("index", s, bound_of(x, dim));
    auto src = g.tensor("src", s, dtype_or_f32(x));
    return {xgrad::scatter_add(x, dim, index, src)};
  });
  def("cat", "cat", [](FuzzCall& g) -> TensorList {
    auto first = g.tensor("x");
    auto list = g.tensor_list("tensors", first);
    auto dim = g.dim("dim", first);
    return {xgrad::cat(list, dim)};
  });
  def("stack", "stack", [](FuzzCall& g) -> TensorList {
    auto first = g.tensor("x");
    auto list = g.tensor_list("tensors", first);
    auto dim = g.dim("dim", first);
    return {xgrad::stack(list, dim)};
  });
  def("split", "split", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto size = g.integer("split_size", 1, 4);
    auto dim = g.dim("dim", x);
    return xgrad::split(x, size, dim);
  });
  def("split", "split", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto sizes = g.integers("sizes", 4, 0, 4);
    auto dim = g.dim("dim", x);
    return xgrad::split(x, sizes, dim);
  });
  def("chunk", "chunk", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto chunks = g.integer("chunks", 1, 4);
    auto dim = g.dim("dim", x);
    return xgrad::chunk(x, chunks, dim);
  });
  def("pad", "pad", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto amounts = g.extents("pad", 8, -2, 3);
    auto value = g.real("value", -1, 1);
    return {xgrad::pad(x, amounts, value)};
  });

  // ---- convolution
  def("conv1d", "conv1d", [](FuzzCall& g) -> TensorList {
    auto s = conv_setup(g, 1, false);
    auto stride = g.integer("stride", 1, 3);
    auto padding = g.conv_padding("padding", 1);
    auto dilation = g.integer("dilation", 1, 2);
    auto groups = g.integer("groups", s.groups_hint, s.groups_hint);
    return {xgrad::conv1d(s.x, s.weight, s.bias, stride, padding, dilation, groups)};
  });
  def("conv2d", "conv2d", [](FuzzCall& g) -> TensorList {
    auto s = conv_setup(g, 2, false);
    auto stride = g.int2("stride", 1, 3);
    auto padding = g.conv_padding("padding", 2);
    auto dilation = g.int2("dilation", 1, 2);
    auto groups = g.integer("groups", s.groups_hint, s.groups_hint);
    return {xgrad::conv2d(s.x, s.weight, s.bias, stride, padding, dilation, groups)};
  });
  def("conv_transpose1d", "conv_transpose1d", [](FuzzCall& g) -> TensorList {
    auto s = conv_setup(g, 1, true);
    auto stride = g.extent("stride", 1, 3);
    auto padding = g.extent("padding", 0, 2);
    auto output_padding = g.extent("output_padding", 0, 1);
    auto groups = g.integer("groups", s.groups_hint, s.groups_hint);
    auto dilation = g.extent("dilation", 1, 2);
    return {xgrad::conv_transpose1d(s.x, s.weight, s.bias, stride, padding, output_padding, groups, dilation)};
  });
  def("conv_transpose2d", "conv_transpose2d", [](FuzzCall& g) -> TensorList {
    auto s = conv_setup(g, 2, true);
    auto stride = g.extent2("stride", 1, 3);
    auto padding = g.extent2("padding", 0, 2);
    auto output_padding = g.extent2("output_padding", 0, 1);
    auto groups = g.integer("groups", s.groups_hint, s.groups_hint);
    auto dilation = g.extent2("dilation", 1, 2);
    return {xgrad::conv_transpose2d(s.x, s.weight, s.bias, stride, padding, output_padding, groups, dilation)};
  });

  // ---- pooling
  def("max_pool1d", "max_pool1d", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 1);
    auto k = g.integer("kernel_size", 1, 3);
    auto stride = g.optional_integer("stride", 1, 3);
    auto padding = g.integer("padding", 0, 1);
    auto dilation = g.integer("dilation", 1, 2);
    auto ceil = g.flag("ceil_mode");
    return {xgrad::max_pool1d(x, k, stride, padding, dilation, ceil)};
  });
  def("max_pool2d", "max_pool2d", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 2);
    auto k = g.int2("kernel_size", 1, 3);
    auto stride = g.optional_int2("stride", 1, 3);
    auto padding = g.int2("padding", 0, 1);
    auto dilation = g.int2("dilation", 1, 2);
    auto ceil = g.flag("ceil_mode");
    return {xgrad::max_pool2d(x, k, stride, padding, dilation, ceil)};
  });
  def("max_pool2d_with_indices", "max_pool2d_with_indices", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 2);
    auto k = g.int2("kernel_size", 1, 3);
    auto stride = g.optional_int2("stride", 1, 3);
    auto padding = g.int2("padding", 0, 1);
    auto dilation = g.int2("dilation", 1, 2);
    auto ceil = g.flag("ceil_mode");
    auto [y, indices] = xgrad::max_pool2d_with_indices(x, k, stride, padding, dilation, ceil);
    g.expect(indices.shape() == y.shape(), "indices shape differs from the output's");
    return {y};
  });
  def("avg_pool1d", "avg_pool1d", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 1);
    auto k = g.integer("kernel_size", 1, 3);
    auto stride = g.optional_integer("stride", 1, 3);
    auto padding = g.integer("padding", 0, 1);
    auto ceil = g.flag("ceil_mode");
    auto include = g.flag("count_include_pad");
    return {xgrad::avg_pool1d(x, k, stride, padding, ceil, include)};
  });
  def("avg_pool2d", "avg_pool2d", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 2);
    auto k = g.int2("kernel_size", 1, 3);
    auto stride = g.optional_int2("stride", 1, 3);
    auto padding = g.int2("padding", 0, 1);
    auto ceil = g.flag("ceil_mode");
    auto include = g.flag("count_include_pad");
    auto divisor = g.optional_integer("divisor_override", 1, 4);
    return {xgrad::avg_pool2d(x, k, stride, padding, ceil, include, divisor)};
  });
  def("adaptive_avg_pool1d", "adaptive_avg_pool1d", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 1);
    auto out = g.extent("output_size", 1, 5);
    return {xgrad::adaptive_avg_pool1d(x, out)};
  });
  def("adaptive_avg_pool2d", "adaptive_avg_pool2d", [](FuzzCall& g) -> TensorList {
    auto x = pool_input(g, 2);
    auto out = g.extent2("output_size", 1, 5);
    return {xgrad::adaptive_avg_pool2d(x, out)};
  });

  // ---- softmax
  using Softmax = Tensor (*)(const Tensor&, std::int64_t);
  for (auto [name, f] : {std::pair<const char*, Softmax>{"softmax", xgrad::softmax}, {"log_softmax", xgrad::log_softmax}}) {
    def(name, name, [f, same_shape](FuzzCall& g) -> TensorList {
      auto x = g.tensor("x");
      auto dim = g.dim("dim", x);
      return same_shape(g, x, f(x, dim));
    });
  }

  // ---- losses
  def("cross_entropy", "cross_entropy", [](FuzzCall& g) -> TensorList {
    auto s = class_setup(g, true);
    auto weight = maybe(g, "weight", {s.classes}, dtype_or_f32(s.logits));
    auto ignore = g.integer("ignore_index", -100, 2);
    auto reduction = g.reduction("reduction");
    auto smoothing = g.real("label_smoothing", 0, 0.5);
    return {xgrad::cross_entropy(s.logits, s.target, weight, ignore, reduction, smoothing)};
  });
  def("nll_loss", "nll_loss", [](FuzzCall& g) -> TensorList {
    auto s = class_setup(g, false);
    auto weight = maybe(g, "weight", {s.classes}, dtype_or_f32(s.logits));
    auto ignore = g.integer("ignore_index", -100, 2);
    auto reduction = g.reduction("reduction");
    return {xgrad::nll_loss(s.logits, s.target, weight, ignore, reduction)};
  });
  def("multi_margin_loss", "multi_margin_loss", [](FuzzCall& g) -> TensorList {
    auto s = class_setup(g, false);
    auto p = g.integer("p", 1, 2);
    auto margin = g.real("margin", 0, 2);
    auto weight = maybe(g, "weight", {s.classes}, dtype_or_f32(s.logits));
    auto reduction = g.reduction("reduction");
    return {xgrad::multi_margin_loss(s.logits, s.target, p, margin, weight, reduction)};
  });
  def("svm_loss", "svm_loss", [](FuzzCall& g) -> TensorList {
    auto s = class_setup(g, false);
    auto margin = g.real("margin", 0, 2);
    auto reduction = g.reduction("reduction");
    return {xgrad::svm_loss(s.logits, s.target, margin, reduction)};
  });
  using Pointwise = Tensor (*)(const Tensor&, const Tensor&, Reduction);
  for (auto [name, f] : {std::pair<const char*, Pointwise>{"mse_loss", xgrad::mse_loss}, {"l1_loss", xgrad::l1_loss}}) {
    def(name, name, [f](FuzzCall& g) -> TensorList {
      auto x = g.tensor("input");
      auto y = g.tensor_like("target", x);
      auto reduction = g.reduction("reduction");
      return {f(x, y, reduction)};
    });
  }
  def("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("logits");
    auto y = g.tensor_like("target", x);
    auto w = g.chance(0.5) ? g.tensor_like("weight", x) : Tensor();
    auto reduction = g.reduction("reduction");
    auto pw = g.chance(0.5) ? g.tensor_like("pos_weight", x) : Tensor();
    return {xgrad::binary_cross_entropy_with_logits(x, y, w, reduction, pw)};
  });
  def("hinge_embedding_loss", "hinge_embedding_loss", [](FuzzCall& g) -> TensorList {
    auto x = g.tensor("input");
    auto y = g.tensor_like("target", x);
    auto margin = g.real("margin", 0, 2);
    auto reduction = g.reduction("reduction");
    return {xgrad::hinge_embedding_loss(x, y, margin, reduction)};
  });

  // ---- regularisation and normalisation
  def("dropout", "dropout", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    auto p = g.real("p", 0, 1);
    auto training = g.flag("training");
    Generator gen(g.bits());
    if (g.flag("generator")) return same_shape(g, x, xgrad::dropout(x, p, training, gen));
    return same_shape(g, x, xgrad::dropout(x, p, training));
  });
  def("batch_norm", "batch_norm", [same_shape](FuzzCall& g) -> TensorList {
    const auto c = g.uniform(1, 3);
    Shape xs{g.uniform(1, 3), c};
    for (auto extra = g.uniform(0, 2); extra > 0; --extra) xs.push_back(g.uniform(1, 3));
    auto x = floating(g, "x", xs);
    const Dtype d = dtype_or_f32(x);
    auto mean = maybe(g, "running_mean", {c}, d);
    auto var = maybe(g, "running_var", {c}, d);
    auto w = maybe(g, "weight", {c}, d);
    auto b = maybe(g, "bias", {c}, d);
    auto training = g.flag("training");
    auto momentum = g.real("momentum", 0, 1);
    auto eps = g.real("eps", 1e-6, 1e-3);
    return same_shape(g, x, xgrad::batch_norm(x, mean, var, w, b, training, momentum, eps));
  });
  def("layer_norm", "layer_norm", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    Shape normalized;
    if (x.defined() && x.dim() > 0 && g.chance(0.8)) {
      normalized = Shape(x.shape().begin() + g.uniform(0, x.dim() - 1), x.shape().end());
      g.note("normalized_shape=" + describe_shape(normalized));
    } else {
      normalized = g.shape_near("normalized_shape", x);
    }
    const Dtype d = dtype_or_f32(x);
    auto w = maybe(g, "weight", normalized, d);
    auto b = maybe(g, "bias", normalized, d);
    auto eps = g.real("eps", 1e-6, 1e-3);
    return same_shape(g, x, xgrad::layer_norm(x, normalized, w, b, eps));
  });

  // ---- operators: errors name the op they stand for
  using Op = Tensor (*)(const Tensor&, const Tensor&);
  for (auto [key, name, f] : {std::tuple<const char*, const char*, Op>{"operator+", "add", xgrad::operator+},
                              {"operator-", "sub", xgrad::operator-}, {"operator*", "mul", xgrad::operator*},
                              {"operator/", "div", xgrad::operator/}, {"operator<", "lt", xgrad::operator<},
                              {"operator<=", "le", xgrad::operator<=}, {"operator>", "gt", xgrad::operator>},
                              {"operator>=", "ge", xgrad::operator>=}, {"operator==", "eq", xgrad::operator==},
                              {"operator!=", "ne", xgrad::operator!=}}) {
    def(key, name, [f](FuzzCall& g) -> TensorList {
      auto a = g.tensor("a");
      auto b = g.tensor_like("b", a);
      return {f(a, b)};
    });
  }
  using OpScalar = Tensor (*)(const Tensor&, double);
  for (auto [key, name, f] : {std::tuple<const char*, const char*, OpScalar>{"operator+", "add", xgrad::operator+},
                              {"operator-", "sub", xgrad::operator-}, {"operator*", "mul", xgrad::operator*},
                              {"operator/", "div", xgrad::operator/}, {"operator<", "lt", xgrad::operator<},
                              {"operator<=", "le", xgrad::operator<=}, {"operator>", "gt", xgrad::operator>},
                              {"operator>=", "ge", xgrad::operator>=}, {"operator==", "eq", xgrad::operator==},
                              {"operator!=", "ne", xgrad::operator!=}}) {
    def(key, name, [f, same_shape](FuzzCall& g) -> TensorList {
      auto a = g.tensor("a");
      auto b = g.real("b", -2, 2);
      return same_shape(g, a, f(a, b));
    });
  }
  using ScalarOp = Tensor (*)(double, const Tensor&);
  for (auto [key, name, f] : {std::tuple<const char*, const char*, ScalarOp>{"operator+", "add", xgrad::operator+},
                              {"operator-", "sub", xgrad::operator-}, {"operator*", "mul", xgrad::operator*},
                              {"operator/", "div", xgrad::operator/}}) {
    def(key, name, [f, same_shape](FuzzCall& g) -> TensorList {
      auto a = g.real("a", -2, 2);
      auto b = g.tensor("b");
      return same_shape(g, b, f(a, b));
    });
  }
  def("operator-", "neg", [same_shape](FuzzCall& g) -> TensorList {
    auto x = g.tensor("x");
    return same_shape(g, x, -x);
  });

  // ---- dtype helpers
  def("result_type", "result_type", [](FuzzCall& g) -> TensorList {
    auto a = g.tensor("a");
    auto b = g.tensor_like("b", a);
    (void)xgrad::result_type(a, b);
    return {};
  });
  def("scalar_like", "scalar_like", [](FuzzCall& g) -> TensorList {
    auto v = g.real("value", -3, 3);
    auto like = g.tensor("like");
    auto y = xgrad::scalar_like(v, like);
    g.expect(y.dim() == 0, "scalar_like is not 0-d");
    return {y};
  });
  return t;
}

}  // namespace

void add_ops_functions(std::vector<FuzzedFunction>& table) {
  for (auto& f : ops_table()) table.push_back(std::move(f));
}

}  // namespace xgrad::fuzz
