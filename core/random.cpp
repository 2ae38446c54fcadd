#include "random.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "xgrad/error.h"
#include "xgrad/generator.h"
#include "xgrad/tensor.h"

namespace xgrad {

namespace {
double to_unit(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }
constexpr std::int64_t kStateTag = 0x78677261645f7267;  // marks a tensor made by get_state()
}  // namespace

Generator::Generator(std::uint64_t seed) : engine_(seed), seed_(seed) {}

Generator::Generator(const Generator& other) {
  std::lock_guard<std::mutex> lock(other.mu_);
  engine_ = other.engine_;
  seed_ = other.seed_;
  has_spare_ = other.has_spare_;
  spare_ = other.spare_;
}

Generator& Generator::operator=(const Generator& other) {
  if (this == &other) return *this;
  std::scoped_lock lock(mu_, other.mu_);
  engine_ = other.engine_;
  seed_ = other.seed_;
  has_spare_ = other.has_spare_;
  spare_ = other.spare_;
  return *this;
}

void Generator::manual_seed(std::uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  engine_.seed(seed);
  seed_ = seed;
  has_spare_ = false;
}

std::uint64_t Generator::initial_seed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seed_;
}

std::uint64_t Generator::next_u64() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_u64_locked();
}

std::uint64_t Generator::below_locked(std::uint64_t range) {
  if (range == 0) return next_u64_locked();
  // The high word of x * range is uniform once the low words below 2^64 mod range are rejected.
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64_locked()) * range;
  if (static_cast<std::uint64_t>(m) < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (static_cast<std::uint64_t>(m) < threshold) m = static_cast<unsigned __int128>(next_u64_locked()) * range;
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::uint64_t Generator::below(std::uint64_t range) {
  std::lock_guard<std::mutex> lock(mu_);
  return below_locked(range);
}

double Generator::uniform01() {
  std::lock_guard<std::mutex> lock(mu_);
  return to_unit(next_u64_locked());
}

double Generator::normal01_locked() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 0;
  while (u1 <= 0) u1 = to_unit(engine_());
  const double u2 = to_unit(engine_());
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2 * M_PI * u2);
}

double Generator::normal01() {
  std::lock_guard<std::mutex> lock(mu_);
  return normal01_locked();
}

void Generator::fill_uniform01(double* out, std::size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < n; ++i) out[i] = to_unit(next_u64_locked());
}

void Generator::fill_normal01(double* out, std::size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < n; ++i) out[i] = normal01_locked();
}

void Generator::fill_below(std::uint64_t* out, std::size_t n, std::uint64_t range) {
  std::lock_guard<std::mutex> lock(mu_);
  for (std::size_t i = 0; i < n; ++i) out[i] = below_locked(range);
}

Tensor Generator::get_state() const {
  // Layout: marker, engine word count n, the n words the engine streams out, seed, spare flag,
  // spare value (as bits). libstdc++ streams the 312 state words and the position.
  std::ostringstream text;
  std::vector<std::int64_t> words{kStateTag, 0};
  std::lock_guard<std::mutex> lock(mu_);
  text << engine_;
  std::istringstream in(text.str());
  std::uint64_t w = 0;
  while (in >> w) words.push_back(static_cast<std::int64_t>(w));
  words[1] = static_cast<std::int64_t>(words.size()) - 2;
  std::int64_t spare_bits = 0;
  std::memcpy(&spare_bits, &spare_, sizeof spare_bits);
  words.push_back(static_cast<std::int64_t>(seed_));
  words.push_back(has_spare_ ? 1 : 0);
  words.push_back(spare_bits);
  const auto size = static_cast<std::int64_t>(words.size());
  return tensor(words, {size});
}

void Generator::set_state(const Tensor& state) {
  const bool is_vector = state.defined() && state.dtype() == Dtype::int64 && state.dim() == 1 && state.numel() >= 5;
  XGRAD_CHECK(is_vector, "Generator::set_state: expects the 1-D int64 tensor get_state() returns, got {} {}",
              state.defined() ? dtype_name(state.dtype()) : "undefined",
              state.defined() ? to_string(state.shape()) : std::string("[]"));
  const std::vector<std::int64_t> words = state.to_vector<std::int64_t>();
  const std::int64_t n = words[1];
  const bool consistent = words[0] == kStateTag && n > 0 && n + 5 == state.numel() &&
                          (words[static_cast<std::size_t>(n + 3)] == 0 || words[static_cast<std::size_t>(n + 3)] == 1);
  XGRAD_CHECK(consistent, "Generator::set_state: the tensor (length {}) is not a generator state from get_state()",
              state.numel());
  std::ostringstream text;
  for (std::int64_t i = 0; i < n; ++i) text << static_cast<std::uint64_t>(words[static_cast<std::size_t>(2 + i)]) << ' ';
  std::mt19937_64 engine;
  std::istringstream in(text.str());
  in >> engine;
  XGRAD_CHECK(!in.fail(), "Generator::set_state: the engine words do not form a valid engine state");
  double spare = 0;
  std::memcpy(&spare, &words[static_cast<std::size_t>(n + 4)], sizeof spare);
  std::lock_guard<std::mutex> lock(mu_);
  engine_ = engine;
  seed_ = static_cast<std::uint64_t>(words[static_cast<std::size_t>(n + 2)]);
  has_spare_ = words[static_cast<std::size_t>(n + 3)] == 1;
  spare_ = spare;
}

Generator& default_generator() {
  static Generator g;
  return g;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

namespace random {

std::uint64_t next_u64() { return default_generator().next_u64(); }
std::uint64_t below(std::uint64_t range) { return default_generator().below(range); }
double uniform01() { return default_generator().uniform01(); }
double normal01() { return default_generator().normal01(); }

}  // namespace random
}  // namespace xgrad
