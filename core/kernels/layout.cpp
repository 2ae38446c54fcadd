#include "layout.h"
#include "intrinsics.h"

#include <cstring>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "../convert.h"
#include "../dispatch.h"
#include "xt.h"

namespace xgrad::kernels {

namespace {

// A tensor seen as [outer, n, inner] around `dim`: every op along one dim is a loop over
// `outer` contiguous rows of n * inner elements.
struct Blocks {
  std::int64_t outer = 1, n = 1, inner = 1;
};

Blocks blocks_around(const Shape& s, std::int64_t dim) {
  Blocks b;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto d = static_cast<std::int64_t>(i);
    if (d < dim)
      b.outer *= s[i];
    else if (d == dim)
      b.n = s[i];
    else
      b.inner *= s[i];
  }
  return b;
}

char* bytes(const Tensor& t) { return static_cast<char*>(t.impl()->raw()); }

// Copies the box of sizes `box` at `src_off` inside a row-major `src` of shape `src_shape` to
// `dst_off` inside `dst` of shape `dst_shape`. Trailing dims the box spans completely merge into
// one memcpy block, so copies along leading dims are a few large memcpys.
void copy_box(const char* src, const Shape& src_shape, const Shape& src_off, char* dst, const Shape& dst_shape,
              const Shape& dst_off, const Shape& box, std::size_t elem) {
  const std::size_t rank = box.size();
  if (rank == 0) {
    std::memcpy(dst, src, elem);
    return;
  }
  for (auto b : box)
    if (b == 0) return;
  auto spans_dim = [&](std::size_t d) { return box[d] == src_shape[d] && box[d] == dst_shape[d]; };
  std::size_t k = rank - 1;  // dims after k are spanned completely
  while (k > 0 && spans_dim(k)) --k;
  const Shape ss = contiguous_strides(src_shape), ds = contiguous_strides(dst_shape);
  const std::size_t block = static_cast<std::size_t>(box[k] * ss[k]) * elem;
  std::int64_t s_at = 0, d_at = 0;
  for (std::size_t d = 0; d < rank; ++d) {
    s_at += src_off[d] * ss[d];
    d_at += dst_off[d] * ds[d];
  }
  std::vector<std::int64_t> pos(k, 0);
  for (;;) {
    std::memcpy(dst + d_at * static_cast<std::int64_t>(elem), src + s_at * static_cast<std::int64_t>(elem), block);
    std::size_t e = k;  // odometer over dims [0, k)
    for (;;) {
      if (e == 0) return;
      --e;
      if (++pos[e] < box[e]) {
        s_at += ss[e];
        d_at += ds[e];
        break;
      }
      s_at -= ss[e] * (box[e] - 1);
      d_at -= ds[e] * (box[e] - 1);
      pos[e] = 0;
    }
  }
}

// A [outer, n, inner] view over a tensor's buffer.
template <class T>
auto as_blocks(const Tensor& t, const Blocks& b) {
  return xt::adapt(t.impl()->data<T>(), static_cast<std::size_t>(t.numel()), xt::no_ownership(),
                   std::array<std::size_t, 3>{static_cast<std::size_t>(b.outer), static_cast<std::size_t>(b.n),
                                              static_cast<std::size_t>(b.inner)});
}

Shape at_least_1d(const Shape& s) { return s.empty() ? Shape{1} : s; }

}  // namespace

Tensor permute_copy(const Tensor& x, const Dims& perm) {
  Shape out_shape(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) out_shape[i] = x.shape()[static_cast<std::size_t>(perm[i])];
  Tensor out = make_tensor(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  std::vector<std::size_t> p(perm.begin(), perm.end());
  XGRAD_DISPATCH_MOVE(x.dtype(), T, {
    auto o = shaped<T>(out);
    xt::noalias(o) = xt::transpose(shaped<T>(x), p);
  });
  return out;
}

Tensor slice_copy(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t step, std::int64_t length) {
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(dim)] = length;
  Tensor out = make_tensor(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  if (step == 1 || length == 1) {
    Shape src_off(x.shape().size(), 0), dst_off(x.shape().size(), 0);
    src_off[static_cast<std::size_t>(dim)] = start;
    copy_box(bytes(x), x.shape(), src_off, bytes(out), out_shape, dst_off, out_shape, dtype_size(x.dtype()));
    return out;
  }
  const Blocks in = blocks_around(x.shape(), dim);
  const Blocks outb{in.outer, length, in.inner};
  XGRAD_DISPATCH_MOVE(x.dtype(), T, {
    if (in.inner == 1) {  // a strided gather along the last dim: xtensor's view steps slower than this loop
      const T* s = x.impl()->data<T>() + start;
      T* o = out.impl()->data<T>();
      for (std::int64_t r = 0; r < in.outer; ++r, s += in.n, o += length)
        for (std::int64_t j = 0; j < length; ++j) o[j] = s[j * step];
    } else {
      auto o = as_blocks<T>(out, outb);
      xt::noalias(o) = xt::view(as_blocks<T>(x, in), xt::all(),
                                xt::range(start, start + (length - 1) * step + 1, step), xt::all());
    }
  });
  return out;
}

Tensor slice_embed(const Tensor& src, const Shape& out_shape, std::int64_t dim, std::int64_t start,
                   std::int64_t step) {
  Tensor out = make_tensor(out_shape, src.dtype());
  if (out.numel() == 0) return out;
  std::memset(out.impl()->raw(), 0, static_cast<std::size_t>(out.numel()) * dtype_size(out.dtype()));  // 0.0 is all zero bits
  const std::int64_t length = src.shape()[static_cast<std::size_t>(dim)];
  if (src.numel() == 0) return out;
  if (step == 1 || length == 1) {
    Shape src_off(out_shape.size(), 0), dst_off(out_shape.size(), 0);
    dst_off[static_cast<std::size_t>(dim)] = start;
    copy_box(bytes(src), src.shape(), src_off, bytes(out), out_shape, dst_off, src.shape(), dtype_size(src.dtype()));
    return out;
  }
  const Blocks ob = blocks_around(out_shape, dim);
  const Blocks sb{ob.outer, length, ob.inner};
  XGRAD_DISPATCH_MOVE(src.dtype(), T, {
    if (ob.inner == 1) {
      const T* s = src.impl()->data<T>();
      T* o = out.impl()->data<T>() + start;
      for (std::int64_t r = 0; r < ob.outer; ++r, s += length, o += ob.n)
        for (std::int64_t j = 0; j < length; ++j) o[j * step] = s[j];
    } else {
      auto o = as_blocks<T>(out, ob);
      auto target = xt::view(o, xt::all(), xt::range(start, start + (length - 1) * step + 1, step), xt::all());
      xt::noalias(target) = as_blocks<T>(src, sb);
    }
  });
  return out;
}

Tensor pad_copy(const Tensor& x, const Shape& out_shape, const Shape& before, double value) {
  Tensor out = make_tensor(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_WITH_BOOL(x.dtype(), T, {
    T* o = out.impl()->data<T>();
    std::fill(o, o + out.numel(), convert<T>(value));  // int64, bool: convert.h's rules
  });
  const std::size_t rank = out_shape.size();
  Shape src_off(rank), dst_off(rank), box(rank);
  for (std::size_t d = 0; d < rank; ++d) {
    src_off[d] = std::max<std::int64_t>(0, -before[d]);
    dst_off[d] = std::max<std::int64_t>(0, before[d]);
    box[d] = std::max<std::int64_t>(0, std::min(x.shape()[d] - src_off[d], out_shape[d] - dst_off[d]));
  }
  copy_box(bytes(x), x.shape(), src_off, bytes(out), out_shape, dst_off, box, dtype_size(x.dtype()));
  return out;
}

Tensor concat(const TensorList& xs, std::int64_t dim, const Shape& out_shape) {
  const Dtype dtype = xs.front().dtype();
  Tensor out = make_tensor(out_shape, dtype);
  if (out.numel() == 0) return out;
  const std::int64_t outer = blocks_around(out_shape, dim).outer;
  const std::int64_t out_row = out.numel() / outer;
  XGRAD_DISPATCH_MOVE(dtype, T, {
    T* o = out.impl()->data<T>();
    std::int64_t at = 0;  // where the current input's rows start inside an output row
    for (const Tensor& x : xs) {
      if (x.numel() == 0) continue;
      const std::int64_t row = x.numel() / outer;
      const T* s = x.impl()->data<T>();
      if (row == 1) {  // e.g. stack along the last dim
        for (std::int64_t r = 0; r < outer; ++r) o[r * out_row + at] = s[r];
      } else {
        for (std::int64_t r = 0; r < outer; ++r) std::copy_n(s + r * row, row, o + r * out_row + at);
      }
      at += row;
    }
  });
  return out;
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  const Blocks in = blocks_around(x.shape(), dim);
  const std::int64_t m = index.numel();
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(dim)] = m;
  Tensor out = make_tensor(out_shape, x.dtype());
  if (out.numel() == 0) return out;
  const std::int64_t* idx = index.impl()->data<std::int64_t>();
  XGRAD_DISPATCH_MOVE(x.dtype(), T, {
    const T* s = x.impl()->data<T>();
    T* o = out.impl()->data<T>();
    if (in.inner == 1) {
      for (std::int64_t r = 0; r < in.outer; ++r, s += in.n, o += m)
        for (std::int64_t j = 0; j < m; ++j) o[j] = s[idx[j]];
    } else {
      for (std::int64_t r = 0; r < in.outer; ++r)
        for (std::int64_t j = 0; j < m; ++j)
          std::copy_n(s + (r * in.n + idx[j]) * in.inner, in.inner, o + (r * m + j) * in.inner);
    }
  });
  return out;
}

Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& source) {
  const Blocks in = blocks_around(x.shape(), dim);
  const std::int64_t m = index.numel();
  Tensor out = make_tensor(x.shape(), x.dtype());
  if (out.numel() == 0) return out;
  std::memcpy(out.impl()->raw(), x.impl()->raw(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype()));
  const std::int64_t* idx = index.impl()->data<std::int64_t>();
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    using W = wrapping_t<T>;  // int64 sums wrap modulo 2^64 (defined, as PyTorch)
    const W* s = source.impl()->data<W>();
    W* o = out.impl()->data<W>();
    for (std::int64_t r = 0; r < in.outer; ++r)
      for (std::int64_t j = 0; j < m; ++j) {
        W* to = o + (r * in.n + idx[j]) * in.inner;
        const W* from = s + (r * m + j) * in.inner;
        for (std::int64_t k = 0; k < in.inner; ++k) to[k] += from[k];
      }
  });
  return out;
}

namespace {

// Visits the rows (last-dim runs) of `index` in row-major order: visit(i, a_at, b_at, len, a_step)
// for the row starting at flat position i of the index, where a_at / b_at are the offsets of
// its first element in `a` (the indexed tensor, dim `dim` left out) and in `b` (same position,
// all dims kept), and a_step is a's stride along the row (0 when the row runs along `dim`).
// `b` has unit stride along the row.
template <class F>
void for_each_index_row(const Shape& index_shape, const Shape& a_shape, const Shape& b_shape, std::size_t dim,
                        F visit) {
  const std::size_t rank = index_shape.size();
  const std::int64_t total = numel_of(index_shape);
  if (total == 0) return;
  const Shape as = contiguous_strides(a_shape), bs = contiguous_strides(b_shape);
  const std::size_t last = rank - 1;
  const std::int64_t len = index_shape[last];
  const std::int64_t a_step = last == dim ? 0 : 1;
  std::vector<std::int64_t> pos(rank, 0);
  std::int64_t a_at = 0, b_at = 0;
  for (std::int64_t i = 0; i < total; i += len) {
    visit(i, a_at, b_at, len, a_step);
    for (std::size_t e = last; e-- > 0;) {  // odometer over the leading dims
      const std::int64_t a_stride = e == dim ? 0 : as[e];
      if (++pos[e] < index_shape[e]) {
        a_at += a_stride;
        b_at += bs[e];
        break;
      }
      a_at -= a_stride * (index_shape[e] - 1);
      b_at -= bs[e] * (index_shape[e] - 1);
      pos[e] = 0;
    }
  }
}

}  // namespace

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  Tensor out = make_tensor(index.shape(), x.dtype());
  const Shape xs = at_least_1d(x.shape()), is = at_least_1d(index.shape());
  const std::int64_t dim_stride = contiguous_strides(xs)[static_cast<std::size_t>(dim)];
  const std::int64_t* idx = index.impl()->data<std::int64_t>();
  XGRAD_DISPATCH_MOVE(x.dtype(), T, {
    const T* s = x.impl()->data<T>();
    T* o = out.impl()->data<T>();
    for_each_index_row(is, xs, is, static_cast<std::size_t>(dim),
                       [&](std::int64_t i, std::int64_t x_at, std::int64_t, std::int64_t len, std::int64_t x_step) {
                         const std::int64_t* row_idx = idx + i;
                         T* row_out = o + i;
                         for (std::int64_t k = 0; k < len; ++k) row_out[k] = s[x_at + k * x_step + row_idx[k] * dim_stride];
                       });
  });
  return out;
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  if (out.numel() == 0) return out;
  std::memcpy(out.impl()->raw(), x.impl()->raw(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype()));
  const Shape xs = at_least_1d(x.shape()), is = at_least_1d(index.shape()), ss = at_least_1d(src.shape());
  const std::int64_t dim_stride = contiguous_strides(xs)[static_cast<std::size_t>(dim)];
  const std::int64_t* idx = index.impl()->data<std::int64_t>();
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    using W = wrapping_t<T>;  // int64 sums wrap modulo 2^64 (defined, as PyTorch)
    const W* s = src.impl()->data<W>();
    W* o = out.impl()->data<W>();
    for_each_index_row(is, xs, ss, static_cast<std::size_t>(dim),
                       [&](std::int64_t i, std::int64_t x_at, std::int64_t src_at, std::int64_t len, std::int64_t x_step) {
                         const std::int64_t* row_idx = idx + i;
                         const W* row_src = s + src_at;
                         for (std::int64_t k = 0; k < len; ++k) o[x_at + k * x_step + row_idx[k] * dim_stride] += row_src[k];
                       });
  });
  return out;
}

}  // namespace xgrad::kernels
