#pragma once
// MNIST-1D (Greydanus 2020): ten 12-point digit templates turned into 1-D signals by random padding,
// dilation, scaling, translation, noise and shear, then resampled to 40 points. Generated in-process
// from the published recipe (no download); the default options give the standard 4,000 / 1,000 split.
// Same recipe as the original, not the same numbers: the draws come from an xgrad Generator.
#include <cstdint>
#include <filesystem>

#include "xgrad/tensor.h"

namespace xgrad::data {

struct Mnist1dOptions {
  std::int64_t num_samples = 5000;  // a multiple of 10: num_samples / 10 per class
  double train_fraction = 0.8;      // the first floor(num_samples * train_fraction) shuffled examples train
  std::int64_t padding_min = 36;    // zeros appended to a template: uniform on [padding_min, padding_max]
  std::int64_t padding_max = 60;    // the padded template is resampled to 12 + padding_max points
  double scale_coeff = 0.4;         // amplitude times 1 + scale_coeff * (u - 0.5), u ~ U[0, 1)
  std::int64_t max_translation = 48;  // circular shift right by k, uniform on [0, max_translation)
  double corr_noise_scale = 0.25;     // N(0, scale^2) noise smoothed by a Gaussian filter, where the signal is 0
  double corr_noise_sigma = 2.0;      // that filter's sigma in points (radius 4 sigma, reflected edges)
  double iid_noise_scale = 0.02;      // N(0, scale^2) added everywhere
  double shear_scale = 0.75;          // minus c * linspace(-0.5, 0.5), c = shear_scale * (u - 0.5)
  std::int64_t final_seq_length = 40;  // points after the last resampling
  bool shuffle_seq = false;            // permute the points too (one permutation for the whole set)
  std::uint64_t seed = 42;
};

// x float32 [n_train, final_seq_length], y int64 [n_train]; x_test, y_test the rest. Standardised
// (mean 0, std 1) over train and test together, as the original does.
struct Mnist1d {
  Tensor x;
  Tensor y;
  Tensor x_test;
  Tensor y_test;
};

Mnist1d make_mnist1d(const Mnist1dOptions& options = {});

// A saved set: a NumPy .npz with arrays x [N, L] and x_test [M, L] (any float or integer dtype,
// returned as float32) and y [N], y_test [M] (integers in 0..9, returned as int64), e.g. written by
// numpy.savez from the original project's data. Raises naming the file and the array at fault.
Mnist1d load_mnist1d_npz(const std::filesystem::path& file);

// The 10 templates, float64 [10, 12]: each digit's 12 points whitened (mean 0, std 1), shifted so
// the first point is 0, divided by 6.
Tensor mnist1d_templates();

}  // namespace xgrad::data
