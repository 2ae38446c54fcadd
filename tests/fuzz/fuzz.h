#pragma once
// The fuzz test's shared pieces: the argument generator, whose every draw is also written into a
// description of the call, and the tables of fuzzed functions (public API and registry ops).
// One call = one FuzzCall: its own random generator seeded from (seed, index), so any call can be
// replayed alone (XGRAD_FUZZ_ONLY=<index>).
#include <xgrad/xgrad.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace xgrad::fuzz {

// Generated tensors stay far below this; shape *arguments* instead are either below
// kModerateElements or at least kHostileElements (or negative), so a correct library either
// allocates a little or refuses at once: nothing in between that could take gigabytes.
inline constexpr std::int64_t kModerateElements = 1'000'000;
inline constexpr std::int64_t kHostileElements = std::int64_t{1} << 40;

class FuzzCall {
 public:
  FuzzCall(std::uint64_t seed, std::uint64_t index);

  // ---- undescribed randomness (choices of structure)
  std::uint64_t bits() { return rng_(); }
  std::int64_t uniform(std::int64_t lo, std::int64_t hi);  // inclusive
  double uniform_real(double lo, double hi);
  double normal();
  bool chance(double p);
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(v.size()) - 1))]; }

  // ---- described arguments: each appends "name=value" to args()
  // A tensor of random rank (0-4), small dims {0,1,2,3,5,7}, dtype float32/float64/int64 (bool now and then), values
  // with NaN, infinities, huge, -0.0 and denormals sprinkled in; sometimes requires grad, rarely undefined.
  Tensor tensor(const char* name);
  // A tensor meant to fit `shape` (sometimes it is another shape anyway), optionally of a given dtype.
  Tensor tensor(const char* name, const Shape& shape, std::optional<Dtype> dtype = std::nullopt);
  // A tensor shaped like `other`: the same shape, a broadcastable one, or (rarely) any.
  Tensor tensor_like(const char* name, const Tensor& other);
  // Integer tensor (indices, class targets) with values mostly in [0, bound), sometimes anything.
  Tensor index(const char* name, const Shape& shape, std::int64_t bound);
  TensorList tensor_list(const char* name, const Tensor& first);

  // An integer mostly in [lo, hi], else an extreme one (INT64_MIN/MAX, +-2^62, 2^31, 2^32 + 1, ...).
  std::int64_t integer(const char* name, std::int64_t lo, std::int64_t hi);
  // An integer that sizes an output (padding, output size, ...): mostly in [lo, hi], else one whose
  // output is tiny, moderate or hopeless (>= 2^40 elements), never a few gigabytes.
  std::int64_t extent(const char* name, std::int64_t lo, std::int64_t hi);
  std::int64_t dim(const char* name, const Tensor& x);  // mostly a valid dim of x, sometimes off by a few or extreme
  std::optional<std::int64_t> optional_integer(const char* name, std::int64_t lo, std::int64_t hi);
  std::vector<std::int64_t> integers(const char* name, std::size_t max_count, std::int64_t lo, std::int64_t hi);
  std::vector<std::int64_t> extents(const char* name, std::size_t max_count, std::int64_t lo, std::int64_t hi);
  Dims dims(const char* name, const Tensor& x);  // 0-3 dims, or a permutation of x's dims
  Dims permutation(const char* name, const Tensor& x);
  Int2 int2(const char* name, std::int64_t lo, std::int64_t hi);
  Int2 extent2(const char* name, std::int64_t lo, std::int64_t hi);
  std::optional<Int2> optional_int2(const char* name, std::int64_t lo, std::int64_t hi);
  ConvPadding conv_padding(const char* name, int spatial);

  double real(const char* name, double lo, double hi);  // mostly uniform in [lo, hi], else extreme
  std::optional<double> optional_real(const char* name, double lo, double hi);
  bool flag(const char* name);
  Dtype dtype(const char* name);
  TensorOptions options(const char* name);
  Reduction reduction(const char* name);

  // A shape for a factory: small, moderate (< 1e6 elements) or hostile (overflowing, >= 2^40
  // elements, negative dims).
  Shape shape(const char* name);
  // A shape related to x's (for reshape, expand, sum_to, ...), or sometimes a factory shape.
  Shape shape_near(const char* name, const Tensor& x);

  void note(const std::string& text);  // adds free text to the description
  const std::string& args() const { return args_; }

  // Checks a property of a result; a false one is a failure of this call.
  void expect(bool ok, const std::string& what);
  const std::vector<std::string>& broken_expectations() const { return broken_; }

  std::mt19937_64& rng() { return rng_; }

  // Where the description is mirrored as it grows (the crash reporter's static buffer, which a
  // heap-corrupting call is less likely to clobber than the string's own heap storage).
  static inline char* mirror = nullptr;
  static inline std::size_t mirror_size = 0;

 private:
  Tensor make_tensor(const Shape& shape, Dtype dtype, bool requires_grad, std::string& special);
  Shape small_shape(int min_rank, int max_rank);
  Shape hostile_shape();
  void describe(const char* name, const std::string& value);

  std::mt19937_64 rng_;
  std::string args_;
  std::vector<std::string> broken_;
};

// A bool mask from drawn values (value > 0); an undefined draw stays undefined, for the op to report.
inline Tensor mask_of(const Tensor& values) { return values.defined() ? gt(values, scalar_tensor(0)) : values; }

std::string describe_tensor(const Tensor& t);
std::string describe_shape(const Shape& s);

// One fuzzed function: `key` is the name checked against the headers ("add", "operator+",
// "Tensor::reshape") or "registry:<op>"; `op` is the name its errors must contain as a word ("add"
// for operator+, "reshape" for Tensor::reshape; "a|b" accepts either). `run` draws the arguments,
// calls the function and returns the tensors to run backward through (those requiring grad).
struct FuzzedFunction {
  std::string key;
  std::string op;
  std::function<TensorList(FuzzCall&)> run;
};

// Tables, one per header family: tests/fuzz/public_ops.cpp (ops.h) and tests/fuzz/tensor_api.cpp
// (tensor.h, autograd.h). A new public function needs an entry; the coverage test enforces it.
void add_ops_functions(std::vector<FuzzedFunction>& table);
void add_tensor_api_functions(std::vector<FuzzedFunction>& table);
const std::vector<FuzzedFunction>& public_functions();

// Registry ops (tests/fuzz/registry_ops.cpp): one entry per registered_ops() op, which takes a
// sample of the op and mutates its inputs (shapes, dtypes, undefined, 0-size, 0-d, NaN/inf).
std::vector<FuzzedFunction> registry_functions();

}  // namespace xgrad::fuzz
