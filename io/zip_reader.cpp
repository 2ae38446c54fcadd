#include "zip_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "little_endian.h"
#include "xgrad/error.h"
#include "zip_format.h"

namespace xgrad::io {

namespace {

constexpr std::size_t kMaxReadChunk = std::size_t{1} << 30;
// Reads are checksummed in pieces of this size, while the piece is still in cache.
constexpr std::size_t kReadPiece = std::size_t{4} << 20;
constexpr std::size_t kInflateInput = std::size_t{256} << 10;
// Deflate cannot expand data by more than about 1032:1; a larger claim is a corrupt or hostile
// size, refused before anything that large is allocated.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

std::string error_text(int err) { return std::generic_category().message(err); }

// The first bytes of a file, printable or \x-escaped, for "this is not a zip" messages.
std::string show_bytes(const unsigned char* p, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i)
    out += std::isprint(p[i]) && p[i] != '\\' ? std::string(1, static_cast<char>(p[i])) : fmt::format("\\x{:02x}", p[i]);
  return out;
}

// Why a file without an end-of-central-directory record is not a readable archive.
[[noreturn]] void explain_not_a_zip(const ReadOnlyFile& file) {
  XGRAD_CHECK(file.size() > 0, "the file is empty (0 bytes), not an .npz archive");
  unsigned char head[8] = {};
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(file.size(), sizeof head));
  file.read_at(0, head, n);
  XGRAD_CHECK(!(n >= 6 && std::memcmp(head, "\x93NUMPY", 6) == 0),
              "it is a single .npy array (numpy.save), not an .npz archive (numpy.savez, xgrad::save)");
  XGRAD_CHECK(std::memcmp(head, "PK\x03\x04", std::min<std::size_t>(n, 4)) != 0,
              "it starts as a zip archive but has no end-of-central-directory record: truncated or damaged ({} bytes)", file.size());
  XGRAD_CHECK(false, "it is not a zip archive: it starts with \"{}\" instead of \"PK\\x03\\x04\" ({} bytes)", show_bytes(head, n),
              file.size());
  std::abort();  // unreachable
}

struct Zip64Values {
  std::uint64_t* uncompressed;  // each null when its 32-bit field held a real value
  std::uint64_t* compressed;
  std::uint64_t* offset;
};

// Fills the values whose 32-bit fields held the zip64 sentinel from the zip64 extra field, in the
// order the format fixes. Returns a problem, or "" when all were found.
std::string read_zip64_extra(const unsigned char* extra, std::size_t size, Zip64Values v) {
  const std::size_t needed = (v.uncompressed ? 8 : 0) + (v.compressed ? 8 : 0) + (v.offset ? 8 : 0);
  if (needed == 0) return "";
  std::size_t pos = 0;
  while (pos + 4 <= size) {
    const auto id = get_le<std::uint16_t>(extra + pos);
    const auto len = get_le<std::uint16_t>(extra + pos + 2);
    if (pos + 4 + len > size) break;
    if (id == zip::kZip64ExtraId) {
      if (len < needed) return fmt::format("its zip64 extra field holds {} bytes, {} needed", len, needed);
      const unsigned char* p = extra + pos + 4;
      for (std::uint64_t* target : {v.uncompressed, v.compressed, v.offset}) {
        if (target == nullptr) continue;
        *target = get_le<std::uint64_t>(p);
        p += 8;
      }
      return "";
    }
    pos += 4 + len;
  }
  return "its sizes or offset are marked as zip64 but it has no zip64 extra field";
}

// Entries whose bytes overlap (several directory records sharing data: corruption, or a zip bomb
// multiplying one stream) get a problem each.
void mark_overlaps(std::vector<ZipEntry>& entries) {
  std::vector<ZipEntry*> by_offset;
  for (auto& e : entries)
    if (e.problem.empty()) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->local_header_offset < b->local_header_offset; });
  for (std::size_t i = 0; i + 1 < by_offset.size(); ++i) {
    ZipEntry& a = *by_offset[i];
    ZipEntry& b = *by_offset[i + 1];
    // The local header repeats the name; its extra field may add more.
    const std::uint64_t a_end = a.local_header_offset + zip::kLocalHeaderSize + a.name.size() + a.compressed_size;
    if (a_end > b.local_header_offset) {
      if (a.problem.empty()) a.problem = fmt::format("its bytes overlap those of entry '{}' (corrupt)", b.name);
      b.problem = fmt::format("its bytes overlap those of entry '{}' (corrupt)", a.name);
    }
  }
}

}  // namespace

// ---- ReadOnlyFile

ReadOnlyFile::ReadOnlyFile(const std::filesystem::path& path, const std::string& who) {
  // O_NONBLOCK: opening a FIFO by mistake must not hang; regular files ignore it.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    const int err = errno;
    XGRAD_CHECK(err != ENOENT, "{}: '{}' does not exist", who, path.string());
    XGRAD_CHECK(err != EACCES, "{}: '{}' cannot be read: permission denied", who, path.string());
    XGRAD_CHECK(false, "{}: '{}' cannot be opened: {}", who, path.string(), error_text(err));
  }
  struct stat st {};
  const int rc = ::fstat(fd_, &st);
  const int err = errno;
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    XGRAD_CHECK(rc == 0, "{}: '{}' cannot be examined: {}", who, path.string(), error_text(err));
    XGRAD_CHECK(!S_ISDIR(st.st_mode), "{}: '{}' is a folder, not a checkpoint file", who, path.string());
    XGRAD_CHECK(false, "{}: '{}' is not a regular file", who, path.string());
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
}

ReadOnlyFile::~ReadOnlyFile() {
  if (fd_ >= 0) ::close(fd_);
}

void ReadOnlyFile::read_at(std::uint64_t offset, void* dst, std::size_t n) const {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd_, p, std::min(n, kMaxReadChunk), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    const int err = errno;
    XGRAD_CHECK(got >= 0, "reading {} bytes at offset {} failed: {}", n, offset, error_text(err));
    XGRAD_CHECK(got > 0, "the file ends at byte {}, before the {} bytes expected there (did it change while being read?)", offset, n);
    p += got;
    n -= static_cast<std::size_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

// ---- the central directory

CentralDirectory read_central_directory(const ReadOnlyFile& file) {
  const std::uint64_t size = file.size();
  if (size < zip::kEndOfCentralDirSize) explain_not_a_zip(file);
  // The end record is the last 22 bytes plus a comment of up to 64 KiB: search backwards for a
  // signature whose comment length ends exactly at the end of the file.
  const std::size_t tail_size = static_cast<std::size_t>(std::min<std::uint64_t>(size, zip::kEndOfCentralDirSize + zip::kMaxCommentSize));
  std::vector<unsigned char> tail(tail_size);
  file.read_at(size - tail_size, tail.data(), tail_size);
  std::size_t found = tail_size;
  for (std::size_t pos = tail_size - zip::kEndOfCentralDirSize + 1; pos-- > 0;) {
    if (get_le<std::uint32_t>(&tail[pos]) == zip::kEndOfCentralDirSig &&
        pos + zip::kEndOfCentralDirSize + get_le<std::uint16_t>(&tail[pos + 20]) == tail_size) {
      found = pos;
      break;
    }
  }
  if (found == tail_size) explain_not_a_zip(file);
  const unsigned char* eocd = &tail[found];
  const std::uint64_t eocd_offset = size - tail_size + found;
  std::uint32_t disk = get_le<std::uint16_t>(eocd + 4);
  std::uint32_t cd_disk = get_le<std::uint16_t>(eocd + 6);
  std::uint64_t count_here = get_le<std::uint16_t>(eocd + 8);
  std::uint64_t count = get_le<std::uint16_t>(eocd + 10);
  std::uint64_t cd_size = get_le<std::uint32_t>(eocd + 12);
  std::uint64_t cd_offset = get_le<std::uint32_t>(eocd + 16);
  std::uint64_t records_end = eocd_offset;  // the central directory ends before this

  // A zip64 locator right before the end record points to the zip64 end record, whose 64-bit
  // fields replace the classic ones.
  bool zip64 = false;
  if (eocd_offset >= zip::kZip64LocatorSize) {
    unsigned char locator[zip::kZip64LocatorSize];
    file.read_at(eocd_offset - zip::kZip64LocatorSize, locator, sizeof locator);
    if (get_le<std::uint32_t>(locator) == zip::kZip64LocatorSig) {
      zip64 = true;
      const auto z64_offset = get_le<std::uint64_t>(locator + 8);
      const std::uint64_t limit = eocd_offset - zip::kZip64LocatorSize;
      XGRAD_CHECK(z64_offset <= limit && zip::kZip64EndOfCentralDirSize <= limit - z64_offset,
                  "its zip64 end record is said to be at offset {}, outside the file (truncated or corrupt)", z64_offset);
      unsigned char record[zip::kZip64EndOfCentralDirSize];
      file.read_at(z64_offset, record, sizeof record);
      XGRAD_CHECK(get_le<std::uint32_t>(record) == zip::kZip64EndOfCentralDirSig,
                  "its zip64 end record at offset {} has a bad signature (corrupt)", z64_offset);
      disk = get_le<std::uint32_t>(record + 16);
      cd_disk = get_le<std::uint32_t>(record + 20);
      count_here = get_le<std::uint64_t>(record + 24);
      count = get_le<std::uint64_t>(record + 32);
      cd_size = get_le<std::uint64_t>(record + 40);
      cd_offset = get_le<std::uint64_t>(record + 48);
      records_end = z64_offset;
    }
  }
  XGRAD_CHECK(zip64 || (count != zip::kZip64Sentinel16 && cd_size != zip::kZip64Sentinel32 && cd_offset != zip::kZip64Sentinel32),
              "its end record refers to zip64 records that are missing (truncated or corrupt)");
  XGRAD_CHECK(disk == 0 && cd_disk == 0, "it is a multi-part (spanned) zip archive, which is not supported");
  XGRAD_CHECK(count_here == count, "its end record counts {} entries on this disk but {} in total (corrupt)", count_here, count);
  XGRAD_CHECK(cd_offset <= records_end && cd_size <= records_end - cd_offset,
              "its central directory ({} bytes at offset {}) does not fit before its end record at offset {} (truncated or corrupt)",
              cd_size, cd_offset, records_end);
  XGRAD_CHECK(count <= cd_size / zip::kCentralHeaderSize,
              "its end record counts {} entries but the central directory ({} bytes) has room for {}", count, cd_size,
              cd_size / zip::kCentralHeaderSize);

  std::vector<unsigned char> cd(static_cast<std::size_t>(cd_size));
  file.read_at(cd_offset, cd.data(), cd.size());
  CentralDirectory out;
  out.offset = cd_offset;
  out.entries.reserve(static_cast<std::size_t>(count));
  std::size_t pos = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    XGRAD_CHECK(pos + zip::kCentralHeaderSize <= cd.size(), "its central directory ends inside entry {} of {} (corrupt)", i + 1, count);
    const unsigned char* h = &cd[pos];
    XGRAD_CHECK(get_le<std::uint32_t>(h) == zip::kCentralHeaderSig, "entry {} of {} in its central directory has a bad signature (corrupt)",
                i + 1, count);
    const std::size_t name_len = get_le<std::uint16_t>(h + 28);
    const std::size_t extra_len = get_le<std::uint16_t>(h + 30);
    const std::size_t comment_len = get_le<std::uint16_t>(h + 32);
    XGRAD_CHECK(pos + zip::kCentralHeaderSize + name_len + extra_len + comment_len <= cd.size(),
                "entry {} of {} runs past the end of its central directory (corrupt)", i + 1, count);
    ZipEntry e;
    e.flags = get_le<std::uint16_t>(h + 8);
    e.method = get_le<std::uint16_t>(h + 10);
    e.crc32 = get_le<std::uint32_t>(h + 16);
    e.compressed_size = get_le<std::uint32_t>(h + 20);
    e.uncompressed_size = get_le<std::uint32_t>(h + 24);
    const std::uint16_t disk_start = get_le<std::uint16_t>(h + 34);
    e.local_header_offset = get_le<std::uint32_t>(h + 42);
    e.name.assign(reinterpret_cast<const char*>(h + zip::kCentralHeaderSize), name_len);
    e.problem = read_zip64_extra(h + zip::kCentralHeaderSize + name_len, extra_len,
                                 {e.uncompressed_size == zip::kZip64Sentinel32 ? &e.uncompressed_size : nullptr,
                                  e.compressed_size == zip::kZip64Sentinel32 ? &e.compressed_size : nullptr,
                                  e.local_header_offset == zip::kZip64Sentinel32 ? &e.local_header_offset : nullptr});
    if (!e.problem.empty()) {
    } else if (disk_start != 0 && disk_start != zip::kZip64Sentinel16) {
      e.problem = fmt::format("it starts on disk {} of a multi-part archive, which is not supported", disk_start);
    } else if (e.flags & zip::kFlagEncrypted) {
      e.problem = "it is encrypted, which is not supported";
    } else if (e.method != zip::kMethodStored && e.method != zip::kMethodDeflate) {
      e.problem = fmt::format("it is compressed with method {} ({}); only stored (0) and deflate (8) entries are supported", e.method,
                              zip::method_name(e.method));
    } else if (e.method == zip::kMethodStored && e.compressed_size != e.uncompressed_size) {
      e.problem = fmt::format("it is stored uncompressed but records {} bytes compressed and {} uncompressed (corrupt)", e.compressed_size,
                              e.uncompressed_size);
    } else if (e.method == zip::kMethodDeflate && e.uncompressed_size / kMaxDeflateRatio > e.compressed_size + 1) {
      e.problem = fmt::format("it claims {} bytes inflated from {} compressed, more than deflate can produce (corrupt)",
                              e.uncompressed_size, e.compressed_size);
    }
    out.entries.push_back(std::move(e));
    pos += zip::kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  mark_overlaps(out.entries);
  return out;
}

// ---- one entry's bytes

struct EntryReader::Inflater {
  z_stream stream{};
  std::vector<unsigned char> input = std::vector<unsigned char>(kInflateInput);
  bool ended = false;
  Inflater() {
    XGRAD_CHECK(inflateInit2(&stream, -MAX_WBITS) == Z_OK, "zlib's inflateInit2 failed (out of memory?)");  // raw deflate, as zip stores it
  }
  ~Inflater() { inflateEnd(&stream); }
};

EntryReader::EntryReader(const ReadOnlyFile& file, const ZipEntry& entry, std::uint64_t data_end) : file_(file), entry_(entry) {
  const std::uint64_t offset = entry.local_header_offset;
  XGRAD_CHECK(offset <= data_end && zip::kLocalHeaderSize <= data_end - offset,
              "its local header at offset {} lies outside the {} bytes before the central directory (corrupt)", offset, data_end);
  unsigned char h[zip::kLocalHeaderSize];
  file.read_at(offset, h, sizeof h);
  XGRAD_CHECK(get_le<std::uint32_t>(h) == zip::kLocalHeaderSig, "its local header at offset {} has a bad signature (corrupt)", offset);
  const std::size_t name_len = get_le<std::uint16_t>(h + 26);
  const std::size_t extra_len = get_le<std::uint16_t>(h + 28);
  XGRAD_CHECK(name_len + extra_len <= data_end - offset - zip::kLocalHeaderSize,
              "its local header runs into the central directory (corrupt)");
  std::vector<unsigned char> name_extra(name_len + extra_len);
  file.read_at(offset + zip::kLocalHeaderSize, name_extra.data(), name_extra.size());
  const std::string local_name(reinterpret_cast<const char*>(name_extra.data()), name_len);
  XGRAD_CHECK(local_name == entry.name, "its local header names it '{}' (corrupt)", local_name);
  XGRAD_CHECK(get_le<std::uint16_t>(h + 8) == entry.method,
              "its local header gives compression method {}, the central directory {} (corrupt)", get_le<std::uint16_t>(h + 8),
              entry.method);
  const std::uint16_t local_flags = get_le<std::uint16_t>(h + 6);
  if (!(local_flags & zip::kFlagDataDescriptor)) {
    // Without a trailing data descriptor the local header repeats the CRC and sizes.
    const std::uint32_t crc = get_le<std::uint32_t>(h + 14);
    std::uint64_t compressed = get_le<std::uint32_t>(h + 18);
    std::uint64_t uncompressed = get_le<std::uint32_t>(h + 22);
    const std::string problem = read_zip64_extra(name_extra.data() + name_len, extra_len,
                                                 {uncompressed == zip::kZip64Sentinel32 ? &uncompressed : nullptr,
                                                  compressed == zip::kZip64Sentinel32 ? &compressed : nullptr, nullptr});
    XGRAD_CHECK(problem.empty(), "local header: {}", problem);
    XGRAD_CHECK(
        crc == entry.crc32 && compressed == entry.compressed_size && uncompressed == entry.uncompressed_size,
        "its local header (CRC-32 0x{:08x}, {} bytes compressed, {} uncompressed) disagrees with the central directory (0x{:08x}, {}, {}) "
        "(corrupt)",
        crc, compressed, uncompressed, entry.crc32, entry.compressed_size, entry.uncompressed_size);
  }
  data_offset_ = offset + zip::kLocalHeaderSize + name_len + extra_len;
  XGRAD_CHECK(entry.compressed_size <= data_end - data_offset_,
              "its {} bytes of data at offset {} run past the start of the central directory at {} (truncated or corrupt)",
              entry.compressed_size, data_offset_, data_end);
  crc_ = crc32(0L, Z_NULL, 0);
  if (entry.method == zip::kMethodDeflate) inflater_ = std::make_unique<Inflater>();
}

EntryReader::~EntryReader() = default;

void EntryReader::read(void* dst, std::size_t n) {
  XGRAD_CHECK(n <= remaining(), "EntryReader::read: {} bytes asked, {} left", n, remaining());
  auto* out = static_cast<unsigned char*>(dst);
  try {
    for (std::size_t done = 0; done < n;) {
      const std::size_t k = std::min(kReadPiece, n - done);
      if (inflater_)
        inflate_into(out + done, k);
      else
        file_.read_at(data_offset_ + produced_, out + done, k);
      crc_ = crc32(crc_, out + done, static_cast<uInt>(k));
      produced_ += k;
      done += k;
    }
  } catch (...) {
    broken_ = true;
    throw;
  }
}

void EntryReader::refill_input() {
  z_stream& z = inflater_->stream;
  if (z.avail_in > 0 || consumed_ == entry_.compressed_size) return;
  const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(inflater_->input.size(), entry_.compressed_size - consumed_));
  file_.read_at(data_offset_ + consumed_, inflater_->input.data(), k);
  consumed_ += k;
  z.next_in = inflater_->input.data();
  z.avail_in = static_cast<uInt>(k);
}

void EntryReader::inflate_into(unsigned char* dst, std::size_t n) {
  z_stream& z = inflater_->stream;
  z.next_out = dst;
  z.avail_out = static_cast<uInt>(n);
  while (z.avail_out > 0) {
    XGRAD_CHECK(!inflater_->ended, "its deflate data ends after {} bytes, but the entry claims {}", produced_ + (n - z.avail_out),
                entry_.uncompressed_size);
    refill_input();
    const int rc = ::inflate(&z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      inflater_->ended = true;
      continue;
    }
    XGRAD_CHECK(rc != Z_BUF_ERROR, "its deflate data is truncated: it ends after {} of {} bytes", produced_ + (n - z.avail_out),
                entry_.uncompressed_size);
    XGRAD_CHECK(rc == Z_OK, "its deflate data is corrupt ({})", z.msg != nullptr ? z.msg : zError(rc));
  }
}

void EntryReader::finish() {
  XGRAD_CHECK(remaining() == 0, "EntryReader::finish: {} bytes left unread", remaining());
  try {
    check_end();
  } catch (...) {
    broken_ = true;
    throw;
  }
}

void EntryReader::check_end() {
  if (inflater_ && !inflater_->ended) {
    // The stream must end exactly here: one more byte would mean the sizes are wrong.
    unsigned char extra = 0;
    z_stream& z = inflater_->stream;
    while (!inflater_->ended) {
      z.next_out = &extra;
      z.avail_out = 1;
      refill_input();
      const int rc = ::inflate(&z, Z_NO_FLUSH);
      XGRAD_CHECK(z.avail_out == 1, "its deflate data holds more than the {} bytes the entry claims (corrupt)", entry_.uncompressed_size);
      if (rc == Z_STREAM_END) break;
      XGRAD_CHECK(rc != Z_BUF_ERROR, "its deflate data is truncated: the stream does not end after {} bytes", entry_.uncompressed_size);
      XGRAD_CHECK(rc == Z_OK, "its deflate data is corrupt ({})", z.msg != nullptr ? z.msg : zError(rc));
    }
    inflater_->ended = true;
  }
  XGRAD_CHECK(crc_ == entry_.crc32, "CRC-32 mismatch: the archive records 0x{:08x}, the data gives 0x{:08x} (corrupted)", entry_.crc32,
              static_cast<std::uint32_t>(crc_));
}

std::string EntryReader::damage() noexcept {
  try {
    std::vector<unsigned char> scratch(static_cast<std::size_t>(std::min<std::uint64_t>(remaining(), kReadPiece)));
    while (remaining() > 0) read(scratch.data(), static_cast<std::size_t>(std::min<std::uint64_t>(remaining(), scratch.size())));
    finish();
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace xgrad::io
