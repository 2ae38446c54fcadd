#pragma once
// The IDX file format of the MNIST family (LeCun's format: a 4-byte magic 0x00 0x00 <type> <ndim>,
// then ndim big-endian uint32 sizes, then the values big-endian, row-major), plain or gzip-compressed,
// and the MNIST / Fashion-MNIST splits stored in it.
#include <array>
#include <filesystem>
#include <string_view>

#include "xgrad/tensor.h"

namespace xgrad::data {

// Reads one IDX file into a tensor of its dims. Integer types (0x08 ubyte, 0x09 byte, 0x0B short,
// 0x0C int) give int64, 0x0D float gives float32, 0x0E double float64. A gzip stream is recognised
// by its magic bytes, whatever the file's name. Raises xgrad::Error naming the file and the problem:
// missing or unreadable file, bad magic, unknown type, zero or more than kMaxIdxDims dims, data
// shorter or longer than the dims say, a corrupted or truncated gzip stream.
Tensor read_idx(const std::filesystem::path& file);
inline constexpr int kMaxIdxDims = 8;

// One split of MNIST or Fashion-MNIST: images float32 [N, 1, 28, 28] scaled to [0, 1], labels int64 [N].
struct MnistSplit {
  Tensor images;
  Tensor labels;
};

// Reads `train-images-idx3-ubyte` + `train-labels-idx1-ubyte` (train) or the `t10k-` pair (test)
// from `dir`, each either plain or with a `.gz` suffix (the plain file wins when both exist). Raises,
// naming both files, on a count mismatch, a label outside 0..9 or images that are not ubyte 28x28.
MnistSplit load_mnist_split(const std::filesystem::path& dir, bool train);

// Where Debian's package dataset-fashion-mnist installs the four .gz files.
std::filesystem::path default_fashion_mnist_dir();

// Class names in label order.
inline constexpr std::array<std::string_view, 10> kMnistClassNames = {"0", "1", "2", "3", "4",
                                                                      "5", "6", "7", "8", "9"};
inline constexpr std::array<std::string_view, 10> kFashionMnistClassNames = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace xgrad::data
