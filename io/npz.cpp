// xgrad::save / xgrad::load: a StateDict as a NumPy .npz (one `<name>.npy` per entry).
#include "xgrad/io/npz.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <new>
#include <optional>

#include "npy_format.h"
#include "npz_internal.h"
#include "xgrad/error.h"
#include "xgrad/grad_mode.h"
#include "xgrad/io/atomic_file.h"
#include "xgrad/ops.h"
#include "zip_reader.h"
#include "zip_writer.h"

namespace xgrad {

namespace {

constexpr std::string_view kNpySuffix = ".npy";

const void* raw_bytes(const Tensor& t) {
  switch (t.dtype()) {
    case Dtype::float32: return t.data<float>();
    case Dtype::float64: return t.data<double>();
    case Dtype::int64: return t.data<std::int64_t>();
    case Dtype::boolean: return t.data<bool>();
  }
  return nullptr;
}

void* raw_mutable_bytes(Tensor& t) {
  switch (t.dtype()) {
    case Dtype::float32: return t.mutable_data<float>();
    case Dtype::float64: return t.mutable_data<double>();
    case Dtype::int64: return t.mutable_data<std::int64_t>();
    case Dtype::boolean: return t.mutable_data<bool>();
  }
  return nullptr;
}

// Narrow integers become int64, a chunk at a time (no second full-size buffer).
template <class Source>
void read_widened(io::EntryReader& in, std::int64_t* dst, std::int64_t count, bool is_bool) {
  constexpr std::int64_t kChunk = 1 << 16;
  std::vector<Source> buffer(static_cast<std::size_t>(std::min(count, kChunk)));
  for (std::int64_t done = 0; done < count;) {
    const std::int64_t n = std::min(kChunk, count - done);
    in.read(buffer.data(), static_cast<std::size_t>(n) * sizeof(Source));
    if (is_bool)
      std::transform(buffer.begin(), buffer.begin() + n, dst + done, [](Source v) { return std::int64_t{v != 0}; });
    else
      std::transform(buffer.begin(), buffer.begin() + n, dst + done, [](Source v) { return static_cast<std::int64_t>(v); });
    done += n;
  }
}

// One .npy entry as a tensor; raises (without the file or entry name) when anything is wrong.
Tensor read_npy(io::EntryReader& in, std::uint64_t total) {
  XGRAD_CHECK(total >= io::npy::kPreludeSize, "it holds {} bytes, too few for an .npy array", total);
  unsigned char prelude[io::npy::kPreludeSize + 4] = {};
  in.read(prelude, io::npy::kPreludeSize);
  XGRAD_CHECK(std::memcmp(prelude, io::npy::kMagic.data(), io::npy::kMagic.size()) == 0,
              "it is not an .npy array: it does not start with the magic bytes \\x93NUMPY");
  const int major = prelude[6], minor = prelude[7];
  XGRAD_CHECK((major == 1 || major == 2 || major == 3) && minor == 0,
              "its .npy format version {}.{} is not supported (1.0, 2.0 and 3.0 are)", major, minor);
  const std::size_t length_size = major == 1 ? 2 : 4;
  XGRAD_CHECK(total >= io::npy::kPreludeSize + length_size, "it holds {} bytes, too few for an .npy header", total);
  in.read(prelude + io::npy::kPreludeSize, length_size);
  const std::uint64_t header_size = major == 1 ? prelude[8] | (prelude[9] << 8)
                                               : std::uint64_t{prelude[8]} | std::uint64_t{prelude[9]} << 8 |
                                                     std::uint64_t{prelude[10]} << 16 | std::uint64_t{prelude[11]} << 24;
  const std::uint64_t before_data = io::npy::kPreludeSize + length_size + header_size;
  XGRAD_CHECK(header_size <= io::npy::kMaxHeaderSize && before_data <= total,
              "its .npy header claims {} bytes, but the entry holds {} in all", header_size, total);
  std::string text(static_cast<std::size_t>(header_size), '\0');
  in.read(text.data(), text.size());
  const io::npy::Header header = io::npy::parse_header_dict(text);
  const io::npy::ElementType element = io::npy::element_type(header.descr);

  const Shape shape(header.shape);
  const std::int64_t numel = checked_numel(shape, "load");
  const std::uint64_t data_size = total - before_data;
  const bool fits = static_cast<std::uint64_t>(numel) <= std::numeric_limits<std::uint64_t>::max() / element.size;
  XGRAD_CHECK(fits && data_size == static_cast<std::uint64_t>(numel) * element.size,
              "its data holds {} bytes, but shape {} of '{}' needs {}", data_size, to_string(shape), header.descr,
              fits ? fmt::format("{}", static_cast<std::uint64_t>(numel) * element.size) : "more than 2^64");

  // A Fortran-ordered array's bytes are the C-ordered array of the reversed shape, transposed.
  const bool fortran = header.fortran_order && shape.size() >= 2;
  Shape stored_shape = shape;
  if (fortran) std::reverse(stored_shape.begin(), stored_shape.end());
  Tensor t = empty(stored_shape, {.dtype = element.loads_as});
  if (element.size == dtype_size(element.loads_as)) {
    in.read(raw_mutable_bytes(t), static_cast<std::size_t>(data_size));
    if (element.is_bool) {  // a C++ bool must hold 0 or 1: any other byte NumPy would read as True
      auto* bytes = reinterpret_cast<unsigned char*>(t.mutable_data<bool>());
      for (std::int64_t i = 0; i < numel; ++i) bytes[i] = bytes[i] != 0;
    }
  } else {
    std::int64_t* dst = t.mutable_data<std::int64_t>();
    switch (element.size) {
      case 4: read_widened<std::int32_t>(in, dst, numel, false); break;
      case 2: read_widened<std::int16_t>(in, dst, numel, false); break;
      default:
        if (header.descr[1] == 'i')
          read_widened<std::int8_t>(in, dst, numel, false);
        else
          read_widened<std::uint8_t>(in, dst, numel, element.is_bool);
    }
  }
  in.finish();
  if (fortran) {
    NoGradGuard no_grad;
    Dims reversed(shape.size());
    for (std::size_t i = 0; i < reversed.size(); ++i) reversed[i] = static_cast<std::int64_t>(reversed.size() - 1 - i);
    t = permute(t, reversed);
  }
  return t;
}

void write_npz(const StateDict& state, const std::filesystem::path& path, const io::ZipLimits& limits) {
  // Everything that can be refused is refused before the disk is touched.
  for (const auto& e : state) {
    XGRAD_CHECK(e.value.defined(), "save: entry '{}' of the state is an undefined tensor ('{}' was not written)", e.name, path.string());
    XGRAD_CHECK(e.name.size() + kNpySuffix.size() <= 0xFFFF,
                "save: entry name of {} bytes is too long for a zip archive (at most {}): '{}...'", e.name.size(),
                0xFFFF - kNpySuffix.size(), e.name.substr(0, 60));
  }
  io::AtomicFile file(path, "save");
  io::ZipWriter zip(file, limits);
  for (const auto& e : state) {
    const std::string header = io::npy::format_header(e.value.dtype(), e.value.shape());
    const std::size_t data_size = static_cast<std::size_t>(e.value.numel()) * dtype_size(e.value.dtype());
    zip.add_stored(e.name + std::string(kNpySuffix), {{header.data(), header.size()}, {raw_bytes(e.value), data_size}});
  }
  zip.finish();
  file.commit();
}

}  // namespace

namespace io {
void save_npz(const StateDict& state, const std::filesystem::path& path, const ZipLimits& limits) { write_npz(state, path, limits); }
}  // namespace io

void save(const StateDict& state, const std::filesystem::path& path) { write_npz(state, path, io::ZipLimits{}); }

StateDict load(const std::filesystem::path& path) {
  const std::string where = fmt::format("load: '{}'", path.string());
  const io::ReadOnlyFile file(path, "load");
  io::CentralDirectory directory;
  try {
    directory = io::read_central_directory(file);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", where, e.what()));
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{}: out of memory reading its central directory", where));
  }

  std::map<std::string, int> name_counts;
  for (const auto& e : directory.entries) ++name_counts[e.name];
  std::vector<std::string> problems;
  StateDict state;
  for (const auto& entry : directory.entries) {
    const auto problem = [&](const std::string& what) { problems.push_back(fmt::format("entry '{}': {}", entry.name, what)); };
    int& same_name = name_counts[entry.name];
    if (same_name < 0) continue;  // a duplicate, already reported
    if (same_name > 1) {
      problem(fmt::format("the archive holds {} entries of this name", same_name));
      same_name = -1;
      continue;
    }
    if (!entry.problem.empty()) {
      problem(entry.problem);
      continue;
    }
    if (!entry.name.ends_with(kNpySuffix) || entry.name.size() == kNpySuffix.size()) {
      problem("it is not an array: an .npz holds only '<name>.npy' entries");
      continue;
    }
    std::optional<io::EntryReader> reader;
    try {
      reader.emplace(file, entry, directory.offset);
      Tensor t = read_npy(*reader, entry.uncompressed_size);
      state.insert(entry.name.substr(0, entry.name.size() - kNpySuffix.size()), std::move(t));
    } catch (const Error& e) {
      // A header that makes no sense is most often damage: say so when the CRC-32 confirms it.
      const std::string damage = reader && !reader->broken() ? reader->damage() : "";
      problem(damage.empty() ? e.what() : fmt::format("{}; the entry is corrupted: {}", e.what(), damage));
    }
  }
  if (!problems.empty())
    throw Error(fmt::format("{} cannot be loaded ({} problem{}):\n  {}", where, problems.size(), problems.size() == 1 ? "" : "s",
                            fmt::join(problems, "\n  ")));
  return state;
}

}  // namespace xgrad
