#include "zip_writer.h"

#include <zlib.h>

#include <algorithm>

#include "little_endian.h"
#include "xgrad/error.h"
#include "zip_format.h"

namespace xgrad::io {

namespace {

// Entries carry a fixed timestamp (1980-01-01 00:00, the earliest DOS date), so the same state
// always gives the same bytes.
constexpr std::uint16_t kDosTime = 0;
constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr std::uint32_t kUnixFileMode = 0100644;  // regular file, rw-r--r--
// The CRC runs over a chunk just before it is written, while it is still in cache.
constexpr std::size_t kCrcChunk = std::size_t{4} << 20;

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::uint32_t field32(std::uint64_t value, bool in_zip64) { return in_zip64 ? zip::kZip64Sentinel32 : static_cast<std::uint32_t>(value); }

}  // namespace

void ZipWriter::add_stored(const std::string& name, std::initializer_list<Piece> pieces) {
  XGRAD_CHECK(!finished_, "ZipWriter: entry '{}' added after finish()", name);
  XGRAD_CHECK(!name.empty() && name.size() <= 0xFFFF, "ZipWriter: an entry name must have 1 to 65535 bytes, '{}' has {}", name,
              name.size());
  std::uint64_t size = 0;
  for (const Piece& p : pieces) size += p.size;
  const std::uint64_t offset = out_.size();
  const bool zip64 = needs_zip64(size);
  const std::uint16_t flags = is_ascii(name) ? 0 : zip::kFlagUtf8Name;

  std::string header;
  put_le<std::uint32_t>(header, zip::kLocalHeaderSig);
  put_le<std::uint16_t>(header, zip64 ? zip::kVersionZip64 : zip::kVersionDefault);
  put_le<std::uint16_t>(header, flags);
  put_le<std::uint16_t>(header, zip::kMethodStored);
  put_le<std::uint16_t>(header, kDosTime);
  put_le<std::uint16_t>(header, kDosDate);
  put_le<std::uint32_t>(header, 0);  // CRC-32, filled in once the data is written
  put_le<std::uint32_t>(header, field32(size, zip64));
  put_le<std::uint32_t>(header, field32(size, zip64));
  put_le<std::uint16_t>(header, static_cast<std::uint16_t>(name.size()));
  put_le<std::uint16_t>(header, zip64 ? 20 : 0);
  header += name;
  if (zip64) {
    // The local zip64 extra always holds both sizes.
    put_le<std::uint16_t>(header, zip::kZip64ExtraId);
    put_le<std::uint16_t>(header, 16);
    put_le<std::uint64_t>(header, size);
    put_le<std::uint64_t>(header, size);
  }
  out_.write(header.data(), header.size());

  uLong crc = crc32(0L, Z_NULL, 0);
  for (const Piece& p : pieces) {
    const auto* bytes = static_cast<const Bytef*>(p.data);
    for (std::size_t done = 0; done < p.size;) {
      const std::size_t n = std::min(kCrcChunk, p.size - done);
      crc = crc32(crc, bytes + done, static_cast<uInt>(n));
      out_.write(bytes + done, n);
      done += n;
    }
  }
  std::string crc_bytes;
  put_le<std::uint32_t>(crc_bytes, static_cast<std::uint32_t>(crc));
  constexpr std::uint64_t kCrcOffsetInLocalHeader = 14;
  out_.write_at(offset + kCrcOffsetInLocalHeader, crc_bytes.data(), crc_bytes.size());
  records_.push_back({name, static_cast<std::uint32_t>(crc), size, offset, zip64});
}

void ZipWriter::finish() {
  XGRAD_CHECK(!finished_, "ZipWriter: finish() called twice");
  finished_ = true;
  const std::uint64_t cd_offset = out_.size();
  std::string cd;
  for (const Record& r : records_) {
    const bool size64 = needs_zip64(r.size);
    const bool offset64 = needs_zip64(r.offset);
    std::string extra;
    if (size64 || offset64) {
      std::string fields;
      if (size64) {
        put_le<std::uint64_t>(fields, r.size);  // uncompressed
        put_le<std::uint64_t>(fields, r.size);  // compressed
      }
      if (offset64) put_le<std::uint64_t>(fields, r.offset);
      put_le<std::uint16_t>(extra, zip::kZip64ExtraId);
      put_le<std::uint16_t>(extra, static_cast<std::uint16_t>(fields.size()));
      extra += fields;
    }
    const std::uint16_t version = (r.local_zip64 || !extra.empty()) ? zip::kVersionZip64 : zip::kVersionDefault;
    put_le<std::uint32_t>(cd, zip::kCentralHeaderSig);
    put_le<std::uint16_t>(cd, zip::kMadeByUnix | version);
    put_le<std::uint16_t>(cd, version);
    put_le<std::uint16_t>(cd, is_ascii(r.name) ? 0 : zip::kFlagUtf8Name);
    put_le<std::uint16_t>(cd, zip::kMethodStored);
    put_le<std::uint16_t>(cd, kDosTime);
    put_le<std::uint16_t>(cd, kDosDate);
    put_le<std::uint32_t>(cd, r.crc);
    put_le<std::uint32_t>(cd, field32(r.size, size64));
    put_le<std::uint32_t>(cd, field32(r.size, size64));
    put_le<std::uint16_t>(cd, static_cast<std::uint16_t>(r.name.size()));
    put_le<std::uint16_t>(cd, static_cast<std::uint16_t>(extra.size()));
    put_le<std::uint16_t>(cd, 0);  // comment length
    put_le<std::uint16_t>(cd, 0);  // disk number
    put_le<std::uint16_t>(cd, 0);  // internal attributes
    put_le<std::uint32_t>(cd, kUnixFileMode << 16);
    put_le<std::uint32_t>(cd, field32(r.offset, offset64));
    cd += r.name;
    cd += extra;
    // Flush now and then: a directory of 100k entries need not sit in memory whole.
    if (cd.size() >= kCrcChunk) {
      out_.write(cd.data(), cd.size());
      cd.clear();
    }
  }
  out_.write(cd.data(), cd.size());
  const std::uint64_t cd_size = out_.size() - cd_offset;
  const std::uint64_t count = records_.size();

  const bool count64 = count >= limits_.zip64_from_count;
  const bool cd_size64 = needs_zip64(cd_size);
  const bool cd_offset64 = needs_zip64(cd_offset);
  std::string end;
  if (count64 || cd_size64 || cd_offset64) {
    const std::uint64_t zip64_end_offset = out_.size();
    put_le<std::uint32_t>(end, zip::kZip64EndOfCentralDirSig);
    put_le<std::uint64_t>(end, zip::kZip64EndOfCentralDirSize - 12);  // size of the rest of the record
    put_le<std::uint16_t>(end, zip::kMadeByUnix | zip::kVersionZip64);
    put_le<std::uint16_t>(end, zip::kVersionZip64);
    put_le<std::uint32_t>(end, 0);  // this disk
    put_le<std::uint32_t>(end, 0);  // the disk where the central directory starts
    put_le<std::uint64_t>(end, count);
    put_le<std::uint64_t>(end, count);
    put_le<std::uint64_t>(end, cd_size);
    put_le<std::uint64_t>(end, cd_offset);
    put_le<std::uint32_t>(end, zip::kZip64LocatorSig);
    put_le<std::uint32_t>(end, 0);  // the disk of the zip64 end record
    put_le<std::uint64_t>(end, zip64_end_offset);
    put_le<std::uint32_t>(end, 1);  // total disks
  }
  const std::uint16_t count16 = count64 ? zip::kZip64Sentinel16 : static_cast<std::uint16_t>(count);
  put_le<std::uint32_t>(end, zip::kEndOfCentralDirSig);
  put_le<std::uint16_t>(end, 0);
  put_le<std::uint16_t>(end, 0);
  put_le<std::uint16_t>(end, count16);
  put_le<std::uint16_t>(end, count16);
  put_le<std::uint32_t>(end, field32(cd_size, cd_size64));
  put_le<std::uint32_t>(end, field32(cd_offset, cd_offset64));
  put_le<std::uint16_t>(end, 0);  // comment length
  out_.write(end.data(), end.size());
}

}  // namespace xgrad::io
