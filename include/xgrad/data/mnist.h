#pragma once
// MNIST and Fashion-MNIST as datasets (torchvision's MNIST / FashionMNIST): each example is an
// image [1, 28, 28] float32 in [0, 1] and its label as a 0-d int64, read once from the IDX files
// of `dir` (load_mnist_split), with the class names in label order.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/data/dataset.h"
#include "xgrad/data/idx.h"

namespace xgrad::data {

enum class Split { train, test };

class MnistDataset : public TensorDataset {
 public:
  // Reads the split's two files from `dir`; errors name the files and what is wrong.
  MnistDataset(const std::filesystem::path& dir, Split split, std::vector<std::string> classes);
  const std::vector<std::string>& classes() const { return classes_; }
  Split split() const { return split_; }

 private:
  MnistDataset(MnistSplit data, Split split, std::vector<std::string> classes);
  Split split_;
  std::vector<std::string> classes_;
};

// Handwritten digits; the files in `dir` (no default: Debian packages no MNIST).
MnistDataset MNIST(const std::filesystem::path& dir, Split split);
// Zalando's clothes, from `dir` or from Debian's dataset-fashion-mnist (default_fashion_mnist_dir()).
MnistDataset FashionMNIST(const std::filesystem::path& dir, Split split);
MnistDataset FashionMNIST(Split split);

}  // namespace xgrad::data
