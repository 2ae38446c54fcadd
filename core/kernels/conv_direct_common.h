#pragma once
// Private to conv_direct*.cpp: the vector backends the kernels are written against, the padded
// layout they work in, and the helpers the three directions share (conv_direct.h says what the
// kernels do; conv_direct_forward/_input_grad/_weight_grad.cpp hold one direction each).
#include "intrinsics.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "conv_direct.h"
#include "scratch.h"

namespace xgrad::kernels::direct::detail {

using int64 = std::int64_t;
constexpr int kLanes = 16;

// ---- vector backends: 16 float lanes, masked loads (zero fill) and stores -----------------------
// xsimd 8 has no masked loads or stores, which every row's last run of columns needs, so the
// kernels are written against this small interface.

// GCC/Clang vector extensions: any target (lowered to whatever vectors it has), and the
// reference for the AVX-512 path in the tests. Not scalar lane loops: unrolled into the blocks
// below, those cost GCC 150 s of compile time for this file alone.
// Its 64-byte vectors are passed by value only between inline functions of the conv_direct*
// files, never across a library interface, so the ABI note GCC gives for them without AVX-512
// (-Wpsabi) concerns nothing: CMakeLists.txt turns it off for the conv_direct* files (a pragma
// cannot: GCC reports it at use sites and in out-of-line parts it makes after reading them). The
// members are always inlined, so no such out-of-line part is made anyway.
#define XGRAD_DIRECT_INLINE [[gnu::always_inline]] inline
struct Portable {
  using V = float __attribute__((vector_size(kLanes * sizeof(float))));
  XGRAD_DIRECT_INLINE static V zero() { return V{}; }
  XGRAD_DIRECT_INLINE static V set1(float a) { return V{} + a; }
  XGRAD_DIRECT_INLINE static V load(const float* p) {
    V r;
    std::memcpy(&r, p, sizeof r);
    return r;
  }
  // Masked-off lanes are not read (they may lie past the buffer).
  XGRAD_DIRECT_INLINE static V maskz_load(std::uint32_t m, const float* p) {
    if (m == 0xFFFFu) return load(p);
    V r{};
    for (int i = 0; i < kLanes; ++i)
      if ((m >> i) & 1u) r[i] = p[i];
    return r;
  }
  XGRAD_DIRECT_INLINE static void store(float* p, V a) { std::memcpy(p, &a, sizeof a); }
  XGRAD_DIRECT_INLINE static void mask_store(float* p, std::uint32_t m, V a) {
    if (m == 0xFFFFu) return store(p, a);
    for (int i = 0; i < kLanes; ++i)
      if ((m >> i) & 1u) p[i] = a[i];
  }
  XGRAD_DIRECT_INLINE static V fmadd(V a, V b, V c) { return a * b + c; }
  XGRAD_DIRECT_INLINE static V add(V a, V b) { return a + b; }
  XGRAD_DIRECT_INLINE static void prefetch(const float*) {}
  XGRAD_DIRECT_INLINE static float reduce(V a) {
    float s = 0.0f;
    for (int i = 0; i < kLanes; ++i) s += a[i];
    return s;
  }
};

#if defined(__AVX512F__)
struct Avx512 {
  using V = __m512;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V maskz_load(std::uint32_t m, const float* p) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V a) { _mm512_storeu_ps(p, a); }
  static void mask_store(float* p, std::uint32_t m, V a) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>(m), a); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float reduce(V a) {  // not _mm512_reduce_add_ps: GCC 12's header warns falsely in it
    alignas(64) float lanes[kLanes];
    _mm512_store_ps(lanes, a);
    float s = 0.0f;
    for (float v : lanes) s += v;
    return s;
  }
  static void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};
#endif

// False when the tests force the portable path (conv_direct.h's testing::force_portable).
bool use_avx512();

// ---- geometry -----------------------------------------------------------------------------------

// The input as the kernels see it: padded so that output (oh, ow) and tap (c, i, j) read
// padded[c][oh + i][ow + j], with Hp = OH + KH - 1 rows and Wp = OW + KW - 1 columns. The input
// gradient is accumulated in the same layout. `slack` zero floats follow, for the unmasked
// loads of a row's last run.
struct Layout {
  int64 N, C, H, W, K, OH, OW, KH, KW, ph, pw;
  int64 Hp, Wp, T;  // T = C * KH * KW taps
  int64 plane() const { return OH * OW; }
  int64 padded_plane() const { return Hp * Wp; }
  static constexpr int64 slack = 2 * kLanes;
  int64 padded_size() const { return C * Hp * Wp + slack; }
};

Layout layout_of(const ConvGeometry& g);

// Offset of tap t = (c*KH + i)*KW + j in the padded layout.
std::vector<int64> tap_offsets(const Layout& l);

// One run of up to 16 output columns of one row: its offset in an output plane, in the padded
// layout, and its lanes.
struct Run {
  int64 out, padded;
  std::uint32_t mask;
};

std::vector<Run> runs_of(const Layout& l);

// padded[c][r][t] = x[c][r - ph][t - pw], 0 outside the input; the slack is zeroed too.
void pad_image(const float* x, const Layout& l, float* padded);

// x[c][ih][iw] = padded[c][ih + ph][iw + pw], 0 where the padded layout has no such entry (input
// rows or columns no output reads).
void crop_image(const float* padded, const Layout& l, float* x);

// Padded images and accumulators (slot 0), the input gradient's padded image (1), partials (2).
struct DirectScratch;
inline float* scratch(std::size_t n, int slot) { return thread_scratch<float, DirectScratch, 3>(n, slot); }

// Images per chunk so a chunk has about 2^20 multiply-adds: tiny convs stay on one thread.
inline int64 grain_images(const Layout& l) {
  const int64 macs = std::max<int64>(1, l.K * l.T * l.plane());
  return std::max<int64>(1, (int64{1} << 20) / macs);
}

// Calls table[(a-1)*B + (b-1)] for compile-time block sizes a in [1, A], b in [1, B].
template <auto Make, int A, int B, std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
  return std::array{Make.template operator()<static_cast<int>(I) / B + 1, static_cast<int>(I) % B + 1>()...};
}

// [begin, end) of block b when n items are split into `blocks` near-equal blocks.
inline std::pair<int64, int64> split(int64 n, int64 blocks, int64 b) { return {n * b / blocks, n * (b + 1) / blocks}; }


}  // namespace xgrad::kernels::direct::detail
