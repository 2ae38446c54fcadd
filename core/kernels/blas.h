#pragma once
// Private: matrix products through CBLAS (core/kernels/blas.cpp). Values only; ops/matmul.cpp
// records the graph.
#include "../tensor_impl.h"

namespace xgrad::kernels {

// out[batch..] = op(a[batch..]) · op(b[batch..]), where op transposes the last two dims when its
// flag is set. The transposes are never materialised: the flags go to GEMM. `a` and `b` have at
// least 2 dims and the same floating dtype; their batch dims (all but the last two) broadcast
// against each other; the caller has checked the inner dims and the batch dims. Every product is
// one cblas_sgemm/cblas_dgemm call; when `b` has no real batch and `a` is not transposed, the
// batch is folded into M and the whole product is a single GEMM.
Tensor batched_gemm(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, const char* op);

}  // namespace xgrad::kernels
