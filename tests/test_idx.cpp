// The IDX reader (data/idx.cpp): every value type decoded big-endian, gzip recognised by its magic,
// every kind of damaged file raising a message naming the file and the problem, the MNIST split
// loader on small files written here, and the real Fashion-MNIST test split when Debian's package is in.
#include <doctest/doctest.h>

#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <xgrad/data/idx.h>
#include <xgrad/data/mnist.h>

#include "test_util.h"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;
using test::error_of;

using test::contains;
using test::TempFolder;

// An IDX file: magic 0 0 type ndim, big-endian uint32 dims, then the payload as given.
Bytes idx_file(unsigned char type, const std::vector<std::uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type, static_cast<unsigned char>(dims.size())};
  for (std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(d >> shift));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void write_plain(const fs::path& file, const Bytes& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// mode "wb" starts the file, "ab" appends another gzip member.
void write_gzip(const fs::path& file, const Bytes& bytes, const char* mode = "wb") {
  gzFile gz = gzopen(file.c_str(), mode);
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(gz) == Z_OK);
}

Bytes read_plain(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::int64_t> ints(const Tensor& t) { return t.to_vector<std::int64_t>(); }

// A [n, 28, 28] ubyte image file whose image i has pixel p = (i * 7 + p) % 256, and its labels.
Bytes mnist_images(std::uint32_t n, std::uint32_t rows = 28, std::uint32_t cols = 28) {
  Bytes pixels(static_cast<std::size_t>(n) * rows * cols);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t p = 0; p < rows * cols; ++p) pixels[i * rows * cols + p] = static_cast<unsigned char>((i * 7 + p) % 256);
  return idx_file(0x08, {n, rows, cols}, pixels);
}
Bytes mnist_labels(const Bytes& labels) { return idx_file(0x08, {static_cast<std::uint32_t>(labels.size())}, labels); }

}  // namespace

TEST_CASE("data: read_idx decodes every IDX type big-endian into int64, float32 or float64") {
  TempFolder dir("idx");
  write_plain(dir / "ubyte", idx_file(0x08, {2, 3}, {0, 1, 2, 127, 128, 255}));
  Tensor u = data::read_idx(dir / "ubyte");
  CHECK(u.dtype() == int64);
  CHECK(u.shape() == Shape{2, 3});
  CHECK(ints(u) == std::vector<std::int64_t>{0, 1, 2, 127, 128, 255});

  write_plain(dir / "byte", idx_file(0x09, {3}, {0xff, 0x80, 0x7f}));
  CHECK(ints(data::read_idx(dir / "byte")) == std::vector<std::int64_t>{-1, -128, 127});

  write_plain(dir / "short", idx_file(0x0B, {2}, {0xff, 0xfe, 0x01, 0x2c}));
  CHECK(ints(data::read_idx(dir / "short")) == std::vector<std::int64_t>{-2, 300});

  // -70000 = 0xFFFEEE90, 2^30 = 0x40000000
  write_plain(dir / "int", idx_file(0x0C, {1, 2}, {0xff, 0xfe, 0xee, 0x90, 0x40, 0x00, 0x00, 0x00}));
  Tensor i = data::read_idx(dir / "int");
  CHECK(i.shape() == Shape{1, 2});
  CHECK(ints(i) == std::vector<std::int64_t>{-70000, 1 << 30});

  // 1.5f = 0x3FC00000, -2.25f = 0xC0100000
  write_plain(dir / "float", idx_file(0x0D, {2}, {0x3f, 0xc0, 0, 0, 0xc0, 0x10, 0, 0}));
  Tensor f = data::read_idx(dir / "float");
  CHECK(f.dtype() == float32);
  CHECK(f.to_vector<float>() == std::vector<float>{1.5f, -2.25f});

  // 0.1 = 0x3FB999999999999A, -0.0 = 0x8000000000000000
  write_plain(dir / "double", idx_file(0x0E, {2}, {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x80, 0, 0, 0, 0, 0, 0, 0}));
  Tensor d = data::read_idx(dir / "double");
  CHECK(d.dtype() == float64);
  CHECK(d.to_vector<double>()[0] == 0.1);
  CHECK(std::signbit(d.to_vector<double>()[1]));

  // A zero-sized dim is a valid, empty file.
  write_plain(dir / "empty", idx_file(0x08, {0, 28}, {}));
  CHECK(data::read_idx(dir / "empty").shape() == Shape{0, 28});
}

TEST_CASE("data: read_idx recognises gzip by its magic bytes, not by the file name") {
  TempFolder dir("idx");
  const Bytes file = idx_file(0x0B, {2, 2}, {0, 1, 0, 2, 0xff, 0xff, 0x7f, 0xff});
  write_gzip(dir / "packed.idx", file);  // gzip without .gz
  write_plain(dir / "plain.gz", file);    // plain with .gz
  for (const char* name : {"packed.idx", "plain.gz"}) {
    CAPTURE(name);
    Tensor t = data::read_idx(dir / name);
    CHECK(t.shape() == Shape{2, 2});
    CHECK(ints(t) == std::vector<std::int64_t>{1, 2, -1, 32767});
  }
  // A gzip file of two members (what `cat a.gz b.gz` makes) inflates to both, back to back.
  const Bytes whole = idx_file(0x08, {4}, {9, 8, 7, 6});
  write_gzip(dir / "two-members.gz", Bytes(whole.begin(), whole.begin() + 6));
  write_gzip(dir / "two-members.gz", Bytes(whole.begin() + 6, whole.end()), "ab");
  CHECK(ints(data::read_idx(dir / "two-members.gz")) == std::vector<std::int64_t>{9, 8, 7, 6});
}

TEST_CASE("data: read_idx errors name the file and what is wrong") {
  TempFolder dir("idx");
  auto error_for = [&](const std::string& name, const Bytes& bytes) {
    write_plain(dir / name, bytes);
    const std::string msg = error_of([&] { data::read_idx(dir / name); });
    CHECK_MESSAGE(contains(msg, "read_idx"), msg);
    CHECK_MESSAGE(contains(msg, (dir / name).string()), msg);
    return msg;
  };
  const std::string missing = error_of([&] { data::read_idx(dir / "nothing-here"); });
  CHECK_MESSAGE(contains(missing, (dir / "nothing-here").string()), missing);
  CHECK_MESSAGE(contains(missing, "no such file"), missing);
  CHECK_MESSAGE(contains(error_of([&] { data::read_idx(dir.path()); }), "not a regular file"), "folder");

  CHECK(contains(error_for("tiny", {0, 0, 8}), "too short for an IDX file (3 bytes"));
  CHECK(contains(error_for("magic", {0x50, 0x4b, 0x08, 0x01, 0, 0, 0, 1, 5}), "bad magic number"));
  CHECK(contains(error_for("magic", {0x50, 0x4b, 0x08, 0x01, 0, 0, 0, 1, 5}), "found 0x50 0x4b"));
  CHECK(contains(error_for("type", idx_file(0x0A, {1}, {0})), "unknown IDX type 0x0a"));
  CHECK(contains(error_for("zero-dims", idx_file(0x08, {}, {1})), "0 dims in the header (expected 1 to 8)"));
  CHECK(contains(error_for("nine-dims", idx_file(0x08, std::vector<std::uint32_t>(9, 1), {1})),
                 "9 dims in the header (expected 1 to 8)"));
  CHECK(contains(error_for("header", Bytes{0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0}),
                 "truncated header: 3 dims need 16 header bytes, the file has 10"));
  // int [2, 3]: 24 data bytes expected.
  CHECK(contains(error_for("short-data", idx_file(0x0C, {2, 3}, Bytes(23, 1))),
                 "truncated data: dims [2, 3] need 24 bytes after the header, found 23"));
  CHECK(contains(error_for("long-data", idx_file(0x0C, {2, 3}, Bytes(26, 1))),
                 "2 trailing bytes: dims [2, 3] need 24 bytes after the header, found 26"));
  CHECK(contains(error_for("huge", idx_file(0x0E, {0xffffffff, 0xffffffff, 0xffffffff}, {})),
                 "more data than fits in memory"));

  // Damaged gzip files: a flipped CRC, a cut stream, bytes after the stream.
  const Bytes file = idx_file(0x08, {64}, Bytes(64, 3));
  write_gzip(dir / "good.gz", file);
  const Bytes packed = read_plain(dir / "good.gz");
  Bytes bad_crc = packed;
  bad_crc[bad_crc.size() - 8] ^= 0xff;
  CHECK(contains(error_for("bad-crc.gz", bad_crc), "corrupted gzip stream (incorrect data check)"));
  const std::string cut = error_for("cut.gz", Bytes(packed.begin(), packed.begin() + packed.size() / 2));
  CHECK_MESSAGE(contains(cut, "truncated gzip stream"), cut);
  Bytes trailing = packed;
  trailing.insert(trailing.end(), {1, 2, 3});
  CHECK(contains(error_for("trailing.gz", trailing), "corrupted gzip file: 3 bytes after the end of the gzip stream"));
  // A valid gzip stream of a damaged IDX file is reported as the IDX problem.
  write_gzip(dir / "short.gz", idx_file(0x08, {5}, {1, 2}));
  CHECK(contains(error_of([&] { data::read_idx(dir / "short.gz"); }), "need 5 bytes after the header, found 2"));
}

TEST_CASE("data: load_mnist_split reads images scaled to [0, 1] and int64 labels, plain or gzip") {
  TempFolder dir("idx");
  write_plain(dir / "train-images-idx3-ubyte", mnist_images(3));
  write_gzip(dir / "train-labels-idx1-ubyte.gz", mnist_labels({7, 0, 9}));
  write_gzip(dir / "t10k-images-idx3-ubyte.gz", mnist_images(2));
  write_plain(dir / "t10k-labels-idx1-ubyte", mnist_labels({4, 4}));

  data::MnistSplit train = data::load_mnist_split(dir.path(), true);
  CHECK(train.images.dtype() == float32);
  CHECK(train.images.shape() == Shape{3, 1, 28, 28});
  CHECK(train.labels.dtype() == int64);
  CHECK(ints(train.labels) == std::vector<std::int64_t>{7, 0, 9});
  // Image 1, pixel (row 0, col 5): (1 * 7 + 5) % 256 = 12 -> 12 / 255; image 2 pixel (9, 4): (14 + 256) % 256 = 14.
  CHECK(train.images.at<float>({1, 0, 0, 5}) == 12.0f / 255.0f);
  CHECK(train.images.at<float>({2, 0, 9, 4}) == 14.0f / 255.0f);
  CHECK(train.images.max().item() == 1.0);
  CHECK(train.images.min().item() == 0.0);

  data::MnistSplit test_split = data::load_mnist_split(dir.path(), false);
  CHECK(test_split.images.shape() == Shape{2, 1, 28, 28});
  CHECK(ints(test_split.labels) == std::vector<std::int64_t>{4, 4});
}

TEST_CASE("data: load_mnist_split errors name both files") {
  TempFolder dir("idx");
  const std::string images = (dir / "train-images-idx3-ubyte").string();
  const std::string labels = (dir / "train-labels-idx1-ubyte").string();
  auto load_error = [&] {
    const std::string msg = error_of([&] { data::load_mnist_split(dir.path(), true); });
    CHECK_MESSAGE(contains(msg, "load_mnist_split"), msg);
    return msg;
  };

  const std::string missing = load_error();
  CHECK_MESSAGE((contains(missing, "neither '" + images + "' nor '" + images + ".gz' exists")), missing);

  write_plain(images, mnist_images(3));
  write_plain(labels, mnist_labels({1, 2}));
  std::string msg = load_error();
  CHECK_MESSAGE((contains(msg, "'" + images + "' holds 3 images but '" + labels + "' holds 2 labels")), msg);

  write_plain(labels, mnist_labels({1, 10, 2}));
  msg = load_error();
  CHECK_MESSAGE(contains(msg, "label 10 at index 1 is outside 0..9"), msg);
  CHECK_MESSAGE((contains(msg, labels) && contains(msg, images)), msg);

  write_plain(labels, mnist_labels({1, 2, 3}));
  write_plain(images, mnist_images(3, 28, 27));
  msg = load_error();
  CHECK_MESSAGE(contains(msg, "expected ubyte (0x08) images of dims [N, 28, 28], found type 0x08 dims [3, 28, 27]"), msg);
  CHECK_MESSAGE((contains(msg, labels) && contains(msg, images)), msg);

  write_plain(images, mnist_images(3));
  write_plain(labels, idx_file(0x0C, {3}, Bytes(12, 0)));
  msg = load_error();
  CHECK_MESSAGE(contains(msg, "expected ubyte (0x08) labels of dims [N], found type 0x0c dims [3]"), msg);

  write_plain(labels, idx_file(0x08, {3}, {1, 2}));  // damaged: the reader's message, naming the labels file
  msg = load_error();
  CHECK_MESSAGE((contains(msg, labels) && contains(msg, "truncated data")), msg);
}

TEST_CASE("data: MNIST and Fashion-MNIST class names in label order") {
  CHECK(data::kMnistClassNames[0] == "0");
  CHECK(data::kMnistClassNames[9] == "9");
  CHECK(data::kFashionMnistClassNames[0] == "T-shirt/top");
  CHECK(data::kFashionMnistClassNames[4] == "Coat");
  CHECK(data::kFashionMnistClassNames[6] == "Shirt");
  CHECK(data::kFashionMnistClassNames[9] == "Ankle boot");
  CHECK(data::default_fashion_mnist_dir() == fs::path("/usr/share/datasets/fashion-mnist"));
}

TEST_CASE("data: the Debian Fashion-MNIST test split has 10,000 images, 1,000 per class") {
  const fs::path dir = data::default_fashion_mnist_dir();
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: the Debian package dataset-fashion-mnist is not installed (no ", dir.string(), ")");
    return;
  }
  data::MnistSplit split = data::load_mnist_split(dir, false);
  CHECK(split.images.shape() == Shape{10000, 1, 28, 28});
  CHECK(split.labels.shape() == Shape{10000});
  std::vector<int> counts(10, 0);
  for (std::int64_t label : ints(split.labels)) ++counts[label];
  CHECK(counts == std::vector<int>(10, 1000));
  // The first test labels (Ankle boot, Pullover, Trouser, Trouser, Shirt), read with Python's gzip module.
  CHECK(ints(split.labels[Tensor(arange(5, {.dtype = int64}))]) == std::vector<std::int64_t>{9, 2, 1, 1, 6});
  // Mean pixel 0.2868: all bytes sum to 573,469,082 (Python's gzip module); float32 pixels round at 6e-8.
  CHECK(split.images.to(float64).mean().item() == doctest::Approx(573469082.0 / 255.0 / 7840000.0).epsilon(1e-6));
}

TEST_CASE("data: FashionMNIST is a dataset of [1, 28, 28] images and 0-d labels with the class names") {
  const fs::path dir = data::default_fashion_mnist_dir();
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: the Debian package dataset-fashion-mnist is not installed (no ", dir.string(), ")");
    return;
  }
  const data::MnistDataset test_set = data::FashionMNIST(data::Split::test);
  CHECK(test_set.size() == 10000);
  CHECK(test_set.split() == data::Split::test);
  REQUIRE(test_set.classes().size() == 10);
  CHECK(test_set.classes()[0] == "T-shirt/top");
  CHECK(test_set.classes()[9] == "Ankle boot");
  const data::Example first = test_set.get(0);
  CHECK(first.input.shape() == Shape{1, 28, 28});
  CHECK(first.target.dim() == 0);
  CHECK(first.target.item<std::int64_t>() == 9);  // an ankle boot, as in the split test above
  CHECK(data::FashionMNIST(dir, data::Split::train).size() == 60000);
  CHECK(test_set.classes()[static_cast<std::size_t>(test_set.get(1).target.item<std::int64_t>())] == "Pullover");
}

TEST_CASE("data: MNIST reads its split from a folder and names digits, errors name the files") {
  const TempFolder dir("mnist");  // empty
  CHECK(contains(error_of([&] { data::MNIST(dir.path(), data::Split::train); }), "train-images-idx3-ubyte"));
}
