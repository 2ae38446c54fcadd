// Walks the op registry: every op is described completely, its samples run in float32 and
// float64 alike, and gradcheck (plus gradgradcheck where supported) passes on every sample.
// Set XGRAD_OPS=name1,name2 to restrict the gradient checks to some ops while debugging.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

using namespace xgrad;

namespace {

bool selected(const std::string& name) {
  const char* env = std::getenv("XGRAD_OPS");
  if (!env || !*env) return true;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item == name) return true;
  return false;
}

// Samples of one op in one dtype, drawn after seeding so that float32 and float64 agree.
std::vector<OpSample> samples_of(const OpInfo& op, Dtype dtype, std::uint64_t seed) {
  manual_seed(seed);
  return op.samples(dtype);
}

std::uint64_t seed_of(const std::string& name) { return std::hash<std::string>{}(name) % 100000 + 1; }

std::string describe(const TensorList& inputs) {
  std::string s;
  for (const auto& t : inputs) {
    if (!s.empty()) s += ", ";
    s += t.defined()
             ? fmt::format("{} {}{}", dtype_name(t.dtype()), to_string(t.shape()), t.requires_grad() ? " (grad)" : "")
             : std::string("undefined");
  }
  return s;
}

}  // namespace

TEST_CASE("registry: every OpInfo is complete and names are unique") {
  const auto& ops = registered_ops();
  REQUIRE(!ops.empty());
  std::set<std::string> names;
  for (const OpInfo& op : ops) {
    INFO("op '", op.name, "'");
    CHECK(!op.name.empty());
    CHECK_MESSAGE(names.insert(op.name).second, "duplicate op name ", op.name);
    CHECK(!op.formula.empty());
    CHECK(op.arity >= 1);
    CHECK(op.differentiable.size() == static_cast<std::size_t>(op.arity));
    REQUIRE(static_cast<bool>(op.samples));
    CHECK(find_op(op.name) == &op);
    for (Dtype dtype : {Dtype::float32, Dtype::float64}) {
      auto samples = samples_of(op, dtype, seed_of(op.name));
      CHECK_MESSAGE(!samples.empty(), "no samples in ", dtype_name(dtype));
      for (const OpSample& s : samples) {
        INFO("sample '", s.description, "' in ", dtype_name(dtype), ": ", describe(s.inputs));
        CHECK(!s.description.empty());
        CHECK(static_cast<bool>(s.call));
        CHECK(s.inputs.size() == static_cast<std::size_t>(op.arity));
        bool any_grad = false;
        for (std::size_t i = 0; i < s.inputs.size(); ++i) {
          const Tensor& t = s.inputs[i];
          if (!t.defined()) continue;
          if (t.requires_grad()) {
            any_grad = true;
            CHECK_MESSAGE((i < op.differentiable.size() && op.differentiable[i]), "input ", i,
                          " requires grad but is marked non-differentiable");
            CHECK_MESSAGE(t.dtype() == dtype, "a differentiable input is not in the requested dtype");
          }
        }
        CHECK_MESSAGE(any_grad, "no input of the sample requires grad");
      }
    }
  }
  CHECK(find_op("no such op") == nullptr);
}

TEST_CASE("registry: float32 samples give the float64 forward values") {
  for (const OpInfo& op : registered_ops()) {
    const auto seed = seed_of(op.name);
    auto s32 = samples_of(op, Dtype::float32, seed);
    auto s64 = samples_of(op, Dtype::float64, seed);
    INFO("op '", op.name, "'");
    REQUIRE(s32.size() == s64.size());
    for (std::size_t k = 0; k < s32.size(); ++k) {
      INFO("sample '", s64[k].description, "': ", describe(s64[k].inputs));
      try {
        Tensor y32 = s32[k].call(s32[k].inputs);
        Tensor y64 = s64[k].call(s64[k].inputs);
        REQUIRE(y32.shape() == y64.shape());
        if (is_floating(y64.dtype())) {
          CHECK(y64.dtype() == float64);
          CHECK(y32.dtype() == float32);
        }
        auto a = y32.to_vector<double>();
        auto b = y64.to_vector<double>();
        double worst = 0;
        std::size_t worst_at = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
          const double excess = std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i]));
          if (!(excess <= worst)) {
            worst = excess;
            worst_at = i;
          }
        }
        CHECK_MESSAGE(worst <= 1e-4, "float32 differs from float64 at flat index ", worst_at, ": ",
                      a.empty() ? 0.0 : a[worst_at], " vs ", b.empty() ? 0.0 : b[worst_at]);
      } catch (const std::exception& e) {
        FAIL_CHECK("the sample threw: ", e.what());
      }
    }
  }
}

// The op's own step where it asks for one (ops that round through float32).
GradcheckOptions options_for(const OpInfo& op) {
  GradcheckOptions opts;
  if (op.gradcheck_eps > 0) opts.eps = op.gradcheck_eps;
  return opts;
}

// Runs `check` (gradcheck or gradgradcheck) on every float64 sample of every selected op that
// `wanted` accepts, failing with the op, its formula, the sample and the report. Returns the count.
template <class Check>
int check_every_sample(const char* what, bool (*wanted)(const OpInfo&), Check check) {
  int checked = 0;
  for (const OpInfo& op : registered_ops()) {
    if (!wanted(op) || !selected(op.name)) continue;
    const auto t0 = std::chrono::steady_clock::now();
    auto samples = samples_of(op, Dtype::float64, seed_of(op.name));
    for (const OpSample& s : samples) {
      INFO("op '", op.name, "' (", op.formula, "), sample '", s.description, "': ", describe(s.inputs));
      try {
        auto r = check(s.call, s.inputs, options_for(op));
        CHECK_MESSAGE(r.passed, r.report());
        ++checked;
      } catch (const std::exception& e) {
        FAIL_CHECK(what, " threw: ", e.what());
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms > 2000) MESSAGE(what, " of '", op.name, "' took ", static_cast<int>(ms), " ms");
  }
  return checked;
}

TEST_CASE("registry: gradcheck on every op and sample (float64, slow mode)") {
  const int checked = check_every_sample(
      "gradcheck", [](const OpInfo&) { return true; },
      [](const auto& f, const TensorList& in, const GradcheckOptions& o) { return gradcheck(f, in, o); });
  MESSAGE("gradcheck ran on ", checked, " samples of ", registered_ops().size(), " ops");
}

TEST_CASE("registry: gradgradcheck on every op that supports it (float64, slow mode)") {
  const int checked = check_every_sample(
      "gradgradcheck", [](const OpInfo& op) { return op.supports_gradgrad; },
      [](const auto& f, const TensorList& in, const GradcheckOptions& o) { return gradgradcheck(f, in, o); });
  MESSAGE("gradgradcheck ran on ", checked, " samples");
}
