// Property test: thousands of seeded random op calls with random (often invalid) shapes, dims
// and dtypes. Every call must return a result or throw xgrad::Error: any other exception, a
// crash or an abort fails (run it under ASan/UBSan too). Where cheap, results are checked
// against rules and reference loops written independently here (NumPy broadcasting, sums,
// matmul shapes), and a backward through every successful differentiable call must work.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <optional>
#include <random>

using namespace xgrad;

namespace {

// ---------------------------------------------------------------- independent reference rules

// NumPy broadcasting, or nullopt when the shapes do not broadcast.
std::optional<Shape> numpy_broadcast(const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::int64_t count(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::vector<std::int64_t> unravel(std::int64_t flat, const Shape& s) {
  std::vector<std::int64_t> idx(s.size());
  for (std::size_t d = s.size(); d-- > 0;) {
    idx[d] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}

// Flat index into `s` of the element that broadcasting maps output index `idx` to.
std::int64_t broadcast_source(const std::vector<std::int64_t>& idx, const Shape& s) {
  const std::size_t off = idx.size() - s.size();
  std::int64_t flat = 0;
  for (std::size_t d = 0; d < s.size(); ++d) flat = flat * s[d] + (s[d] == 1 ? 0 : idx[off + d]);
  return flat;
}

std::optional<std::int64_t> wrap(std::int64_t dim, std::int64_t ndim) {
  const std::int64_t n = std::max<std::int64_t>(ndim, 1);  // 0-d accepts -1 and 0
  if (dim < -n || dim >= n) return std::nullopt;
  return dim < 0 ? dim + n : dim;
}

// PyTorch's matmul result shape, or nullopt when the operands do not fit.
std::optional<Shape> matmul_shape(const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) return std::nullopt;
  Shape A = a, B = b;
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) A.insert(0, 1);
  if (b1) B.push_back(1);
  if (A[A.size() - 1] != B[B.size() - 2]) return std::nullopt;
  Shape batch_a(A.begin(), A.end() - 2), batch_b(B.begin(), B.end() - 2);
  auto batch = numpy_broadcast(batch_a, batch_b);
  if (!batch) return std::nullopt;
  Shape out = *batch;
  if (!a1) out.push_back(A[A.size() - 2]);
  if (!b1) out.push_back(B[B.size() - 1]);
  return out;
}

// PyTorch's result dtype, written independently of xgrad::result_type as the reference: a 0-d
// operand only decides when its category (integer < floating) is higher than the dimensioned operand's.
Dtype expected_result_type(const Tensor& a, const Tensor& b) {
  const bool za = a.dim() == 0, zb = b.dim() == 0;
  if (za == zb) return promote_types(a.dtype(), b.dtype());
  const Tensor& zero_d = za ? a : b;
  const Tensor& dimensioned = za ? b : a;
  return is_floating(zero_d.dtype()) && !is_floating(dimensioned.dtype()) ? zero_d.dtype() : dimensioned.dtype();
}

// ---------------------------------------------------------------- random inputs

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}

  std::int64_t uni(std::int64_t lo, std::int64_t hi) {  // inclusive
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  }
  double real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng); }

  std::int64_t size() { return coin(0.1) ? 0 : uni(1, 4); }
  Shape shape(int max_rank = 4) {
    Shape s;
    const auto rank = uni(0, max_rank);
    for (std::int64_t i = 0; i < rank; ++i) s.push_back(size());
    return s;
  }
  // A shape that broadcasts with `s` (dims dropped, or set to 1), or, rarely, a random one.
  Shape broadcastable(const Shape& s) {
    if (coin(0.2)) return shape();
    Shape out;
    const auto drop = uni(0, static_cast<std::int64_t>(s.size()));
    for (std::size_t i = static_cast<std::size_t>(drop); i < s.size(); ++i) out.push_back(coin(0.3) ? 1 : s[i]);
    if (coin(0.2)) out.insert(0, uni(1, 2));
    return out;
  }
  Dtype dtype() {
    const auto r = uni(0, 9);
    return r < 5 ? Dtype::float32 : r < 8 ? Dtype::float64 : Dtype::int64;
  }
  Tensor tensor(const Shape& s, Dtype d, double grad_p = 0.5) {
    const auto n = count(s);
    if (d == Dtype::int64) {
      std::vector<std::int64_t> v(static_cast<std::size_t>(n));
      for (auto& x : v) x = uni(-3, 3);
      return xgrad::tensor(v, s);
    }
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = real(-2, 2);
    return xgrad::tensor(v, s, {.dtype = d, .requires_grad = coin(grad_p)});
  }
  Tensor tensor() { return tensor(shape(), dtype()); }
  Tensor floating(const Shape& s) { return tensor(s, coin() ? Dtype::float32 : Dtype::float64); }
  // An index tensor: mostly int64 with values mostly in range, sometimes a float tensor.
  Tensor index(const Shape& s, std::int64_t bound) {
    if (coin(0.1)) return tensor(s, Dtype::float32, 0);
    std::vector<std::int64_t> v(static_cast<std::size_t>(count(s)));
    for (auto& x : v) x = coin(0.9) ? uni(0, std::max<std::int64_t>(bound - 1, 0)) : uni(-bound - 2, bound + 2);
    return xgrad::tensor(v, s);
  }
  std::int64_t dim(std::int64_t ndim) {
    const std::int64_t n = std::max<std::int64_t>(ndim, 1);
    return coin(0.85) ? uni(-n, n - 1) : (coin() ? uni(n, n + 3) : uni(-n - 3, -n - 1));
  }
  Dims dims(std::int64_t ndim) {
    Dims d;
    const auto k = uni(0, 3);
    for (std::int64_t i = 0; i < k; ++i) d.push_back(dim(ndim));
    return d;
  }
};

// ---------------------------------------------------------------- the harness

struct Stats {
  std::map<std::string, std::pair<int, int>> calls;  // op -> (returned, raised Error)
};

bool all_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    if (std::isinf(want[i]) && got[i] == want[i]) continue;
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])))) return false;
  }
  return true;
}

// A backward through a successful call must succeed as well.
void check_backward(const Tensor& y, const std::string& what) {
  if (!y.defined() || !is_floating(y.dtype()) || !y.requires_grad()) return;
  try {
    y.sum().backward();
  } catch (const std::exception& e) {
    FAIL_CHECK("backward after a successful ", what, " threw: ", e.what());
  }
}

// Runs one call; returns its result, or nullopt when it raised xgrad::Error. Anything else fails.
template <class F>
auto attempt(Stats& stats, const std::string& op, const std::string& what, F&& f)
    -> std::optional<std::decay_t<decltype(f())>> {
  try {
    auto r = f();
    ++stats.calls[op].first;
    return r;
  } catch (const Error& e) {
    ++stats.calls[op].second;
    const std::string msg = e.what();
    CHECK_MESSAGE(!msg.empty(), what, " raised an empty message");
    static const bool print = std::getenv("XGRAD_PRINT_ERRORS") != nullptr;  // for reviewing messages
    if (print) fmt::print("{}\n    -> {}\n", what, msg);
    return std::nullopt;
  } catch (const std::exception& e) {
    FAIL_CHECK(what, " threw a non-xgrad exception: ", e.what());
  } catch (...) {
    FAIL_CHECK(what, " threw something that is not a std::exception");
  }
  return std::nullopt;
}

std::string sh(const Tensor& t) { return t.defined() ? to_string(t.shape()) + dtype_name(t.dtype()) : "undef"; }

// ---------------------------------------------------------------- op families

void fire_unary(Gen& g, Stats& st) {
  using Fn = Tensor (*)(const Tensor&);
  static const std::vector<std::pair<const char*, Fn>> ops = {
      {"neg", xgrad::neg},   {"exp", xgrad::exp},         {"log", xgrad::log},  {"sqrt", xgrad::sqrt},
      {"abs", xgrad::abs},   {"sign", xgrad::sign},       {"sin", xgrad::sin},  {"cos", xgrad::cos},
      {"tanh", xgrad::tanh}, {"sigmoid", xgrad::sigmoid}, {"relu", xgrad::relu}};
  Tensor x = g.tensor();
  const auto k = g.uni(0, static_cast<std::int64_t>(ops.size()) + 3);
  std::string what;
  std::optional<Tensor> y;
  if (k < static_cast<std::int64_t>(ops.size())) {
    auto [name, fn] = ops[static_cast<std::size_t>(k)];
    what = fmt::format("{}({})", name, sh(x));
    y = attempt(st, name, what, [&] { return fn(x); });
    if (y && std::string(name) == "neg") {
      auto want = x.to_vector<double>();
      for (auto& v : want) v = -v;
      CHECK_MESSAGE(all_close(y->to_vector<double>(), want, 0), what);
    }
  } else if (k == static_cast<std::int64_t>(ops.size())) {
    const double slope = g.real(-1, 1);
    what = fmt::format("leaky_relu({}, {})", sh(x), slope);
    y = attempt(st, "leaky_relu", what, [&] { return leaky_relu(x, slope); });
  } else if (k == static_cast<std::int64_t>(ops.size()) + 1) {
    what = fmt::format("elu({})", sh(x));
    y = attempt(st, "elu", what, [&] { return elu(x, g.real(0, 2)); });
  } else if (k == static_cast<std::int64_t>(ops.size()) + 2) {
    const double beta = g.coin(0.1) ? 0.0 : g.real(0.5, 2);
    what = fmt::format("softplus({}, beta {})", sh(x), beta);
    y = attempt(st, "softplus", what, [&] { return softplus(x, beta); });
  } else {
    std::optional<double> lo, hi;
    if (g.coin(0.7)) lo = g.real(-2, 1);
    if (g.coin(0.7)) hi = g.real(-1, 2);
    what = fmt::format("clamp({}, {}, {})", sh(x), lo ? fmt::format("{}", *lo) : "none",
                       hi ? fmt::format("{}", *hi) : "none");
    y = attempt(st, "clamp", what, [&] { return clamp(x, lo, hi); });
  }
  if (y) {
    CHECK_MESSAGE(y->shape() == x.shape(), what, " gave shape ", to_string(y->shape()));
    check_backward(*y, what);
  }
}

void fire_binary(Gen& g, Stats& st) {
  using Fn = Tensor (*)(const Tensor&, const Tensor&);
  static const std::vector<std::pair<const char*, Fn>> ops = {
      {"add", xgrad::add},         {"sub", xgrad::sub},         {"mul", xgrad::mul}, {"div", xgrad::div},
      {"maximum", xgrad::maximum}, {"minimum", xgrad::minimum}, {"eq", xgrad::eq},   {"ne", xgrad::ne},
      {"lt", xgrad::lt},           {"le", xgrad::le},           {"gt", xgrad::gt},   {"ge", xgrad::ge}};
  Tensor a = g.tensor();
  Tensor b = g.tensor(g.broadcastable(a.shape()), g.dtype());
  const auto expected = numpy_broadcast(a.shape(), b.shape());
  const auto k = g.uni(0, static_cast<std::int64_t>(ops.size()) + 1);
  if (k == static_cast<std::int64_t>(ops.size())) {  // pow with a tensor exponent
    const std::string what = fmt::format("pow({}, {})", sh(a), sh(b));
    auto y = attempt(st, "pow", what, [&] { return pow(a, b); });
    if (y) CHECK_MESSAGE((expected && y->shape() == *expected), what);
    if (!expected) CHECK_MESSAGE(!y, what, " should not broadcast");
    if (y) check_backward(*y, what);
    return;
  }
  if (k == static_cast<std::int64_t>(ops.size()) + 1) {  // where(cond, a, b)
    Tensor cond = g.tensor(g.broadcastable(a.shape()), g.coin(0.8) ? Dtype::int64 : g.dtype());
    const std::string what = fmt::format("where({}, {}, {})", sh(cond), sh(a), sh(b));
    auto y = attempt(st, "where", what, [&] { return where(cond, a, b); });
    std::optional<Shape> want;
    if (expected) want = numpy_broadcast(cond.shape(), *expected);
    if (y) CHECK_MESSAGE((want && y->shape() == *want), what, " gave ", to_string(y->shape()));
    if (!want) CHECK_MESSAGE(!y, what, " should not broadcast");
    if (y) check_backward(*y, what);
    return;
  }
  auto [name, fn] = ops[static_cast<std::size_t>(k)];
  const std::string op = name;
  const std::string what = fmt::format("{}({}, {})", name, sh(a), sh(b));
  auto y = attempt(st, op, what, [&] { return fn(a, b); });
  if (!expected) {
    CHECK_MESSAGE(!y, what, " should not broadcast");
    return;
  }
  if (!y) {
    // Broadcastable shapes: only dtype rules may refuse, and never between floating tensors.
    CHECK_MESSAGE(!(is_floating(a.dtype()) && is_floating(b.dtype())), what, " refused broadcastable inputs");
    return;
  }
  CHECK_MESSAGE(y->shape() == *expected, what, " gave ", to_string(y->shape()), ", NumPy says ", to_string(*expected));
  const bool compare = op == "eq" || op == "ne" || op == "lt" || op == "le" || op == "gt" || op == "ge";
  if (compare) CHECK_MESSAGE(y->dtype() == Dtype::boolean, what);
  if (op == "add" || op == "sub" || op == "mul") {
    CHECK_MESSAGE(y->dtype() == expected_result_type(a, b), what, " gave ", std::string(dtype_name(y->dtype())));
    // values against a reference loop over the broadcast index space
    auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    std::vector<double> want(static_cast<std::size_t>(count(*expected)));
    for (std::size_t i = 0; i < want.size(); ++i) {
      auto idx = unravel(static_cast<std::int64_t>(i), *expected);
      const double x = av[static_cast<std::size_t>(broadcast_source(idx, a.shape()))];
      const double z = bv[static_cast<std::size_t>(broadcast_source(idx, b.shape()))];
      want[i] = op == "add" ? x + z : op == "sub" ? x - z : x * z;
    }
    CHECK_MESSAGE(all_close(y->to_vector<double>(), want, 1e-5), what, " values differ from the reference loop");
  }
  check_backward(*y, what);
}

void fire_scalar_operators(Gen& g, Stats& st) {
  Tensor a = g.tensor();
  const double s = g.real(-2, 2);
  const std::string what = fmt::format("operators({}, {})", sh(a), s);
  auto y = attempt(st, "scalar operators", what, [&] { return (a + s) * s - s / (a * a + 1.0) + (2.0 - a) / 3.0; });
  if (y) {
    CHECK_MESSAGE(y->shape() == a.shape(), what);
    check_backward(*y, what);
  }
  attempt(st, "scalar compare", what, [&] { return (a < s) + (a >= s); });
}

void fire_reduction(Gen& g, Stats& st) {
  Tensor x = g.tensor();
  const auto nd = x.dim();
  Dims dims = g.dims(nd);
  const bool keepdim = g.coin();
  const std::int64_t d = g.dim(nd);
  // The reduced dims PyTorch accepts: in range and no repeats (a 0-d tensor takes -1 and 0).
  std::optional<std::vector<bool>> reduced = std::vector<bool>(static_cast<std::size_t>(nd), dims.empty());
  std::vector<std::int64_t> wrapped;
  for (auto dim : dims) {
    auto w = wrap(dim, nd);
    if (!w || std::find(wrapped.begin(), wrapped.end(), *w) != wrapped.end()) {
      reduced.reset();
      break;
    }
    wrapped.push_back(*w);
    if (nd > 0) (*reduced)[static_cast<std::size_t>(*w)] = true;
  }
  const auto k = g.uni(0, 11);
  std::string what;
  std::optional<Tensor> y;
  switch (k) {
    case 0: {
      what = fmt::format("sum({}, dims {}, keepdim {})", sh(x), fmt::join(dims, ","), keepdim);
      y = attempt(st, "sum", what, [&] { return sum(x, dims, keepdim); });
      if (!reduced) {
        CHECK_MESSAGE(!y, what, " accepted bad dims");
      } else if (!y) {
        FAIL_CHECK(what, " refused valid dims");
      } else {
        // reference: keepdim shape, sums by loop
        Shape keep = x.shape();
        for (std::size_t i = 0; i < keep.size(); ++i)
          if ((*reduced)[i]) keep[i] = 1;
        Shape want_shape;
        for (std::size_t i = 0; i < keep.size(); ++i)
          if (keepdim || !(*reduced)[i]) want_shape.push_back(keep[i]);
        CHECK_MESSAGE(y->shape() == want_shape, what, " gave ", to_string(y->shape()), ", want ",
                      to_string(want_shape));
        auto xv = x.to_vector<double>();
        std::vector<double> want(static_cast<std::size_t>(count(keep)), 0.0);
        for (std::size_t i = 0; i < xv.size(); ++i)
          want[static_cast<std::size_t>(broadcast_source(unravel(static_cast<std::int64_t>(i), x.shape()), keep))] +=
              xv[i];
        CHECK_MESSAGE(all_close(y->to_vector<double>(), want, 1e-4), what, " values differ from the reference loop");
      }
      break;
    }
    case 1:
      what = fmt::format("mean({}, dims {}, keepdim {})", sh(x), fmt::join(dims, ","), keepdim);
      y = attempt(st, "mean", what, [&] { return mean(x, dims, keepdim); });
      if (!reduced) CHECK_MESSAGE(!y, what, " accepted bad dims");
      break;
    case 2:
      what = fmt::format("prod({}, dim {}, keepdim {})", sh(x), d, keepdim);
      y = attempt(st, "prod", what, [&] { return prod(x, d, keepdim); });
      break;
    case 3:
      what = fmt::format("max({}, dim {}, keepdim {})", sh(x), d, keepdim);
      y = attempt(st, "max", what, [&] { return g.coin() ? max(x, d, keepdim) : min(x, d, keepdim); });
      break;
    case 4:
      what = fmt::format("max/min({})", sh(x));
      y = attempt(st, "max", what, [&] { return g.coin() ? max(x) : min(x); });
      if (y) CHECK_MESSAGE(x.numel() > 0, what, " reduced an empty tensor");  // PyTorch raises
      break;
    case 5: {
      const std::int64_t correction = g.uni(-1, 2);
      what = fmt::format("var/std({}, dims {}, correction {})", sh(x), fmt::join(dims, ","), correction);
      y = attempt(st, "var", what, [&] {
        return g.coin() ? var(x, dims, correction, keepdim) : xgrad::std(x, dims, correction, keepdim);
      });
      break;
    }
    case 6:
      what = fmt::format("logsumexp({}, dims {})", sh(x), fmt::join(dims, ","));
      y = attempt(st, "logsumexp", what, [&] { return logsumexp(x, dims, keepdim); });
      break;
    case 7:
      what = fmt::format("argmax/argmin({}, dim {})", sh(x), d);
      y = attempt(st, "argmax", what, [&] { return g.coin() ? argmax(x, d, keepdim) : argmin(x, d, keepdim); });
      if (y) CHECK_MESSAGE(y->dtype() == Dtype::int64, what);
      break;
    case 8:
      what = fmt::format("argmax({})", sh(x));
      y = attempt(st, "argmax", what, [&] { return argmax(x); });
      if (y) CHECK_MESSAGE((x.numel() > 0 && y->dim() == 0), what);
      break;
    case 9:
      what = fmt::format("sum/mean({})", sh(x));
      y = attempt(st, "sum", what, [&] { return g.coin() ? sum(x) : mean(x); });
      if (y) CHECK_MESSAGE(y->dim() == 0, what);
      break;
    default:
      what = fmt::format("prod({})", sh(x));
      y = attempt(st, "prod", what, [&] { return prod(x); });
      break;
  }
  if (y) {
    // A single-dim reduction with a valid dim keeps or drops exactly that dim.
    if (k >= 2 && k <= 3 && !wrap(d, nd)) CHECK_MESSAGE(false, what, " accepted an out-of-range dim");
    check_backward(*y, what);
  }
}

void fire_reshape(Gen& g, Stats& st) {
  Tensor x = g.tensor();
  Shape target;
  const auto rank = g.uni(0, 4);
  for (std::int64_t i = 0; i < rank; ++i) target.push_back(g.coin(0.15) ? -1 : g.uni(0, 6));
  if (g.coin(0.5)) {  // often a valid factorisation
    target = {x.numel()};
    if (x.numel() % 2 == 0 && g.coin()) target = {2, -1};
  }
  const std::string what = fmt::format("reshape({}, {})", sh(x), to_string(target));
  auto y = attempt(st, "reshape", what, [&] { return reshape(x, target); });
  const auto minus_ones = std::count(target.begin(), target.end(), -1);
  std::int64_t known = 1;
  for (auto v : target)
    if (v != -1) known *= v;
  std::optional<bool> valid;  // only where the rule is unambiguous
  if (minus_ones == 0) valid = known == x.numel();
  if (minus_ones > 1) valid = false;
  if (minus_ones == 1 && known != 0) valid = x.numel() % known == 0;
  if (valid) CHECK_MESSAGE(static_cast<bool>(y) == *valid, what, *valid ? " refused" : " accepted", " the shape");
  if (y) {
    CHECK(y->numel() == x.numel());
    for (std::size_t i = 0; i < target.size() && i < y->shape().size(); ++i)
      if (target[i] >= 0) CHECK_MESSAGE(y->shape()[i] == target[i], what);
    CHECK_MESSAGE(y->to_vector<double>() == x.to_vector<double>(), what, " changed the values");
    check_backward(*y, what);
  }
}

void fire_shape_ops(Gen& g, Stats& st) {
  Tensor x = g.tensor();
  const auto nd = x.dim();
  const auto k = g.uni(0, 9);
  std::string what;
  std::optional<Tensor> y;
  switch (k) {
    case 0: {
      const auto d0 = g.dim(nd), d1 = g.dim(nd);
      what = fmt::format("transpose({}, {}, {})", sh(x), d0, d1);
      y = attempt(st, "transpose", what, [&] { return transpose(x, d0, d1); });
      const auto w0 = wrap(d0, nd), w1 = wrap(d1, nd);
      CHECK_MESSAGE(static_cast<bool>(y) == (w0 && w1), what);
      if (y && nd > 0) {
        Shape want = x.shape();
        std::swap(want[static_cast<std::size_t>(*w0)], want[static_cast<std::size_t>(*w1)]);
        CHECK_MESSAGE(y->shape() == want, what, " gave ", to_string(y->shape()));
      }
      break;
    }
    case 1: {
      Dims perm(static_cast<std::size_t>(nd));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), g.rng);
      if (g.coin(0.3) && !perm.empty()) perm[0] = g.dim(nd);  // maybe a repeat or out of range
      if (g.coin(0.1)) perm.push_back(0);
      what = fmt::format("permute({}, [{}])", sh(x), fmt::join(perm, ","));
      y = attempt(st, "permute", what, [&] { return permute(x, perm); });
      bool valid = static_cast<std::int64_t>(perm.size()) == nd;
      std::vector<bool> seen(static_cast<std::size_t>(nd), false);
      for (auto p : perm) {
        auto w = wrap(p, nd);
        if (!valid || !w || seen[static_cast<std::size_t>(*w)]) {
          valid = false;
          break;
        }
        seen[static_cast<std::size_t>(*w)] = true;
      }
      CHECK_MESSAGE(static_cast<bool>(y) == valid, what);
      break;
    }
    case 2: {
      const auto d = g.dim(nd + 1);
      what = fmt::format("unsqueeze({}, {})", sh(x), d);
      y = attempt(st, "unsqueeze", what, [&] { return unsqueeze(x, d); });
      CHECK_MESSAGE(static_cast<bool>(y) == static_cast<bool>(wrap(d, nd + 1)), what);
      if (y) CHECK(y->dim() == nd + 1);
      break;
    }
    case 3: {
      const auto d = g.dim(nd);
      what = fmt::format("squeeze({}, {})", sh(x), d);
      y = attempt(st, "squeeze", what, [&] { return g.coin(0.8) ? squeeze(x, d) : squeeze(x); });
      break;
    }
    case 4: {
      const auto s = g.dim(nd), e = g.dim(nd);
      what = fmt::format("flatten({}, {}, {})", sh(x), s, e);
      y = attempt(st, "flatten", what, [&] { return flatten(x, s, e); });
      if (y) CHECK(y->numel() == x.numel());
      break;
    }
    case 5: {
      Shape target = g.coin() ? g.broadcastable(x.shape()) : g.shape();
      // expand goes the other way: from x to a bigger shape
      Shape big = g.coin(0.7) ? numpy_broadcast(x.shape(), target).value_or(target) : target;
      if (g.coin(0.2) && !big.empty()) big[0] = -1;
      what = fmt::format("expand({}, {})", sh(x), to_string(big));
      y = attempt(st, "expand", what, [&] { return g.coin() ? expand(x, big) : broadcast_to(x, big); });
      break;
    }
    case 6: {
      Shape target = g.broadcastable(x.shape());
      what = fmt::format("sum_to({}, {})", sh(x), to_string(target));
      y = attempt(st, "sum_to", what, [&] { return sum_to(x, target); });
      if (y) CHECK_MESSAGE(y->shape() == target, what);
      break;
    }
    case 7: {
      const auto d = g.dim(nd);
      std::optional<std::int64_t> start, stop;
      if (g.coin(0.7)) start = g.uni(-6, 6);
      if (g.coin(0.7)) stop = g.uni(-6, 6);
      const auto step = g.coin(0.9) ? g.uni(1, 3) : g.uni(-1, 0);
      what = fmt::format("slice({}, {}, {}, {}, {})", sh(x), d, start.value_or(999), stop.value_or(999), step);
      y = attempt(st, "slice", what, [&] { return slice(x, d, start, stop, step); });
      if (step <= 0) CHECK_MESSAGE(!y, what, " accepted step ", step);
      break;
    }
    case 8: {
      const auto d = g.dim(nd);
      const auto start = g.uni(-4, 4), length = g.uni(-1, 4);
      what = fmt::format("narrow({}, {}, {}, {})", sh(x), d, start, length);
      y = attempt(st, "narrow", what, [&] { return narrow(x, d, start, length); });
      if (y) CHECK(y->dim() == nd);
      break;
    }
    default: {
      const Dtype d = g.dtype();
      what = fmt::format("to_dtype({}, {})", sh(x), dtype_name(d));
      y = attempt(st, "to_dtype", what, [&] { return to_dtype(x, d); });
      if (y) CHECK_MESSAGE((y->dtype() == d && y->shape() == x.shape()), what);
      break;
    }
  }
  if (y) check_backward(*y, what);
}

void fire_matmul(Gen& g, Stats& st) {
  Shape a = g.shape(), b = g.shape();
  if (g.coin(0.6) && !a.empty() && !b.empty()) {
    // make the inner dims agree most of the time
    const auto k = a.back();
    if (b.size() == 1)
      b[0] = k;
    else
      b[b.size() - 2] = k;
  }
  Tensor ta = g.tensor(a, g.coin(0.85) ? Dtype::float32 : g.dtype());
  Tensor tb = g.tensor(b, g.coin(0.85) ? ta.dtype() : g.dtype());
  const std::string what = fmt::format("matmul({}, {})", sh(ta), sh(tb));
  auto y = attempt(st, "matmul", what, [&] { return matmul(ta, tb); });
  const auto want = matmul_shape(a, b);
  if (!want) CHECK_MESSAGE(!y, what, " should have been refused");
  if (want && !y)
    CHECK_MESSAGE((ta.dtype() != tb.dtype() || !is_floating(ta.dtype())), what, " refused valid operands");
  if (y && want) {
    CHECK_MESSAGE(y->shape() == *want, what, " gave ", to_string(y->shape()), ", PyTorch gives ", to_string(*want));
    if (a.size() == 2 && b.size() == 2) {  // values by a triple loop
      auto av = ta.to_vector<double>(), bv = tb.to_vector<double>();
      const auto n = a[0], kk = a[1], m = b[1];
      std::vector<double> ref(static_cast<std::size_t>(n * m), 0.0);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < m; ++j)
          for (std::int64_t p = 0; p < kk; ++p)
            ref[static_cast<std::size_t>(i * m + j)] +=
                av[static_cast<std::size_t>(i * kk + p)] * bv[static_cast<std::size_t>(p * m + j)];
      CHECK_MESSAGE(all_close(y->to_vector<double>(), ref, 1e-4), what, " values differ from the reference loop");
    }
  }
  if (y) check_backward(*y, what);
  if (g.coin(0.3)) {  // linear(x, W, b)
    Tensor x = g.floating(g.shape(3));
    Shape wshape = {g.uni(0, 3), x.dim() > 0 && g.coin(0.8) ? x.shape().back() : g.uni(0, 3)};
    if (g.coin(0.1)) wshape = g.shape();
    Tensor w = g.tensor(wshape, x.dtype());
    Tensor bias =
        g.coin(0.5) ? Tensor() : g.tensor(g.coin(0.8) && w.dim() > 0 ? Shape{w.shape()[0]} : g.shape(), x.dtype());
    const std::string lw = fmt::format("linear({}, {}, {})", sh(x), sh(w), sh(bias));
    auto l = attempt(st, "linear", lw, [&] { return linear(x, w, bias); });
    if (l) check_backward(*l, lw);
  }
}

void fire_join(Gen& g, Stats& st) {
  TensorList parts;
  Shape base = g.shape(3);
  const auto n = g.uni(0, 3);
  const auto dim = g.dim(static_cast<std::int64_t>(base.size()));
  const Dtype dtype = g.coin(0.9) ? Dtype::float32 : g.dtype();
  for (std::int64_t i = 0; i < n; ++i) {
    Shape s = base;
    if (g.coin(0.2))
      s = g.shape(3);
    else if (auto w = wrap(dim, static_cast<std::int64_t>(s.size())); w && !s.empty() && g.coin(0.7))
      s[static_cast<std::size_t>(*w)] = g.size();
    parts.push_back(g.tensor(s, g.coin(0.9) ? dtype : g.dtype()));
  }
  std::string shapes;
  for (auto& p : parts) shapes += sh(p) + " ";
  if (g.coin(0.5)) {
    const std::string what = fmt::format("cat([{}], {})", shapes, dim);
    auto y = attempt(st, "cat", what, [&] { return cat(parts, dim); });
    if (parts.empty()) CHECK_MESSAGE(!y, what, " accepted an empty list");
    if (y) {
      std::int64_t total = 0;
      for (auto& p : parts) total += p.numel();
      CHECK_MESSAGE(y->numel() == total, what);
      check_backward(*y, what);
    }
  } else {
    const std::string what = fmt::format("stack([{}], {})", shapes, dim);
    auto y = attempt(st, "stack", what, [&] { return stack(parts, dim); });
    if (parts.empty()) CHECK_MESSAGE(!y, what, " accepted an empty list");
    if (y) {
      CHECK_MESSAGE(y->dim() == parts[0].dim() + 1, what);
      check_backward(*y, what);
    }
  }
  // split / chunk
  Tensor x = g.tensor();
  const auto d = g.dim(x.dim());
  if (g.coin()) {
    const auto size = g.uni(-1, 4);
    const std::string what = fmt::format("split({}, {}, {})", sh(x), size, d);
    auto pieces = attempt(st, "split", what, [&] { return split(x, size, d); });
    if (pieces) {
      std::int64_t total = 0;
      for (auto& p : *pieces) total += p.numel();
      CHECK_MESSAGE(total == x.numel(), what);
    }
  } else {
    const auto chunks = g.uni(-1, 4);
    const std::string what = fmt::format("chunk({}, {}, {})", sh(x), chunks, d);
    auto pieces = attempt(st, "chunk", what, [&] { return chunk(x, chunks, d); });
    if (pieces) CHECK_MESSAGE(static_cast<std::int64_t>(pieces->size()) <= std::max<std::int64_t>(chunks, 1), what);
    if (pieces && !pieces->empty() && is_floating(x.dtype()) && x.requires_grad()) check_backward((*pieces)[0], what);
  }
}

void fire_index(Gen& g, Stats& st) {
  Tensor x = g.tensor();
  const auto nd = x.dim();
  const auto d = g.dim(nd);
  const auto w = wrap(d, nd);
  const std::int64_t bound = w && nd > 0 ? x.shape()[static_cast<std::size_t>(*w)] : 1;
  const auto k = g.uni(0, 4);
  std::string what;
  std::optional<Tensor> y;
  switch (k) {
    case 0: {
      Tensor idx = g.index(g.coin(0.8) ? Shape{g.uni(0, 4)} : g.shape(2), bound);
      what = fmt::format("index_select({}, {}, {})", sh(x), d, sh(idx));
      y = attempt(st, "index_select", what, [&] { return index_select(x, d, idx); });
      break;
    }
    case 1: {
      Shape s = x.shape();
      if (w && nd > 0 && g.coin(0.8)) s[static_cast<std::size_t>(*w)] = g.uni(0, 4);
      if (g.coin(0.15)) s = g.shape();
      Tensor idx = g.index(s, bound);
      what = fmt::format("gather({}, {}, {})", sh(x), d, sh(idx));
      y = attempt(st, "gather", what, [&] { return gather(x, d, idx); });
      if (y) CHECK_MESSAGE(y->shape() == idx.shape(), what);
      break;
    }
    case 2: {
      Shape s = x.shape();
      if (w && nd > 0 && g.coin(0.8)) s[static_cast<std::size_t>(*w)] = g.uni(0, 4);
      Tensor idx = g.index(s, bound);
      Tensor src = g.tensor(g.coin(0.8) ? s : g.shape(), g.coin(0.8) ? x.dtype() : g.dtype());
      what = fmt::format("scatter_add({}, {}, {}, {})", sh(x), d, sh(idx), sh(src));
      y = attempt(st, "scatter_add", what, [&] { return scatter_add(x, d, idx, src); });
      if (y) CHECK_MESSAGE(y->shape() == x.shape(), what);
      break;
    }
    case 3: {
      const auto n = g.uni(0, 4);
      Tensor idx = g.index(Shape{n}, bound);
      Shape s = x.shape();
      if (w && nd > 0) s[static_cast<std::size_t>(*w)] = n;
      if (g.coin(0.15)) s = g.shape();
      Tensor src = g.tensor(s, g.coin(0.8) ? x.dtype() : g.dtype());
      what = fmt::format("index_add({}, {}, {}, {})", sh(x), d, sh(idx), sh(src));
      y = attempt(st, "index_add", what, [&] { return index_add(x, d, idx, src); });
      if (y) CHECK_MESSAGE(y->shape() == x.shape(), what);
      break;
    }
    default: {
      std::vector<std::int64_t> pads(static_cast<std::size_t>(g.uni(0, 5)));
      for (auto& p : pads) p = g.uni(-3, 3);
      what = fmt::format("pad({}, [{}])", sh(x), fmt::join(pads, ","));
      y = attempt(st, "pad", what, [&] { return pad(x, pads, g.real(-1, 1)); });
      if (pads.size() % 2 == 1 || static_cast<std::int64_t>(pads.size()) > 2 * nd) CHECK_MESSAGE(!y, what);
      break;
    }
  }
  if (y) check_backward(*y, what);
}

void fire_factory(Gen& g, Stats& st) {
  Shape s;
  for (std::int64_t i = 0, r = g.uni(0, 3); i < r; ++i) s.push_back(g.uni(-2, 3));
  const bool negative = std::any_of(s.begin(), s.end(), [](std::int64_t v) { return v < 0; });
  const std::string what = fmt::format("factories({})", to_string(s));
  auto z = attempt(st, "factories", what, [&] { return g.coin() ? zeros(s) : full(s, 1.5, {.dtype = g.dtype()}); });
  CHECK_MESSAGE(static_cast<bool>(z) == !negative, what);
  attempt(st, "randn", what, [&] { return randn(s); });
  attempt(st, "randint", what, [&] { return randint(g.uni(-2, 2), g.uni(-2, 2), s); });
  const double start = g.uni(-3, 3), end = g.uni(-3, 3), step = g.uni(-2, 2);
  auto ar = attempt(st, "arange", fmt::format("arange({}, {}, {})", start, end, step),
                    [&] { return arange(start, end, step); });
  if (step == 0) CHECK_MESSAGE(!ar, "arange with step 0");
  if (ar && step != 0)
    CHECK(ar->numel() == std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil((end - start) / step))));
  attempt(st, "linspace", what, [&] { return linspace(start, end, g.uni(-1, 4)); });
  attempt(st, "eye", what, [&] { return eye(g.uni(-1, 3), g.uni(-1, 3)); });
  // requires_grad on int64
  Tensor i = g.tensor(g.shape(), Dtype::int64);
  auto rg = attempt(st, "requires_grad_", "requires_grad_ on int64", [&] { return i.requires_grad_(true); });
  CHECK_MESSAGE(!rg, "int64 tensors must refuse requires_grad");
  // item / at on the wrong shapes
  Tensor t = g.tensor();
  attempt(st, "item", "item", [&] { return t.item<double>(); });
  attempt(st, "at", "at", [&] { return t.at<double>({g.uni(-3, 3), g.uni(-3, 3)}); });
  attempt(st, "size", "size", [&] { return t.size(g.dim(t.dim())); });
  // an undefined tensor anywhere
  attempt(st, "undefined", "add(undefined)", [&] { return add(Tensor(), t); });
  attempt(st, "undefined", "exp(undefined)", [&] { return exp(Tensor()); });
}

}  // namespace

TEST_CASE("bad input property: random op calls return a result or raise xgrad::Error") {
  // XGRAD_BAD_INPUT_SEED explores other sequences; the default one is what CI runs.
  const char* seed_env = std::getenv("XGRAD_BAD_INPUT_SEED");
  Gen g(seed_env ? std::strtoull(seed_env, nullptr, 10) : 20240611);
  manual_seed(7);
  Stats st;
  const int kCalls = 6000;
  using Family = void (*)(Gen&, Stats&);
  const std::vector<Family> families = {fire_unary,     fire_binary,    fire_binary,  fire_scalar_operators,
                                        fire_reduction, fire_reduction, fire_reshape, fire_shape_ops,
                                        fire_shape_ops, fire_matmul,    fire_join,    fire_index,
                                        fire_index,     fire_factory};
  for (int i = 0; i < kCalls; ++i) {
    CAPTURE(i);
    families[static_cast<std::size_t>(g.uni(0, static_cast<std::int64_t>(families.size()) - 1))](g, st);
  }
  int ok = 0, raised = 0;
  std::string never_returned;
  for (auto& [op, c] : st.calls) {
    ok += c.first;
    raised += c.second;
    if (c.first == 0) never_returned += " " + op;
  }
  if (!never_returned.empty()) MESSAGE("ops that raised on every random call:", never_returned);
  MESSAGE("bad-input property: ", ok, " calls returned, ", raised, " raised xgrad::Error, over ", st.calls.size(),
          " ops");
  CHECK(ok > 1000);
  CHECK(raised > 300);
}

TEST_CASE("bad input: error messages name the op and the shapes") {
  auto a = zeros({2, 3});
  auto b = zeros({4, 5});
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("matmul"), Error);
  try {
    matmul(a, b);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find('3') != std::string::npos);
    CHECK(msg.find('4') != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(add(zeros({2, 3}), zeros({4})), doctest::Contains("[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(add(zeros({2, 3}), zeros({4})), doctest::Contains("[4]"), Error);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("sum"), Error);
  CHECK_THROWS_WITH_AS(mean(a, {-3}), doctest::Contains("mean"), Error);
  CHECK_THROWS_WITH_AS(transpose(a, 0, 5), doctest::Contains("transpose"), Error);
  CHECK_THROWS_WITH_AS(unsqueeze(a, 4), doctest::Contains("unsqueeze"), Error);
  CHECK_THROWS_WITH_AS(squeeze(a, 2), doctest::Contains("squeeze"), Error);
  CHECK_THROWS_WITH_AS(reshape(a, {4}), doctest::Contains("reshape"), Error);
  CHECK_THROWS_WITH_AS(reshape(a, {-1, -1}), doctest::Contains("reshape"), Error);
  CHECK_THROWS_WITH_AS(permute(a, {0, 0}), doctest::Contains("permute"), Error);
  CHECK_THROWS_WITH_AS(cat({zeros({2, 3}), zeros({2, 4})}, 0), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("cat"), Error);
  CHECK_THROWS_WITH_AS(stack({zeros({2}), zeros({3})}), doctest::Contains("stack"), Error);
  CHECK_THROWS_WITH_AS(index_select(a, 0, tensor(std::vector<std::int64_t>{5}, {1})), doctest::Contains("index_select"),
                       Error);
  CHECK_THROWS_WITH_AS(index_select(a, 0, zeros({1})), doctest::Contains("index_select"), Error);
  CHECK_THROWS_WITH_AS(gather(a, 3, tensor(std::vector<std::int64_t>{0}, {1})), doctest::Contains("gather"), Error);
  CHECK_THROWS_WITH_AS(argmax(a, 2), doctest::Contains("argmax"), Error);
  CHECK_THROWS_WITH_AS(max(zeros({0})), doctest::Contains("max"), Error);
  CHECK_THROWS_WITH_AS(zeros({-1}), doctest::Contains("-1"), Error);
  CHECK_THROWS_WITH_AS(arange(0, 5, 0), doctest::Contains("arange"), Error);
  CHECK_THROWS_WITH_AS(slice(a, 0, 0, 2, 0), doctest::Contains("slice"), Error);
  CHECK_THROWS_WITH_AS(pad(a, {1}), doctest::Contains("pad"), Error);
  CHECK_THROWS_WITH_AS(zeros({2}, {.dtype = int64}).requires_grad_(), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(exp(Tensor()), doctest::Contains("undefined"), Error);
}
