// The MNIST-1D generator (data/mnist1d.cpp): the default set's shapes, class balance and statistics,
// determinism, the templates, the recipe with its random knobs turned off, bad options, and the
// .npz loader.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <cstdint>
#include <vector>

#include <xgrad/data/mnist1d.h>
#include <xgrad/io/npz.h>
#include <xgrad/ops.h>

#include "test_util.h"

using namespace xgrad;

namespace {

using test::error_of;

using test::contains;

// Pearson correlation of two equally long rows.
double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return ab / std::sqrt(aa * bb);
}

// Mean signal of each class over train and test together: [10][length].
std::vector<std::vector<double>> class_means(const data::Mnist1d& set) {
  const Tensor x = cat({set.x, set.x_test}, 0).to(float64);
  const std::vector<std::int64_t> y = cat({set.y, set.y_test}, 0).to_vector<std::int64_t>();
  const auto length = static_cast<std::size_t>(x.size(1));
  const std::vector<double> values = x.to_vector<double>();
  std::vector<std::vector<double>> means(10, std::vector<double>(length, 0.0));
  std::vector<double> counts(10, 0.0);
  for (std::size_t r = 0; r < y.size(); ++r) {
    counts[y[r]] += 1;
    for (std::size_t i = 0; i < length; ++i) means[y[r]][i] += values[r * length + i];
  }
  for (int c = 0; c < 10; ++c)
    for (double& v : means[c]) v /= counts[c];
  return means;
}

}  // namespace

TEST_CASE("data: mnist1d default set is 4,000 train and 1,000 test signals of 40 points, 500 per class") {
  const data::Mnist1d set = data::make_mnist1d();
  CHECK(set.x.shape() == Shape{4000, 40});
  CHECK(set.x.dtype() == float32);
  CHECK(set.y.shape() == Shape{4000});
  CHECK(set.y.dtype() == int64);
  CHECK(set.x_test.shape() == Shape{1000, 40});
  CHECK(set.x_test.dtype() == float32);
  CHECK(set.y_test.shape() == Shape{1000});

  const std::vector<std::int64_t> y = cat({set.y, set.y_test}, 0).to_vector<std::int64_t>();
  std::vector<int> counts(10, 0);
  for (std::int64_t label : y) {
    REQUIRE((label >= 0 && label < 10));
    ++counts[label];
  }
  CHECK(counts == std::vector<int>(10, 500));
  // Shuffled: in class order 4,990 of 4,999 neighbours would share a label, shuffled about a tenth do.
  int same_as_previous = 0;
  for (std::size_t i = 1; i < y.size(); ++i) same_as_previous += y[i] == y[i - 1];
  CHECK(same_as_previous < 700);
  CHECK(same_as_previous > 300);
}

TEST_CASE("data: mnist1d is standardised over train and test together") {
  const data::Mnist1d set = data::make_mnist1d();
  const std::vector<double> all = cat({set.x, set.x_test}, 0).to_vector<double>();
  double mean = 0;
  for (double v : all) mean += v;
  mean /= static_cast<double>(all.size());
  double var = 0;
  for (double v : all) var += (v - mean) * (v - mean);
  CHECK(std::abs(mean) < 1e-6);
  CHECK(std::sqrt(var / static_cast<double>(all.size())) == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("data: mnist1d statistics match the published set's") {
  // Measured with NumPy on the original project's mnist1d_data.pkl (5,000 x 40, standardised):
  // mean |x| 0.7416, mean per-row std 0.9309, mean per-row lag-1 autocorrelation 0.773.
  const data::Mnist1d set = data::make_mnist1d();
  const Tensor x = cat({set.x, set.x_test}, 0).to(float64);
  const std::vector<double> v = x.to_vector<double>();
  double abs_mean = 0, row_std = 0, lag1 = 0;
  for (double e : v) abs_mean += std::abs(e) / static_cast<double>(v.size());
  for (std::size_t r = 0; r < 5000; ++r) {
    const std::vector<double> row(v.begin() + r * 40, v.begin() + (r + 1) * 40);
    double m = 0, var = 0;
    for (double e : row) m += e / 40;
    for (double e : row) var += (e - m) * (e - m) / 40;
    row_std += std::sqrt(var) / 5000;
    lag1 += correlation(std::vector<double>(row.begin(), row.end() - 1), std::vector<double>(row.begin() + 1, row.end())) / 5000;
  }
  CHECK(abs_mean == doctest::Approx(0.7416).epsilon(0.015));
  CHECK(row_std == doctest::Approx(0.9309).epsilon(0.015));
  CHECK(lag1 == doctest::Approx(0.773).epsilon(0.015));
}

TEST_CASE("data: mnist1d is deterministic for a seed and differs between seeds") {
  const data::Mnist1d a = data::make_mnist1d({.num_samples = 500});
  const data::Mnist1d b = data::make_mnist1d({.num_samples = 500});
  const data::Mnist1d c = data::make_mnist1d({.num_samples = 500, .seed = 43});
  CHECK(a.x.to_vector<float>() == b.x.to_vector<float>());
  CHECK(a.y.to_vector<std::int64_t>() == b.y.to_vector<std::int64_t>());
  CHECK(a.x_test.to_vector<float>() == b.x_test.to_vector<float>());
  CHECK(a.y_test.to_vector<std::int64_t>() == b.y_test.to_vector<std::int64_t>());
  CHECK(a.x.to_vector<float>() != c.x.to_vector<float>());
  CHECK(a.y.to_vector<std::int64_t>() != c.y.to_vector<std::int64_t>());
  CHECK(a.x.shape() == Shape{400, 40});
}

TEST_CASE("data: mnist1d templates are the digits whitened, started at 0 and divided by 6") {
  const Tensor t = data::mnist1d_templates();
  CHECK(t.shape() == Shape{10, 12});
  CHECK(t.dtype() == float64);
  const std::vector<double> v = t.to_vector<double>();
  for (int c = 0; c < 10; ++c) {
    CAPTURE(c);
    CHECK(v[c * 12] == 0.0);
    CHECK(v[c * 12 + 11] == doctest::Approx(0.0).epsilon(1e-12));  // every digit starts and ends at 5
    double mean = 0, var = 0;
    for (int i = 0; i < 12; ++i) mean += v[c * 12 + i] / 12;
    for (int i = 0; i < 12; ++i) var += (v[c * 12 + i] - mean) * (v[c * 12 + i] - mean) / 12;
    CHECK(std::sqrt(var) == doctest::Approx(1.0 / 6.0));
  }
  // Digit 6 (5,4,3.5,3.25,3,3,3,3,3.25,3.5,4,5): mean 3.625, sum of squared deviations 5.9375,
  // so point 4 is (3 - 5) / sqrt(5.9375 / 12) / 6.
  CHECK(v[6 * 12 + 4] == doctest::Approx(-2.0 / std::sqrt(5.9375 / 12.0) / 6.0).epsilon(1e-12));
}

TEST_CASE("data: mnist1d with every random knob off and no padding is each class's template, standardised") {
  // No padding (12 -> 12 points), scale 1, no shift, no noise, no shear, 12 final points: every
  // example is its template plus the 1e-8 offset, then the whole set is standardised.
  const data::Mnist1d set = data::make_mnist1d({.num_samples = 20, .train_fraction = 0.5, .padding_min = 0,
                                                .padding_max = 0, .scale_coeff = 0, .max_translation = 1,
                                                .corr_noise_scale = 0, .iid_noise_scale = 0, .shear_scale = 0,
                                                .final_seq_length = 12});
  const std::vector<double> templates = data::mnist1d_templates().to_vector<double>();
  double mean = 0, var = 0;
  for (double v : templates) mean += v / 120;
  for (double v : templates) var += (v - mean) * (v - mean) / 120;
  const double std_dev = std::sqrt(var);
  const std::vector<double> x = cat({set.x, set.x_test}, 0).to_vector<double>();
  const std::vector<std::int64_t> y = cat({set.y, set.y_test}, 0).to_vector<std::int64_t>();
  for (std::size_t r = 0; r < y.size(); ++r)
    for (int i = 0; i < 12; ++i) {
      CAPTURE(r);
      CAPTURE(i);
      CHECK(x[r * 12 + i] == doctest::Approx((templates[y[r] * 12 + i] - mean) / std_dev).epsilon(1e-6));
    }
}

TEST_CASE("data: mnist1d translation is a circular shift below max_translation") {
  // As above but shifted: each example is its template rotated right by k, k uniform on [0, 12).
  const data::Mnist1d set = data::make_mnist1d({.num_samples = 600, .train_fraction = 1.0, .padding_min = 0,
                                                .padding_max = 0, .scale_coeff = 0, .max_translation = 12,
                                                .corr_noise_scale = 0, .iid_noise_scale = 0, .shear_scale = 0,
                                                .final_seq_length = 12});
  const std::vector<double> templates = data::mnist1d_templates().to_vector<double>();
  double mean = 0, var = 0;
  for (double v : templates) mean += v / 120;
  for (double v : templates) var += (v - mean) * (v - mean) / 120;
  const std::vector<double> x = set.x.to_vector<double>();
  const std::vector<std::int64_t> y = set.y.to_vector<std::int64_t>();
  std::vector<int> shifts_seen(12, 0);
  for (std::size_t r = 0; r < y.size(); ++r) {
    int matched = -1;
    for (int k = 0; k < 12 && matched < 0; ++k) {
      bool same = true;
      for (int i = 0; i < 12 && same; ++i) {
        const double want = (templates[y[r] * 12 + (i - k + 12) % 12] - mean) / std::sqrt(var);
        same = std::abs(x[r * 12 + i] - want) < 1e-5;
      }
      if (same) matched = k;
    }
    CAPTURE(r);
    REQUIRE(matched >= 0);
    ++shifts_seen[matched];
  }
  // 600 draws over 12 shifts: 50 expected each (digits whose rotations coincide take the smallest k).
  for (int k = 0; k < 12; ++k) CHECK(shifts_seen[k] > 0);
}

TEST_CASE("data: mnist1d class means correlate best with their own template") {
  // The reference signal of each digit: its template through the same padding, dilation and
  // resampling with no other randomness, averaged over the padding (which sets the template's
  // width). The noisy set keeps every default knob but the shift, which would smear the means.
  const data::Mnist1d reference = data::make_mnist1d({.scale_coeff = 0, .max_translation = 1, .corr_noise_scale = 0,
                                                      .iid_noise_scale = 0, .shear_scale = 0});
  const data::Mnist1d noisy = data::make_mnist1d({.max_translation = 1, .seed = 7});
  const std::vector<std::vector<double>> means = class_means(noisy);
  const std::vector<std::vector<double>> templates = class_means(reference);
  for (int c = 0; c < 10; ++c) {
    CAPTURE(c);
    int best = -1;
    double best_corr = -2;
    for (int k = 0; k < 10; ++k) {
      const double r = correlation(means[c], templates[k]);
      if (r > best_corr) best_corr = r, best = k;
    }
    CHECK(best == c);
    CHECK(best_corr > 0.99);  // measured 0.997-0.9997
  }
}

TEST_CASE("data: mnist1d rejects bad options, naming the option and the value") {
  auto error_for = [](const data::Mnist1dOptions& o) {
    const std::string msg = error_of([&] { data::make_mnist1d(o); });
    CHECK_MESSAGE(contains(msg, "make_mnist1d"), msg);
    return msg;
  };
  CHECK(contains(error_for({.num_samples = 15}), "num_samples must be a positive multiple of 10"));
  CHECK(contains(error_for({.num_samples = 0}), "got 0"));
  CHECK(contains(error_for({.train_fraction = 1.5}), "train_fraction must be in [0, 1], got 1.5"));
  CHECK(contains(error_for({.padding_min = 61}), "got [61, 60]"));
  CHECK(contains(error_for({.max_translation = 0}), "max_translation must be in [1, 12 + padding_max = 72]"));
  CHECK(contains(error_for({.max_translation = 73}), "got 73"));
  CHECK(contains(error_for({.final_seq_length = 0}), "final_seq_length must be in [1, 2^20], got 0"));
  CHECK(contains(error_for({.shear_scale = -1}), "shear_scale must be finite and in [0, 1e6], got -1"));
  CHECK(contains(error_for({.corr_noise_sigma = std::nan("")}), "corr_noise_sigma"));
}

TEST_CASE("data: mnist1d loads from an .npz of x, y, x_test, y_test and checks the arrays") {
  namespace fs = std::filesystem;
  const fs::path file = fs::temp_directory_path() / fmt::format("xgrad-mnist1d-{}.npz", ::getpid());
  auto save_arrays = [&](const Tensor& x, const Tensor& y, const Tensor& x_test, const Tensor& y_test) {
    StateDict arrays;
    if (x.defined()) arrays.insert("x", x);
    if (y.defined()) arrays.insert("y", y);
    if (x_test.defined()) arrays.insert("x_test", x_test);
    if (y_test.defined()) arrays.insert("y_test", y_test);
    xgrad::save(arrays, file);
  };
  const Tensor x = arange(0, 12, 1, {.dtype = float64}).reshape({3, 4});
  const Tensor y = tensor(std::vector<std::int64_t>{0, 9, 5}, {3});
  const Tensor x_test = full({1, 4}, 0.5, {.dtype = float64});
  const Tensor y_test = tensor(std::vector<std::int64_t>{2}, {1});

  save_arrays(x, y, x_test, y_test);
  const data::Mnist1d set = data::load_mnist1d_npz(file);
  CHECK(set.x.dtype() == float32);
  CHECK(set.x.shape() == Shape{3, 4});
  CHECK(set.x.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  CHECK(set.y.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 9, 5});
  CHECK(set.x_test.to_vector<float>() == std::vector<float>(4, 0.5f));
  CHECK(set.y_test.to_vector<std::int64_t>() == std::vector<std::int64_t>{2});

  auto load_error = [&] {
    const std::string msg = error_of([&] { data::load_mnist1d_npz(file); });
    CHECK_MESSAGE(contains(msg, file.string()), msg);
    return msg;
  };
  save_arrays(x, y, x_test, Tensor());
  CHECK(contains(load_error(), "has no array 'y_test' (expected x, y, x_test, y_test)"));
  save_arrays(x, tensor(std::vector<std::int64_t>{0, 1}, {2}), x_test, y_test);
  CHECK(contains(load_error(), "'x' has 3 signals but 'y' has 2 labels"));
  save_arrays(x, tensor(std::vector<std::int64_t>{0, 10, 1}, {3}), x_test, y_test);
  CHECK(contains(load_error(), "'y' holds label 10 at index 1, outside 0..9"));
  save_arrays(x, y.to(float32), x_test, y_test);
  CHECK(contains(load_error(), "array 'y' must be integer labels of shape [N], got float32"));
  save_arrays(x.reshape({12}), y, x_test, y_test);
  CHECK(contains(load_error(), "array 'x' must be numbers of shape [N, length]"));
  save_arrays(x, y, full({1, 5}, 0.5), y_test);
  CHECK(contains(load_error(), "'x' has signals of 4 points but 'x_test' of 5"));
  fs::remove(file);
  CHECK(contains(load_error(), file.string()));  // the npz reader's own message for a missing file
}
