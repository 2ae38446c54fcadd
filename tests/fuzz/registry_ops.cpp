// Fuzz entries for every op of the registry, internal ones (VJPs reachable through
// OpInfo::samples) included: a sample of the op with its inputs mutated (undefined, another
// dtype, another shape, 0-size or 0-d, NaN/inf/huge values, inputs swapped), called through
// sample.call. The op's errors must name the registry op.
#include <cmath>
#include <limits>
#include <map>

#include "fuzz.h"

namespace xgrad::fuzz {

namespace {

// The names an op's errors may carry: its own; for a sample calling a public function of another
// name, that function's; for an internal op (a VJP: "<op>_backward", "<op>_weight_grad"), the
// forward op the user called.
std::string accepted_names(const std::string& name) {
  static const std::map<std::string, std::string> called_as = {
      {"pow_scalar", "pow"}, {"to", "to_dtype"}, {"permute", "transpose"}, {"matmul_transposed", "linear"}};
  std::string names = name;
  // Appended piece by piece: `"|" + std::string` trips GCC 12's false -Wrestrict (bug 105651).
  if (auto it = called_as.find(name); it != called_as.end()) (names += '|') += it->second;
  for (const std::string suffix : {"_soft_backward", "_backward", "_weight_grad"})
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      (names += '|') += name.substr(0, name.size() - suffix.size());
      break;
    }
  return names;
}

// A tensor with t's values in dtype d, converted here with defined rules (NaN -> 0, out-of-range
// -> the nearest bound) so that only the op under test can convert undefinedly.
Tensor retyped(const Tensor& t, Dtype d) {
  std::vector<double> v = t.to_vector<double>();
  if (d == int64) {
    std::vector<std::int64_t> i(v.size());
    for (std::size_t k = 0; k < v.size(); ++k)
      i[k] = std::isnan(v[k]) ? 0 : v[k] >= 9.2e18 ? std::numeric_limits<std::int64_t>::max()
                                 : v[k] <= -9.2e18 ? std::numeric_limits<std::int64_t>::min()
                                                   : static_cast<std::int64_t>(v[k]);
    return xgrad::tensor(i, t.shape());
  }
  if (d == float32) {
    std::vector<float> f(v.size());
    for (std::size_t k = 0; k < v.size(); ++k)
      f[k] = std::isfinite(v[k]) && std::abs(v[k]) > 3e38 ? static_cast<float>(std::copysign(INFINITY, v[k]))
                                                          : static_cast<float>(v[k]);
    return xgrad::tensor(f, t.shape());
  }
  return xgrad::tensor(v, t.shape(), {.dtype = float64});
}

// t's values with some of them replaced by NaN, infinities or huge numbers (big integers for int64).
Tensor spiced(FuzzCall& g, const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  static const std::vector<double> specials = {std::numeric_limits<double>::quiet_NaN(), INFINITY, -INFINITY,
                                               1e30, -1e30, -0.0, 1e308};
  static const std::vector<double> big = {9.3e18, -9.3e18, 4.6e18, 2147483648.0, -1.0, 1e6};
  for (auto& x : v)
    if (g.chance(0.3)) x = g.pick(t.dtype() == int64 ? big : specials);
  Tensor f = xgrad::tensor(v, t.shape(), {.dtype = float64});
  return retyped(f, t.dtype());
}

// t's shape changed: dims swapped, dropped, added, zeroed, or 0-d; values fresh.
Shape reshaped(FuzzCall& g, const Shape& s0) {
  Shape s = s0;
  const auto n = static_cast<std::int64_t>(s.size());
  switch (g.uniform(0, 5)) {
    case 0:
      if (n >= 2) std::swap(s[static_cast<std::size_t>(g.uniform(0, n - 1))], s[static_cast<std::size_t>(g.uniform(0, n - 1))]);
      else s.push_back(2);
      break;
    case 1:
      if (n > 0) s.erase(static_cast<std::size_t>(g.uniform(0, n - 1)));
      break;
    case 2: s.insert(static_cast<std::size_t>(g.uniform(0, n)), g.uniform(1, 3)); break;
    case 3:
      if (n > 0) s[static_cast<std::size_t>(g.uniform(0, n - 1))] = 0;
      break;
    case 4: s = Shape{}; break;
    default:
      if (n > 0) s[static_cast<std::size_t>(g.uniform(0, n - 1))] += g.uniform(1, 2);
      break;
  }
  return s;
}

TensorList mutate(FuzzCall& g, TensorList in) {
  if (g.chance(0.1)) {
    g.note("unmutated");
    return in;
  }
  const auto count = g.uniform(1, 2);
  for (std::int64_t m = 0; m < count; ++m) {
    if (in.empty()) break;
    const auto i = static_cast<std::size_t>(g.uniform(0, static_cast<std::int64_t>(in.size()) - 1));
    const Tensor t = in[i];
    const bool grad = t.defined() && t.requires_grad();
    auto with_grad = [grad](Tensor r) {
      if (grad && r.defined() && is_floating(r.dtype())) r.requires_grad_();
      return r;
    };
    const std::string label = fmt::format("in[{}]", i);
    switch (g.uniform(0, 6)) {
      case 0:
        g.note(label + ":undefined");
        in[i] = Tensor();
        break;
      case 1: {
        if (!t.defined()) break;
        const Dtype d = g.pick(std::vector<Dtype>{float32, float64, int64});
        g.note(label + ":dtype " + dtype_name(d));
        in[i] = with_grad(retyped(t.detach(), d));
        break;
      }
      case 2: case 3: {
        const Shape s = reshaped(g, t.defined() ? t.shape() : Shape{2});
        in[i] = with_grad(g.tensor(label.c_str(), s, t.defined() ? t.dtype() : float32));
        break;
      }
      case 4:
        if (!t.defined()) break;
        g.note(label + ":nan/inf/huge values");
        in[i] = with_grad(spiced(g, t.detach()));
        break;
      case 5:
        if (in.size() >= 2) {
          const auto j = static_cast<std::size_t>(g.uniform(0, static_cast<std::int64_t>(in.size()) - 1));
          g.note(fmt::format("swap in[{}] in[{}]", i, j));
          std::swap(in[i], in[j]);
        }
        break;
      default:
        in[i] = g.tensor(label.c_str());
        break;
    }
  }
  return in;
}

}  // namespace

std::vector<FuzzedFunction> registry_functions() {
  std::vector<FuzzedFunction> out;
  for (const OpInfo& op : registered_ops()) {
    out.push_back({"registry:" + op.name, accepted_names(op.name), [&op](FuzzCall& g) -> TensorList {
                     const Dtype d = g.chance(0.5) ? float32 : float64;
                     g.note(fmt::format("samples({})", dtype_name(d)));  // named even if making them fails
                     manual_seed(g.bits());  // the samples' values come from xgrad's generator
                     std::vector<OpSample> samples;
                     {
                       NoGradGuard setup;
                       samples = op.samples(d);
                     }
                     if (samples.empty()) return {};
                     const OpSample& s = g.pick(samples);
                     g.note(fmt::format("sample=\"{}\"", s.description));
                     TensorList inputs = mutate(g, s.inputs);
                     std::string shapes;
                     for (const auto& t : inputs) shapes += (shapes.empty() ? "" : ", ") + describe_tensor(t);
                     g.note("inputs={" + shapes + "}");
                     return {s.call(inputs)};
                   }});
  }
  return out;
}

}  // namespace xgrad::fuzz
