// The windows' geometry shared by max and average pooling: which tap columns can read the input,
// and for each of them the outputs whose tap lands inside it.
#include "pool.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "pool_common.h"

namespace xgrad::kernels {

namespace {

using pool_detail::OutRange;

// The outputs whose tap at o * stride + offset lands inside [0, size), clamped to [0, out).
OutRange outputs_inside(std::int64_t offset, std::int64_t stride, std::int64_t size, std::int64_t out) {
  const std::int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const std::int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  const std::int64_t clamped_lo = std::min(lo, out);
  return {clamped_lo, std::clamp(hi, clamped_lo, out)};
}

}  // namespace

TapSpan tap_column_span(const PoolWindows& w) {
  // Tap kw of output ow reads column ow * stride + kw * dilation - pad: it can land inside [0, in_w)
  // only for kw in [ceil((pad - (out_w-1) stride) / dilation), floor((in_w - 1 + pad) / dilation)].
  using i128 = __int128;
  const i128 lo_num = i128{w.pad_w} - i128{w.out_w - 1} * w.stride_w;
  const i128 first = lo_num <= 0 ? 0 : (lo_num + w.dilation_w - 1) / w.dilation_w;
  const i128 end = (i128{w.in_w} - 1 + w.pad_w) / w.dilation_w + 1;
  const i128 k = w.kernel_w;
  const auto clamp = [&](i128 v) { return static_cast<std::int64_t>(v < 0 ? 0 : v > k ? k : v); };
  const std::int64_t f = clamp(first);
  return {f, std::max(f, clamp(end))};
}

namespace pool_detail {

TapColumns tap_column_ranges(const PoolWindows& w) {
  TapColumns t{tap_column_span(w), {}};
  t.ranges.resize(static_cast<std::size_t>(t.span.end - t.span.first));
  for (std::int64_t kw = t.span.first; kw < t.span.end; ++kw)
    t.ranges[static_cast<std::size_t>(kw - t.span.first)] =
        outputs_inside(kw * w.dilation_w - w.pad_w, w.stride_w, w.in_w, w.out_w);
  return t;
}

}  // namespace pool_detail

}  // namespace xgrad::kernels
