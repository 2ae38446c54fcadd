#pragma once
// Private to the Winograd kernels: the layouts the driver (winograd.cpp) and the block transforms
// (winograd_transforms.cpp) share, and the block transforms' entry points.
#include <algorithm>
#include <cstdint>

#include "winograd_variants.h"

namespace xgrad::kernels::winograd::detail {

// Channels go in blocks of L (one SIMD register): the transforms load and store whole registers of
// channels, never gathering. Channel counts are padded up to a multiple of L with zeros.
inline int64 round_up(int64 v) { return (v + L - 1) / L * L; }

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

// A block of tiles: `images` whole images from n0, or `tile_rows` tile rows from ty0 of image n0
// (Blocking in winograd.cpp chooses them).
struct Block {
  int64 n0, images, ty0, tile_rows, tiles;
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

// Filters in the Winograd domain: freqs matrices [Cp][Kp], skewed by 64 bytes like Panel.
inline int64 filter_stride(const Geometry& g) { return g.Cp * g.Kp + 16; }

// ---- defined in winograd_transforms.cpp, instantiated for the variants the driver runs

// dst[i][cb][rows][Wb][L] = src[n0 + i][cb*L + l][row0 + r - top][s - left]: a block's images (or
// rows of one image) with channels interleaved by L, zero outside src and for channels past C.
void block_channels(const float* src, int64 C, int64 H, int64 W, int64 n0, int64 images, int64 row0, int64 rows,
                    int64 top, int64 left, int64 Wb, float* dst);

// dst[n0 + i][c][r][s] = src[i][c / L][r + top][s + left][c % L] for a block of whole images: the
// inverse of block_channels (frame rows past `rows` and columns past Wb read as zero).
void unblock_channels(const float* src, int64 rows, int64 Wb, int64 top, int64 left, int64 C, int64 H, int64 W,
                      int64 n0, int64 images, float* dst);

// V[xi][tile][c] = (B^T d B)[xi] for the block's tiles (in image, tile-row, tile-column order);
// xl is the block's input from block_channels (g.frame_rows(tile_rows) rows of the padded frame).
template <class F>
void transform_input(const Geometry& g, const Block& k, const float* xl, const Panel& V);

// The adjoint of transform_input: the block's frame xl (zeroed here) gets B dV B^T of every tile
// added at the tile's place; neighbouring tiles of a strided variant share a row and a column.
template <class F>
void transform_input_adjoint(const Geometry& g, const Block& k, const Panel& dV, float* xl);

// y tiles = A^T M A + bias for the block's tiles, every output channel; partial tiles clipped.
template <class F>
void transform_output(const Geometry& g, const Block& k, const Panel& M, const float* bias_padded, float* y);

// Z[xi][tile][k] = (A gy A^T)[xi] for the block's tiles; gl is the block's output gradient from
// block_channels (tile_rows*m rows of tiles_w*m columns, zero past Ho x Wo).
template <class F>
void transform_output_grad(const Geometry& g, const Block& k, const float* gl, const Panel& Z);

// U[xi][c][k] = (G w[k][c] G^T)[xi] (zero for padded channels) for the filter_alpha^2 distinct
// frequencies, L output channels at a time. Transposed, U[xi][k][c] (L input channels at a time):
// the input gradient's GEMMs then read it as it is.
template <class F>
void transform_filters(const Geometry& g, const float* w, float* U, bool transposed = false);

// gw[k][c] = G^T dU[c][k] G, L output channels at a time.
template <class F>
void inverse_transform_filters(const Geometry& g, const float* dU, float* gw);

}  // namespace xgrad::kernels::winograd::detail
