#include "npy_format.h"

#include <array>
#include <cctype>
#include <limits>

#include "little_endian.h"
#include "xgrad/error.h"

namespace xgrad::io::npy {

namespace {

constexpr std::array<ElementType, 8> kElementTypes{{
    {"<f4", 4, Dtype::float32, false},
    {"<f8", 8, Dtype::float64, false},
    {"<i8", 8, Dtype::int64, false},
    {"<i4", 4, Dtype::int64, false},
    {"<i2", 2, Dtype::int64, false},
    {"|i1", 1, Dtype::int64, false},
    {"|u1", 1, Dtype::int64, false},
    {"|b1", 1, Dtype::boolean, true},
}};

// Python's repr of a shape tuple: (), (3,), (2, 3).
std::string shape_repr(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// A small reader for the Python literal NumPy writes: a dict of str keys whose values are
// str, True/False or a tuple of non-negative ints.
class LiteralParser {
 public:
  explicit LiteralParser(std::string_view text) : text_(text) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal("a dict key");
      expect(':');
      skip_space();
      if (key == "descr") {
        XGRAD_CHECK(!seen_descr, "the header repeats 'descr'");
        XGRAD_CHECK(peek() == '\'' || peek() == '"', "the header's 'descr' is not a string (structured dtypes are not supported): {}",
                    quoted());
        h.descr = string_literal("'descr'");
        seen_descr = true;
      } else if (key == "fortran_order") {
        XGRAD_CHECK(!seen_order, "the header repeats 'fortran_order'");
        h.fortran_order = boolean("'fortran_order'");
        seen_order = true;
      } else if (key == "shape") {
        XGRAD_CHECK(!seen_shape, "the header repeats 'shape'");
        h.shape = tuple("'shape'");
        seen_shape = true;
      } else {
        XGRAD_CHECK(false, "the header has an unexpected key '{}' (expected 'descr', 'fortran_order', 'shape'): {}", key, quoted());
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      XGRAD_CHECK(peek() == '}', "the header dict lacks a ',' or '}}' at byte {}: {}", pos_, quoted());
    }
    expect('}');
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) ++pos_;
    XGRAD_CHECK(pos_ == text_.size(), "the header has bytes after its dict at byte {}: {}", pos_, quoted());
    std::vector<std::string> missing;
    if (!seen_descr) missing.push_back("'descr'");
    if (!seen_order) missing.push_back("'fortran_order'");
    if (!seen_shape) missing.push_back("'shape'");
    XGRAD_CHECK(missing.empty(), "the header lacks {}: {}", fmt::join(missing, ", "), quoted());
    return h;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    XGRAD_CHECK(peek() == c, "the header is not a dict literal: '{}' expected at byte {}: {}", c, pos_, quoted());
    ++pos_;
  }
  // The header for messages: without its padding, cut short, unprintable bytes escaped.
  std::string quoted() const {
    constexpr std::size_t kShown = 120;
    std::string_view text = text_;
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.remove_suffix(1);
    std::string shown;
    for (char c : text.substr(0, kShown))
      shown += std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    return fmt::format("\"{}{}\"", shown, text.size() > kShown ? "..." : "");
  }
  std::string string_literal(const char* what) {
    skip_space();
    const char q = peek();
    XGRAD_CHECK(q == '\'' || q == '"', "the header's {} is not a string at byte {}: {}", what, pos_, quoted());
    const std::size_t end = text_.find(q, pos_ + 1);
    XGRAD_CHECK(end != std::string_view::npos, "the header's {} is an unterminated string: {}", what, quoted());
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    XGRAD_CHECK(s.find('\\') == std::string::npos, "the header's {} has an escape sequence: {}", what, quoted());
    pos_ = end + 1;
    return s;
  }
  bool boolean(const char* what) {
    if (text_.substr(pos_).starts_with("True")) {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_).starts_with("False")) {
      pos_ += 5;
      return false;
    }
    XGRAD_CHECK(false, "the header's {} is neither True nor False: {}", what, quoted());
    return false;
  }
  std::vector<std::int64_t> tuple(const char* what) {
    XGRAD_CHECK(peek() == '(', "the header's {} is not a tuple: {}", what, quoted());
    ++pos_;
    std::vector<std::int64_t> out;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      XGRAD_CHECK(std::isdigit(static_cast<unsigned char>(peek())),
                  "the header's {} holds something other than a non-negative integer at byte {}: {}", what, pos_, quoted());
      std::int64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const int digit = peek() - '0';
        XGRAD_CHECK(v <= (std::numeric_limits<std::int64_t>::max() - digit) / 10, "the header's {} has a size beyond int64: {}", what,
                    quoted());
        v = v * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 wrote long integers as 3L
      out.push_back(v);
      XGRAD_CHECK(out.size() <= kMaxRank, "the header's {} has more than {} dims", what, kMaxRank);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      XGRAD_CHECK(peek() == ')', "the header's {} lacks a ',' or ')' at byte {}: {}", what, pos_, quoted());
    }
    ++pos_;
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

const char* descr_of(Dtype dtype) {
  switch (dtype) {
    case Dtype::float32: return "<f4";
    case Dtype::float64: return "<f8";
    case Dtype::int64: return "<i8";
    case Dtype::boolean: return "|b1";
  }
  return "?";
}

std::string supported_descrs() {
  std::string out;
  for (const auto& t : kElementTypes) out += fmt::format("{}'{}'", out.empty() ? "" : " ", t.descr);
  return out;
}

ElementType element_type(std::string_view descr) {
  for (const auto& t : kElementTypes) {
    if (descr == t.descr) return t;
    // One-byte types have no byte order: NumPy writes '|', any order character means the same.
    if (t.size == 1 && descr.size() == 3 && std::string_view("<>=").find(descr[0]) != std::string_view::npos &&
        descr.substr(1) == t.descr.substr(1))
      return t;
  }
  XGRAD_CHECK(!(descr.size() >= 2 && descr[0] == '>'),
              "dtype '{}' is big-endian, which is not supported (convert with arr.astype(arr.dtype.newbyteorder('<')))", descr);
  XGRAD_CHECK(false, "dtype '{}' is not supported (supported: {})", descr, supported_descrs());
  return kElementTypes[0];
}

std::string format_header(Dtype dtype, const Shape& shape) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr_of(dtype), shape_repr(shape));
  // NumPy leaves room for the first dim to grow to 21 digits, so the header can be rewritten in place.
  constexpr std::size_t kGrowthDigits = 21;
  if (!shape.empty()) {
    const std::size_t digits = fmt::formatted_size("{}", shape[0]);
    if (digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  }
  // Spaces and a final newline pad the prelude, the 2-byte length and the dict to 64 bytes;
  // as in NumPy, an exact fit still gets a full 64 bytes of padding.
  const std::size_t with_newline = dict.size() + 1;
  const std::size_t pad = kAlign - (kPreludeSize + 2 + with_newline) % kAlign;
  const std::size_t length = with_newline + pad;
  XGRAD_CHECK(length <= 0xFFFF, "npy header of {} bytes does not fit format 1.0 (shape {})", length, to_string(shape));
  std::string out(kMagic);
  out.push_back(1);
  out.push_back(0);
  put_le<std::uint16_t>(out, static_cast<std::uint16_t>(length));
  out += dict;
  out.append(pad, ' ');
  out.push_back('\n');
  return out;
}

Header parse_header_dict(std::string_view text) { return LiteralParser(text).parse(); }

}  // namespace xgrad::io::npy
