#pragma once
// Little-endian integers in byte buffers: the byte order of zip records and .npy data.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

namespace xgrad::io {

static_assert(std::endian::native == std::endian::little, "xgrad's .npz reader and writer copy little-endian array data as is");

template <class T>
void put_le(std::string& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

template <class T>
T get_le(const unsigned char* p) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
  return value;
}

inline const unsigned char* bytes_of(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace xgrad::io
