#pragma once
// Writes a zip archive of stored (uncompressed) entries into an AtomicFile, streaming each entry's
// bytes from the caller's buffers (a tensor is never copied), with zip64 records where sizes,
// offsets or the entry count outgrow the classic 32/16-bit fields.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "xgrad/io/atomic_file.h"

namespace xgrad::io {

// Where zip64 records begin. The defaults are the format's (a size or offset of 0xFFFFFFFF or
// more, 65535 entries or more); tests lower them to exercise zip64 on small archives.
struct ZipLimits {
  std::uint64_t zip64_from_size = 0xFFFFFFFF;
  std::uint64_t zip64_from_count = 0xFFFF;
};

class ZipWriter {
 public:
  struct Piece {
    const void* data;
    std::size_t size;
  };

  explicit ZipWriter(AtomicFile& out, ZipLimits limits = {}) : out_(out), limits_(limits) {}
  // One stored entry whose bytes are the pieces, in order. The CRC-32 is computed while writing.
  void add_stored(const std::string& name, std::initializer_list<Piece> pieces);
  // The central directory and the end records. Nothing may be added afterwards.
  void finish();

 private:
  struct Record {
    std::string name;
    std::uint32_t crc;
    std::uint64_t size;
    std::uint64_t offset;
    bool local_zip64;
  };
  bool needs_zip64(std::uint64_t value) const { return value >= limits_.zip64_from_size; }

  AtomicFile& out_;
  ZipLimits limits_;
  std::vector<Record> records_;
  bool finished_ = false;
};

}  // namespace xgrad::io
