#pragma once
// Helpers several test files share: values as doubles, element-wise approximate checks, gradients
// of a function, leaf tensors, N(0, 1) float data, error messages and the thread-count guard.
#include <doctest/doctest.h>

#include <cmath>
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <xgrad/xgrad.h>

namespace xgrad::test {

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Element by element: a NaN expects NaN, an infinity the same infinity (doctest::Approx accepts
// neither), anything else within relative tolerance `tol`.
inline void check_close(const std::vector<double>& got, const std::vector<double>& expected, double tol) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("flat index ", i);
    if (std::isnan(expected[i]))
      CHECK(std::isnan(got[i]));
    else if (std::isinf(expected[i]))
      CHECK(got[i] == expected[i]);
    else
      CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tol));
  }
}
inline void check_close(const Tensor& t, const std::vector<double>& expected, double tol) {
  check_close(values(t), expected, tol);
}

// a and b have one shape and close values.
inline void check_same(const Tensor& a, const Tensor& b, double tol) {
  REQUIRE(a.shape() == b.shape());
  check_close(a, values(b), tol);
}

// The gradient of sum(f(x) * w) for a leaf x (w = ones by default).
inline Tensor grad_of(const Tensor& x, const std::function<Tensor(const Tensor&)>& f, Tensor w = Tensor()) {
  Tensor y = f(x);
  return grad({y}, {x}, {w.defined() ? w : ones_like(y)})[0];
}

// d(sum(y))/dx, seeded with ones rather than through sum().
inline Tensor grad_of_sum(const Tensor& y, const Tensor& x) { return grad({y}, {x}, {ones_like(y)})[0]; }

// Tensors that require grad, float64 unless asked otherwise.
inline Tensor leaf(std::initializer_list<double> v, Dtype d = float64) {
  return tensor(v, {.dtype = d, .requires_grad = true});
}
inline Tensor leaf(const std::vector<double>& v, const Shape& s, Dtype d = float64) {
  return tensor(v, s, {.dtype = d, .requires_grad = true});
}

// n floats drawn from N(0, 1), the same for the same seed.
inline std::vector<float> randn_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = dist(gen);
  return v;
}

// The message of the xgrad::Error that f throws; fails the test if it throws nothing or another type.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("not an xgrad::Error: " << e.what());
    return "";
  } catch (...) {
    FAIL("not an std::exception");
    return "";
  }
  FAIL("no exception");
  return "";
}

// Restores the thread count a test changed.
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A fresh folder under the system's temp folder ("xgrad-<tag>-<pid>-<n>"), removed with everything
// in it (permissions a test took away are given back first).
class TempFolder {
 public:
  explicit TempFolder(const std::string& tag = "test") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() / fmt::format("xgrad-{}-{}-{}", tag, ::getpid(), counter++);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace xgrad::test
