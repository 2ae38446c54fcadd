#pragma once
// The zip records xgrad reads and writes (PKWARE APPNOTE 6.3): signatures, fixed sizes, the
// zip64 sentinels and the compression methods.
#include <cstdint>
#include <string>

namespace xgrad::io::zip {

inline constexpr std::uint32_t kLocalHeaderSig = 0x04034b50;
inline constexpr std::uint32_t kCentralHeaderSig = 0x02014b50;
inline constexpr std::uint32_t kEndOfCentralDirSig = 0x06054b50;
inline constexpr std::uint32_t kZip64EndOfCentralDirSig = 0x06064b50;
inline constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;

inline constexpr std::size_t kLocalHeaderSize = 30;
inline constexpr std::size_t kCentralHeaderSize = 46;
inline constexpr std::size_t kEndOfCentralDirSize = 22;
inline constexpr std::size_t kZip64EndOfCentralDirSize = 56;
inline constexpr std::size_t kZip64LocatorSize = 20;
inline constexpr std::size_t kMaxCommentSize = 0xFFFF;

// A 32-bit size or offset field holding this (or a 16-bit count holding 0xFFFF) means the real
// value is in the zip64 extra field or the zip64 end record.
inline constexpr std::uint32_t kZip64Sentinel32 = 0xFFFFFFFF;
inline constexpr std::uint16_t kZip64Sentinel16 = 0xFFFF;
inline constexpr std::uint16_t kZip64ExtraId = 0x0001;

inline constexpr std::uint16_t kVersionDefault = 20;  // 2.0: stored and deflate
inline constexpr std::uint16_t kVersionZip64 = 45;    // 4.5: zip64 records
inline constexpr std::uint16_t kMadeByUnix = 3 << 8;

inline constexpr std::uint16_t kFlagEncrypted = 1 << 0;
inline constexpr std::uint16_t kFlagDataDescriptor = 1 << 3;
inline constexpr std::uint16_t kFlagUtf8Name = 1 << 11;

inline constexpr std::uint16_t kMethodStored = 0;
inline constexpr std::uint16_t kMethodDeflate = 8;

inline std::string method_name(std::uint16_t method) {
  switch (method) {
    case 0: return "stored";
    case 8: return "deflate";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    case 99: return "AES encryption";
    default: return "unknown";
  }
}

}  // namespace xgrad::io::zip
