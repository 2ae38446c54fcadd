#include "random.h"

#include <cmath>
#include <mutex>
#include <random>

#include "xgrad/tensor.h"

namespace xgrad {

namespace {
struct Generator {
  std::mutex mu;
  std::mt19937_64 engine{0x5eed};
  bool has_spare = false;  // Box-Muller yields normals in pairs
  double spare = 0;
};
Generator& gen() {
  static Generator g;
  return g;
}
double to_unit(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }
}  // namespace

void manual_seed(std::uint64_t seed) {
  auto& g = gen();
  std::lock_guard<std::mutex> lock(g.mu);
  g.engine.seed(seed);
  g.has_spare = false;
}

namespace random {

std::uint64_t next_u64() {
  auto& g = gen();
  std::lock_guard<std::mutex> lock(g.mu);
  return g.engine();
}

std::uint64_t below(std::uint64_t range) {
  if (range == 0) return next_u64();
  // The high word of x * range is uniform once the low words below 2^64 mod range are rejected.
  unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * range;
  if (static_cast<std::uint64_t>(m) < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (static_cast<std::uint64_t>(m) < threshold) m = static_cast<unsigned __int128>(next_u64()) * range;
  }
  return static_cast<std::uint64_t>(m >> 64);
}

double uniform01() { return to_unit(next_u64()); }

double normal01() {
  auto& g = gen();
  std::lock_guard<std::mutex> lock(g.mu);
  if (g.has_spare) {
    g.has_spare = false;
    return g.spare;
  }
  double u1 = 0;
  while (u1 <= 0) u1 = to_unit(g.engine());
  const double u2 = to_unit(g.engine());
  const double r = std::sqrt(-2.0 * std::log(u1));
  g.spare = r * std::sin(2 * M_PI * u2);
  g.has_spare = true;
  return r * std::cos(2 * M_PI * u2);
}

}  // namespace random
}  // namespace xgrad
