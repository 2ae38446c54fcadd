// A consumer of an installed (or add_subdirectory'd) xgrad: the lecture circuit
// f = (x + y) * z at x = -2, y = 5, z = -4, whose gradients are df/dx = df/dy = z = -4 and
// df/dz = x + y = 3, the op registry intact after linking, and a checkpoint written and read back
// (zlib must reach the final link of a static xgrad). Exits non-zero when a value is wrong.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <xgrad/checkpoint.h>
#include <xgrad/xgrad.h>

int main() {
  using namespace xgrad;
  const TensorOptions leaf{.dtype = Dtype::float64, .requires_grad = true};
  Tensor x = scalar_tensor(-2.0, leaf);
  Tensor y = scalar_tensor(5.0, leaf);
  Tensor z = scalar_tensor(-4.0, leaf);
  Tensor f = (x + y) * z;
  f.backward();

  const double got[] = {f.item<double>(), x.grad().item<double>(), y.grad().item<double>(),
                        z.grad().item<double>()};
  const double want[] = {-12.0, -4.0, -4.0, 3.0};
  const char* names[] = {"f", "df/dx", "df/dy", "df/dz"};
  int failures = 0;
  for (int i = 0; i < 4; ++i) {
    const bool ok = std::abs(got[i] - want[i]) < 1e-12;
    std::printf("%-6s = %6.2f (expected %6.2f) %s\n", names[i], got[i], want[i], ok ? "ok" : "WRONG");
    failures += ok ? 0 : 1;
  }
  // The registry must survive the link, static or shared (registration is an explicit list).
  const std::size_t ops = registered_ops().size();
  const bool registry_ok = ops >= 50 && find_op("matmul") != nullptr && find_op("logsumexp") != nullptr;
  std::printf("registered ops = %zu, matmul and logsumexp %s\n", ops, registry_ok ? "found" : "MISSING");
  failures += registry_ok ? 0 : 1;

  StateDict state;
  state.insert("z.grad", z.grad());
  const auto path = std::filesystem::temp_directory_path() / ("xgrad-package-" + std::to_string(::getpid()) + ".npz");
  save(state, path);
  const double reloaded = load(path).at("z.grad").item<double>();
  std::filesystem::remove(path);
  const bool checkpoint_ok = reloaded == 3.0;
  std::printf("checkpoint round trip: z.grad = %.2f %s\n", reloaded, checkpoint_ok ? "ok" : "WRONG");
  failures += checkpoint_ok ? 0 : 1;
  return failures == 0 ? 0 : 1;
}
