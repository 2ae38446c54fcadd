// The fuzz argument generator. Plausible values most of the time (so calls reach the kernels),
// extreme ones often enough that every parameter meets them.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "fuzz.h"

namespace xgrad::fuzz {

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t p(int bits) { return std::int64_t{1} << bits; }

// Values that break size and index arithmetic: wrap-arounds, sign flips, 32-bit truncation.
const std::vector<std::int64_t> kExtremeIntegers = {
    0, 1, -1, 2, 3, kMax, kMin, kMax - 1, kMin + 1, p(31), p(31) - 1, -p(31), p(32) + 1, -(p(32) + 1),
    p(62), -p(62), p(40)};
// For parameters that size an output: no value whose output could be a few gigabytes.
const std::vector<std::int64_t> kExtremeExtents = {0,     1,     -1,     2,    3,    -5,   20,  p(40),
                                                   p(41) + 1, p(62), -p(62), kMax, kMin, kMax - 1};
const std::vector<double> kExtremeReals = {
    std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
    -std::numeric_limits<double>::infinity(), 1e308, -1e308, 1e-300, 0.0, -0.0,
    std::numeric_limits<double>::denorm_min(), 9.223372036854775807e18 /* 2^63 */, -9.3e18, 1e19, 1e30, -1e30};

// Shapes a correct library refuses at once (negative, or >= 2^40 elements, or overflowing int64),
// or accepts because they hold no element at all.
const std::vector<Shape> kHostileShapes = {
    {p(61)}, {kMax}, {-1}, {-5}, {2, -3}, {p(32), p(32)}, {p(31), p(31), 4}, {3, kMax}, {0, kMax},
    {p(40)}, {p(20), p(20)}, {p(62), 4}, {-1, 0}, {kMin}, {kMax, kMax}, {p(21), p(21), p(21)},
    {2, p(62)}, {7, 0, -2}, {p(32) + 1, p(32) + 1}, {-p(62), -4}};
const std::vector<Shape> kModerateShapes = {{1000, 999}, {999999}, {100, 100, 100}, {0, p(62)}, {1, 1000, 1000}};

const std::vector<std::int64_t> kSmallDims = {0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 5, 5, 7};

// Tensors the generator makes itself stay below this many elements.
constexpr std::int64_t kMaxGenerated = 100'000;

std::int64_t product(const Shape& s) {  // of shapes small_enough accepts
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

bool small_enough(const Shape& s) {
  std::int64_t n = 1, nonzero = 1;
  for (auto d : s)
    if (d < 0 || __builtin_mul_overflow(n, d, &n) || n > kMaxGenerated) return false;
  // [0, 2^62, 5] holds nothing, but xgrad refuses it (its non-zero sizes overflow): not a tensor to draw.
  for (auto d : s)
    if (d != 0 && __builtin_mul_overflow(nonzero, d, &nonzero)) return false;
  return true;
}

std::string fmt_real(double v) { return fmt::format("{}", v); }

}  // namespace

// "[1,2,3]", appended piece by piece: `"," + std::string` trips GCC 12's false -Wrestrict (bug 105651).
template <class Values>
std::string comma_joined(const Values& values, char open, char close) {
  std::string out(1, open);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out += close;
}

std::string describe_shape(const Shape& s) { return comma_joined(s, '[', ']'); }

std::string describe_tensor(const Tensor& t) {
  if (!t.defined()) return "undefined";
  return fmt::format("{}{}{}", dtype_name(t.dtype()), describe_shape(t.shape()), t.requires_grad() ? " grad" : "");
}

FuzzCall::FuzzCall(std::uint64_t seed, std::uint64_t index) {
  std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                    static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32)};
  rng_.seed(seq);
}

std::int64_t FuzzCall::uniform(std::int64_t lo, std::int64_t hi) {
  const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (span == std::numeric_limits<std::uint64_t>::max()) return static_cast<std::int64_t>(rng_());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + rng_() % (span + 1));
}

double FuzzCall::uniform_real(double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng_() >> 11) * 0x1.0p-53);
}

double FuzzCall::normal() {  // Box-Muller: the same numbers with any standard library
  const double u1 = uniform_real(1e-12, 1.0), u2 = uniform_real(0.0, 1.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

bool FuzzCall::chance(double prob) { return uniform_real(0.0, 1.0) < prob; }

void FuzzCall::describe(const char* name, const std::string& value) { note(std::string(name) + '=' + value); }

void FuzzCall::note(const std::string& text) {
  if (!args_.empty()) args_ += ' ';
  args_ += text;
  if (mirror && mirror_size > 0) {
    const std::size_t n = std::min(args_.size(), mirror_size - 1);
    std::memcpy(mirror, args_.data(), n);
    mirror[n] = '\0';
  }
}

void FuzzCall::expect(bool ok, const std::string& what) {
  if (!ok) broken_.push_back(what);
}

// ---------------------------------------------------------------- tensors

Shape FuzzCall::small_shape(int min_rank, int max_rank) {
  Shape s;
  const auto rank = uniform(min_rank, max_rank);
  for (std::int64_t i = 0; i < rank; ++i) s.push_back(pick(kSmallDims));
  return s;
}

Tensor FuzzCall::make_tensor(const Shape& shape, Dtype dtype, bool requires_grad, std::string& special) {
  const auto n = static_cast<std::size_t>(product(shape));
  const double spice = chance(0.35) ? 0.15 : 0.0;  // a third of the tensors carry special values
  if (dtype == Dtype::int64) {
    static const std::vector<std::int64_t> specials = {kMax, kMin, p(62), -p(62), p(31), p(32) + 1, -1};
    std::vector<std::int64_t> v(n);
    for (auto& x : v) x = chance(spice) ? (special = "big-ints", pick(specials)) : uniform(-3, 7);
    return xgrad::tensor(v, shape);
  }
  if (dtype == Dtype::boolean) {
    std::vector<std::int64_t> v(n);
    for (auto& x : v) x = uniform(0, 1);
    return xgrad::tensor(v, shape, {.dtype = Dtype::boolean});
  }
  const double scale = pick(std::vector<double>{1.0, 1.0, 1.0, 1e-3, 1e3});
  static const std::vector<double> specials = {
      std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(), 1e30, -1e30, -0.0, 1e-310, 1e-40, 1e308, -1e308};
  std::vector<double> v(n);
  for (auto& x : v) x = chance(spice) ? (special = "nan/inf/huge", pick(specials)) : normal() * scale;
  Tensor t;
  if (dtype == Dtype::float32) {
    std::vector<float> f(n);  // out-of-range doubles become infinities here, not in the library
    for (std::size_t i = 0; i < n; ++i)
      f[i] = std::isfinite(v[i]) && std::abs(v[i]) > 3e38 ? static_cast<float>(std::copysign(INFINITY, v[i]))
                                                          : static_cast<float>(v[i]);
    t = xgrad::tensor(f, shape);
  } else {
    t = xgrad::tensor(v, shape, {.dtype = Dtype::float64});
  }
  if (requires_grad) t.requires_grad_();
  return t;
}

Tensor FuzzCall::tensor(const char* name, const Shape& shape, std::optional<Dtype> dtype) {
  if (chance(0.03)) {
    describe(name, "undefined");
    return Tensor();
  }
  // The wrong shape, sometimes; and never a huge one (a shape argument may be; it is not the
  // generator's job to allocate it).
  const Shape s = chance(0.08) || !small_enough(shape) ? small_shape(0, 4) : shape;
  const Dtype d = dtype && chance(0.9) ? *dtype : pick(std::vector<Dtype>{float32, float32, float32, float32, float64, float64, float64, float64, int64, int64, boolean});
  std::string special;
  Tensor t = make_tensor(s, d, is_floating(d) && chance(0.4), special);
  describe(name, describe_tensor(t) + (special.empty() ? "" : " " + special));
  return t;
}

Tensor FuzzCall::tensor(const char* name) { return tensor(name, small_shape(0, 4)); }

Tensor FuzzCall::tensor_like(const char* name, const Tensor& other) {
  if (!other.defined()) return tensor(name);
  const Shape& s = other.shape();
  Shape out;
  const auto r = uniform(0, 9);
  if (r < 5) {
    out = s;
  } else if (r < 8) {  // broadcastable: leading dims dropped, some dims set to 1, maybe one more leading dim
    for (std::size_t i = static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(s.size()))); i < s.size(); ++i)
      out.push_back(chance(0.3) ? 1 : s[i]);
    if (chance(0.2)) out.insert(0, uniform(1, 3));
  } else {
    out = small_shape(0, 4);
  }
  return tensor(name, out, chance(0.7) ? std::optional<Dtype>(other.dtype()) : std::nullopt);
}

Tensor FuzzCall::index(const char* name, const Shape& shape, std::int64_t bound) {
  if (chance(0.05)) return tensor(name, shape);  // a float (or otherwise wrong) index
  if (chance(0.03)) {
    describe(name, "undefined");
    return Tensor();
  }
  const Shape s = chance(0.08) || !small_enough(shape) ? small_shape(0, 4) : shape;
  std::vector<std::int64_t> v(static_cast<std::size_t>(product(s)));
  const bool wild = chance(0.2);
  for (auto& x : v)
    x = wild && chance(0.3) ? (chance(0.5) ? pick(kExtremeIntegers) : uniform(-bound - 2, bound + 2))
                            : uniform(0, std::max<std::int64_t>(bound - 1, 0));
  describe(name, fmt::format("int64{}{}", describe_shape(s), wild ? " wild" : ""));
  return xgrad::tensor(v, s);
}

TensorList FuzzCall::tensor_list(const char* name, const Tensor& first) {
  TensorList list;
  const auto count = chance(0.05) ? 0 : uniform(1, 4);
  for (std::int64_t i = 0; i < count; ++i) {
    const std::string item = fmt::format("{}[{}]", name, i);
    if (i == 0) {
      list.push_back(first);
      describe(item.c_str(), describe_tensor(first));
      continue;
    }
    if (!first.defined() || chance(0.2)) {
      list.push_back(tensor(item.c_str()));
      continue;
    }
    Shape s = first.shape();  // cat-compatible: one dim resized
    if (!s.empty() && chance(0.6)) s[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(s.size()) - 1))] = pick(kSmallDims);
    list.push_back(tensor(item.c_str(), s, first.dtype()));
  }
  return list;
}

// ---------------------------------------------------------------- integers and reals

std::int64_t FuzzCall::integer(const char* name, std::int64_t lo, std::int64_t hi) {
  const std::int64_t v = chance(0.25) ? (chance(0.8) ? pick(kExtremeIntegers) : uniform(-10, 10)) : uniform(lo, hi);
  describe(name, std::to_string(v));
  return v;
}

std::int64_t FuzzCall::extent(const char* name, std::int64_t lo, std::int64_t hi) {
  const std::int64_t v = chance(0.25) ? pick(kExtremeExtents) : uniform(lo, hi);
  describe(name, std::to_string(v));
  return v;
}

std::int64_t FuzzCall::dim(const char* name, const Tensor& x) {
  const std::int64_t n = x.defined() ? std::max<std::int64_t>(x.dim(), 1) : 1;
  std::int64_t v;
  const auto r = uniform(0, 19);
  if (r < 15) v = uniform(-n, n - 1);
  else if (r < 18) v = chance(0.5) ? uniform(n, n + 2) : uniform(-n - 2, -n - 1);
  else v = pick(kExtremeIntegers);
  describe(name, std::to_string(v));
  return v;
}

std::optional<std::int64_t> FuzzCall::optional_integer(const char* name, std::int64_t lo, std::int64_t hi) {
  if (chance(0.3)) {
    describe(name, "none");
    return std::nullopt;
  }
  return integer(name, lo, hi);
}

std::vector<std::int64_t> FuzzCall::integers(const char* name, std::size_t max_count, std::int64_t lo,
                                             std::int64_t hi) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(max_count))));
  const bool wild = chance(0.3);
  for (auto& x : v) x = wild && chance(0.4) ? pick(kExtremeIntegers) : uniform(lo, hi);
  describe(name, comma_joined(v, '{', '}'));
  return v;
}

std::vector<std::int64_t> FuzzCall::extents(const char* name, std::size_t max_count, std::int64_t lo,
                                            std::int64_t hi) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(max_count))));
  const bool wild = chance(0.3);
  for (auto& x : v) x = wild && chance(0.3) ? pick(kExtremeExtents) : uniform(lo, hi);
  describe(name, comma_joined(v, '{', '}'));
  return v;
}

Dims FuzzCall::permutation(const char* name, const Tensor& x) {
  Dims d;
  const std::int64_t n = x.defined() ? x.dim() : 0;
  for (std::int64_t i = 0; i < n; ++i) d.push_back(i);
  std::shuffle(d.begin(), d.end(), rng_);
  if (chance(0.2) && !d.empty()) d[0] = chance(0.5) ? d.back() : pick(kExtremeIntegers);  // a repeat or a wild dim
  if (chance(0.1)) d.push_back(uniform(-n - 1, n));
  if (chance(0.3))
    for (auto& v : d)
      if (chance(0.5)) v -= n;  // negative form
  describe(name, describe_shape(Shape(d.data(), d.data() + d.size())));
  return d;
}

Dims FuzzCall::dims(const char* name, const Tensor& x) {
  if (chance(0.3)) return permutation(name, x);
  Dims d;
  const std::int64_t n = x.defined() ? std::max<std::int64_t>(x.dim(), 1) : 1;
  const auto count = uniform(0, 3);
  for (std::int64_t i = 0; i < count; ++i)
    d.push_back(chance(0.85) ? uniform(-n, n - 1) : chance(0.6) ? uniform(-n - 2, n + 1) : pick(kExtremeIntegers));
  describe(name, describe_shape(Shape(d.data(), d.data() + d.size())));
  return d;
}

Int2 FuzzCall::int2(const char* name, std::int64_t lo, std::int64_t hi) {
  if (chance(0.5)) return Int2(integer(name, lo, hi));
  const std::string h = std::string(name) + ".h", w = std::string(name) + ".w";
  const auto vh = integer(h.c_str(), lo, hi);
  return Int2(vh, integer(w.c_str(), lo, hi));
}

Int2 FuzzCall::extent2(const char* name, std::int64_t lo, std::int64_t hi) {
  if (chance(0.5)) return Int2(extent(name, lo, hi));
  const std::string h = std::string(name) + ".h", w = std::string(name) + ".w";
  const auto vh = extent(h.c_str(), lo, hi);
  return Int2(vh, extent(w.c_str(), lo, hi));
}

std::optional<Int2> FuzzCall::optional_int2(const char* name, std::int64_t lo, std::int64_t hi) {
  if (chance(0.3)) {
    describe(name, "none");
    return std::nullopt;
  }
  return int2(name, lo, hi);
}

ConvPadding FuzzCall::conv_padding(const char* name, int spatial) {
  const auto r = uniform(0, 9);
  if (r == 0) {
    describe(name, "\"same\"");
    return ConvPadding("same");
  }
  if (r == 1) {
    describe(name, "\"valid\"");
    return ConvPadding("valid");
  }
  if (spatial == 2 && r < 5) {
    const std::string h = std::string(name) + ".h", w = std::string(name) + ".w";
    const auto vh = extent(h.c_str(), 0, 2);
    return ConvPadding(vh, extent(w.c_str(), 0, 2));
  }
  return ConvPadding(extent(name, 0, 2));
}

double FuzzCall::real(const char* name, double lo, double hi) {
  double v;
  const auto r = uniform(0, 19);
  if (r < 14) v = uniform_real(lo, hi);
  else if (r < 19) v = pick(kExtremeReals);
  else v = normal() * std::pow(10.0, static_cast<double>(uniform(-3, 3)));
  describe(name, fmt_real(v));
  return v;
}

std::optional<double> FuzzCall::optional_real(const char* name, double lo, double hi) {
  if (chance(0.3)) {
    describe(name, "none");
    return std::nullopt;
  }
  return real(name, lo, hi);
}

bool FuzzCall::flag(const char* name) {
  const bool v = chance(0.5);
  describe(name, v ? "true" : "false");
  return v;
}

Dtype FuzzCall::dtype(const char* name) {
  const Dtype d = pick(std::vector<Dtype>{float32, float32, float32, float64, float64, float64, int64, int64, int64, boolean});
  describe(name, dtype_name(d));
  return d;
}

TensorOptions FuzzCall::options(const char* name) {
  TensorOptions o;
  o.dtype = pick(std::vector<Dtype>{float32, float32, float64, int64});
  o.requires_grad = chance(0.3);
  describe(name, fmt::format("{{{}{}}}", dtype_name(o.dtype), o.requires_grad ? ", grad" : ""));
  return o;
}

Reduction FuzzCall::reduction(const char* name) {
  const Reduction r = pick(std::vector<Reduction>{Reduction::none, Reduction::mean, Reduction::sum});
  describe(name, r == Reduction::none ? "none" : r == Reduction::mean ? "mean" : "sum");
  return r;
}

// ---------------------------------------------------------------- shapes

Shape FuzzCall::hostile_shape() { return chance(0.8) ? pick(kHostileShapes) : pick(kModerateShapes); }

Shape FuzzCall::shape(const char* name) {
  const Shape s = chance(0.35) ? hostile_shape() : small_shape(0, 4);
  describe(name, describe_shape(s));
  return s;
}

Shape FuzzCall::shape_near(const char* name, const Tensor& x) {
  if (!x.defined() || chance(0.25)) return shape(name);
  Shape s = x.shape();
  const std::int64_t n = static_cast<std::int64_t>(s.size());
  switch (uniform(0, 6)) {
    case 0:  // the same numel, other dims
      std::shuffle(s.begin(), s.end(), rng_);
      break;
    case 1:  // one dim inferred
      if (n > 0) s[static_cast<std::size_t>(uniform(0, n - 1))] = -1;
      break;
    case 2:  // flat
      s = Shape{x.numel()};
      break;
    case 3:  // expand-style: size-1 dims widened, new leading dims, -1 kept sizes
      for (auto& d : s)
        if (d == 1 && chance(0.5)) d = pick(kSmallDims);
        else if (chance(0.2)) d = -1;
      if (chance(0.4)) s.insert(0, uniform(1, 3));
      break;
    case 4:  // sum_to-style: leading dims dropped, some dims set to 1
      if (n > 0) s = Shape(s.begin() + uniform(0, n), s.end());
      for (auto& d : s)
        if (chance(0.3)) d = 1;
      break;
    case 5:  // a dim made hostile
      if (n > 0) s[static_cast<std::size_t>(uniform(0, n - 1))] = pick(std::vector<std::int64_t>{-2, -1, 0, kMax, kMin, p(62), p(41)});
      else s.push_back(-1);
      break;
    default:  // an extra size-1 dim
      s.insert(static_cast<std::size_t>(uniform(0, n)), 1);
      break;
  }
  describe(name, describe_shape(s));
  return s;
}

}  // namespace xgrad::fuzz
