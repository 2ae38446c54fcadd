// AtomicFile: temporary in the target's folder, fsync, rename, fsync the folder (see the header).
#include "xgrad/io/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <system_error>

#include "atomic_file_testing.h"
#include "xgrad/error.h"

namespace xgrad::io {

namespace {

std::atomic<bool> g_force_named{false};
std::atomic<std::uint64_t> g_temp_counter{0};

constexpr std::string_view kTempMarker = ".xgrad-tmp-";
// Temporary names keep at most this much of the target's name (NAME_MAX is 255 bytes).
constexpr std::size_t kMaxNameInTemp = 200;
// One write() moves at most this much (Linux caps a single write near 2 GiB).
constexpr std::size_t kMaxWriteChunk = std::size_t{1} << 30;

std::string error_text(int err) { return std::generic_category().message(err); }

// The pid in a temporary's name `.<target>.xgrad-tmp-<pid>-<n>`, or 0 if the name is not one.
pid_t temp_owner(std::string_view name) {
  if (name.empty() || name[0] != '.') return 0;
  const std::size_t marker = name.rfind(kTempMarker);
  if (marker == std::string_view::npos) return 0;
  const std::string_view rest = name.substr(marker + kTempMarker.size());
  const std::size_t dash = rest.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == rest.size()) return 0;
  const auto all_digits = [](std::string_view s) { return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }); };
  if (!all_digits(rest.substr(0, dash)) || !all_digits(rest.substr(dash + 1))) return 0;
  pid_t pid = 0;
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + dash, pid);
  return ec == std::errc() && pid > 0 ? pid : 0;
}

// Named temporaries left by saves whose process no longer runs (killed, or a crash between
// linking and renaming). Another live process's temporaries, and ours, stay.
void remove_stale_temporaries(int dir_fd) {
  const int scan_fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (scan_fd < 0) return;
  DIR* dir = ::fdopendir(scan_fd);
  if (dir == nullptr) {
    ::close(scan_fd);
    return;
  }
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(dir)) {
    const pid_t owner = temp_owner(entry->d_name);
    if (owner == 0 || owner == self) continue;
    if (::kill(owner, 0) == -1 && errno == ESRCH) ::unlinkat(dir_fd, entry->d_name, 0);
  }
  ::closedir(dir);
}

// linkat() names an O_TMPFILE file through /proc/self/fd; without /proc it cannot.
bool proc_fd_available() {
  static const bool available = ::access("/proc/self/fd", X_OK) == 0;
  return available;
}

}  // namespace

namespace testing {
void force_named_temporaries(bool on) { g_force_named = on; }
}  // namespace testing

AtomicFile::AtomicFile(std::filesystem::path target, std::string who) : target_(std::move(target)), who_(std::move(who)) {
  XGRAD_CHECK(target_.has_filename(), "{}: '{}' names no file", who_, target_.string());
  const std::filesystem::path folder = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
  const std::string file_name = target_.filename().string();
  dir_fd_ = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    const int err = errno;
    XGRAD_CHECK(false, "{}: cannot write '{}': folder '{}' {}", who_, target_.string(), folder.string(),
                err == ENOENT    ? "does not exist"
                : err == ENOTDIR ? "is not a folder"
                                 : "cannot be opened: " + error_text(err));
  }
  try {
    struct stat existing {};
    const bool target_exists = ::fstatat(dir_fd_, file_name.c_str(), &existing, 0) == 0;
    XGRAD_CHECK(!(target_exists && S_ISDIR(existing.st_mode)), "{}: cannot write '{}': it is a folder", who_, target_.string());
    remove_stale_temporaries(dir_fd_);

    temp_name_ = fmt::format(".{}{}{}-{}", file_name.substr(0, kMaxNameInTemp), kTempMarker, ::getpid(), g_temp_counter++);
    if (!g_force_named && proc_fd_available()) {
      fd_ = ::openat(dir_fd_, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
      const int err = errno;
      // These mean "this file system has no O_TMPFILE"; anything else (no permission, read-only,
      // full) would fail for a named temporary too.
      XGRAD_CHECK(fd_ >= 0 || err == EOPNOTSUPP || err == EISDIR || err == EINVAL,
                  "{}: cannot write '{}': cannot create a file in folder '{}': {}", who_, target_.string(), folder.string(),
                  error_text(err));
      unnamed_ = fd_ >= 0;
    }
    if (!unnamed_) {
      fd_ = ::openat(dir_fd_, temp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno == EEXIST) {
        // Left by an earlier process that had our pid: ours now, and stale.
        ::unlinkat(dir_fd_, temp_name_.c_str(), 0);
        fd_ = ::openat(dir_fd_, temp_name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      }
      const int err = errno;
      XGRAD_CHECK(fd_ >= 0, "{}: cannot write '{}': cannot create a file in folder '{}': {}", who_, target_.string(), folder.string(),
                  error_text(err));
      named_on_disk_ = true;
    }
    // Replacing a file keeps its permissions (a checkpoint made private stays private).
    if (target_exists && S_ISREG(existing.st_mode)) (void)::fchmod(fd_, existing.st_mode & 07777);
  } catch (...) {
    discard();
    throw;
  }
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (named_on_disk_ && !committed_) ::unlinkat(dir_fd_, temp_name_.c_str(), 0);
  named_on_disk_ = false;
  if (dir_fd_ >= 0) ::close(dir_fd_);
  dir_fd_ = -1;
}

void AtomicFile::write(const void* data, std::size_t size) {
  XGRAD_CHECK(fd_ >= 0, "{}: '{}' was already committed or discarded", who_, target_.string());
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, std::min(size, kMaxWriteChunk));
    if (n < 0 && errno == EINTR) continue;
    const int err = errno;
    XGRAD_CHECK(n > 0, "{}: writing '{}' failed after {} bytes: {} (the previous file is unchanged)", who_, target_.string(), size_,
                n == 0 ? "the file system accepted no bytes" : error_text(err));
    p += n;
    size -= static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
}

void AtomicFile::write_at(std::uint64_t offset, const void* data, std::size_t size) {
  XGRAD_CHECK(fd_ >= 0, "{}: '{}' was already committed or discarded", who_, target_.string());
  XGRAD_CHECK(offset <= size_ && size <= size_ - offset, "{}: write_at({}, {} bytes) past the {} bytes written to '{}'", who_, offset, size,
              size_, target_.string());
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd_, p, std::min(size, kMaxWriteChunk), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    const int err = errno;
    XGRAD_CHECK(n > 0, "{}: writing '{}' failed: {} (the previous file is unchanged)", who_, target_.string(),
                n == 0 ? "the file system accepted no bytes" : error_text(err));
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
}

void AtomicFile::commit() {
  XGRAD_CHECK(fd_ >= 0, "{}: '{}' was already committed or discarded", who_, target_.string());
  const std::string file_name = target_.filename().string();
  if (::fsync(fd_) != 0) {
    const int err = errno;
    XGRAD_CHECK(false, "{}: flushing '{}' to disk failed: {} (the previous file is unchanged)", who_, target_.string(), error_text(err));
  }
  if (unnamed_) {
    // Give the unnamed file a name (rename cannot replace the target with an unnamed file).
    const std::string proc_path = fmt::format("/proc/self/fd/{}", fd_);
    int rc = ::linkat(AT_FDCWD, proc_path.c_str(), dir_fd_, temp_name_.c_str(), AT_SYMLINK_FOLLOW);
    if (rc != 0 && errno == EEXIST) {
      ::unlinkat(dir_fd_, temp_name_.c_str(), 0);  // stale, from an earlier process with our pid
      rc = ::linkat(AT_FDCWD, proc_path.c_str(), dir_fd_, temp_name_.c_str(), AT_SYMLINK_FOLLOW);
    }
    const int err = errno;
    XGRAD_CHECK(rc == 0, "{}: linking the new '{}' into its folder failed: {} (the previous file is unchanged)", who_, target_.string(),
                error_text(err));
    named_on_disk_ = true;
  }
  if (::renameat(dir_fd_, temp_name_.c_str(), dir_fd_, file_name.c_str()) != 0) {
    const int err = errno;
    XGRAD_CHECK(false, "{}: renaming the new file over '{}' failed: {} (the previous file is unchanged)", who_, target_.string(),
                error_text(err));
  }
  committed_ = true;
  named_on_disk_ = false;
  ::close(fd_);
  fd_ = -1;
  // The rename is durable once the folder is: some file systems cannot fsync a folder (EINVAL).
  const int rc = ::fsync(dir_fd_);
  const int err = errno;
  ::close(dir_fd_);
  dir_fd_ = -1;
  XGRAD_CHECK(rc == 0 || err == EINVAL || err == EROFS, "{}: '{}' was replaced, but flushing its folder to disk failed: {}", who_,
              target_.string(), error_text(err));
}

}  // namespace xgrad::io
