#include "blas.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "../dispatch.h"
#include "../parallel.h"

namespace xgrad::kernels {

namespace {

// CBLAS takes int sizes; a product too large for them raises instead of overflowing.
blasint blas_int(std::int64_t v, const char* op, const char* what) {
  XGRAD_CHECK(v <= INT_MAX, "{}: {} = {} is too large for BLAS (at most {})", op, what, v, INT_MAX);
  return static_cast<blasint>(v);
}

// C[M,N] = op(A) · op(B) on row-major buffers with unit-stride rows; C is overwritten. Big products
// are split into blocks of C's rows over xgrad's pool, each one single-threaded GEMM: BLAS never
// runs a thread pool of its own, so it cannot fight the pool the other kernels use.
template <class T>
void gemm(bool ta, bool tb, blasint m, blasint n, blasint k, const T* a, const T* b, T* c) {
  const blasint lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  auto rows = [&](std::int64_t r0, std::int64_t r1) {
    const T* a0 = ta ? a + r0 : a + r0 * lda;  // op(A)'s rows r0.. start there in either layout
    const auto rm = static_cast<blasint>(r1 - r0);
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, opa, opb, rm, n, k, 1.0f, a0, lda, b, ldb, 0.0f, c + r0 * ldc, ldc);
    else
      cblas_dgemm(CblasRowMajor, opa, opb, rm, n, k, 1.0, a0, lda, b, ldb, 0.0, c + r0 * ldc, ldc);
  };
  // At least 16 rows and about 4 MFLOP per block, so small products stay on the calling thread.
  const std::int64_t flops_per_row = 2 * static_cast<std::int64_t>(n) * k;
  const std::int64_t grain = std::max<std::int64_t>(16, (std::int64_t{1} << 22) / std::max<std::int64_t>(1, flops_per_row));
  parallel::parallel_for(m, grain, rows);
}

Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

// Element strides of one operand's matrices over the broadcast batch: 0 along broadcast dims.
Shape batch_strides(const Shape& batch, const Shape& out_batch, std::int64_t matrix_size) {
  Shape st(out_batch.size(), 0);
  const std::size_t lead = out_batch.size() - batch.size();
  std::int64_t stride = matrix_size;
  for (std::size_t i = out_batch.size(); i-- > lead;) {
    const std::int64_t size = batch[i - lead];
    st[i] = size == 1 ? 0 : stride;
    stride *= size;
  }
  return st;
}

}  // namespace

Tensor batched_gemm(const Tensor& a, bool ta, const Tensor& b, bool tb, const char* op) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::int64_t m = ta ? sa.back() : sa[sa.size() - 2];
  const std::int64_t k = ta ? sa[sa.size() - 2] : sa.back();
  const std::int64_t n = tb ? sb[sb.size() - 2] : sb.back();
  const Shape batch_a = batch_of(sa), batch_b = batch_of(sb);
  const Shape batch = broadcast_shapes(batch_a, batch_b, op);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = make_tensor(out_shape, a.dtype(), op);
  if (out.numel() == 0) return out;
  if (k == 0) {  // an empty sum: zeros (and BLAS rejects a leading dimension of 0)
    std::memset(out.impl()->raw(), 0, static_cast<std::size_t>(out.numel()) * dtype_size(out.dtype()));
    return out;
  }
  const std::int64_t batches = numel_of(batch);
  XGRAD_DISPATCH_FLOAT(a.dtype(), T, {
    const T* pa = a.impl()->data<T>();
    const T* pb = b.impl()->data<T>();
    T* pc = out.impl()->data<T>();
    if (!ta && numel_of(batch_b) == 1) {
      // One B for every batch: stack the A matrices into one tall [batches*M, K] matrix.
      gemm<T>(false, tb, blas_int(batches * m, op, "batch * M"), blas_int(n, op, "N"), blas_int(k, op, "K"), pa, pb,
              pc);
    } else {
      const blasint bm = blas_int(m, op, "M"), bn = blas_int(n, op, "N"), bk = blas_int(k, op, "K");
      const Shape stride_a = batch_strides(batch_a, batch, m * k);
      const Shape stride_b = batch_strides(batch_b, batch, k * n);
      const std::size_t nd = batch.size();
      Shape index(nd, 0);
      std::int64_t off_a = 0, off_b = 0;
      for (std::int64_t i = 0; i < batches; ++i) {
        gemm<T>(ta, tb, bm, bn, bk, pa + off_a, pb + off_b, pc + i * m * n);
        // Odometer step over the batch index, keeping both offsets current.
        for (std::size_t d = nd; d-- > 0;) {
          off_a += stride_a[d];
          off_b += stride_b[d];
          if (++index[d] < batch[d]) break;
          off_a -= stride_a[d] * batch[d];
          off_b -= stride_b[d] * batch[d];
          index[d] = 0;
        }
      }
    }
  });
  return out;
}

}  // namespace xgrad::kernels
