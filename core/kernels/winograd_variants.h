#pragma once
// Private to the Winograd kernels: the tile transforms of each variant (F(2x2,3x3), F(4x4,3x3) and
// the stride-2 F(4x4) form) as register-level math, and which transformed filter each frequency uses.
#include "intrinsics.h"

#include <array>
#include <cstdint>

#include <xsimd/xsimd.hpp>

#include "winograd.h"

namespace xgrad::kernels::winograd::detail {

// One SIMD register of lanes: the transforms run on L channels of one tile at once.
using vf = xsimd::batch<float>;
inline constexpr int L = static_cast<int>(vf::size);

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

}  // namespace xgrad::kernels::winograd::detail
