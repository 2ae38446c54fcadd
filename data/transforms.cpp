// Image transforms (torchvision's rules) and TransformDataset.
#include "xgrad/data/transforms.h"

#include <cmath>
#include <utility>

#include "xgrad/error.h"
#include "xgrad/generator.h"
#include "xgrad/ops.h"

namespace xgrad::data {

namespace {

Generator& source(Generator* gen) { return gen ? *gen : default_generator(); }

// Per-channel values as a [C, 1, 1] tensor of the image's dtype (one value: [1, 1, 1]).
Tensor channel_column(const std::vector<double>& values, Dtype dtype) {
  return tensor(values, Shape({static_cast<std::int64_t>(values.size()), 1, 1}), {.dtype = dtype});
}

}  // namespace

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  XGRAD_CHECK(!mean_.empty() && mean_.size() == std_.size(),
              "Normalize: mean and std need one value per channel each, got {} and {} values", mean_.size(),
              std_.size());
  for (std::size_t c = 0; c < std_.size(); ++c)
    XGRAD_CHECK(std_[c] != 0 && std::isfinite(std_[c]), "Normalize: std[{}] is {}, expected a finite non-zero value",
                c, std_[c]);
}

Tensor Normalize::operator()(const Tensor& image, Generator*) const {
  XGRAD_CHECK(image.dim() == 3, "Normalize: expected a [C, H, W] image, got shape {}", to_string(image.shape()));
  XGRAD_CHECK(is_floating(image.dtype()), "Normalize: expected a floating image, got {}", dtype_name(image.dtype()));
  const auto channels = static_cast<std::size_t>(image.size(0));
  XGRAD_CHECK(mean_.size() == 1 || mean_.size() == channels,
              "Normalize: {} mean/std values for an image of {} channels (shape {})", mean_.size(), channels,
              to_string(image.shape()));
  return (image - channel_column(mean_, image.dtype())) / channel_column(std_, image.dtype());
}

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  XGRAD_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: probability p = {} is not in [0, 1]", p);
}

Tensor RandomHorizontalFlip::operator()(const Tensor& image, Generator* gen) const {
  XGRAD_CHECK(image.dim() >= 2, "RandomHorizontalFlip: expected an image [..., H, W], got shape {}", to_string(image.shape()));
  if (!(source(gen).uniform01() < p_)) return image;
  const std::int64_t width = image.size(-1);
  return index_select(image, -1, arange(static_cast<double>(width - 1), -1.0, -1.0, {.dtype = Dtype::int64}));
}

RandomCrop::RandomCrop(CropSize size, std::int64_t padding, double fill)
    : size_(size), padding_(padding), fill_(fill) {
  XGRAD_CHECK(size.height >= 1 && size.width >= 1, "RandomCrop: crop size {}x{} must be positive", size.height,
              size.width);
  XGRAD_CHECK(padding >= 0, "RandomCrop: padding must be non-negative, got {}", padding);
}

Tensor RandomCrop::operator()(const Tensor& image, Generator* gen) const {
  XGRAD_CHECK(image.dim() >= 2, "RandomCrop: expected an image [..., H, W], got shape {}", to_string(image.shape()));
  const Tensor padded =
      padding_ > 0 ? pad(image, {padding_, padding_, padding_, padding_}, fill_) : image;
  const std::int64_t height = padded.size(-2), width = padded.size(-1);
  XGRAD_CHECK(size_.height <= height && size_.width <= width,
              "RandomCrop: crop size {}x{} is larger than the padded image {}x{} (image shape {}, padding {})",
              size_.height, size_.width, height, width, to_string(image.shape()), padding_);
  if (height == size_.height && width == size_.width) return padded;  // torchvision draws nothing then
  Generator& g = source(gen);
  const auto top = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(height - size_.height + 1)));
  const auto left = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(width - size_.width + 1)));
  return narrow(narrow(padded, -2, top, size_.height), -1, left, size_.width);
}

Compose::Compose(std::vector<Transform> transforms) : transforms_(std::move(transforms)) {
  for (std::size_t k = 0; k < transforms_.size(); ++k)
    XGRAD_CHECK(static_cast<bool>(transforms_[k]), "Compose: transform {} is empty", k);
}

Tensor Compose::operator()(const Tensor& image, Generator* gen) const {
  Tensor x = image;
  for (const Transform& t : transforms_) x = t(x, gen);
  return x;
}

TransformDataset::TransformDataset(std::shared_ptr<const Dataset> dataset, Transform transform, Generator* gen)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), gen_(gen) {
  XGRAD_CHECK(dataset_ != nullptr, "TransformDataset: the dataset is null");
  XGRAD_CHECK(static_cast<bool>(transform_), "TransformDataset: the transform is empty");
}

std::int64_t TransformDataset::size() const { return dataset_->size(); }

Example TransformDataset::get_checked(std::int64_t i) const {
  Example e = dataset_->get(i);
  e.input = transform_(e.input, gen_);
  return e;
}

}  // namespace xgrad::data
