// Tensor::index and Tensor::index_put_ (LibTorch's spellings, PyTorch's rules), x[mask].
//
// index() runs the basic indices first, each a registered op on the running result (integer:
// narrow + squeeze, Slice: slice, None: unsqueeze, Ellipsis: skip dims), noting where the tensor
// indices sit. A bool mask becomes one int64 index tensor per dim it covers (its true positions).
// The int64 indices then broadcast together and are folded into one flat index over the indexed dims,
// which permute moves to the front and reshape merges: one index_select, and a reshape (and permute)
// puts the broadcast dims where PyTorch puts them. So everything is differentiable, twice.
//
// index_put_() runs the same indexing over a tensor of flat positions (arange(numel) in self's shape),
// which names the element of self behind each indexed element, writes there, and records one
// in-place node, "index_put_".
#include <algorithm>
#include <numeric>

#include "../core/arg_checks.h"
#include "../core/convert.h"
#include "../core/dispatch.h"
#include "inplace_internal.h"
#include "sample_util.h"
#include "xgrad/grad_mode.h"

namespace xgrad {

constexpr OpDecl kIndexPut_{"index_put_", 2,
    "dself = dy with the written positions zeroed (accumulate: dy), dvalues = sum_to(dy at the positions written)"};

namespace {

using Kind = TensorIndex::Kind;

// How many dims of the indexed tensor an entry consumes.
std::int64_t dims_consumed(const TensorIndex& ix) {
  switch (ix.kind()) {
    case Kind::integer:
    case Kind::slice: return 1;
    case Kind::tensor: return ix.tensor().dtype() == boolean ? ix.tensor().dim() : 1;
    case Kind::none:
    case Kind::ellipsis: return 0;
  }
  return 0;
}

struct TensorIndexAt {
  std::int64_t dim;  // in the result of the basic indexing
  Tensor index;      // int64
};

// The flat (row-major) positions of a bool mask's true elements: the index into the mask's dims
// merged into one, which is what PyTorch's one coordinate tensor per mask dim amounts to.
Tensor mask_positions(const Tensor& mask) {
  const bool* m = mask.data<bool>();
  const std::int64_t n = mask.numel();
  const auto count = static_cast<std::int64_t>(std::count(m, m + n, true));
  Tensor out = empty({count}, {.dtype = int64});
  std::int64_t* o = out.mutable_data<std::int64_t>();
  // Branch-free: every position is written, only the true ones advance (a random mask would
  // mispredict half the branches of an if). The slot one past the last true is never needed.
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (k < count) o[k] = i;
    k += m[i];
  }
  return out;
}

// The advanced-indexing step: `y` indexed at `at` (int64 tensors, dims strictly increasing).
Tensor advanced(const Tensor& y, const std::vector<TensorIndexAt>& at, const char* op) {
  Shape b = at.front().index.shape();
  for (const auto& a : at) b = broadcast_shapes(b, a.index.shape(), op);
  const std::int64_t count = numel_of(b);
  // One flat index over the indexed dims (row-major), each value wrapped and range-checked.
  std::vector<std::int64_t> flat(static_cast<std::size_t>(count), 0);
  std::int64_t indexed_numel = 1;
  for (const auto& a : at) indexed_numel *= y.size(a.dim);
  for (const auto& a : at) {
    const std::int64_t size = y.size(a.dim);
    const Tensor full = a.index.shape() == b ? a.index : expand(a.index, b);
    const std::int64_t* v = full.data<std::int64_t>();
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t ix = v[i];
      XGRAD_CHECK(ix >= -size && ix < size, "{}: index {} is out of bounds for dim {} with size {} (tensor of shape {})",
                  op, ix, a.dim, size, to_string(y.shape()));
      // Horner's rule: the dims come in order, so the earlier ones end up with the larger strides.
      flat[static_cast<std::size_t>(i)] = flat[static_cast<std::size_t>(i)] * size + (ix < 0 ? ix + size : ix);
    }
  }
  const Tensor flat_index = tensor(std::move(flat), {count});
  bool adjacent = true;
  for (std::size_t i = 1; i < at.size(); ++i) adjacent = adjacent && at[i].dim == at[i - 1].dim + 1;
  if (adjacent) {
    // The broadcast dims take the indexed dims' place (PyTorch): merge those dims (a free reshape),
    // select along the merged dim, split it into the broadcast shape. No copy but the selection.
    const std::int64_t p = at.front().dim, k = static_cast<std::int64_t>(at.size());
    Shape merged, result;
    for (std::int64_t d = 0; d < p; ++d) merged.push_back(y.size(d));
    result = merged;
    merged.push_back(indexed_numel);
    for (const std::int64_t e : b) result.push_back(e);
    for (std::int64_t d = p + k; d < y.dim(); ++d) {
      merged.push_back(y.size(d));
      result.push_back(y.size(d));
    }
    const Tensor picked = index_select(merged == y.shape() ? y : reshape(y, merged), p, flat_index);
    return picked.shape() == result ? picked : reshape(picked, result);
  }
  // Separated indexed dims: the broadcast dims come first. The indexed dims move to the front, in
  // order, and merge into one.
  Dims perm, rest_dims;
  Shape rest;
  for (const auto& a : at) perm.push_back(a.dim);
  for (std::int64_t d = 0; d < y.dim(); ++d)
    if (std::find(perm.begin(), perm.end(), d) == perm.end()) {
      rest_dims.push_back(d);
      rest.push_back(y.size(d));
    }
  perm.insert(perm.end(), rest_dims.begin(), rest_dims.end());
  Shape merged{indexed_numel}, result = b;
  for (const std::int64_t r : rest) {
    merged.push_back(r);
    result.push_back(r);
  }
  return reshape(index_select(reshape(permute(y, perm), merged), 0, flat_index), result);
}

Tensor apply_index(const Tensor& x, const TensorIndex* begin, const TensorIndex* end, const char* op) {
  check_defined(op, {{x, "self"}});
  std::int64_t consumed = 0, ellipses = 0;
  for (const TensorIndex* ix = begin; ix != end; ++ix) {
    if (ix->kind() == Kind::tensor) {
      const Tensor& t = ix->tensor();
      XGRAD_CHECK(t.defined(), "{}: index tensor {} is undefined", op, ix - begin);
      XGRAD_CHECK(t.dtype() == int64 || t.dtype() == boolean,
                  "{}: tensors used as indices must be int64 or bool, got {} of shape {} (index {})", op,
                  dtype_name(t.dtype()), to_string(t.shape()), ix - begin);
    }
    consumed += dims_consumed(*ix);
    ellipses += ix->kind() == Kind::ellipsis;
  }
  XGRAD_CHECK(ellipses <= 1, "{}: an index can only have a single Ellipsis, got {}", op, ellipses);
  XGRAD_CHECK(consumed <= x.dim(), "{}: too many indices for a tensor of shape {}: {} dims indexed", op,
              to_string(x.shape()), consumed);
  Tensor y = x;
  std::int64_t d = 0;  // the dim of y the next entry applies to
  std::vector<TensorIndexAt> at;
  for (const TensorIndex* ix = begin; ix != end; ++ix) {
    switch (ix->kind()) {
      case Kind::integer: {
        const std::int64_t n = y.size(d), i = ix->integer();
        XGRAD_CHECK(i >= -n && i < n, "{}: index {} is out of range for dim {} of size {} (tensor of shape {})", op,
                    i, d, n, to_string(x.shape()));
        y = squeeze(narrow(y, d, i < 0 ? i + n : i, 1), d);
        break;
      }
      case Kind::slice: {
        const auto& s = ix->slice();
        const std::int64_t step = s.step.value_or(1);
        XGRAD_CHECK(step > 0, "{}: slice step must be positive, got {} (PyTorch has no negative steps either)", op,
                    step);
        y = slice(y, d, s.start, s.stop, step);
        ++d;
        break;
      }
      case Kind::none:
        y = unsqueeze(y, d);
        ++d;
        break;
      case Kind::ellipsis: d += x.dim() - consumed; break;
      case Kind::tensor: {
        const Tensor& t = ix->tensor();
        if (t.dtype() == int64) {
          at.push_back({d, t.detach()});
          ++d;
        } else if (t.dim() == 0) {  // x[true] adds a dim of size 1, x[false] one of size 0
          y = unsqueeze(y, d);
          at.push_back({d, t.item<bool>() ? zeros({1}, {.dtype = int64}) : zeros({0}, {.dtype = int64})});
          ++d;
        } else {
          const auto k = static_cast<std::size_t>(t.dim());
          bool fits = true;
          for (std::size_t j = 0; j < k; ++j) fits = fits && t.shape()[j] == y.size(d + static_cast<std::int64_t>(j));
          XGRAD_CHECK(fits, "{}: the mask of shape {} does not match the dims {}..{} of the indexed tensor (shape {})",
                      op, to_string(t.shape()), d, d + static_cast<std::int64_t>(k) - 1, to_string(y.shape()));
          // The mask's dims merge into one (a free reshape), indexed by the true positions.
          Shape merged;
          for (std::int64_t j = 0; j < y.dim(); ++j)
            if (j <= d || j >= d + static_cast<std::int64_t>(k)) merged.push_back(y.size(j));
          merged[static_cast<std::size_t>(d)] = t.numel();
          if (k > 1) y = reshape(y, merged);
          at.push_back({d++, mask_positions(t)});
        }
        break;
      }
    }
  }
  return at.empty() ? y : advanced(y, at, op);
}

// The flat positions of self that self.index(indices) reads, in that result's shape.
Tensor positions_of(const Tensor& self, const TensorIndex* begin, const TensorIndex* end) {
  NoGradGuard no_grad;
  const Tensor all = reshape(arange(static_cast<double>(self.numel()), {.dtype = int64}), self.shape());
  return apply_index(all, begin, end, "index_put_");
}

Tensor& index_put_impl(Tensor& self, const TensorIndex* begin, const TensorIndex* end, const Tensor& values,
                       bool accumulate) {
  const bool rec = detail::begin_inplace("index_put_", self, {values});
  check_defined("index_put_", {{values, "values"}});
  XGRAD_CHECK(!accumulate || self.dtype() != boolean,
              "index_put_: accumulate=true on a bool tensor (shape {}) is not supported", to_string(self.shape()));
  const Tensor positions = positions_of(self, begin, end);
  const Shape& indexed = positions.shape();
  XGRAD_CHECK(broadcast_shapes(values.shape(), indexed, "index_put_") == indexed,
              "index_put_: values of shape {} do not broadcast to the indexed shape {} (self {})",
              to_string(values.shape()), to_string(indexed), to_string(self.shape()));
  const std::int64_t m = positions.numel();
  const std::int64_t* pos = positions.data<std::int64_t>();
  // Which element of the (broadcast, flattened) values goes where. Without accumulate a position
  // indexed twice keeps the last value, as a sequence of assignments would.
  std::vector<std::int64_t> where_to, which;
  if (accumulate) {
    where_to.assign(pos, pos + m);
    which.resize(static_cast<std::size_t>(m));
    std::iota(which.begin(), which.end(), 0);
  } else if (std::is_sorted(pos, pos + m, [](std::int64_t a, std::int64_t b) { return a <= b; })) {
    // Strictly increasing (basic indexing, masks, sorted unique indices): no position repeats.
    where_to.assign(pos, pos + m);
    which.resize(static_cast<std::size_t>(m));
    std::iota(which.begin(), which.end(), 0);
  } else {
    std::vector<std::int64_t> order(static_cast<std::size_t>(m));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return pos[a] < pos[b]; });
    for (std::size_t i = 0; i < order.size(); ++i)
      if (i + 1 == order.size() || pos[order[i + 1]] != pos[order[i]]) {
        where_to.push_back(pos[order[i]]);
        which.push_back(order[i]);
      }
  }
  Tensor source;
  {
    NoGradGuard no_grad;
    source = to_dtype(values, self.dtype());
    if (source.shape() != indexed) source = expand(source, indexed);
    // Values read from self's own buffer (x.index_put_({perm}, x)) are copied before the writes.
    if (source.impl()->storage() == self.impl()->storage()) source = clone(source);
  }
  const std::size_t count = where_to.size();
  if (accumulate) {
    XGRAD_DISPATCH_ALL(self.dtype(), T, {
      using W = wrapping_t<T>;  // int64 sums wrap modulo 2^64, as index_add's
      W* out = static_cast<W*>(self.impl()->raw());
      const W* v = static_cast<const W*>(source.impl()->raw());
      for (std::size_t i = 0; i < count; ++i) out[where_to[i]] += v[which[i]];
    });
  } else {
    XGRAD_DISPATCH_MOVE(self.dtype(), T, {
      T* out = static_cast<T*>(self.impl()->raw());
      const T* v = static_cast<const T*>(source.impl()->raw());
      for (std::size_t i = 0; i < count; ++i) out[where_to[i]] = v[which[i]];
    });
  }
  detail::bump_version(self);
  if (rec && is_floating(self.dtype())) {
    const auto n = static_cast<std::int64_t>(count);
    const Tensor written = tensor(where_to, {n}), taken = tensor(which, {n});
    detail::record_inplace(self, kIndexPut_, {self, values}, {written, taken},
                           [accumulate, m, indexed](Node& node, const Tensor& gy) -> TensorList {
      const Tensor written = node.saved(0), taken = node.saved(1);
      const Tensor flat_gy = reshape(gy, {-1});
      Tensor gself, gvalues;
      if (node.needs_input_grad(0)) {
        if (accumulate) {
          gself = gy;
        } else {
          // The overwritten positions lose their gradient.
          const Tensor hits = index_add(zeros({gy.numel()}, {.dtype = int64}), 0, written,
                                        ones({written.numel()}, {.dtype = int64}));
          gself = where(reshape(gt(hits, scalar_tensor(0, {.dtype = int64})), gy.shape()),
                        scalar_tensor(0, {.dtype = gy.dtype()}), gy);
        }
      }
      if (node.needs_input_grad(1)) {
        const Tensor picked = index_select(flat_gy, 0, written);
        const Tensor spread = accumulate ? picked : index_add(zeros({m}, {.dtype = gy.dtype()}), 0, taken, picked);
        gvalues = sum_to(reshape(spread, indexed), node.next_edges()[1].shape);
      }
      return {gself, gvalues};
    });
  }
  return self;
}

}  // namespace

Tensor Tensor::index(std::initializer_list<TensorIndex> indices) const {
  return apply_index(*this, indices.begin(), indices.end(), "index");
}
Tensor Tensor::index(const std::vector<TensorIndex>& indices) const {
  return apply_index(*this, indices.data(), indices.data() + indices.size(), "index");
}
Tensor Tensor::operator[](const Tensor& index) const {
  const TensorIndex ix(index);
  return apply_index(*this, &ix, &ix + 1, "index");
}

Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, const Tensor& values, bool accumulate) {
  return index_put_impl(*this, indices.begin(), indices.end(), values, accumulate);
}
Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate) {
  return index_put_impl(*this, indices.data(), indices.data() + indices.size(), values, accumulate);
}
Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, double value, bool accumulate) {
  check_defined("index_put_", {{*this, "self"}});
  return index_put_impl(*this, indices.begin(), indices.end(), scalar_tensor(value, {.dtype = dtype()}), accumulate);
}

void register_indexing_ops(std::vector<OpInfo>& r) {
  using Call = std::function<Tensor(const TensorList&)>;
  r.push_back(declared(kIndexPut_, {
      .differentiable = {true, true},
      .samples = [](Dtype d) {
        auto put = [](std::vector<TensorIndex> ix, bool accumulate) -> Call {
          return [ix, accumulate](const TensorList& in) {
            check_defined("index_put_", {{in[0], "self"}});
            Tensor s = clone(in[0]);  // the registry's inputs are leaves: write into a copy
            s.index_put_(ix, in[1], accumulate);
            return s;
          };
        };
        using indexing::Slice;
        const Tensor rows = tensor(std::vector<std::int64_t>{2, 0}, {2});
        const Tensor repeated = tensor(std::vector<std::int64_t>{1, -2, 1}, {3});
        const Tensor mask = tensor({{1, 0, 0, 1}, {0, 1, 0, 0}, {1, 1, 0, 0}}, {.dtype = boolean});
        return std::vector<OpSample>{
            {"rows [2,0] of [3,4] from [2,4]", {samples::input({3, 4}, d), samples::input({2, 4}, d)}, put({rows}, false)},
            {"rows [1,-2,1] repeated, last one wins", {samples::input({3, 4}, d), samples::input({3, 4}, d)},
             put({repeated, Slice()}, false)},
            {"rows [1,-2,1] accumulate, values [4] broadcast", {samples::input({3, 4}, d), samples::input({4}, d)},
             put({repeated}, true)},
            {"bool mask [3,4], 0-d value", {samples::input({3, 4}, d), samples::input({}, d)}, put({mask}, false)},
            {"self without history, column slice", {samples::constant({3, 4}, d), samples::input({3, 2}, d)},
             put({Slice(), Slice(1, 3)}, false)},
        };
      }}));
}

}  // namespace xgrad
