// The Winograd block transforms: input tiles, output tiles, output-gradient tiles and filters to
// and from the Winograd domain, and the channel-interleaved re-layout of a block's input.
#include "winograd_transforms.h"
#include "intrinsics.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "../parallel.h"

namespace xgrad::kernels::winograd::detail {

namespace {

#if defined(__AVX512F__)
constexpr bool kTranspose16 = L == 16;
// r[c] = column c of the 16x16 matrix whose rows were r[0..15].
[[gnu::always_inline]] inline void transpose16(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // r[4g + s], 128-bit lane q: column 4q + s of rows 4g..4g+3.
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
  }
}
#else
constexpr bool kTranspose16 = false;
#endif

}  // namespace

void block_channels(const float* src, int64 C, int64 H, int64 W, int64 n0, int64 images, int64 row0, int64 rows,
                    int64 top, int64 left, int64 Wb, float* dst) {
  const int64 blocks = round_up(C) / L, plane = H * W;
  for (int64 item = 0; item < images * blocks; ++item) {
    const int64 n = n0 + item / blocks, c0 = item % blocks * L;
    const int count = static_cast<int>(std::min<int64>(L, C - c0));
    float* out = dst + item * rows * Wb * L;
    for (int64 r = 0; r < rows; ++r) {
      float* row = out + r * Wb * L;
      const int64 sr = row0 + r - top;
      if (sr < 0 || sr >= H) {
        std::memset(row, 0, sizeof(float) * Wb * L);
        continue;
      }
      std::memset(row, 0, sizeof(float) * left * L);
      std::memset(row + (left + W) * L, 0, sizeof(float) * (Wb - left - W) * L);
      float* body = row + left * L;
      const float* first_row = src + ((n * C + c0) * H + sr) * W;
#if defined(__AVX512F__)
      if constexpr (kTranspose16) {
        // The 16 channel planes are 16 streams the hardware prefetchers miss: fetch ahead.
        if (sr + 2 < H)
          for (int l = 0; l < count; ++l)
            for (int64 j = 0; j < W; j += 16)
              _mm_prefetch(reinterpret_cast<const char*>(first_row + l * plane + 2 * W + j), _MM_HINT_T0);
        // 16 channels x 16 columns at a time through a register transpose.
        for (int64 j0 = 0; j0 < W; j0 += 16) {
          const int cols = static_cast<int>(std::min<int64>(16, W - j0));
          const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1);
          __m512 v[16];
          for (int l = 0; l < 16; ++l)
            v[l] = l < count ? _mm512_maskz_loadu_ps(mask, first_row + l * plane + j0) : _mm512_setzero_ps();
          transpose16(v);
          for (int j = 0; j < cols; ++j) _mm512_storeu_ps(body + (j0 + j) * L, v[j]);
        }
        continue;
      }
#endif
      for (int l = 0; l < count; ++l)
        for (int64 j = 0; j < W; ++j) body[j * L + l] = first_row[l * plane + j];
      for (int l = count; l < L; ++l)
        for (int64 j = 0; j < W; ++j) body[j * L + l] = 0.0f;
    }
  }
}

template <class F>
void transform_input(const Geometry& g, const Block& k, const float* xl, const Panel& V) {
  constexpr int alpha = F::alpha;
  const int64 blocks = g.Cp / L, plane = g.frame_rows(k.tile_rows) * g.Wp * L;
  int64 tile = 0;
  for (int64 i = 0; i < k.images; ++i)
    for (int64 ty = 0; ty < k.tile_rows; ++ty)
      for (int64 tx = 0; tx < g.tiles_w; ++tx, ++tile) {
        const float* base = xl + i * blocks * plane + (ty * g.Wp + tx) * g.step * L;
        float* dst = V.data + tile * V.width;
        for (int64 cb = 0; cb < blocks; ++cb) {
          const float* src = base + cb * plane;
          vf in[alpha][alpha], out[alpha][alpha];
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) in[a][b] = vf::load_unaligned(src + (a * g.Wp + b) * L);
          F::input(in, out);
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) out[a][b].store_unaligned(dst + (a * alpha + b) * V.stride + cb * L);
        }
      }
}

template <class F>
void transform_input_adjoint(const Geometry& g, const Block& k, const Panel& dV, float* xl) {
  constexpr int alpha = F::alpha;
  const int64 blocks = g.Cp / L, plane = g.frame_rows(k.tile_rows) * g.Wp * L;
  std::memset(xl, 0, sizeof(float) * static_cast<std::size_t>(k.images * blocks * plane));
  int64 tile = 0;
  for (int64 i = 0; i < k.images; ++i)
    for (int64 ty = 0; ty < k.tile_rows; ++ty)
      for (int64 tx = 0; tx < g.tiles_w; ++tx, ++tile) {
        float* base = xl + i * blocks * plane + (ty * g.Wp + tx) * g.step * L;
        const float* src = dV.data + tile * dV.width;
        for (int64 cb = 0; cb < blocks; ++cb) {
          float* dst = base + cb * plane;
          vf in[alpha][alpha], out[alpha][alpha];
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) in[a][b] = vf::load_unaligned(src + (a * alpha + b) * dV.stride + cb * L);
          F::input_adjoint(in, out);
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) {
              float* p = dst + (a * g.Wp + b) * L;
              (vf::load_unaligned(p) + out[a][b]).store_unaligned(p);
            }
        }
      }
}

void unblock_channels(const float* src, int64 rows, int64 Wb, int64 top, int64 left, int64 C, int64 H, int64 W,
                      int64 n0, int64 images, float* dst) {
  const int64 blocks = round_up(C) / L, plane = H * W;
  for (int64 item = 0; item < images * blocks; ++item) {
    const int64 n = n0 + item / blocks, c0 = item % blocks * L;
    const int count = static_cast<int>(std::min<int64>(L, C - c0));
    const float* in = src + item * rows * Wb * L;
    for (int64 r = 0; r < H; ++r) {
      float* out = dst + ((n * C + c0) * H + r) * W;
      const int64 fr = r + top;
      const int64 cols = fr < rows ? std::clamp<int64>(Wb - left, 0, W) : 0;
      for (int l = 0; l < count; ++l) std::fill(out + l * plane + cols, out + l * plane + W, 0.0f);
      const float* body = in + (fr * Wb + left) * L;
      int64 j0 = 0;
#if defined(__AVX512F__)
      if constexpr (kTranspose16) {
        for (; j0 < cols; j0 += 16) {
          const int n16 = static_cast<int>(std::min<int64>(16, cols - j0));
          __m512 v[16];
          for (int j = 0; j < 16; ++j) v[j] = j < n16 ? _mm512_loadu_ps(body + (j0 + j) * L) : _mm512_setzero_ps();
          transpose16(v);
          const __mmask16 mask = static_cast<__mmask16>((1u << n16) - 1);
          for (int l = 0; l < count; ++l) _mm512_mask_storeu_ps(out + l * plane + j0, mask, v[l]);
        }
      }
#endif
      for (int l = 0; l < count; ++l)
        for (int64 j = j0; j < cols; ++j) out[l * plane + j] = body[j * L + l];
    }
  }
}

template <class F>
void transform_output(const Geometry& g, const Block& k, const Panel& M, const float* bias_padded, float* y) {
  constexpr int alpha = F::alpha, m = F::m;
  const int64 plane = g.Ho * g.Wo;
  alignas(64) float o[m * m][L];
  int64 tile = 0;
  for (int64 i = 0; i < k.images; ++i)
    for (int64 ty = 0; ty < k.tile_rows; ++ty)
      for (int64 tx = 0; tx < g.tiles_w; ++tx, ++tile) {
        const int64 row0 = (k.ty0 + ty) * m, col0 = tx * m;
        const float* src = M.data + tile * M.width;
        const int64 rows = std::min<int64>(m, g.Ho - row0), cols = std::min<int64>(m, g.Wo - col0);
        for (int64 k0 = 0; k0 < g.Kp; k0 += L) {
          vf in[alpha][alpha], out[m][m];
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) in[a][b] = vf::load_unaligned(src + (a * alpha + b) * M.stride + k0);
          F::output(in, out);
          const vf bk = vf::load_unaligned(bias_padded + k0);
          const int count = static_cast<int>(std::min<int64>(L, g.K - k0));
          float* dst = y + ((k.n0 + i) * g.K + k0) * plane + row0 * g.Wo + col0;
#if defined(__AVX512F__)
          if constexpr (kTranspose16 && m == 4) {
            // Transposed, register l holds channel k0 + l's 4x4 tile: row r is its 128-bit lane r
            // (on a partial tile, one masked store placed so that elements 4r..4r+3 land on the row).
            __m512 v[16];
            for (int r = 0; r < m; ++r)
              for (int c = 0; c < m; ++c) v[r * m + c] = out[r][c] + bk;
            transpose16(v);
            if (rows == 4 && cols == 4) {
              for (int l = 0; l < count; ++l, dst += plane) {
                _mm_storeu_ps(dst, _mm512_castps512_ps128(v[l]));
                _mm_storeu_ps(dst + g.Wo, _mm512_extractf32x4_ps(v[l], 1));
                _mm_storeu_ps(dst + 2 * g.Wo, _mm512_extractf32x4_ps(v[l], 2));
                _mm_storeu_ps(dst + 3 * g.Wo, _mm512_extractf32x4_ps(v[l], 3));
              }
            } else {
              const unsigned row_mask = (1u << cols) - 1;
              for (int l = 0; l < count; ++l, dst += plane)
                for (int64 r = 0; r < rows; ++r)
                  _mm512_mask_storeu_ps(dst + r * g.Wo - 4 * r, static_cast<__mmask16>(row_mask << (4 * r)), v[l]);
            }
            continue;
          }
#endif
          for (int r = 0; r < m; ++r)
            for (int c = 0; c < m; ++c) (out[r][c] + bk).store_aligned(o[r * m + c]);
          for (int l = 0; l < count; ++l, dst += plane)
            for (int64 r = 0; r < rows; ++r)
              for (int64 c = 0; c < cols; ++c) dst[r * g.Wo + c] = o[r * m + c][l];
        }
      }
}

template <class F>
void transform_output_grad(const Geometry& g, const Block& k, const float* gl, const Panel& Z) {
  constexpr int alpha = F::alpha, m = F::m;
  const int64 blocks = g.Kp / L, Wb = g.tiles_w * m, plane = k.tile_rows * m * Wb * L;
  int64 tile = 0;
  for (int64 i = 0; i < k.images; ++i)
    for (int64 ty = 0; ty < k.tile_rows; ++ty)
      for (int64 tx = 0; tx < g.tiles_w; ++tx, ++tile) {
        const float* base = gl + i * blocks * plane + (ty * m * Wb + tx * m) * L;
        float* dst = Z.data + tile * Z.width;
        for (int64 kb = 0; kb < blocks; ++kb) {
          const float* src = base + kb * plane;
          vf in[m][m], out[alpha][alpha];
          for (int r = 0; r < m; ++r)
            for (int c = 0; c < m; ++c) in[r][c] = vf::load_unaligned(src + (r * Wb + c) * L);
          F::grad(in, out);
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) out[a][b].store_unaligned(dst + (a * alpha + b) * Z.stride + kb * L);
        }
      }
}

template <class F>
void transform_filters(const Geometry& g, const float* w, float* U, bool transposed) {
  constexpr int alpha = F::filter_alpha;
  // U's matrices are rows x cols; w[k][c] sits at row r, column j: (k, c) = transposed ? (r, j) : (j, r).
  const int64 rows = transposed ? g.Kp : g.Cp, cols = transposed ? g.Cp : g.Kp, blocks = cols / L;
  const int64 real_rows = transposed ? g.K : g.C, real_cols = transposed ? g.C : g.K;
  const int64 row_step = transposed ? g.C * 9 : 9, col_step = transposed ? 9 : g.C * 9;
  // Past L2 size, U goes to memory either way: streaming stores skip reading its lines first.
  [[maybe_unused]] const bool stream = alpha * alpha * filter_stride(g) * 4 > (int64{4} << 20);  // AVX-512 only
  parallel::parallel_for(rows * blocks, 16, [&](int64 begin, int64 end) {
    alignas(64) float d[9][L];
    for (int64 item = begin; item < end; ++item) {
      const int64 r = item / blocks, j0 = item % blocks * L;
      const int count = r < real_rows ? static_cast<int>(std::min<int64>(L, real_cols - j0)) : 0;
      for (int e = 0; e < 9; ++e)
        for (int l = 0; l < L; ++l) d[e][l] = l < count ? w[r * row_step + (j0 + l) * col_step + e] : 0.0f;
      vf in[3][3], out[alpha][alpha];
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) in[a][b] = vf::load_aligned(d[a * 3 + b]);
      transform2d(F::G, F::G, in, out);
      float* dst = U + r * cols + j0;
#if defined(__AVX512F__)
      if constexpr (L == 16) {
        if (stream) {
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) _mm512_stream_ps(dst + (a * alpha + b) * filter_stride(g), out[a][b]);
          continue;
        }
      }
#endif
      for (int a = 0; a < alpha; ++a)
        for (int b = 0; b < alpha; ++b) out[a][b].store_aligned(dst + (a * alpha + b) * filter_stride(g));
    }
#if defined(__AVX512F__)
    if (stream) _mm_sfence();
#endif
  });
}

template <class F>
void inverse_transform_filters(const Geometry& g, const float* dU, float* gw) {
  constexpr int alpha = F::filter_alpha;
  const int64 blocks = g.Kp / L;
  parallel::parallel_for(g.C * blocks, 16, [&](int64 begin, int64 end) {
    alignas(64) float o[9][L];
    for (int64 item = begin; item < end; ++item) {
      const int64 c = item / blocks, k0 = item % blocks * L;
      vf in[alpha][alpha], out[3][3];
      for (int a = 0; a < alpha; ++a)
        for (int b = 0; b < alpha; ++b) in[a][b] = vf::load_unaligned(dU + (a * alpha + b) * filter_stride(g) + c * g.Kp + k0);
      transform2d(FilterInverse<F>::GT.v, FilterInverse<F>::GT.v, in, out);
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) out[a][b].store_aligned(o[a * 3 + b]);
      const int count = static_cast<int>(std::min<int64>(L, g.K - k0));
      for (int l = 0; l < count; ++l)
        for (int e = 0; e < 9; ++e) gw[((k0 + l) * g.C + c) * 9 + e] = o[e][l];
    }
  });
}

// The variants winograd.cpp runs: every pass for F2, F4 and F4S2; the input-gradient adjoint
// exists for the strided variant only (stride 1 runs a forward pass instead).
#define XGRAD_WINOGRAD_INSTANTIATE(F)                                                                   \
  template void transform_input<F>(const Geometry&, const Block&, const float*, const Panel&);          \
  template void transform_output<F>(const Geometry&, const Block&, const Panel&, const float*, float*); \
  template void transform_output_grad<F>(const Geometry&, const Block&, const float*, const Panel&);    \
  template void transform_filters<F>(const Geometry&, const float*, float*, bool);                      \
  template void inverse_transform_filters<F>(const Geometry&, const float*, float*);
XGRAD_WINOGRAD_INSTANTIATE(F2)
XGRAD_WINOGRAD_INSTANTIATE(F4)
XGRAD_WINOGRAD_INSTANTIATE(F4S2)
#undef XGRAD_WINOGRAD_INSTANTIATE
template void transform_input_adjoint<F4S2>(const Geometry&, const Block&, const Panel&, float*);

}  // namespace xgrad::kernels::winograd::detail
