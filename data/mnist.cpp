#include "xgrad/data/mnist.h"

namespace xgrad::data {

namespace {
std::vector<std::string> names(const std::array<std::string_view, 10>& list) {
  return {list.begin(), list.end()};
}
}  // namespace

MnistDataset::MnistDataset(const std::filesystem::path& dir, Split split, std::vector<std::string> classes)
    : MnistDataset(load_mnist_split(dir, split == Split::train), split, std::move(classes)) {}

MnistDataset::MnistDataset(MnistSplit data, Split split, std::vector<std::string> classes)
    : TensorDataset(std::move(data.images), std::move(data.labels)), split_(split), classes_(std::move(classes)) {}

MnistDataset MNIST(const std::filesystem::path& dir, Split split) {
  return MnistDataset(dir, split, names(kMnistClassNames));
}

MnistDataset FashionMNIST(const std::filesystem::path& dir, Split split) {
  return MnistDataset(dir, split, names(kFashionMnistClassNames));
}

MnistDataset FashionMNIST(Split split) { return FashionMNIST(default_fashion_mnist_dir(), split); }

}  // namespace xgrad::data
