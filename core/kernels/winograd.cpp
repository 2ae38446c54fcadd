#include "winograd.h"
#include "intrinsics.h"

#include <cblas.h>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../parallel.h"
#include "xgrad/error.h"

namespace xgrad::kernels::winograd {

namespace {

// One SIMD register of lanes: the transforms run on L channels of one tile at once.
using vf = xsimd::batch<float>;
constexpr int L = static_cast<int>(vf::size);

// Transform matrices of F(m x m, 3x3) with interpolation points 0, +-1 (and +-2 for m = 4).
// F(4x4)'s B^T and A^T are applied in the factored forms InputF4/OutputF4/GradF4 below.
template <int m>
struct Coefficients;

template <>
struct Coefficients<2> {
  static constexpr int alpha = 4;
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct Coefficients<4> {
  static constexpr int alpha = 6;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float G[6][3] = {{1.0f / 4, 0, 0},
                                    {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                    {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                    {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                    {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                    {0, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

template <int R, int C>
struct Matrix {
  float v[R][C];
};

template <int R, int C>
constexpr Matrix<C, R> transpose(const float (&a)[R][C]) {
  Matrix<C, R> t{};
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) t.v[j][i] = a[i][j];
  return t;
}

// sum_k c[k] * in[k] with the constant coefficients folded after unrolling: zero terms vanish
// and +-1 terms need no multiply.
template <int P>
[[gnu::always_inline]] inline vf combine(const float (&c)[P], const vf* in, int stride) {
  vf acc(0.0f);
  bool started = false;
#pragma GCC unroll 16
  for (int k = 0; k < P; ++k) {
    const float ck = c[k];
    const vf x = in[k * stride];
    if (ck == 0.0f) continue;
    if (!started) {
      acc = ck == 1.0f ? x : ck == -1.0f ? -x : vf(ck) * x;
      started = true;
    } else if (ck == 1.0f) {
      acc += x;
    } else if (ck == -1.0f) {
      acc -= x;
    } else {
      acc = xsimd::fma(vf(ck), x, acc);
    }
  }
  return acc;
}

// out[R][S] = Lm[R][P] · in[P][Q] · Rm[S][Q]^T, lane by lane.
template <int R, int S, int P, int Q>
[[gnu::always_inline]] inline void transform2d(const float (&Lm)[R][P], const float (&Rm)[S][Q], const vf (&in)[P][Q],
                                               vf (&out)[R][S]) {
  vf tmp[R][Q];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < Q; ++j) tmp[i][j] = combine<P>(Lm[i], &in[0][j], Q);
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < S; ++j) out[i][j] = combine<Q>(Rm[j], &tmp[i][0], 1);
}

// F(4x4, 3x3) in factored form: the same matrices as Coefficients<4> with shared subexpressions,
// about 40% fewer operations than the generic row-by-row sums.
struct InputF4 {  // t = B^T d
  static constexpr int P = 6, R = 6;
  [[gnu::always_inline]] static void apply(const vf (&d)[6], vf (&t)[6]) {
    const vf d12 = d[1] + d[2], d34 = d[3] + d[4], d1m2 = d[1] - d[2], d4m3 = d[4] - d[3];
    const vf d3m1 = d[3] - d[1], d4m2 = d[4] - d[2];
    t[0] = xsimd::fma(vf(4.0f), d[0], xsimd::fma(vf(-5.0f), d[2], d[4]));
    t[1] = xsimd::fnma(vf(4.0f), d12, d34);
    t[2] = xsimd::fma(vf(4.0f), d1m2, d4m3);
    t[3] = xsimd::fma(vf(2.0f), d3m1, d4m2);
    t[4] = xsimd::fnma(vf(2.0f), d3m1, d4m2);
    t[5] = xsimd::fma(vf(4.0f), d[1], xsimd::fma(vf(-5.0f), d[3], d[5]));
  }
};
struct OutputF4 {  // o = A^T m
  static constexpr int P = 6, R = 4;
  [[gnu::always_inline]] static void apply(const vf (&v)[6], vf (&o)[4]) {
    const vf a = v[1] + v[2], b = v[1] - v[2], c = v[3] + v[4], d = v[3] - v[4];
    o[0] = v[0] + a + c;
    o[1] = xsimd::fma(vf(2.0f), d, b);
    o[2] = xsimd::fma(vf(4.0f), c, a);
    o[3] = xsimd::fma(vf(8.0f), d, b) + v[5];
  }
};
struct GradF4 {  // z = A g
  static constexpr int P = 4, R = 6;
  [[gnu::always_inline]] static void apply(const vf (&g)[4], vf (&z)[6]) {
    const vf e = g[0] + g[2], f = g[1] + g[3];
    const vf e2 = xsimd::fma(vf(4.0f), g[2], g[0]), f2 = vf(2.0f) * xsimd::fma(vf(4.0f), g[3], g[1]);
    z[0] = g[0];
    z[1] = e + f;
    z[2] = e - f;
    z[3] = e2 + f2;
    z[4] = e2 - f2;
    z[5] = g[3];
  }
};

// out = T · in · T^T for a factored 1-D transform T: columns first, then rows.
template <class T>
[[gnu::always_inline]] inline void separable(const vf (&in)[T::P][T::P], vf (&out)[T::R][T::R]) {
  vf tmp[T::R][T::P];
#pragma GCC unroll 16
  for (int j = 0; j < T::P; ++j) {
    vf col[T::P], res[T::R];
#pragma GCC unroll 16
    for (int a = 0; a < T::P; ++a) col[a] = in[a][j];
    T::apply(col, res);
#pragma GCC unroll 16
    for (int i = 0; i < T::R; ++i) tmp[i][j] = res[i];
  }
#pragma GCC unroll 16
  for (int i = 0; i < T::R; ++i) T::apply(tmp[i], out[i]);
}

// F(4, 2) with points 0, 1, -1, 2 and infinity: the stride-2 form's building block (below). Its
// B^T and A^T are applied in the factored forms InputS2/OutputS2/GradS2/InputAdjointS2.
struct F42 {
  static constexpr float BT[5][5] = {{2, -1, -2, 1, 0}, {0, 2, 1, -1, 0}, {0, -2, 3, -1, 0}, {0, -1, 0, 1, 0}, {0, 2, -1, -2, 1}};
  static constexpr float G[5][2] = {{0.5f, 0}, {0.5f, 0.5f}, {1.0f / 6, -1.0f / 6}, {1.0f / 6, 1.0f / 3}, {0, 1}};
  static constexpr float AT[4][5] = {{1, 1, 1, 1, 0}, {0, 1, -1, 2, 0}, {0, 1, 1, 4, 0}, {0, 1, -1, 8, 1}};
};

// A stride-2 3x3 convolution, 1-D: output j of a tile reads the 9 inputs d[2j .. 2j+2]. The taps
// w0 and w2 see only the even inputs e[i] = d[2i] (a stride-1 2-tap filter: F(4, 2) on e), w1 only
// the odd ones (one product each). So 9 frequencies per dimension: F(4, 2)'s 5 of e, then d1, d3,
// d5, d7; 81 products per 4x4 output tile instead of 144. (Nested like F(4x4, 3x3): the 2-D
// transforms are the 1-D ones applied to columns, then rows.)
struct InputS2 {  // t = B^T d
  static constexpr int P = 9, R = 9;
  [[gnu::always_inline]] static void apply(const vf (&d)[9], vf (&t)[9]) {
    const vf e31 = d[6] - d[2];
    t[0] = xsimd::fma(vf(2.0f), d[0] - d[4], e31);
    t[1] = xsimd::fma(vf(2.0f), d[2], d[4] - d[6]);
    t[2] = xsimd::fma(vf(-2.0f), d[2], xsimd::fms(vf(3.0f), d[4], d[6]));
    t[3] = e31;
    t[4] = xsimd::fnma(vf(2.0f), e31, d[8] - d[4]);
    t[5] = d[1];
    t[6] = d[3];
    t[7] = d[5];
    t[8] = d[7];
  }
};
struct OutputS2 {  // o = A^T m
  static constexpr int P = 9, R = 4;
  [[gnu::always_inline]] static void apply(const vf (&v)[9], vf (&o)[4]) {
    const vf a = v[1] + v[2], b = v[1] - v[2];
    o[0] = v[0] + a + v[3] + v[5];
    o[1] = xsimd::fma(vf(2.0f), v[3], b) + v[6];
    o[2] = xsimd::fma(vf(4.0f), v[3], a) + v[7];
    o[3] = xsimd::fma(vf(8.0f), v[3], b) + v[4] + v[8];
  }
};
struct GradS2 {  // z = A g
  static constexpr int P = 4, R = 9;
  [[gnu::always_inline]] static void apply(const vf (&g)[4], vf (&z)[9]) {
    const vf e = g[0] + g[2], f = g[1] + g[3];
    z[0] = g[0];
    z[1] = e + f;
    z[2] = e - f;
    z[3] = xsimd::fma(vf(4.0f), g[2], g[0]) + vf(2.0f) * xsimd::fma(vf(4.0f), g[3], g[1]);
    z[4] = g[3];
    z[5] = g[0];
    z[6] = g[1];
    z[7] = g[2];
    z[8] = g[3];
  }
};
struct InputAdjointS2 {  // d = B t: the input gradient of a tile from its frequencies' gradients
  static constexpr int P = 9, R = 9;
  [[gnu::always_inline]] static void apply(const vf (&t)[9], vf (&d)[9]) {
    const vf t03 = t[0] + t[3];
    d[0] = vf(2.0f) * t[0];
    d[2] = xsimd::fma(vf(2.0f), t[1] - t[2] + t[4], -t03);
    d[4] = xsimd::fma(vf(3.0f), t[2], xsimd::fnma(vf(2.0f), t[0], t[1] - t[4]));
    d[6] = xsimd::fnma(vf(2.0f), t[4], t03 - t[1] - t[2]);
    d[8] = t[4];
    d[1] = t[5];
    d[3] = t[6];
    d[5] = t[7];
    d[7] = t[8];
  }
};

// The kernels below are templates over a variant: tile sizes, the filter transform G and the 2-D
// transforms of input tiles (B^T d B), products (A^T M A) and output gradients (A g A^T). The
// input tile is alpha x alpha, at steps of stride * m. G has filter_alpha distinct rows; frequency
// row a uses G's row filter_row(a) (for stride 2 the four odd-input rows are all w1's).
template <class F>
constexpr int filter_row(int a) {
  return a < F::filter_alpha ? a : F::filter_alpha - 1;
}
// The transformed filter of frequency xi, and whether xi is the first frequency that uses it.
template <class F>
constexpr int filter_freq(int xi) {
  return filter_row<F>(xi / F::alpha) * F::filter_alpha + filter_row<F>(xi % F::alpha);
}
template <class F>
constexpr bool first_of_filter_freq(int xi) {
  return xi / F::alpha < F::filter_alpha && xi % F::alpha < F::filter_alpha;
}
// The frequencies in the order the GEMMs take them: those sharing a transformed filter one after
// another (ascending within), so each filter matrix is read from memory once per block.
template <class F>
struct GemmOrder {
  static constexpr auto order = [] {
    std::array<int, F::alpha * F::alpha> o{};
    int n = 0;
    for (int f = 0; f < F::filter_alpha * F::filter_alpha; ++f)
      for (int xi = 0; xi < F::alpha * F::alpha; ++xi)
        if (filter_freq<F>(xi) == f) o[static_cast<std::size_t>(n++)] = xi;
    return o;
  }();
};

// min_block_tiles: measured on the bench_conv layers, fwd + bwd, 1 thread (stride 1,
// (8,256,14,14)->256: 31 ms at 32-64 tiles, 35-39 at 16-24; stride 2, 81 frequencies,
// (32,64,16,16)->128: 7.9 ms at 16 tiles, 8.4 at 32, 9.4 at 64).
struct F2 {
  static constexpr int m = 2, alpha = 4, stride = 1, filter_alpha = alpha, min_block_tiles = 64;
  using Co = Coefficients<2>;
  static constexpr auto& G = Co::G;
  static constexpr auto A = transpose(Co::AT);  // alpha x m
  [[gnu::always_inline]] static void input(const vf (&d)[4][4], vf (&t)[4][4]) { transform2d(Co::BT, Co::BT, d, t); }
  [[gnu::always_inline]] static void output(const vf (&v)[4][4], vf (&o)[2][2]) { transform2d(Co::AT, Co::AT, v, o); }
  [[gnu::always_inline]] static void grad(const vf (&g)[2][2], vf (&z)[4][4]) { transform2d(A.v, A.v, g, z); }
};
struct F4 {
  static constexpr int m = 4, alpha = 6, stride = 1, filter_alpha = alpha, min_block_tiles = 64;
  static constexpr auto& G = Coefficients<4>::G;
  [[gnu::always_inline]] static void input(const vf (&d)[6][6], vf (&t)[6][6]) { separable<InputF4>(d, t); }
  [[gnu::always_inline]] static void output(const vf (&v)[6][6], vf (&o)[4][4]) { separable<OutputF4>(v, o); }
  [[gnu::always_inline]] static void grad(const vf (&g)[4][4], vf (&z)[6][6]) { separable<GradF4>(g, z); }
};
struct F4S2 {
  static constexpr int m = 4, alpha = 9, stride = 2, filter_alpha = 6, min_block_tiles = 16;
  static constexpr float G[6][3] = {{F42::G[0][0], 0, F42::G[0][1]}, {F42::G[1][0], 0, F42::G[1][1]},
                                    {F42::G[2][0], 0, F42::G[2][1]}, {F42::G[3][0], 0, F42::G[3][1]},
                                    {F42::G[4][0], 0, F42::G[4][1]}, {0, 1, 0}};
  [[gnu::always_inline]] static void input(const vf (&d)[9][9], vf (&t)[9][9]) { separable<InputS2>(d, t); }
  [[gnu::always_inline]] static void output(const vf (&v)[9][9], vf (&o)[4][4]) { separable<OutputS2>(v, o); }
  [[gnu::always_inline]] static void grad(const vf (&g)[4][4], vf (&z)[9][9]) { separable<GradS2>(g, z); }
  [[gnu::always_inline]] static void input_adjoint(const vf (&t)[9][9], vf (&d)[9][9]) {
    separable<InputAdjointS2>(t, d);
  }
};

template <class F>
struct FilterInverse {
  static constexpr auto GT = transpose(F::G);  // 3 x filter_alpha
};

int blas_int(int64 v, const char* what) {
  XGRAD_CHECK(v <= INT_MAX, "winograd conv3x3: {} = {} is too large for BLAS (at most {})", what, v, INT_MAX);
  return static_cast<int>(v);
}

// Grow-only scratch, 64-byte aligned: big buffers are page-faulted once, not every call.
float* scratch(std::vector<float>& v, int64 n) {
  if (static_cast<int64>(v.size()) < n + 16) v.resize(static_cast<std::size_t>(n + 16));
  const auto address = reinterpret_cast<std::uintptr_t>(v.data());
  return v.data() + (64 - address % 64) % 64 / sizeof(float);
}

// Channels go in blocks of L (one SIMD register): the transforms load and store whole registers of
// channels, never gathering. Channel counts are padded up to a multiple of L with zeros.
int64 round_up(int64 v) { return (v + L - 1) / L * L; }

struct Geometry {
  int64 N, C, H, W, K, pad_h, pad_w, Ho, Wo;
  int64 step;  // input rows (columns) between tiles: m * stride
  int64 tiles_h, tiles_w, tiles_per_image, tiles;
  int64 Hp, Wp;  // the zero-padded input frame: every tile's alpha x alpha window lies inside it
  int64 Cp, Kp;  // channel counts rounded up to a multiple of L
  int64 halo;    // rows (columns) the last tile reads past its step: 3 - stride
  // Input rows of `tile_rows` rows of tiles.
  int64 frame_rows(int64 tile_rows) const { return tile_rows * step + halo; }
};

Geometry geometry(const char* op, int m, int stride, int64 N, int64 C, int64 H, int64 W, int64 K, int64 pad_h,
                  int64 pad_w) {
  XGRAD_CHECK(N >= 0 && C >= 1 && K >= 1 && H >= 1 && W >= 1,
              "{}: expected N >= 0, C, K, H, W >= 1, got N={}, C={}, H={}, W={}, K={}", op, N, C, H, W, K);
  XGRAD_CHECK(pad_h >= 0 && pad_h <= 2 && pad_w >= 0 && pad_w <= 2, "{}: padding must be 0, 1 or 2, got ({}, {})",
              op, pad_h, pad_w);
  XGRAD_CHECK(H + 2 * pad_h >= 3 && W + 2 * pad_w >= 3,
              "{}: input {}x{} with padding ({}, {}) is smaller than the 3x3 kernel", op, H, W, pad_h, pad_w);
  const int64 Ho = (H + 2 * pad_h - 3) / stride + 1, Wo = (W + 2 * pad_w - 3) / stride + 1;
  Geometry g{N, C, H, W, K, pad_h, pad_w, Ho, Wo, m * stride, (Ho + m - 1) / m, (Wo + m - 1) / m, 0, 0, 0, 0,
             round_up(C), round_up(K), 3 - stride};
  g.tiles_per_image = g.tiles_h * g.tiles_w;
  g.tiles = N * g.tiles_per_image;
  g.Hp = g.frame_rows(g.tiles_h);
  g.Wp = g.frame_rows(g.tiles_w);
  return g;
}

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

// dst[i][cb][rows][Wb][L] = src[n0 + i][cb*L + l][row0 + r - top][s - left]: a block's images (or
// rows of one image) with channels interleaved by L, zero outside src and for channels past C.
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

// Work goes in blocks of tiles: whole images, or runs of tile rows of one image, sized so the
// block's V and M (alpha^2 x (Cp + Kp) x tiles floats) fill about half of L2, but at least
// F::min_block_tiles tiles (the GEMMs' row count: fewer cost more than the cache misses save),
// and at least one block per thread. A block's input is re-laid out (block_channels) right
// before its transform, so it is read from cache.
struct Block {
  int64 n0, images, ty0, tile_rows, tiles;
};

struct Blocking {
  int64 images_per_block = 0;     // > 0: blocks of whole images
  int64 rows_per_block = 0;       // else: blocks of tile rows within an image
  int64 blocks_per_image = 1, count = 0, max_tiles = 0, max_images = 1, max_tile_rows = 0;

  // whole_images: blocks never split an image (the strided input gradient's tiles overlap).
  template <class F>
  Blocking(const Geometry& g, F, bool whole_images = false) {
    constexpr int alpha = F::alpha;
    constexpr int64 min_tiles = F::min_block_tiles;
    // XGRAD_WINOGRAD_BLOCK=<tiles> overrides the target, for tuning with bench_winograd.
    static const int64 forced = [] {
      const char* env = std::getenv("XGRAD_WINOGRAD_BLOCK");
      return env ? std::atoll(env) : 0;
    }();
    const int64 target =
        forced > 0 ? forced : std::max<int64>(min_tiles, (int64{1} << 19) / (4 * alpha * alpha * (g.Cp + g.Kp)));
    const int64 threads = parallel::chunks_for(g.N * g.tiles_h, 1);
    if (whole_images || (g.tiles_per_image <= target && (g.N >= threads || g.tiles_h == 1))) {
      images_per_block = std::max<int64>(1, std::min(target / g.tiles_per_image, (g.N + threads - 1) / threads));
      count = (g.N + images_per_block - 1) / images_per_block;
      max_images = images_per_block;
      max_tile_rows = g.tiles_h;
    } else {
      rows_per_block = std::max<int64>(1, target / g.tiles_w);
      rows_per_block = std::min(rows_per_block, (g.N * g.tiles_h + threads - 1) / threads);
      blocks_per_image = (g.tiles_h + rows_per_block - 1) / rows_per_block;
      count = g.N * blocks_per_image;
      max_tile_rows = rows_per_block;
    }
    max_tiles = max_images * max_tile_rows * g.tiles_w;
  }

  Block operator()(const Geometry& g, int64 b) const {
    Block k{};
    if (images_per_block > 0) {
      k.n0 = b * images_per_block;
      k.images = std::min(images_per_block, g.N - k.n0);
      k.ty0 = 0;
      k.tile_rows = g.tiles_h;
    } else {
      k.n0 = b / blocks_per_image;
      k.images = 1;
      k.ty0 = b % blocks_per_image * rows_per_block;
      k.tile_rows = std::min(rows_per_block, g.tiles_h - k.ty0);
    }
    k.tiles = k.images * k.tile_rows * g.tiles_w;
    return k;
  }
};

// A block's transformed tiles: freqs matrices [tiles][width]. Consecutive frequencies are skewed
// by 64 bytes so the 16 or 36 streams of a transform do not alias in the L1 sets.
struct Panel {
  float* data;
  int64 width, stride;
  Panel(float* d, int64 block, int64 w) : data(d), width(w), stride(block * w + 16) {}
  float* at(int xi) const { return data + xi * stride; }
  static int64 floats(int freqs, int64 block, int64 width) { return freqs * (block * width + 16); }
};

// V[xi][tile][c] = (B^T d B)[xi] for the block's tiles (in image, tile-row, tile-column order);
// xl is the block's input from block_channels (g.frame_rows(tile_rows) rows of the padded frame).
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

// The adjoint of transform_input: the block's frame xl (zeroed here) gets B dV B^T of every tile
// added at the tile's place; neighbouring tiles of a strided variant share a row and a column.
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

// dst[n0 + i][c][r][s] = src[i][c / L][r + top][s + left][c % L] for a block of whole images: the
// inverse of block_channels (frame rows past `rows` and columns past Wb read as zero).
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

// y tiles = A^T M A + bias for the block's tiles, every output channel; partial tiles clipped.
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

// Z[xi][tile][k] = (A gy A^T)[xi] for the block's tiles; gl is the block's output gradient from
// block_channels (tile_rows*m rows of tiles_w*m columns, zero past Ho x Wo).
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

// Filters in the Winograd domain: freqs matrices [Cp][Kp], skewed by 64 bytes like Panel.
int64 filter_stride(const Geometry& g) { return g.Cp * g.Kp + 16; }

// U[xi][c][k] = (G w[k][c] G^T)[xi] (zero for padded channels) for the filter_alpha^2 distinct
// frequencies, L output channels at a time. Transposed, U[xi][k][c] (L input channels at a time):
// the input gradient's GEMMs then read it as it is.
template <class F>
void transform_filters(const Geometry& g, const float* w, float* U, bool transposed = false) {
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

// gw[k][c] = G^T dU[c][k] G, L output channels at a time.
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

template <class F>
void forward(const Geometry& g, const float* x, const float* w, const float* bias, float* y) {
  constexpr int alpha = F::alpha, freqs = alpha * alpha;
  if (g.tiles == 0) return;
  thread_local std::vector<float> u_buffer, bias_buffer;
  float* U = scratch(u_buffer, F::filter_alpha * F::filter_alpha * filter_stride(g));
  transform_filters<F>(g, w, U);
  float* bias_padded = scratch(bias_buffer, g.Kp);
  std::fill(bias_padded, bias_padded + g.Kp, 0.0f);
  if (bias) std::copy(bias, bias + g.K, bias_padded);
  const Blocking plan(g, F{});
  const int bk = blas_int(g.Kp, "K"), bc = blas_int(g.Cp, "C");
  blas_int(Panel::floats(freqs, plan.max_tiles, std::max(g.Kp, g.Cp)), "block size");
  parallel::parallel_for_dynamic(plan.count, parallel::chunks_for(plan.count, 1), 1, [&](int64 b, int64, int) {
    thread_local std::vector<float> x_buffer, v_buffer, m_buffer;
    float* xl = scratch(x_buffer, plan.max_images * g.Cp * g.frame_rows(plan.max_tile_rows) * g.Wp);
    const Panel V(scratch(v_buffer, Panel::floats(freqs, plan.max_tiles, g.Cp)), plan.max_tiles, g.Cp);
    const Panel M(scratch(m_buffer, Panel::floats(freqs, plan.max_tiles, g.Kp)), plan.max_tiles, g.Kp);
    {
      const Block k = plan(g, b);
      block_channels(x, g.C, g.H, g.W, k.n0, k.images, k.ty0 * g.step, g.frame_rows(k.tile_rows), g.pad_h, g.pad_w,
                     g.Wp, xl);
      transform_input<F>(g, k, xl, V);
      const int rows = static_cast<int>(k.tiles);
      for (const int xi : GemmOrder<F>::order)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, bk, bc, 1.0f, V.at(xi), bc,
                    U + filter_freq<F>(xi) * filter_stride(g), bk, 0.0f, M.at(xi), bk);
      transform_output<F>(g, k, M, bias_padded, y);
    }
  });
}

// The input gradient of a strided variant (stride 1 runs as a forward pass with flipped filters):
// per frequency dV = Z · U^T (Z: the output gradient's tiles, A gy A^T; U made transposed), then every tile's
// B dV B^T is added into its block's input frame. Tiles share rows, so blocks hold whole images.
template <class F>
void backward_input(const Geometry& g, const float* gy, const float* w, float* gx) {
  constexpr int alpha = F::alpha, freqs = alpha * alpha, m = F::m;
  if (g.tiles == 0) return;
  thread_local std::vector<float> u_buffer;
  float* UT = scratch(u_buffer, F::filter_alpha * F::filter_alpha * filter_stride(g));
  transform_filters<F>(g, w, UT, /*transposed=*/true);
  const Blocking plan(g, F{}, /*whole_images=*/true);
  const int bk = blas_int(g.Kp, "K"), bc = blas_int(g.Cp, "C");
  blas_int(Panel::floats(freqs, plan.max_tiles, std::max(g.Kp, g.Cp)), "block size");
  const int64 Wb = g.tiles_w * m;
  parallel::parallel_for_dynamic(plan.count, parallel::chunks_for(plan.count, 1), 1, [&](int64 b, int64, int) {
    thread_local std::vector<float> x_buffer, gy_buffer, v_buffer, z_buffer;
    float* xl = scratch(x_buffer, plan.max_images * g.Cp * g.Hp * g.Wp);
    float* gl = scratch(gy_buffer, plan.max_images * g.Kp * g.tiles_h * m * Wb);
    const Panel dV(scratch(v_buffer, Panel::floats(freqs, plan.max_tiles, g.Cp)), plan.max_tiles, g.Cp);
    const Panel Z(scratch(z_buffer, Panel::floats(freqs, plan.max_tiles, g.Kp)), plan.max_tiles, g.Kp);
    {
      const Block k = plan(g, b);
      block_channels(gy, g.K, g.Ho, g.Wo, k.n0, k.images, 0, g.tiles_h * m, 0, 0, Wb, gl);
      transform_output_grad<F>(g, k, gl, Z);
      const int rows = static_cast<int>(k.tiles);
      for (const int xi : GemmOrder<F>::order)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, bc, bk, 1.0f, Z.at(xi), bk,
                    UT + filter_freq<F>(xi) * filter_stride(g), bc, 0.0f, dV.at(xi), bc);
      transform_input_adjoint<F>(g, k, dV, xl);
      unblock_channels(xl, g.Hp, g.Wp, g.pad_h, g.pad_w, g.C, g.H, g.W, k.n0, k.images, gx);
    }
  });
}

template <class F>
void backward_weight(const Geometry& g, const float* x, const float* gy, float* gw) {
  constexpr int alpha = F::alpha, freqs = alpha * alpha, m = F::m;
  const int64 filter_size = F::filter_alpha * F::filter_alpha * filter_stride(g);
  if (g.tiles == 0) {
    std::memset(gw, 0, static_cast<std::size_t>(g.K * g.C * 9) * sizeof(float));
    return;
  }
  const Blocking plan(g, F{});
  const int chunks = parallel::chunks_for(plan.count, 1);
  // One dU per slot (thread), summed afterwards: the slots never write the same memory. A slot's
  // first block overwrites its dU; a slot that got no block is left out of the sum. The dU live in
  // the calling thread's scratch, which nothing else uses until this call returns.
  thread_local std::vector<float> du_buffer;
  float* dU = scratch(du_buffer, filter_size * chunks);
  std::vector<char> used(static_cast<std::size_t>(std::max(chunks, 1)), 0);
  const int bk = blas_int(g.Kp, "K"), bc = blas_int(g.Cp, "C");
  blas_int(Panel::floats(freqs, plan.max_tiles, std::max(g.Kp, g.Cp)), "block size");
  const int64 Wb = g.tiles_w * m;
  parallel::parallel_for_dynamic(plan.count, chunks, 1, [&](int64 b, int64, int slot) {
    thread_local std::vector<float> x_buffer, gy_buffer, v_buffer, z_buffer;
    float* xl = scratch(x_buffer, plan.max_images * g.Cp * g.frame_rows(plan.max_tile_rows) * g.Wp);
    float* gl = scratch(gy_buffer, plan.max_images * g.Kp * plan.max_tile_rows * m * Wb);
    const Panel V(scratch(v_buffer, Panel::floats(freqs, plan.max_tiles, g.Cp)), plan.max_tiles, g.Cp);
    const Panel Z(scratch(z_buffer, Panel::floats(freqs, plan.max_tiles, g.Kp)), plan.max_tiles, g.Kp);
    float* mine = dU + slot * filter_size;
    {
      const Block k = plan(g, b);
      block_channels(x, g.C, g.H, g.W, k.n0, k.images, k.ty0 * g.step, g.frame_rows(k.tile_rows), g.pad_h, g.pad_w,
                     g.Wp, xl);
      block_channels(gy, g.K, g.Ho, g.Wo, k.n0, k.images, k.ty0 * m, k.tile_rows * m, 0, 0, Wb, gl);
      transform_input<F>(g, k, xl, V);
      transform_output_grad<F>(g, k, gl, Z);
      const int rows = static_cast<int>(k.tiles);
      // Frequencies that share a transformed filter add into one dU (G^T's columns for them are equal).
      const bool first = !used[static_cast<std::size_t>(slot)];
      for (const int xi : GemmOrder<F>::order) {
        const float beta = first && first_of_filter_freq<F>(xi) ? 0.0f : 1.0f;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bc, bk, rows, 1.0f, V.at(xi), bc, Z.at(xi), bk, beta,
                    mine + filter_freq<F>(xi) * filter_stride(g), bk);
      }
      used[static_cast<std::size_t>(slot)] = 1;
    }
  });
  for (int i = 1; i < chunks; ++i) {
    if (!used[static_cast<std::size_t>(i)]) continue;
    const float* other = dU + i * filter_size;
    const bool add = used[0];
    parallel::parallel_for(filter_size, 1 << 14, [&](int64 begin, int64 end) {
      for (int64 j = begin; j < end; ++j) dU[j] = add ? dU[j] + other[j] : other[j];
    });
    used[0] = 1;
  }
  inverse_transform_filters<F>(g, dU, gw);
}

// The variant for a tile size and stride; stride 2 has F(4x4) tiles only.
int tile_size(int tile, int stride) {
  XGRAD_CHECK(stride == 1 || stride == 2, "winograd conv3x3: stride must be 1 or 2, got {}", stride);
  XGRAD_CHECK(tile == 0 || tile == 2 || tile == 4, "winograd conv3x3: tile must be 0 (default), 2 or 4, got {}",
              tile);
  XGRAD_CHECK(stride == 1 || tile != 2, "winograd conv3x3: stride 2 has 4x4 tiles only, got tile {}", tile);
  return tile == 0 ? 4 : tile;
}

template <class Body>
void with_variant(int m, int stride, Body&& body) {
  if (stride == 2)
    body(F4S2{});
  else if (m == 4)
    body(F4{});
  else
    body(F2{});
}

}  // namespace

void conv3x3_forward(const float* x, const float* w, const float* bias, float* y, int64 N, int64 C, int64 H, int64 W,
                     int64 K, int64 pad_h, int64 pad_w, int tile, int stride) {
  const int m = tile_size(tile, stride);
  const Geometry g = geometry("winograd conv3x3_forward", m, stride, N, C, H, W, K, pad_h, pad_w);
  with_variant(m, stride, [&](auto variant) { forward<decltype(variant)>(g, x, w, bias, y); });
}

void conv3x3_backward_input(const float* gy, const float* w, float* gx, int64 N, int64 C, int64 H, int64 W, int64 K,
                            int64 pad_h, int64 pad_w, int tile, int stride) {
  const int m = tile_size(tile, stride);
  const Geometry g = geometry("winograd conv3x3_backward_input", m, stride, N, C, H, W, K, pad_h, pad_w);
  if (stride == 2) {
    backward_input<F4S2>(g, gy, w, gx);
    return;
  }
  // Stride 1: gx = gy (*) w' at padding 2-p, with w'[c][k] = w[k][c] rotated by 180 degrees.
  thread_local std::vector<float> flipped_buffer;
  float* flipped = scratch(flipped_buffer, K * C * 9);
  parallel::parallel_for(K * C, 256, [&](int64 begin, int64 end) {
    for (int64 kc = begin; kc < end; ++kc) {
      const int64 k = kc / C, c = kc % C;
      for (int e = 0; e < 9; ++e) flipped[(c * K + k) * 9 + (8 - e)] = w[kc * 9 + e];
    }
  });
  const Geometry gt = geometry("winograd conv3x3_backward_input", m, 1, N, K, g.Ho, g.Wo, C, 2 - pad_h, 2 - pad_w);
  with_variant(m, 1, [&](auto variant) { forward<decltype(variant)>(gt, gy, flipped, nullptr, gx); });
}

void conv3x3_backward_weight(const float* x, const float* gy, float* gw, int64 N, int64 C, int64 H, int64 W, int64 K,
                             int64 pad_h, int64 pad_w, int tile, int stride) {
  const int m = tile_size(tile, stride);
  const Geometry g = geometry("winograd conv3x3_backward_weight", m, stride, N, C, H, W, K, pad_h, pad_w);
  with_variant(m, stride, [&](auto variant) { backward_weight<decltype(variant)>(g, x, gy, gw); });
}

// Channels are padded to multiples of 16 (the AVX-512 width), so few channels waste most of the
// GEMMs: measured (bench_winograd, 1 thread, pad 1) C = K = 8 on 28x28 still ran 4x faster than
// im2col + sgemm, C = 1 -> K = 32 2.5x slower. Below 4x4 a 4x4 output tile is mostly padding.
// Stride 2, against per-image im2col + sgemm (bench_winograd layers 8-10, 1 thread, fwd + dx + dw):
// (32,64,16,16)->128 2.3x, (8,64,56,56)->128 2.4x, (2,64,112,112)->128 1.9x, but its input gradient
// only 1.2x: that pass takes whole images per block (tiles overlap), 12 MiB of panels there. Past
// 16 MiB per image the layer stays with im2col.
bool worthwhile(int64 N, int64 C, int64 H, int64 W, int64 K, int stride) {
  if (stride == 1) return C >= 8 && K >= 8 && H >= 4 && W >= 4;
  if (stride != 2 || C < 8 || K < 8 || H < 7 || W < 7) return false;
  const int64 tiles = ((H - 1) / 8 + 1) * ((W - 1) / 8 + 1);  // at pad 1: outputs (H + 1) / 2, 4 per tile
  return tiles * 81 * (round_up(C) + round_up(K)) * 4 <= (int64{16} << 20);
}

}  // namespace xgrad::kernels::winograd
