#pragma once
// Reads zip archives defensively: every offset and size is checked against the file before it is
// used, so a truncated or corrupted file gives an xgrad::Error saying what is wrong, never a
// crash or an absurd allocation. Messages here name no file; the caller prefixes it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace xgrad::io {

// A regular file opened for reading at offsets.
class ReadOnlyFile {
 public:
  // Raises naming the file and why it cannot be read (missing, unreadable, a folder, ...).
  ReadOnlyFile(const std::filesystem::path& path, const std::string& who);
  ~ReadOnlyFile();
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  std::uint64_t size() const { return size_; }
  // Exactly n bytes at offset; raises on an I/O error or when the file ends first.
  void read_at(std::uint64_t offset, void* dst, std::size_t n) const;

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

struct ZipEntry {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
  std::string problem;  // why this entry cannot be read (empty when it looks fine)
};

struct CentralDirectory {
  std::vector<ZipEntry> entries;
  std::uint64_t offset = 0;  // where it starts: every entry's data lies before it
};

// The entries of the archive's central directory. Raises when the file is not a zip archive or
// its directory is unreadable; problems of single entries are left in ZipEntry::problem.
CentralDirectory read_central_directory(const ReadOnlyFile& file);

// An entry's uncompressed bytes in order (stored or deflate), checked against the local header
// on construction and against the CRC-32 and sizes by finish().
class EntryReader {
 public:
  EntryReader(const ReadOnlyFile& file, const ZipEntry& entry, std::uint64_t data_end);
  ~EntryReader();
  EntryReader(const EntryReader&) = delete;
  EntryReader& operator=(const EntryReader&) = delete;

  std::uint64_t remaining() const { return entry_.uncompressed_size - produced_; }
  // The next n bytes (n <= remaining()); raises when the data is corrupt or ends early.
  void read(void* dst, std::size_t n);
  // Raises unless every byte was read, the compressed stream ends there and the CRC-32 matches.
  void finish();
  // True once read() or finish() has raised: the bytes themselves are bad.
  bool broken() const { return broken_; }
  // After the caller found nonsense in bytes that read fine: reads the rest and names the damage
  // found (a CRC-32 mismatch, broken compressed data), "" when the entry is intact as stored.
  std::string damage() noexcept;

 private:
  void refill_input();  // the next compressed chunk, when zlib has used up the last one
  void inflate_into(unsigned char* dst, std::size_t n);
  void check_end();  // the compressed stream ends here and the CRC-32 matches

  const ReadOnlyFile& file_;
  const ZipEntry& entry_;
  std::uint64_t data_offset_ = 0;
  std::uint64_t produced_ = 0;
  std::uint64_t consumed_ = 0;  // compressed bytes handed to zlib
  unsigned long crc_ = 0;
  bool broken_ = false;
  struct Inflater;
  std::unique_ptr<Inflater> inflater_;  // deflate entries only
};

}  // namespace xgrad::io
