#pragma once
// The .npy array format (NumPy's numpy/lib/format.py documents it): magic "\x93NUMPY", a version,
// a header length, then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': ...}
// padded with spaces and a newline so that the data starts on a 64-byte boundary, then the raw
// elements.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/dtype.h"
#include "xgrad/shape.h"

namespace xgrad::io::npy {

inline constexpr std::string_view kMagic{"\x93NUMPY", 6};
inline constexpr std::size_t kPreludeSize = 8;  // magic + major + minor version bytes
inline constexpr std::size_t kAlign = 64;
// The header holds 'descr', 'fortran_order' and 'shape'; anything longer is not NumPy's.
inline constexpr std::size_t kMaxHeaderSize = 1 << 20;
inline constexpr std::size_t kMaxRank = 64;

// The element types xgrad writes ('<f4' '<f8' '<i8' '|b1') and reads (those, plus narrower
// integers, which load as int64).
struct ElementType {
  std::string_view descr;
  std::size_t size;  // bytes per element in the file
  Dtype loads_as;
  bool is_bool;  // bytes other than 0 read as true (1)
};

const char* descr_of(Dtype dtype);
// The element type of a descr such as '<f4', or an xgrad::Error saying why it is unsupported
// (big-endian, complex, strings, objects...).
ElementType element_type(std::string_view descr);
// "'<f4', '<f8', ..." for messages.
std::string supported_descrs();

// Format 1.0 header bytes exactly as numpy.save writes them for a C-ordered array.
std::string format_header(Dtype dtype, const Shape& shape);

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};
// Parses the dict literal of a header (after the length field). Raises xgrad::Error naming what
// is malformed, missing or unexpected.
Header parse_header_dict(std::string_view text);

}  // namespace xgrad::io::npy
