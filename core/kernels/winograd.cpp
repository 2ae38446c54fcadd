// The Winograd driver: checks and geometry, the blocking of tiles over the thread pool, and the
// per-frequency GEMMs between the block transforms (winograd_transforms.cpp) of each pass.
#include "winograd.h"
#include "intrinsics.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../parallel.h"
#include "winograd_transforms.h"
#include "xgrad/error.h"

namespace xgrad::kernels::winograd {

namespace {

using namespace detail;

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

// Work goes in blocks of tiles: whole images, or runs of tile rows of one image, sized so the
// block's V and M (alpha^2 x (Cp + Kp) x tiles floats) fill about half of L2, but at least
// F::min_block_tiles tiles (the GEMMs' row count: fewer cost more than the cache misses save),
// and at least one block per thread. A block's input is re-laid out (block_channels) right
// before its transform, so it is read from cache.
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
