#include "xgrad/shape.h"

#include "xgrad/error.h"

namespace xgrad {

std::int64_t numel_of(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::int64_t checked_numel(const Shape& s, const char* op) {
  std::int64_t product = 1;  // of the non-zero sizes: strides are products of them too
  bool has_zero = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const std::int64_t d = s[i];
    XGRAD_CHECK(d >= 0, "{}: negative size {} at dim {} of shape {}", op, d, i, to_string(s));
    has_zero |= d == 0;
    XGRAD_CHECK(!__builtin_mul_overflow(product, d == 0 ? 1 : d, &product),
                "{}: shape {} has too many elements: the product of its sizes overflows int64 (at most {})", op,
                to_string(s), INT64_MAX);
  }
  return has_zero ? 0 : product;
}

std::string to_string(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size(), 1);
  for (std::size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * std::max<std::int64_t>(s[i], 1);
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  std::int64_t product = 1;  // of the non-zero sizes, as checked_numel counts them
  bool overflow = false;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    XGRAD_CHECK(da == db || da == 1 || db == 1,
                "{}: shapes {} and {} do not broadcast: dim {} has sizes {} and {} (each must "
                "match or be 1)",
                op, to_string(a), to_string(b), i, da, db);
    out[i] = da == 1 ? db : da;
    overflow |= __builtin_mul_overflow(product, out[i] == 0 ? 1 : out[i], &product);
  }
  // [2^40, 1, 0] with [1, 2^40, 0]: callers multiply the sizes; checked_numel raises, naming op.
  if (overflow) [[unlikely]] checked_numel(out, op);
  return out;
}

std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, const char* op) {
  const std::int64_t n = std::max<std::int64_t>(ndim, 1);
  XGRAD_CHECK(dim >= -n && dim < n, "{}: dim {} is out of range for a tensor with {} dims (expected {} to {})",
              op, dim, ndim, -n, n - 1);
  return dim < 0 ? dim + n : dim;
}

}  // namespace xgrad
