// Inverted dropout. The mask (0 or 1/(1-p)) is drawn once from the given generator (default_generator() if none) and saved;
// the VJP multiplies by the same mask with the mul op, so double backward works.
#include "../core/kernels/elementwise.h"
#include "../core/kernels/normalization.h"
#include "sample_util.h"
#include "xgrad/generator.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kDropout{"dropout", 1, "dx = dy * mask / (1 - p) (the forward's mask)"};

Tensor dropout(const Tensor& x, double p, bool training) { return dropout(x, p, training, default_generator()); }

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  XGRAD_CHECK(x.defined(), "dropout: the input is an undefined tensor");
  XGRAD_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got {} (input shape {})", p,
              to_string(x.shape()));
  if (!training || p == 0.0) return x;
  XGRAD_CHECK(is_floating(x.dtype()), "dropout: expects a floating input, got {} (shape {})", dtype_name(x.dtype()),
              to_string(x.shape()));
  // p = 1 drops everything: a zero mask (1/(1-p) would be infinite).
  const Tensor mask = p == 1.0 ? zeros(x.shape(), {.dtype = x.dtype()})
                               : kernels::dropout_mask(x.shape(), x.dtype(), p, gen.next_u64());
  Tensor y = kernels::binary(kernels::Binary::mul, x, mask, "dropout");
  record(y, kDropout, {x}, {mask}, [](Node& n, const Tensor& gy) -> TensorList { return {gy * n.saved(0)}; });
  return y;
}

void register_dropout_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kDropout, {
               .differentiable = {true},
               .samples = [](Dtype dt) {
                 // Each call re-seeds, so gradcheck's repeated calls see one mask.
                 auto seeded = [](std::uint64_t seed, double p, bool training) {
                   return [=](const TensorList& in) {
                     manual_seed(seed);
                     return dropout(in[0], p, training);
                   };
                 };
                 return std::vector<OpSample>{
                     {"[4,5] p=0.5", {samples::input({4, 5}, dt)}, seeded(1, 0.5, true)},
                     {"[2,3,4] p=0.2", {samples::input({2, 3, 4}, dt)}, seeded(2, 0.2, true)},
                     {"0-d p=0.3", {samples::input({}, dt)}, seeded(3, 0.3, true)},
                     {"[0,3] p=0.5", {samples::input({0, 3}, dt)}, seeded(4, 0.5, true)},
                     {"[3,4] p=1 (all dropped)", {samples::input({3, 4}, dt)}, seeded(5, 1.0, true)},
                     {"[3,4] eval (identity)", {samples::input({3, 4}, dt)}, seeded(6, 0.5, false)},
                     {"[3,4] p=0 (identity)", {samples::input({3, 4}, dt)}, seeded(7, 0.0, true)},
                 };
               }}));
}

}  // namespace xgrad
