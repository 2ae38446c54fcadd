// MNIST-1D generator. Per example, in the original's order: pad, dilate, scale, translate,
// correlated noise where the signal is zero, iid noise, shear, resample. Values stay in double until
// the final standardisation; the draws per example are, in order: padding, scale, shift, 72 + 72
// normals, shear.
#include "xgrad/data/mnist1d.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "xgrad/error.h"
#include "xgrad/generator.h"

namespace xgrad::data {
namespace {

constexpr int kClasses = 10;
constexpr int kTemplateLength = 12;
// Added to the template before padding, so the signal is nonzero exactly where the template is
// and the correlated noise lands only on the padding (the original's eps).
constexpr double kTemplateOffset = 1e-8;

constexpr std::array<std::array<double, kTemplateLength>, kClasses> kDigits = {{
    {5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5},
    {5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5},
    {5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5},
    {5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5},
    {5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5},
    {5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5},
    {5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5},
    {5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5},
    {5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5},
    {5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5},
}};

using Template = std::array<double, kTemplateLength>;

std::array<Template, kClasses> whitened_templates() {
  std::array<Template, kClasses> out{};
  for (int c = 0; c < kClasses; ++c) {
    const Template& d = kDigits[c];
    double mean = 0;
    for (double v : d) mean += v;
    mean /= kTemplateLength;
    double var = 0;
    for (double v : d) var += (v - mean) * (v - mean);
    const double std_dev = std::sqrt(var / kTemplateLength);
    const double first = (d[0] - mean) / std_dev;
    for (int i = 0; i < kTemplateLength; ++i) out[c][i] = ((d[i] - mean) / std_dev - first) / 6.0;
  }
  return out;
}

// Linear interpolation of `in` (points at linspace(0, 1, in.size())) at linspace(0, 1, n).
std::vector<double> resample_linear(const std::vector<double>& in, std::int64_t n) {
  std::vector<double> out(static_cast<std::size_t>(n));
  const auto last = static_cast<std::int64_t>(in.size()) - 1;
  for (std::int64_t j = 0; j < n; ++j) {
    if (last == 0) {
      out[j] = in[0];
      continue;
    }
    const double s = n == 1 ? 0.0 : static_cast<double>(j) * static_cast<double>(last) / static_cast<double>(n - 1);
    const std::int64_t i = std::min<std::int64_t>(static_cast<std::int64_t>(s), last - 1);
    const double frac = s - static_cast<double>(i);
    out[j] = in[i] + frac * (in[i + 1] - in[i]);
  }
  return out;
}

// scipy.ndimage.gaussian_filter's 1-D rule: weights exp(-x^2 / 2 sigma^2) over |x| <= int(4 sigma + 0.5),
// normalised to sum 1; beyond the ends the signal is mirrored including the edge point (d c b a | a b c d).
std::vector<double> gaussian_smooth(const std::vector<double>& in, double sigma) {
  if (sigma <= 0) return in;
  const auto radius = static_cast<std::int64_t>(4.0 * sigma + 0.5);
  std::vector<double> weights(static_cast<std::size_t>(2 * radius + 1));
  double total = 0;
  for (std::int64_t k = -radius; k <= radius; ++k) {
    weights[k + radius] = std::exp(-0.5 * static_cast<double>(k * k) / (sigma * sigma));
    total += weights[k + radius];
  }
  for (double& w : weights) w /= total;
  const auto n = static_cast<std::int64_t>(in.size());
  auto mirrored = [n](std::int64_t i) {
    const std::int64_t period = 2 * n;
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - 1 - i;
  };
  std::vector<double> out(in.size(), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = -radius; k <= radius; ++k) out[i] += weights[k + radius] * in[mirrored(i + k)];
  return out;
}

std::vector<double> linspace(double lo, double hi, std::int64_t n) {
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    out[i] = n == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
  return out;
}

std::vector<double> make_example(const Template& digit, const Mnist1dOptions& o, Generator& gen) {
  // Pad with zeros, then dilate to 12 + padding_max points.
  const auto padding = o.padding_min + static_cast<std::int64_t>(gen.below(
                                           static_cast<std::uint64_t>(o.padding_max - o.padding_min + 1)));
  std::vector<double> x(static_cast<std::size_t>(kTemplateLength + padding), 0.0);
  for (int i = 0; i < kTemplateLength; ++i) x[i] = digit[i] + kTemplateOffset;
  x = resample_linear(x, kTemplateLength + o.padding_max);
  const auto n = static_cast<std::int64_t>(x.size());

  const double scale = 1.0 + o.scale_coeff * (gen.uniform01() - 0.5);
  for (double& v : x) v *= scale;

  const auto shift = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(o.max_translation)));
  std::rotate(x.begin(), x.end() - shift, x.end());  // circular shift right by `shift`

  std::vector<double> noise(x.size());
  for (double& v : noise) v = o.corr_noise_scale * gen.normal01();
  noise = gaussian_smooth(noise, o.corr_noise_sigma);
  for (std::int64_t i = 0; i < n; ++i)
    if (x[i] == 0) x[i] = noise[i];
  for (double& v : x) v += o.iid_noise_scale * gen.normal01();

  const double shear = o.shear_scale * (gen.uniform01() - 0.5);
  const std::vector<double> ramp = linspace(-0.5, 0.5, n);
  for (std::int64_t i = 0; i < n; ++i) x[i] -= shear * ramp[i];
  return resample_linear(x, o.final_seq_length);
}

void check_options(const Mnist1dOptions& o) {
  constexpr const char* who = "make_mnist1d";
  XGRAD_CHECK(o.num_samples >= kClasses && o.num_samples % kClasses == 0,
              "{}: num_samples must be a positive multiple of 10 (the examples are split evenly over the digits), got {}",
              who, o.num_samples);
  XGRAD_CHECK(o.train_fraction >= 0 && o.train_fraction <= 1, "{}: train_fraction must be in [0, 1], got {}", who,
              o.train_fraction);
  XGRAD_CHECK(o.padding_min >= 0 && o.padding_min <= o.padding_max && o.padding_max <= (1 << 20),
              "{}: padding must satisfy 0 <= padding_min <= padding_max <= 2^20, got [{}, {}]", who, o.padding_min,
              o.padding_max);
  const std::int64_t dilated = kTemplateLength + o.padding_max;
  XGRAD_CHECK(o.max_translation >= 1 && o.max_translation <= dilated,
              "{}: max_translation must be in [1, 12 + padding_max = {}] (shifts are drawn from [0, max_translation)), got {}",
              who, dilated, o.max_translation);
  XGRAD_CHECK(o.final_seq_length >= 1 && o.final_seq_length <= (1 << 20),
              "{}: final_seq_length must be in [1, 2^20], got {}", who, o.final_seq_length);
  const std::array<std::pair<const char*, double>, 5> scales = {{{"scale_coeff", o.scale_coeff},
                                                                 {"corr_noise_scale", o.corr_noise_scale},
                                                                 {"corr_noise_sigma", o.corr_noise_sigma},
                                                                 {"iid_noise_scale", o.iid_noise_scale},
                                                                 {"shear_scale", o.shear_scale}}};
  for (const auto& [name, value] : scales)
    XGRAD_CHECK(std::isfinite(value) && value >= 0 && value <= 1e6, "{}: {} must be finite and in [0, 1e6], got {}",
                who, name, value);
}

}  // namespace

Tensor mnist1d_templates() {
  const auto templates = whitened_templates();
  Tensor out = empty({kClasses, kTemplateLength}, {.dtype = float64});
  double* p = out.mutable_data<double>();
  for (const Template& t : templates) p = std::copy(t.begin(), t.end(), p);
  return out;
}

Mnist1d make_mnist1d(const Mnist1dOptions& o) {
  check_options(o);
  Generator gen(o.seed);
  const auto templates = whitened_templates();
  const std::int64_t n = o.num_samples, length = o.final_seq_length;
  const std::int64_t per_class = n / kClasses;

  // Class by class, as the original, then one shuffle of the whole set.
  std::vector<double> xs(static_cast<std::size_t>(n * length));
  std::vector<std::int64_t> ys(static_cast<std::size_t>(n));
  for (int c = 0; c < kClasses; ++c)
    for (std::int64_t e = 0; e < per_class; ++e) {
      const std::int64_t row = c * per_class + e;
      const std::vector<double> x = make_example(templates[c], o, gen);
      std::copy(x.begin(), x.end(), xs.begin() + row * length);
      ys[row] = c;
    }
  const std::vector<std::int64_t> order = randperm(n, gen).to_vector<std::int64_t>();
  std::vector<std::int64_t> points(static_cast<std::size_t>(length));
  for (std::int64_t i = 0; i < length; ++i) points[i] = i;
  if (o.shuffle_seq) points = randperm(length, gen).to_vector<std::int64_t>();

  // Standardise over the whole set (population std, as NumPy's default).
  double mean = 0;
  for (double v : xs) mean += v;
  mean /= static_cast<double>(xs.size());
  double var = 0;
  for (double v : xs) var += (v - mean) * (v - mean);
  const double std_dev = std::sqrt(var / static_cast<double>(xs.size()));
  XGRAD_CHECK(std_dev > 0, "make_mnist1d: every generated value is equal ({}), so the set cannot be standardised", mean);

  const auto n_train = static_cast<std::int64_t>(static_cast<double>(n) * o.train_fraction);
  Mnist1d out{.x = empty({n_train, length}, {.dtype = float32}),
              .y = empty({n_train}, {.dtype = int64}),
              .x_test = empty({n - n_train, length}, {.dtype = float32}),
              .y_test = empty({n - n_train}, {.dtype = int64})};
  float* x_out[2] = {out.x.mutable_data<float>(), out.x_test.mutable_data<float>()};
  std::int64_t* y_out[2] = {out.y.mutable_data<std::int64_t>(), out.y_test.mutable_data<std::int64_t>()};
  for (std::int64_t r = 0; r < n; ++r) {
    const int part = r < n_train ? 0 : 1;
    const std::int64_t row = part == 0 ? r : r - n_train;
    const double* src = xs.data() + order[r] * length;
    for (std::int64_t i = 0; i < length; ++i)
      x_out[part][row * length + i] = static_cast<float>((src[points[i]] - mean) / std_dev);
    y_out[part][row] = ys[order[r]];
  }
  return out;
}

}  // namespace xgrad::data
