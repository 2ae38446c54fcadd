#pragma once
// Transforms of one image tensor [C, H, W] (torchvision's rules). Each takes an optional
// Generator for its random choices (default_generator() when null).
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "xgrad/data/dataset.h"
#include "xgrad/tensor.h"

namespace xgrad::data {

using Transform = std::function<Tensor(const Tensor&, Generator*)>;

// (x[c] - mean[c]) / std[c] per channel; one value applies to every channel.
class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& image, Generator* gen = nullptr) const;

 private:
  std::vector<double> mean_;
  std::vector<double> std_;
};

// Reverses the last dim (width) with probability p.
class RandomHorizontalFlip {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image, Generator* gen = nullptr) const;

 private:
  double p_;
};

struct CropSize {
  std::int64_t height;
  std::int64_t width;
};

// Pads every side of H and W with `padding` zeros (`fill`), then cuts a height x width window at
// a uniformly drawn top-left corner (top drawn first, as torchvision does).
class RandomCrop {
 public:
  RandomCrop(CropSize size, std::int64_t padding = 0, double fill = 0.0);
  Tensor operator()(const Tensor& image, Generator* gen = nullptr) const;

 private:
  CropSize size_;
  std::int64_t padding_;
  double fill_;
};

// Applies the transforms in order, passing each the same generator.
class Compose {
 public:
  explicit Compose(std::vector<Transform> transforms);
  Tensor operator()(const Tensor& image, Generator* gen = nullptr) const;

 private:
  std::vector<Transform> transforms_;
};

// `dataset` with `transform` applied to each example's input on get() (targets unchanged).
// The transform draws from `gen` (default_generator() when null): give the dataset its own
// generator so that its draws do not interleave with the training thread's.
class TransformDataset : public Dataset {
 public:
  TransformDataset(std::shared_ptr<const Dataset> dataset, Transform transform, Generator* gen = nullptr);
  std::int64_t size() const override;

 protected:
  Example get_checked(std::int64_t i) const override;

 private:
  std::shared_ptr<const Dataset> dataset_;
  Transform transform_;
  Generator* gen_;
};

}  // namespace xgrad::data
