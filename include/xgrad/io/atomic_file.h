#pragma once
// AtomicFile: writes a file so that readers see either the old content or the complete new one,
// never a mix or a truncated file, whatever happens mid-write (an exception, a full disk, a crash).
//
// The bytes go to a temporary file in the target's folder: an unnamed O_TMPFILE file where the
// file system supports it (a crash leaves nothing behind), otherwise a hidden
// `.<target>.xgrad-tmp-<pid>-<n>` that a later AtomicFile in that folder removes once its process
// is gone. commit() flushes it to disk (fsync), renames it over the target and fsyncs the folder,
// so after commit() returns the new file survives a power loss. Destroying an AtomicFile without
// commit() discards the temporary and leaves the target as it was.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace xgrad::io {

class AtomicFile {
 public:
  // Opens the temporary; raises xgrad::Error naming the target when the folder is missing or
  // not writable. `who` names the caller in error messages ("save", ...).
  explicit AtomicFile(std::filesystem::path target, std::string who = "AtomicFile");
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends; raises on a write error (disk full, file too large, I/O error).
  void write(const void* data, std::size_t size);
  // Overwrites bytes already written (a header whose checksum is known only afterwards).
  void write_at(std::uint64_t offset, const void* data, std::size_t size);
  std::uint64_t size() const { return size_; }  // bytes appended so far

  // fsync, rename over the target, fsync the folder. Raises (the target unchanged) on failure.
  void commit();

  const std::filesystem::path& target() const { return target_; }
  // True when the temporary is an unnamed O_TMPFILE file (nothing to clean up after a crash).
  bool unnamed() const { return unnamed_; }

 private:
  void discard() noexcept;

  std::filesystem::path target_;
  std::string who_;
  std::string temp_name_;  // the named temporary, or the name the unnamed one is linked under
  int dir_fd_ = -1;
  int fd_ = -1;
  bool unnamed_ = false;
  bool named_on_disk_ = false;  // temp_name_ exists in the folder and must go if not committed
  bool committed_ = false;
  std::uint64_t size_ = 0;
};

}  // namespace xgrad::io
