// IDX reader: the whole file is read (and inflated when gzip), the header checked against the byte
// count, then the big-endian values converted into a tensor.
#include "xgrad/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "xgrad/error.h"

namespace xgrad::data {
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

// A path as messages show it.
std::string q(const fs::path& path) { return fmt::format("'{}'", path.string()); }

Bytes read_whole_file(const fs::path& file, const char* who) {
  std::error_code ec;
  const auto status = fs::status(file, ec);
  XGRAD_CHECK(fs::exists(status), "{}: {}: no such file", who, q(file));
  XGRAD_CHECK(fs::is_regular_file(status), "{}: {}: not a regular file", who, q(file));
  std::ifstream in(file, std::ios::binary);
  XGRAD_CHECK(in.is_open(), "{}: {}: cannot open it ({})", who, q(file), std::strerror(errno));
  const auto size = fs::file_size(file, ec);
  XGRAD_CHECK(!ec, "{}: {}: cannot read its size ({})", who, q(file), ec.message());
  Bytes bytes;
  try {
    bytes.resize(size);
  } catch (const std::bad_alloc&) {
    XGRAD_CHECK(false, "{}: {}: out of memory reading its {} bytes", who, q(file), size);
  }
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  XGRAD_CHECK(in.gcount() == static_cast<std::streamsize>(size), "{}: {}: read {} of its {} bytes", who,
              q(file), in.gcount(), size);
  return bytes;
}

bool is_gzip(const Bytes& bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

// Inflates every gzip member of `packed` (gzip files may hold several, back to back).
Bytes gunzip(const Bytes& packed, const fs::path& file, const char* who) {
  z_stream zs{};
  XGRAD_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, "{}: {}: zlib could not start inflating", who, q(file));
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};

  // The last member's trailer holds its size mod 2^32: the usual single-member file then inflates
  // into one exact buffer. Capped at deflate's largest ratio (about 1032:1) against a forged trailer.
  std::size_t size_hint = std::size_t{1} << 16;
  if (packed.size() >= 18) {
    const unsigned char* t = packed.data() + packed.size() - 4;
    const std::size_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (std::size_t{t[3]} << 24);
    size_hint = std::max(size_hint, std::min(isize, packed.size() * 1032));
  }
  Bytes out;
  try {
    out.resize(size_hint);
  } catch (const std::bad_alloc&) {
    XGRAD_CHECK(false, "{}: {}: out of memory inflating it ({} bytes)", who, q(file), size_hint);
  }
  std::size_t in_pos = 0, out_pos = 0;
  constexpr std::size_t kChunk = std::size_t{1} << 30;  // avail_in / avail_out are 32-bit
  for (;;) {
    if (zs.avail_in == 0 && in_pos < packed.size()) {
      const std::size_t n = std::min(kChunk, packed.size() - in_pos);
      zs.next_in = const_cast<unsigned char*>(packed.data() + in_pos);
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (out_pos == out.size()) {
      try {
        out.resize(out.size() * 2);
      } catch (const std::bad_alloc&) {
        XGRAD_CHECK(false, "{}: {}: out of memory inflating it ({} bytes so far)", who, q(file), out_pos);
      }
    }
    const std::size_t room = std::min(kChunk, out.size() - out_pos);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out_pos += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      const std::size_t left = zs.avail_in + (packed.size() - in_pos);
      if (left == 0) break;
      const unsigned char* next = zs.avail_in ? zs.next_in : packed.data() + in_pos;
      XGRAD_CHECK(left >= 2 && next[0] == 0x1f && next[1] == 0x8b,
                  "{}: {}: corrupted gzip file: {} bytes after the end of the gzip stream", who, q(file), left);
      XGRAD_CHECK(inflateReset(&zs) == Z_OK, "{}: {}: zlib could not restart inflating", who, q(file));
      continue;
    }
    XGRAD_CHECK(rc != Z_DATA_ERROR && rc != Z_NEED_DICT, "{}: {}: corrupted gzip stream ({})", who, q(file),
                zs.msg ? zs.msg : "invalid data");
    XGRAD_CHECK(rc != Z_MEM_ERROR, "{}: {}: out of memory while inflating", who, q(file));
    const bool input_exhausted = zs.avail_in == 0 && in_pos == packed.size();
    XGRAD_CHECK(!(input_exhausted && (rc == Z_BUF_ERROR || zs.avail_out != 0)),
                "{}: {}: truncated gzip stream (it ends after {} compressed bytes, before its end marker)", who,
                q(file), packed.size());
  }
  out.resize(out_pos);
  return out;
}

struct IdxLayout {
  unsigned char type = 0;
  std::vector<std::int64_t> dims;
  std::size_t header_bytes = 0;
  std::int64_t numel = 0;
};

std::size_t element_bytes(unsigned char type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

// Checks the magic, type, dims and that the data is exactly as long as the dims say.
IdxLayout parse_layout(const Bytes& bytes, const fs::path& file, const char* who) {
  XGRAD_CHECK(bytes.size() >= 4, "{}: {}: too short for an IDX file ({} bytes, the magic number alone is 4)",
              who, q(file), bytes.size());
  XGRAD_CHECK(bytes[0] == 0 && bytes[1] == 0,
              "{}: {}: bad magic number: IDX files start with bytes 0x00 0x00, found 0x{:02x} 0x{:02x}", who, q(file),
              bytes[0], bytes[1]);
  IdxLayout layout;
  layout.type = bytes[2];
  XGRAD_CHECK(element_bytes(layout.type) != 0,
              "{}: {}: unknown IDX type 0x{:02x} (expected 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, "
              "0x0D float or 0x0E double)",
              who, q(file), layout.type);
  const int ndim = bytes[3];
  XGRAD_CHECK(ndim >= 1 && ndim <= kMaxIdxDims, "{}: {}: {} dims in the header (expected 1 to {})", who, q(file),
              ndim, kMaxIdxDims);
  layout.header_bytes = 4 + 4 * static_cast<std::size_t>(ndim);
  XGRAD_CHECK(bytes.size() >= layout.header_bytes,
              "{}: {}: truncated header: {} dims need {} header bytes, the file has {}", who, q(file), ndim,
              layout.header_bytes, bytes.size());
  const auto elem = static_cast<std::int64_t>(element_bytes(layout.type));
  std::int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    const unsigned char* p = bytes.data() + 4 + 4 * d;
    const std::int64_t size = (std::int64_t{p[0]} << 24) | (std::int64_t{p[1]} << 16) | (std::int64_t{p[2]} << 8) | p[3];
    layout.dims.push_back(size);
    XGRAD_CHECK(size == 0 || numel <= std::numeric_limits<std::int64_t>::max() / elem / size,
                "{}: {}: dims {} describe more data than fits in memory", who, q(file), fmt::join(layout.dims, "x"));
    numel *= size;
  }
  layout.numel = numel;
  const std::size_t expected = static_cast<std::size_t>(numel * elem);
  const std::size_t found = bytes.size() - layout.header_bytes;
  XGRAD_CHECK(found >= expected, "{}: {}: truncated data: dims [{}] need {} bytes after the header, found {}", who,
              q(file), fmt::join(layout.dims, ", "), expected, found);
  XGRAD_CHECK(found == expected, "{}: {}: {} trailing bytes: dims [{}] need {} bytes after the header, found {}",
              who, q(file), found - expected, fmt::join(layout.dims, ", "), expected, found);
  return layout;
}

Bytes read_idx_bytes(const fs::path& file, const char* who) {
  Bytes bytes = read_whole_file(file, who);
  return is_gzip(bytes) ? gunzip(bytes, file, who) : bytes;
}

inline std::uint16_t swap_bytes(std::uint16_t v) { return __builtin_bswap16(v); }
inline std::uint32_t swap_bytes(std::uint32_t v) { return __builtin_bswap32(v); }
inline std::uint64_t swap_bytes(std::uint64_t v) { return __builtin_bswap64(v); }

// n big-endian values of type Raw from p, converted to Out.
template <class Raw, class Out>
void decode_big_endian(const unsigned char* p, std::int64_t n, Out* out) {
  using Bits = std::conditional_t<sizeof(Raw) == 1, std::uint8_t,
               std::conditional_t<sizeof(Raw) == 2, std::uint16_t,
               std::conditional_t<sizeof(Raw) == 4, std::uint32_t, std::uint64_t>>>;
  for (std::int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, p + i * sizeof(Raw), sizeof(Raw));
    if constexpr (sizeof(Raw) > 1 && std::endian::native == std::endian::little) bits = swap_bytes(bits);
    out[i] = static_cast<Out>(std::bit_cast<Raw>(bits));
  }
}

template <class Raw, class Out>
Tensor decode_tensor(const unsigned char* p, const IdxLayout& layout) {
  Tensor t = empty(Shape(layout.dims), {.dtype = dtype_of_v<Out>});
  decode_big_endian<Raw>(p, layout.numel, t.mutable_data<Out>());
  return t;
}

}  // namespace

Tensor read_idx(const fs::path& file) {
  const Bytes bytes = read_idx_bytes(file, "read_idx");
  const IdxLayout layout = parse_layout(bytes, file, "read_idx");
  const unsigned char* p = bytes.data() + layout.header_bytes;
  switch (layout.type) {
    case 0x08: return decode_tensor<std::uint8_t, std::int64_t>(p, layout);
    case 0x09: return decode_tensor<std::int8_t, std::int64_t>(p, layout);
    case 0x0B: return decode_tensor<std::int16_t, std::int64_t>(p, layout);
    case 0x0C: return decode_tensor<std::int32_t, std::int64_t>(p, layout);
    case 0x0D: return decode_tensor<float, float>(p, layout);
    default: return decode_tensor<double, double>(p, layout);
  }
}

namespace {

// `dir/name`, or `dir/name.gz` when only that exists.
fs::path find_split_file(const fs::path& dir, const std::string& name) {
  const fs::path plain = dir / name;
  const fs::path packed = dir / (name + ".gz");
  std::error_code ec;
  if (fs::exists(plain, ec)) return plain;
  XGRAD_CHECK(fs::exists(packed, ec), "load_mnist_split: neither {} nor {} exists", q(plain), q(packed));
  return packed;
}

}  // namespace

MnistSplit load_mnist_split(const fs::path& dir, bool train) {
  constexpr const char* who = "load_mnist_split";
  const std::string prefix = train ? "train" : "t10k";
  const fs::path images_file = find_split_file(dir, prefix + "-images-idx3-ubyte");
  const fs::path labels_file = find_split_file(dir, prefix + "-labels-idx1-ubyte");

  const Bytes image_bytes = read_idx_bytes(images_file, who);
  const IdxLayout images = parse_layout(image_bytes, images_file, who);
  const Bytes label_bytes = read_idx_bytes(labels_file, who);
  const IdxLayout labels = parse_layout(label_bytes, labels_file, who);

  XGRAD_CHECK(images.type == 0x08 && images.dims.size() == 3 && images.dims[1] == 28 && images.dims[2] == 28,
              "{}: images {} (labels {}): expected ubyte (0x08) images of dims [N, 28, 28], found type 0x{:02x} "
              "dims [{}]",
              who, q(images_file), q(labels_file), images.type, fmt::join(images.dims, ", "));
  XGRAD_CHECK(labels.type == 0x08 && labels.dims.size() == 1,
              "{}: labels {} (images {}): expected ubyte (0x08) labels of dims [N], found type 0x{:02x} dims [{}]",
              who, q(labels_file), q(images_file), labels.type, fmt::join(labels.dims, ", "));
  const std::int64_t n = images.dims[0];
  XGRAD_CHECK(labels.dims[0] == n, "{}: {} holds {} images but {} holds {} labels", who, q(images_file), n,
              q(labels_file), labels.dims[0]);

  const unsigned char* label_data = label_bytes.data() + labels.header_bytes;
  const unsigned char* bad = std::find_if(label_data, label_data + n, [](unsigned char v) { return v > 9; });
  XGRAD_CHECK(bad == label_data + n, "{}: {} (images {}): label {} at index {} is outside 0..9", who, q(labels_file),
              q(images_file), int{*bad}, bad - label_data);

  MnistSplit split{.images = empty({n, 1, 28, 28}, {.dtype = float32}), .labels = empty({n}, {.dtype = int64})};
  const unsigned char* pixels = image_bytes.data() + images.header_bytes;
  float* image_out = split.images.mutable_data<float>();
  std::transform(pixels, pixels + images.numel, image_out, [](unsigned char v) { return v / 255.0f; });
  std::copy(label_data, label_data + n, split.labels.mutable_data<std::int64_t>());
  return split;
}

std::filesystem::path default_fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

}  // namespace xgrad::data
