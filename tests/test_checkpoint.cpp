// Checkpoints (io/): .npz round trips of every dtype and shape, agreement with NumPy both ways
// (when the system python has numpy), every kind of damaged or fake file raising a message that
// names the file, the entry and the problem, and saves that fail or are killed midway leaving the
// previous checkpoint intact and no temporary file behind.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <xgrad/checkpoint.h>
#include <xgrad/xgrad.h>

#include "io/atomic_file_testing.h"
#include "io/little_endian.h"
#include "io/npy_format.h"
#include "io/npz_internal.h"
#include "io/zip_writer.h"
#include "test_util.h"

using namespace xgrad;
namespace fs = std::filesystem;

namespace {

using test::error_of;

using test::contains;
using test::TempFolder;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Same names in the same order, same dtypes and shapes, bit-identical values.
void check_identical(const StateDict& got, const StateDict& want) {
  REQUIRE(got.keys() == want.keys());
  for (const auto& e : want) {
    INFO("entry ", e.name);
    const Tensor& g = got.at(e.name);
    REQUIRE(g.dtype() == e.value.dtype());
    REQUIRE(g.shape() == e.value.shape());
    const std::size_t bytes = static_cast<std::size_t>(e.value.numel()) * dtype_size(e.value.dtype());
    const void* a = g.dtype() == float32   ? static_cast<const void*>(g.data<float>())
                    : g.dtype() == float64 ? static_cast<const void*>(g.data<double>())
                                           : static_cast<const void*>(g.data<std::int64_t>());
    const void* b = g.dtype() == float32   ? static_cast<const void*>(e.value.data<float>())
                    : g.dtype() == float64 ? static_cast<const void*>(e.value.data<double>())
                                           : static_cast<const void*>(e.value.data<std::int64_t>());
    CHECK((bytes == 0 || std::memcmp(a, b, bytes) == 0));
  }
}

// A small state of every dtype: the file the damage tests start from.
StateDict small_state() {
  StateDict s;
  s.insert("a", tensor(std::vector<float>{1.5f, -2.0f, 3.25f}, {3}));
  s.insert("b", tensor(std::vector<std::int64_t>{42}, {}));
  s.insert("c", tensor(std::vector<double>{0.1, 0.2}, {2, 1}, {.dtype = float64}));
  return s;
}

// The .npy bytes of a header dict as NumPy pads it (format major.0), followed by data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t unpadded = 8 + length_size + dict.size() + 1;
  const std::size_t header = dict.size() + 1 + (64 - unpadded % 64) % 64;
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  for (std::size_t i = 0; i < length_size; ++i) out.push_back(static_cast<char>((header >> (8 * i)) & 0xFF));
  out += dict;
  out.append(header - dict.size() - 1, ' ');
  out += '\n';
  return out + data;
}

// A zip of stored entries with arbitrary names and bytes (duplicates allowed).
void write_zip(const fs::path& p, const std::vector<std::pair<std::string, std::string>>& entries) {
  io::AtomicFile file(p);
  io::ZipWriter zip(file);
  for (const auto& [name, bytes] : entries) zip.add_stored(name, {{bytes.data(), bytes.size()}});
  zip.finish();
  file.commit();
}

// ---- python with numpy, for the cross-checks

const std::string& numpy_python() {
  static const std::string found = [] {
    for (const char* python : {"python3", "/usr/bin/python3"})
      if (std::system(fmt::format("{} -c 'import numpy' > /dev/null 2>&1", python).c_str()) == 0) return std::string(python);
    return std::string();
  }();
  return found;
}

// Runs a python script (given `path` as its first argument); returns its output, and whether
// it succeeded in `ok`.
std::string run_python(const TempFolder& dir, const std::string& script, const fs::path& path, bool& ok) {
  const fs::path script_path = dir / "check.py";
  const fs::path output_path = dir / "python-output.txt";
  write_bytes(script_path, script);
  const std::string command =
      fmt::format("{} -B '{}' '{}' > '{}' 2>&1", numpy_python(), script_path.string(), path.string(), output_path.string());
  ok = std::system(command.c_str()) == 0;
  const std::string output = read_bytes(output_path);
  fs::remove(script_path);
  fs::remove(output_path);
  return output;
}

#define SKIP_WITHOUT_NUMPY()                                                                                           \
  if (numpy_python().empty()) {                                                                                        \
    MESSAGE("skipped: neither python3 nor /usr/bin/python3 can import numpy (Debian: apt-get install python3-numpy)"); \
    return;                                                                                                            \
  }

// ---- child processes

struct ChildOutcome {
  int exit_code = -1;  // -1 when killed by a signal
  std::string text;    // what the body returned, or the message of what it threw
};
constexpr int kCannotDropPrivileges = 77;

// Runs body in a forked child (as user nobody when drop_privileges), so that process limits,
// permissions and test hooks stay out of this process. The child raises no doctest checks.
ChildOutcome in_child(const std::function<std::string()>& body, bool drop_privileges = false) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    int code = 0;
    std::string text;
    if (drop_privileges && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      code = kCannotDropPrivileges;
      text = fmt::format("cannot switch to user nobody: {}", std::strerror(errno));
    } else {
      try {
        text = body();
      } catch (const Error& e) {
        code = 1;
        text = e.what();
      } catch (const std::exception& e) {
        code = 2;
        text = std::string("not an xgrad::Error: ") + e.what();
      }
    }
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildOutcome out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) out.text.append(buffer, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Runs body where file permissions apply: here when not root, otherwise in a child switched to
// user nobody. Returns false (and says why) when neither is possible.
bool where_permissions_apply(const std::function<std::string()>& body, ChildOutcome& out) {
  if (::geteuid() != 0) {
    try {
      out.text = body();
      out.exit_code = 0;
    } catch (const Error& e) {
      out.text = e.what();
      out.exit_code = 1;
    }
    return true;
  }
  out = in_child(body, /*drop_privileges=*/true);
  if (out.exit_code == kCannotDropPrivileges) {
    MESSAGE("skipped: running as root, which ignores file permissions, and ", out.text);
    return false;
  }
  return true;
}

// Bytes this process has passed to write() so far (Linux's /proc/<pid>/io), or -1.
long long bytes_written_by(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/io", pid));
  std::string key;
  long long value = 0;
  while (in >> key >> value)
    if (key == "wchar:") return value;
  return -1;
}

std::vector<std::string> temporaries_in(const TempFolder& dir) {
  std::vector<std::string> out;
  for (const auto& name : dir.listing())
    if (contains(name, ".xgrad-tmp-")) out.push_back(name);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST_CASE("checkpoint: round trip keeps every dtype, shape (0-d, empty, rank 7, large), name and bit") {
  TempFolder dir("checkpoint");
  StateDict s;
  const float inf = std::numeric_limits<float>::infinity();
  s.insert("layer.0.weight", tensor(std::vector<float>{1.5f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
                                                       std::numeric_limits<float>::denorm_min()},
                                    {2, 3}));
  s.insert("layer.0.bias", tensor(std::vector<double>{std::numeric_limits<double>::max(), -1e-300, 1.0 / 3.0}, {3}, {.dtype = float64}));
  s.insert("step", tensor(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()}, {}));
  s.insert("counts", tensor(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max(), -1, 0, 1}, {4}));
  s.insert("lr", scalar_tensor(0.001, {.dtype = float64}));
  s.insert("empty", zeros({0}));
  s.insert("empty_3d", zeros({3, 0, 2}, {.dtype = int64}));
  s.insert("rank7", arange(2 * 1 * 3 * 1 * 2 * 1 * 2, {.dtype = float64}).reshape({2, 1, 3, 1, 2, 1, 2}));
  s.insert("large", tensor(test::randn_floats((std::size_t{1} << 22) + 3, 7), {(1 << 22) + 3}));
  s.insert("unicode.Gewicht.größe", ones({2}));
  const fs::path path = dir / "ckpt.npz";
  save(s, path);
  check_identical(load(path), s);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.npz"});

  // Saving again replaces the file and keeps its permissions; the same state gives the same bytes.
  const std::string first = read_bytes(path);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  save(s, path);
  CHECK(read_bytes(path) == first);
  CHECK(fs::status(path).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  StateDict other;
  other.insert("x", ones({1}));
  save(other, path);
  check_identical(load(path), other);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.npz"});

  // An empty state is an empty archive.
  save(StateDict{}, dir / "nothing.npz");
  CHECK(load(dir / "nothing.npz").empty());
  CHECK(fs::file_size(dir / "nothing.npz") == 22);  // the end record alone
}

TEST_CASE("checkpoint: npy headers are NumPy's bytes, padded so data starts at a multiple of 64") {
  // numpy.save(f, np.zeros((2, 3), np.float32)) writes this 128-byte header (NumPy 1.24).
  const std::string header = io::npy::format_header(float32, {2, 3});
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  REQUIRE(header.size() == 128);
  CHECK(header.substr(0, 10) == std::string("\x93NUMPY\x01\x00\x76\x00", 10));  // length 118
  CHECK(header.substr(10, dict.size()) == dict);
  CHECK(header.find_first_not_of(' ', 10 + dict.size()) == 127);
  CHECK(header.back() == '\n');
  // 0-d and 1-d spell their tuples as Python does; a long shape grows the header by 64s.
  CHECK(contains(io::npy::format_header(float64, {}), "'descr': '<f8', 'fortran_order': False, 'shape': (), }"));
  CHECK(contains(io::npy::format_header(int64, {5}), "'descr': '<i8', 'fortran_order': False, 'shape': (5,), }"));
  const std::string long_header = io::npy::format_header(float32, Shape(std::vector<std::int64_t>(12, 1234567)));
  CHECK(long_header.size() % 64 == 0);
  CHECK(long_header.size() > 128);
  // And the parser reads what NumPy writes, in any key order and with either quote.
  const auto h = io::npy::parse_header_dict("{\"shape\": (3, 0, 2), 'fortran_order': True, 'descr': '<i8'}  \n");
  CHECK(h.descr == "<i8");
  CHECK(h.fortran_order);
  CHECK(h.shape == std::vector<std::int64_t>{3, 0, 2});
}

TEST_CASE("checkpoint: zip64 records (forced on a small archive, and from 65535 entries) read back") {
  TempFolder dir("checkpoint");
  const StateDict s = small_state();
  io::save_npz(s, dir / "zip64.npz", {.zip64_from_size = 0, .zip64_from_count = 0});
  const std::string bytes = read_bytes(dir / "zip64.npz");
  CHECK(contains(bytes, std::string("PK\x06\x06", 4)));  // zip64 end record
  CHECK(contains(bytes, std::string("PK\x06\x07", 4)));  // its locator
  check_identical(load(dir / "zip64.npz"), s);

  // More entries than the classic end record can count.
  StateDict many;
  for (std::int64_t i = 0; i < 70000; ++i) many.insert(fmt::format("e{}", i), tensor(std::vector<std::int64_t>{i}, {}));
  save(many, dir / "many.npz");
  const std::string many_bytes = read_bytes(dir / "many.npz");
  CHECK(contains(many_bytes.substr(many_bytes.size() - 200), std::string("PK\x06\x06", 4)));
  const StateDict back = load(dir / "many.npz");
  REQUIRE(back.size() == 70000);
  CHECK(back.keys().back() == "e69999");
  CHECK(back.at("e69999").item<std::int64_t>() == 69999);
  CHECK(back.at("e12345").item<std::int64_t>() == 12345);

  // A small archive has no zip64 records at all.
  save(s, dir / "plain.npz");
  CHECK_FALSE(contains(read_bytes(dir / "plain.npz"), std::string("PK\x06\x06", 4)));
}

TEST_CASE("checkpoint: narrow integers widen to int64, bools load as bool, Fortran order is transposed, npy 2.0 reads") {
  TempFolder dir("checkpoint");
  const auto dict = [](const std::string& descr, const std::string& shape, bool fortran = false) {
    return fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}", descr, fortran ? "True" : "False", shape);
  };
  const std::string raw_b1("\x01\x00\x02", 3);
  write_zip(dir / "narrow.npz",
            {{"i4.npy", npy_bytes(dict("<i4", "(2,)"), bytes_of(std::vector<std::int32_t>{INT32_MIN, INT32_MAX}))},
             {"i2.npy", npy_bytes(dict("<i2", "(2,)"), bytes_of(std::vector<std::int16_t>{-32768, 5}))},
             {"i1.npy", npy_bytes(dict("|i1", "(2,)"), bytes_of(std::vector<std::int8_t>{-128, 127}))},
             {"u1.npy", npy_bytes(dict("|u1", "(2,)"), bytes_of(std::vector<std::uint8_t>{255, 0}))},
             {"b1.npy", npy_bytes(dict("|b1", "(3,)"), raw_b1)},
             // [[0, 1, 2], [3, 4, 5]] stored column by column.
             {"fortran.npy", npy_bytes(dict("<f8", "(2, 3)", true), bytes_of(std::vector<double>{0, 3, 1, 4, 2, 5}))},
             {"fortran_i2.npy", npy_bytes(dict("<i2", "(2, 3)", true), bytes_of(std::vector<std::int16_t>{0, 3, 1, 4, 2, 5}))},
             {"fortran_1d.npy", npy_bytes(dict("<f4", "(3,)", true), bytes_of(std::vector<float>{7, 8, 9}))},
             {"v2.npy", npy_bytes(dict("<f4", "(2,)"), bytes_of(std::vector<float>{0.5f, -0.5f}), 2)}});
  const StateDict s = load(dir / "narrow.npz");
  for (const char* name : {"i4", "i2", "i1", "u1", "fortran_i2"}) CHECK(s.at(name).dtype() == int64);
  CHECK(s.at("b1").dtype() == Dtype::boolean);  // the stray byte 2 reads as true, stored as 1
  CHECK(s.at("i4").to_vector<std::int64_t>() == std::vector<std::int64_t>{INT32_MIN, INT32_MAX});
  CHECK(s.at("i2").to_vector<std::int64_t>() == std::vector<std::int64_t>{-32768, 5});
  CHECK(s.at("i1").to_vector<std::int64_t>() == std::vector<std::int64_t>{-128, 127});
  CHECK(s.at("u1").to_vector<std::int64_t>() == std::vector<std::int64_t>{255, 0});
  CHECK(s.at("b1").to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
  CHECK(s.at("fortran").shape() == Shape{2, 3});
  CHECK(s.at("fortran").to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(s.at("fortran_i2").to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(s.at("fortran_1d").to_vector<float>() == std::vector<float>{7, 8, 9});
  CHECK(s.at("v2").to_vector<float>() == std::vector<float>{0.5f, -0.5f});
}

TEST_CASE("checkpoint: numpy.load reads our files: names, dtypes, shapes, values, and numpy.save's exact bytes") {
  SKIP_WITHOUT_NUMPY();
  TempFolder dir("checkpoint");
  StateDict s;
  s.insert("w", tensor(std::vector<float>{-3, -2.75f, -2.5f, -2.25f, -2, -1.75f}, {2, 3}));
  std::vector<double> sevenths(5);
  for (int i = 0; i < 5; ++i) sevenths[static_cast<std::size_t>(i)] = i / 7.0;
  s.insert("b", tensor(sevenths, {5}, {.dtype = float64}));
  s.insert("steps", tensor(std::vector<std::int64_t>{123456789012345}, {}));
  s.insert("empty", zeros({0, 4}));
  std::vector<std::int64_t> big(3000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::int64_t>(i * 37 % 101) - 50;
  s.insert("big", tensor(big, {1000, 3}));
  s.insert("layer.0.weight", arange(8, {.dtype = float64}).reshape({2, 2, 2}));
  s.insert("special", tensor(std::vector<float>{std::nanf(""), INFINITY, -INFINITY, -0.0f}, {4}));
  s.insert("mask", tensor({-1.0, 2.0, 0.0, 3.0}) > 0.0);
  const std::string script = R"(
import io, sys, zipfile
import numpy as np
path = sys.argv[1]
z = np.load(path)
assert z.files == ['w', 'b', 'steps', 'empty', 'big', 'layer.0.weight', 'special', 'mask'], z.files
def check(name, dtype, shape, expected):
    a = z[name]
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert a.shape == shape, (name, a.shape)
    assert np.array_equal(a, expected, equal_nan=True), (name, a)
check('w', '<f4', (2, 3), (np.arange(6, dtype=np.float32) * 0.25 - 3).reshape(2, 3))
check('b', '<f8', (5,), np.arange(5) / 7.0)
check('steps', '<i8', (), 123456789012345)
check('empty', '<f4', (0, 4), np.zeros((0, 4)))
check('big', '<i8', (1000, 3), ((np.arange(3000) * 37) % 101 - 50).reshape(1000, 3))
check('layer.0.weight', '<f8', (2, 2, 2), np.arange(8.0).reshape(2, 2, 2))
check('special', '<f4', (4,), np.array([np.nan, np.inf, -np.inf, -0.0], dtype=np.float32))
assert np.signbit(z['special'][3])
check('mask', '|b1', (4,), np.array([False, True, False, True]))
with zipfile.ZipFile(path) as zf:
    assert zf.testzip() is None
    for info in zf.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        b = io.BytesIO()
        np.save(b, z[info.filename[:-4]])
        assert zf.read(info) == b.getvalue(), info.filename
print('ok')
)";
  save(s, dir / "ours.npz");
  bool ok = false;
  std::string output = run_python(dir, script, dir / "ours.npz", ok);
  CHECK_MESSAGE(ok, output);

  // The same with every size and offset in zip64 records, and with 70000 entries.
  io::save_npz(s, dir / "ours64.npz", {.zip64_from_size = 0, .zip64_from_count = 0});
  output = run_python(dir, script, dir / "ours64.npz", ok);
  CHECK_MESSAGE(ok, output);
  StateDict many;
  for (std::int64_t i = 0; i < 70000; ++i) many.insert(fmt::format("e{}", i), tensor(std::vector<std::int64_t>{i}, {}));
  save(many, dir / "many.npz");
  output = run_python(dir, R"(
import sys
import numpy as np
z = np.load(sys.argv[1])
assert len(z.files) == 70000 and z.files[-1] == 'e69999', len(z.files)
assert z['e0'] == 0 and z['e69999'] == 69999 and z['e31415'] == 31415
print('ok')
)",
                      dir / "many.npz", ok);
  CHECK_MESSAGE(ok, output);
}

TEST_CASE("checkpoint: files from numpy.savez and numpy.savez_compressed load with identical values") {
  SKIP_WITHOUT_NUMPY();
  TempFolder dir("checkpoint");
  bool ok = false;
  const std::string output = run_python(dir, R"(
import os, sys
import numpy as np
d = dict(
    f4=(np.arange(6, dtype=np.float32) * 0.25 - 3).reshape(2, 3),
    f8=np.arange(5) / 7.0,
    i8=(np.arange(4, dtype=np.int64) - 2) * 3000000000000,
    i4=np.array([-2147483648, -1, 0, 2147483647], dtype='<i4'),
    i2=np.array([-32768, 7, 32767], dtype='<i2'),
    i1=np.array([-128, 0, 127], dtype='i1'),
    u1=np.array([0, 200, 255], dtype='u1'),
    b1=np.array([True, False, True]),
    fortran=np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)),
    scalar=np.array(2.5),
    empty=np.zeros((0, 3), dtype=np.float32),
    big=((np.arange(300000) * 37) % 101 / 8.0).reshape(600, 500),
)
assert d['fortran'].flags.f_contiguous and not d['fortran'].flags.c_contiguous
folder = os.path.dirname(sys.argv[1])
np.savez(os.path.join(folder, 'plain.npz'), **d)
np.savez_compressed(os.path.join(folder, 'compressed.npz'), **d)
print('ok')
)",
                                        dir / "unused", ok);
  REQUIRE_MESSAGE(ok, output);
  for (const char* file : {"plain.npz", "compressed.npz"}) {
    INFO(std::string(file));
    const StateDict s = load(dir / file);
    CHECK(s.keys() == std::vector<std::string>{"f4", "f8", "i8", "i4", "i2", "i1", "u1", "b1", "fortran", "scalar", "empty", "big"});
    CHECK(s.at("f4").dtype() == float32);
    CHECK(s.at("f4").shape() == Shape{2, 3});
    CHECK(s.at("f4").to_vector<float>() == std::vector<float>{-3, -2.75f, -2.5f, -2.25f, -2, -1.75f});
    std::vector<double> sevenths(5);
    for (int i = 0; i < 5; ++i) sevenths[static_cast<std::size_t>(i)] = i / 7.0;
    CHECK(s.at("f8").to_vector<double>() == sevenths);
    CHECK(s.at("i8").to_vector<std::int64_t>() == std::vector<std::int64_t>{-6000000000000, -3000000000000, 0, 3000000000000});
    CHECK(s.at("i4").to_vector<std::int64_t>() == std::vector<std::int64_t>{INT32_MIN, -1, 0, INT32_MAX});
    CHECK(s.at("i2").to_vector<std::int64_t>() == std::vector<std::int64_t>{-32768, 7, 32767});
    CHECK(s.at("i1").to_vector<std::int64_t>() == std::vector<std::int64_t>{-128, 0, 127});
    CHECK(s.at("u1").to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 200, 255});
    CHECK(s.at("b1").dtype() == Dtype::boolean);
    CHECK(s.at("b1").to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
    CHECK(s.at("fortran").shape() == Shape{2, 3, 4});
    std::vector<double> counting(24);
    for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<double>(i);
    CHECK(s.at("fortran").to_vector<double>() == counting);
    CHECK(s.at("scalar").dim() == 0);
    CHECK(s.at("scalar").item<double>() == 2.5);
    CHECK(s.at("empty").shape() == Shape{0, 3});
    const Tensor big = s.at("big");
    REQUIRE(big.shape() == Shape{600, 500});
    const double* b = big.data<double>();
    bool all_equal = true;
    for (std::size_t i = 0; i < 300000; ++i) all_equal = all_equal && b[i] == static_cast<double>(i * 37 % 101) / 8.0;
    CHECK(all_equal);
  }
  CHECK(fs::file_size(dir / "compressed.npz") < fs::file_size(dir / "plain.npz") / 4);
}

TEST_CASE("checkpoint: numpy files with big-endian, complex or bzip2-compressed arrays are refused, each named") {
  SKIP_WITHOUT_NUMPY();
  TempFolder dir("checkpoint");
  bool ok = false;
  const std::string output = run_python(dir, R"(
import io, os, sys, zipfile
import numpy as np
folder = os.path.dirname(sys.argv[1])
np.savez(os.path.join(folder, 'odd.npz'), big_endian=np.arange(3, dtype='>f4'), complex=np.zeros(2, dtype=np.complex64),
         text=np.array(['a', 'bc']), fine=np.ones(2))
b = io.BytesIO()
np.save(b, np.ones(3))
with zipfile.ZipFile(os.path.join(folder, 'bzip2.npz'), 'w', compression=zipfile.ZIP_BZIP2) as zf:
    zf.writestr('x.npy', b.getvalue())
print('ok')
)",
                                        dir / "unused", ok);
  REQUIRE_MESSAGE(ok, output);
  const std::string odd = error_of([&] { load(dir / "odd.npz"); });
  CHECK(contains(odd, (dir / "odd.npz").string()));
  CHECK(contains(odd, "(3 problems)"));
  CHECK(contains(odd, "entry 'big_endian.npy': dtype '>f4' is big-endian"));
  CHECK(contains(odd, "entry 'complex.npy': dtype '<c8' is not supported"));
  CHECK(contains(odd, "entry 'text.npy': dtype '<U2' is not supported"));
  CHECK_FALSE(contains(odd, "fine.npy"));
  CHECK(contains(error_of([&] { load(dir / "bzip2.npz"); }), "entry 'x.npy': it is compressed with method 12 (bzip2)"));
}

TEST_CASE("checkpoint: a file truncated at any offset raises, naming the file and the truncation") {
  TempFolder dir("checkpoint");
  const fs::path good = dir / "good.npz";
  save(small_state(), good);
  const std::string bytes = read_bytes(good);
  const fs::path cut = dir / "cut.npz";
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    write_bytes(cut, bytes.substr(0, size));
    const std::string msg = error_of([&] { load(cut); });
    INFO("truncated to ", size, " of ", bytes.size(), " bytes: ", msg);
    CHECK(contains(msg, "load: '" + cut.string() + "'"));
    CHECK((size == 0 ? contains(msg, "empty (0 bytes)") : contains(msg, "truncated")));
  }
}

TEST_CASE("checkpoint: one flipped byte anywhere is detected or harmless, and data damage is a CRC mismatch") {
  TempFolder dir("checkpoint");
  const StateDict original = small_state();
  save(original, dir / "good.npz");
  const std::string bytes = read_bytes(dir / "good.npz");
  const fs::path bad = dir / "bad.npz";
  int detected = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0xFF);
    write_bytes(bad, damaged);
    INFO("byte ", i, " flipped");
    try {
      // Undetected flips can only hit fields without meaning here (timestamps, version made by,
      // file attributes): the contents must come back unchanged.
      check_identical(load(bad), original);
    } catch (const Error& e) {
      ++detected;
      CHECK(contains(e.what(), bad.string()));
    }
  }
  MESSAGE(detected, " of ", bytes.size(), " single-byte flips detected, the rest touched no content");
  CHECK(detected > static_cast<int>(bytes.size()) * 3 / 4);

  // Every flip inside an entry's data or npy header is reported as a CRC-32 mismatch of that entry.
  const std::size_t header_start = 30 + std::string("a.npy").size();
  const std::size_t data_end = header_start + io::npy::format_header(float32, {3}).size() + 12;
  for (std::size_t i = header_start; i < data_end; ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    write_bytes(bad, damaged);
    const std::string msg = error_of([&] { load(bad); });
    INFO("byte ", i, ": ", msg);
    CHECK(contains(msg, "entry 'a.npy'"));
    CHECK(contains(msg, "CRC-32 mismatch"));
  }
}

TEST_CASE("checkpoint: fake files (text, empty, a zip without arrays, a lone .npy, a folder, missing) raise clearly") {
  TempFolder dir("checkpoint");
  write_bytes(dir / "text.npz", "this is a text file, not a checkpoint\n");
  CHECK(contains(error_of([&] { load(dir / "text.npz"); }), "it is not a zip archive: it starts with \"this is \""));
  write_bytes(dir / "empty.npz", "");
  CHECK(contains(error_of([&] { load(dir / "empty.npz"); }), "load: '" + (dir / "empty.npz").string() + "': the file is empty (0 bytes)"));
  write_zip(dir / "notes.npz", {{"readme.txt", "hello"}, {"folder/", ""}});
  const std::string notes = error_of([&] { load(dir / "notes.npz"); });
  CHECK(contains(notes, "(2 problems)"));
  CHECK(contains(notes, "entry 'readme.txt': it is not an array"));
  CHECK(contains(notes, "entry 'folder/': it is not an array"));
  write_bytes(dir / "lone.npy", io::npy::format_header(float64, {2}) + bytes_of(std::vector<double>{1, 2}));
  CHECK(contains(error_of([&] { load(dir / "lone.npy"); }), "it is a single .npy array (numpy.save), not an .npz archive"));
  fs::create_directory(dir / "folder.npz");
  CHECK(contains(error_of([&] { load(dir / "folder.npz"); }), "'" + (dir / "folder.npz").string() + "' is a folder"));
  CHECK(contains(error_of([&] { load(dir / "missing.npz"); }), "load: '" + (dir / "missing.npz").string() + "' does not exist"));
}

TEST_CASE("checkpoint: every bad entry of an archive is listed with its problem") {
  TempFolder dir("checkpoint");
  const std::string floats = bytes_of(std::vector<float>{1, 2});
  const auto dict = [](const std::string& descr, const std::string& shape) {
    return fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  };
  std::string version9 = npy_bytes(dict("<f4", "(2,)"), floats);
  version9[6] = 9;
  write_zip(dir / "bad.npz", {{"good.npy", npy_bytes(dict("<f4", "(2,)"), floats)},
                              {"magic.npy", "NOTNUMPY" + floats},
                              {"no_order.npy", npy_bytes("{'descr': '<f4', 'shape': (2,), }", floats)},
                              {"short.npy", npy_bytes(dict("<f4", "(3, 4)"), std::string(40, '\0'))},
                              {"complex.npy", npy_bytes(dict("<c8", "(1,)"), floats)},
                              {"big_endian.npy", npy_bytes(dict(">f8", "(1,)"), floats)},
                              {"object.npy", npy_bytes(dict("|O", "(1,)"), floats)},
                              {"version.npy", version9},
                              {"huge.npy", npy_bytes(dict("<f8", "(4611686018427387904, 4)"), floats)},
                              {"dup.npy", npy_bytes(dict("<f4", "(2,)"), floats)},
                              {"dup.npy", npy_bytes(dict("<f4", "(2,)"), floats)},
                              {"notes.txt", "hello"}});
  const std::string msg = error_of([&] { load(dir / "bad.npz"); });
  INFO(msg);
  CHECK(contains(msg, "load: '" + (dir / "bad.npz").string() + "' cannot be loaded (10 problems)"));
  CHECK(contains(msg, "entry 'magic.npy': it is not an .npy array"));
  CHECK(contains(msg, "entry 'no_order.npy': the header lacks 'fortran_order'"));
  CHECK(contains(msg, "entry 'short.npy': its data holds 40 bytes, but shape [3, 4] of '<f4' needs 48"));
  CHECK(contains(msg, "entry 'complex.npy': dtype '<c8' is not supported"));
  CHECK(contains(msg, "entry 'big_endian.npy': dtype '>f8' is big-endian"));
  CHECK(contains(msg, "entry 'object.npy': dtype '|O' is not supported"));
  CHECK(contains(msg, "entry 'version.npy': its .npy format version 9.0 is not supported"));
  CHECK(contains(msg, "entry 'huge.npy'"));
  CHECK(contains(msg, "entry 'dup.npy': the archive holds 2 entries of this name"));
  CHECK(contains(msg, "entry 'notes.txt': it is not an array"));
  CHECK_FALSE(contains(msg, "good.npy"));
}

namespace {

std::string deflate_raw(const std::string& data) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::uint32_t crc_of(const std::string& data) {
  return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// A zip holding one deflated entry, written by hand (xgrad writes stored entries only), recording
// whatever CRC and uncompressed size it is given.
std::string zip_of_deflated(const std::string& name, const std::string& compressed, std::uint32_t crc, std::uint32_t uncompressed_size) {
  using io::put_le;
  const auto header_fields = [&](std::string& out) {
    put_le<std::uint16_t>(out, 20);  // version needed
    put_le<std::uint16_t>(out, 0);   // flags
    put_le<std::uint16_t>(out, 8);   // deflate
    put_le<std::uint16_t>(out, 0);   // time
    put_le<std::uint16_t>(out, 0x21);
    put_le<std::uint32_t>(out, crc);
    put_le<std::uint32_t>(out, static_cast<std::uint32_t>(compressed.size()));
    put_le<std::uint32_t>(out, uncompressed_size);
    put_le<std::uint16_t>(out, static_cast<std::uint16_t>(name.size()));
    put_le<std::uint16_t>(out, 0);  // extra length
  };
  std::string out;
  put_le<std::uint32_t>(out, 0x04034b50);
  header_fields(out);
  out += name + compressed;
  const std::size_t cd_offset = out.size();
  put_le<std::uint32_t>(out, 0x02014b50);
  put_le<std::uint16_t>(out, 0x0314);  // made by
  header_fields(out);
  for (int i = 0; i < 3; ++i) put_le<std::uint16_t>(out, 0);  // comment length, disk, internal attributes
  put_le<std::uint32_t>(out, 0);                              // external attributes
  put_le<std::uint32_t>(out, 0);                              // local header offset
  out += name;
  const std::size_t cd_size = out.size() - cd_offset;
  put_le<std::uint32_t>(out, 0x06054b50);
  put_le<std::uint32_t>(out, 0);  // disks
  put_le<std::uint16_t>(out, 1);
  put_le<std::uint16_t>(out, 1);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(cd_size));
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(cd_offset));
  put_le<std::uint16_t>(out, 0);
  return out;
}

}  // namespace

TEST_CASE("checkpoint: deflated entries inflate, and damaged, truncated or mis-sized streams are caught") {
  TempFolder dir("checkpoint");
  std::vector<double> values(1000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i % 17) / 8.0;
  const std::string npy = io::npy::format_header(float64, {1000}) + bytes_of(values);
  const std::string compressed = deflate_raw(npy);
  REQUIRE(compressed.size() < npy.size() / 4);
  const std::uint32_t crc = crc_of(npy);
  const auto size = static_cast<std::uint32_t>(npy.size());
  const fs::path path = dir / "d.npz";

  write_bytes(path, zip_of_deflated("w.npy", compressed, crc, size));
  CHECK(load(path).at("w").to_vector<double>() == values);

  // The stream cut short (sizes recorded to match the cut), claiming more or fewer bytes than it holds.
  write_bytes(path, zip_of_deflated("w.npy", compressed.substr(0, compressed.size() / 2), crc, size));
  CHECK(contains(error_of([&] { load(path); }), "entry 'w.npy': its deflate data is truncated"));
  write_bytes(path, zip_of_deflated("w.npy", compressed, crc, size + 8));
  CHECK(contains(error_of([&] { load(path); }), "entry 'w.npy': its data holds 8008 bytes, but shape [1000] of '<f8' needs 8000"));
  write_bytes(path, zip_of_deflated("w.npy", compressed, crc, size - 8));
  CHECK(contains(error_of([&] { load(path); }), "entry 'w.npy': its data holds 7992 bytes"));
  // A size no deflate stream of this length can produce is refused before anything is allocated.
  write_bytes(path, zip_of_deflated("w.npy", compressed, crc, 0xFFFFFFF0));
  CHECK(contains(error_of([&] { load(path); }), "more than deflate can produce"));

  // Any damaged byte of the stream is caught: broken deflate data or a CRC-32 mismatch.
  const std::string good = zip_of_deflated("w.npy", compressed, crc, size);
  const std::size_t data_start = 30 + std::string("w.npy").size();
  for (std::size_t i = data_start; i < data_start + compressed.size(); ++i) {
    std::string damaged = good;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x55);
    write_bytes(path, damaged);
    INFO("compressed byte ", i - data_start, " of ", compressed.size());
    try {
      const StateDict back = load(path);  // only if the flip changed nothing inflated
      CHECK(back.at("w").to_vector<double>() == values);
    } catch (const Error& e) {
      CHECK(contains(e.what(), "entry 'w.npy'"));
      CHECK((contains(e.what(), "deflate") || contains(e.what(), "CRC-32")));
    }
  }
}

TEST_CASE("checkpoint: a save removes temporaries of dead processes, and only those") {
  TempFolder dir("checkpoint");
  const pid_t dead = ::fork();
  REQUIRE(dead >= 0);
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string stale = fmt::format(".old.npz.xgrad-tmp-{}-3", dead);
  const std::string live = fmt::format(".old.npz.xgrad-tmp-{}-0", ::getppid());  // our parent runs
  const std::string ours = fmt::format(".x.npz.xgrad-tmp-{}-99", ::getpid());    // perhaps a save on another thread
  const std::vector<std::string> lookalikes = {"notes.xgrad-tmp-1-2", fmt::format(".a.xgrad-tmp-{}-x", dead),
                                               fmt::format(".a.xgrad-tmp-{}", dead)};
  for (const auto& name : {stale, live, ours}) write_bytes(dir / name, "partial");
  for (const auto& name : lookalikes) write_bytes(dir / name, "not ours");
  save(small_state(), dir / "ckpt.npz");
  std::vector<std::string> expected = lookalikes;
  expected.insert(expected.end(), {live, ours, "ckpt.npz"});
  std::sort(expected.begin(), expected.end());
  CHECK(dir.listing() == expected);
}

TEST_CASE("checkpoint: AtomicFile replaces its target on commit only") {
  TempFolder dir("checkpoint");
  const fs::path target = dir / "notes.txt";
  write_bytes(target, "old");
  {
    io::AtomicFile file(target);
    file.write("new content", 11);
    file.write_at(0, "N", 1);
    CHECK(file.size() == 11);
    CHECK(contains(error_of([&] { file.write_at(10, "xy", 2); }), "past the 11 bytes written"));
    CHECK(read_bytes(target) == "old");
  }  // dropped without commit()
  CHECK(read_bytes(target) == "old");
  CHECK(dir.listing() == std::vector<std::string>{"notes.txt"});
  {
    io::AtomicFile file(target);
    file.write("new content", 11);
    file.write_at(0, "N", 1);
    file.commit();
    CHECK(contains(error_of([&] { file.write("x", 1); }), "already committed"));
  }
  CHECK(read_bytes(target) == "New content");
  CHECK(dir.listing() == std::vector<std::string>{"notes.txt"});
  fs::create_directory(dir / "sub");
  CHECK(contains(error_of([&] { io::AtomicFile file(dir / "sub"); }), "it is a folder"));
}

TEST_CASE("checkpoint: directory records sharing their bytes (a zip bomb's trick) are refused") {
  TempFolder dir("checkpoint");
  StateDict s;
  s.insert("a", ones({1000}));
  s.insert("b", ones({1000}));
  save(s, dir / "ab.npz");
  std::string bytes = read_bytes(dir / "ab.npz");
  // Point the second directory record at the first entry's local header (offset field at 42).
  const std::size_t second = bytes.find(std::string("PK\x01\x02", 4), bytes.find(std::string("PK\x01\x02", 4)) + 4);
  REQUIRE(second != std::string::npos);
  for (int i = 0; i < 4; ++i) bytes[second + 42 + static_cast<std::size_t>(i)] = 0;
  write_bytes(dir / "overlap.npz", bytes);
  const std::string msg = error_of([&] { load(dir / "overlap.npz"); });
  CHECK(contains(msg, "entry 'a.npy': its bytes overlap those of entry 'b.npy'"));
  CHECK(contains(msg, "entry 'b.npy': its bytes overlap those of entry 'a.npy'"));
}

TEST_CASE("checkpoint: an unsupported compression method is named") {
  TempFolder dir("checkpoint");
  StateDict s;
  s.insert("x", ones({2}));
  save(s, dir / "x.npz");
  std::string bytes = read_bytes(dir / "x.npz");
  // The method field: offset 8 of the local header (at 0), offset 10 of the central header.
  const std::size_t central = bytes.find(std::string("PK\x01\x02", 4));
  REQUIRE(central != std::string::npos);
  bytes[8] = bytes[central + 10] = 14;
  write_bytes(dir / "lzma.npz", bytes);
  CHECK(contains(error_of([&] { load(dir / "lzma.npz"); }),
                 "entry 'x.npy': it is compressed with method 14 (lzma); only stored (0) and deflate (8)"));
}

TEST_CASE("checkpoint: an unreadable file raises naming it (chmod 000)") {
  TempFolder dir("checkpoint");
  const fs::path path = dir / "secret.npz";
  save(small_state(), path);
  fs::permissions(path, fs::perms::none);
  ChildOutcome out;
  if (!where_permissions_apply([&] { return fmt::format("loaded {} entries", load(path).size()); }, out)) return;
  CHECK(out.exit_code == 1);
  CHECK(contains(out.text, "load: '" + path.string() + "' cannot be read: permission denied"));
}

TEST_CASE("checkpoint: saving into a missing folder fails and creates nothing") {
  TempFolder dir("checkpoint");
  const fs::path path = dir / "not" / "there" / "ckpt.npz";
  CHECK(contains(error_of([&] { save(small_state(), path); }),
                 "save: cannot write '" + path.string() + "': folder '" + (dir / "not" / "there").string() + "' does not exist"));
  CHECK(dir.listing().empty());
}

TEST_CASE("checkpoint: saving into a read-only folder fails and leaves the old file, no temporary") {
  TempFolder dir("checkpoint");
  const fs::path path = dir / "ckpt.npz";
  const StateDict old = small_state();
  save(old, path);
  StateDict fresh;
  fresh.insert("x", ones({1000}));
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  ChildOutcome out;
  const bool ran = where_permissions_apply(
      [&] {
        save(fresh, path);
        return std::string("saved");
      },
      out);
  fs::permissions(dir.path(), fs::perms::owner_all, fs::perm_options::add);
  if (!ran) return;
  CHECK(out.exit_code == 1);
  CHECK(contains(out.text, "save: cannot write '" + path.string() + "': cannot create a file in folder"));
  CHECK(contains(out.text, "Permission denied"));
  check_identical(load(path), old);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.npz"});
}

TEST_CASE("checkpoint: an error mid-write (file size limit) or an undefined tensor leaves the old file, no temporary") {
  TempFolder dir("checkpoint");
  const fs::path path = dir / "ckpt.npz";
  const StateDict old = small_state();
  save(old, path);
  StateDict big;
  big.insert("w", ones({1 << 20}));  // 4 MiB, past the 1 MiB limit below
  for (const bool named : {false, true}) {
    INFO(std::string(named ? "named temporary" : "unnamed temporary (O_TMPFILE)"));
    // The limit makes write() fail with EFBIG, as a full disk makes it fail with ENOSPC.
    const ChildOutcome out = in_child([&] {
      io::testing::force_named_temporaries(named);
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit limit{1 << 20, 1 << 20};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      save(big, path);
      return std::string("saved");
    });
    CHECK(out.exit_code == 1);
    CHECK(contains(out.text, "save: writing '" + path.string() + "' failed after"));
    CHECK(contains(out.text, "File too large (the previous file is unchanged)"));
    check_identical(load(path), old);
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.npz"});
  }
  StateDict holey;
  holey.insert("fine", ones({2}));
  holey.insert("hole", Tensor());
  CHECK(contains(error_of([&] { save(holey, path); }), "save: entry 'hole' of the state is an undefined tensor"));
  check_identical(load(path), old);
  CHECK(dir.listing() == std::vector<std::string>{"ckpt.npz"});
}

namespace {

struct KilledSave {
  bool watchable = true;   // /proc/<pid>/io could be read
  bool mid_write = false;  // killed by the SIGKILL rather than finished
  long long written = 0;   // bytes the child had written when it was seen last
  pid_t pid = 0;
};

// Forks a child that saves `state` to `path` and SIGKILLs it once it has written `kill_after`
// bytes. Under heavy load the kill can come too late (the save completed); the caller checks.
KilledSave kill_save_midway(const StateDict& state, const fs::path& path, long long kill_after) {
  KilledSave out;
  out.pid = ::fork();
  REQUIRE(out.pid >= 0);
  if (out.pid == 0) {
    try {
      save(state, path);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  int status = 0;
  bool ended = false;
  while ((out.written = bytes_written_by(out.pid)) >= 0 && out.written < kill_after) {
    if (::waitpid(out.pid, &status, WNOHANG) == out.pid) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (!ended) {
    ::kill(out.pid, SIGKILL);
    ::waitpid(out.pid, &status, 0);
  }
  out.watchable = out.written >= 0;
  out.mid_write = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  return out;
}

}  // namespace

TEST_CASE("checkpoint: a save killed (SIGKILL) mid-write leaves the old checkpoint intact and no temporary") {
  TempFolder dir("checkpoint");
  const fs::path path = dir / "ckpt.npz";
  const StateDict old = small_state();
  StateDict big;  // 300 MB
  for (int i = 0; i < 3; ++i) big.insert(fmt::format("layer{}", i), full({25'000'000}, 0.5 + i));
  for (const bool named : {false, true}) {
    INFO(std::string(named ? "named temporary" : "default temporary"));
    io::testing::force_named_temporaries(named);
    bool unnamed = false;
    {
      io::AtomicFile probe(dir / "probe");  // discarded: what kind of temporary would a save get?
      unnamed = probe.unnamed();
    }
    KilledSave killed;
    for (int attempt = 0; attempt < 5 && !killed.mid_write; ++attempt) {
      save(old, path);  // also removes what an earlier attempt left
      REQUIRE(dir.listing() == std::vector<std::string>{"ckpt.npz"});
      // Killed once 50 MB of 300 are written: the write is under way.
      const auto old_size = fs::file_size(path);
      killed = kill_save_midway(big, path, 50'000'000);
      if (!killed.watchable) break;
      if (!killed.mid_write || fs::file_size(path) != old_size) {
        // Too late: the save got as far as the rename, and the whole new file must be there.
        MESSAGE("the kill came after the save completed (machine busy); trying again");
        CHECK(load(path).keys() == big.keys());
        killed.mid_write = false;
      }
    }
    io::testing::force_named_temporaries(false);
    if (!killed.watchable) {
      MESSAGE("skipped: /proc/<pid>/io is not readable, so the write cannot be watched");
      return;
    }
    REQUIRE_MESSAGE(killed.mid_write, "5 attempts to kill the save mid-write came too late");
    MESSAGE("killed after ", killed.written / 1'000'000, " MB of 300 MB written, temporary ",
            std::string(unnamed ? "unnamed (O_TMPFILE)" : "named"));

    check_identical(load(path), old);
    const auto left = temporaries_in(dir);
    if (unnamed) {
      CHECK(left.empty());
    } else {
      // The killed save's temporary stays until the next save into the folder removes it.
      REQUIRE(left.size() == 1);
      CHECK(left[0].starts_with(fmt::format(".ckpt.npz.xgrad-tmp-{}-", killed.pid)));
      StateDict next;
      next.insert("after", ones({3}));
      save(next, dir / "other.npz");
      check_identical(load(dir / "other.npz"), next);
      fs::remove(dir / "other.npz");
    }
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.npz"});
  }
}

namespace {

// The smallest object with the state_dict contract: validates everything, then loads.
struct TinyModel {
  Tensor weight = zeros({2, 3});
  Tensor bias = zeros({2});

  StateDict state_dict() const {
    StateDict s;
    s.insert("weight", weight);
    s.insert("bias", bias);
    return s;
  }
  LoadReport load_state_dict(const StateDict& state, bool strict) {
    LoadReport report;
    for (const char* name : {"weight", "bias"}) {
      const Tensor* t = state.find(name);
      const Tensor& mine = std::string(name) == "weight" ? weight : bias;
      if (t == nullptr)
        report.missing_keys.push_back(name);
      else if (t->shape() != mine.shape() || t->dtype() != mine.dtype())
        report.mismatched_keys.push_back(name);
    }
    for (const auto& e : state)
      if (e.name != "weight" && e.name != "bias") report.unexpected_keys.push_back(e.name);
    XGRAD_CHECK(!strict || report.complete(), "TinyModel::load_state_dict: {} missing, {} unexpected, {} mismatched",
                report.missing_keys.size(), report.unexpected_keys.size(), report.mismatched_keys.size());
    NoGradGuard no_grad;
    if (const Tensor* t = state.find("weight"); t && t->shape() == weight.shape()) weight.copy_(*t);
    if (const Tensor* t = state.find("bias"); t && t->shape() == bias.shape()) bias.copy_(*t);
    return report;
  }
};

}  // namespace

TEST_CASE("checkpoint: save and load of objects with state_dict, strict and not, through handles too") {
  TempFolder dir("checkpoint");
  TinyModel trained;
  trained.weight = arange(6).reshape({2, 3});
  trained.bias = tensor(std::vector<float>{-1, 1}, {2});
  save(trained, dir / "model.npz");
  TinyModel fresh;
  CHECK(load(fresh, dir / "model.npz").complete());
  CHECK(fresh.weight.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(fresh.bias.to_vector<float>() == std::vector<float>{-1, 1});

  // A shape mismatch: strict raises and changes nothing; non-strict loads the rest and reports it.
  StateDict other;
  other.insert("weight", full({2, 3}, 7));
  other.insert("bias", zeros({3}));
  other.insert("extra", zeros({1}));
  save(other, dir / "other.npz");
  TinyModel target;
  CHECK(contains(error_of([&] { load(target, dir / "other.npz"); }), "TinyModel::load_state_dict: 0 missing, 1 unexpected, 1 mismatched"));
  CHECK(target.weight.to_vector<float>() == std::vector<float>(6, 0));
  const LoadReport report = load(target, dir / "other.npz", /*strict=*/false);
  CHECK(report.mismatched_keys == std::vector<std::string>{"bias"});
  CHECK(report.unexpected_keys == std::vector<std::string>{"extra"});
  CHECK(target.weight.to_vector<float>() == std::vector<float>(6, 7));

  // A damaged file raises before the object is touched.
  std::string bytes = read_bytes(dir / "model.npz");
  bytes[bytes.size() / 3] = static_cast<char>(bytes[bytes.size() / 3] ^ 0x10);
  write_bytes(dir / "damaged.npz", bytes);
  TinyModel untouched;
  CHECK_THROWS_AS(load(untouched, dir / "damaged.npz"), Error);
  CHECK(untouched.weight.to_vector<float>() == std::vector<float>(6, 0));

  // Shared handles (how modules are often held) work the same.
  auto handle = std::make_shared<TinyModel>();
  handle->bias = full({2}, 3);
  save(handle, dir / "handle.npz");
  auto loaded = std::make_shared<TinyModel>();
  CHECK(load(loaded, dir / "handle.npz").complete());
  CHECK(loaded->bias.to_vector<float>() == std::vector<float>{3, 3});
}

TEST_CASE("checkpoint: a model and its optimizer state share one file under prefixes") {
  TempFolder dir("checkpoint");
  TinyModel model;
  model.weight = arange(6).reshape({2, 3});
  StateDict optimizer;  // what an optimizer's state_dict() holds: counts, options, buffers
  optimizer.insert("state.0.step", tensor(std::vector<std::int64_t>{12}, {}));
  optimizer.insert("state.0.momentum_buffer", full({2, 3}, 0.25));
  optimizer.insert("param_groups.0.lr", scalar_tensor(0.01, {.dtype = float64}));
  StateDict all;
  all.insert_prefixed("model.", model.state_dict());
  all.insert_prefixed("optimizer.", optimizer);
  save(all, dir / "run.npz");

  const StateDict back = load(dir / "run.npz");
  CHECK(back.keys() == std::vector<std::string>{"model.weight", "model.bias", "optimizer.state.0.step", "optimizer.state.0.momentum_buffer",
                                                "optimizer.param_groups.0.lr"});
  TinyModel resumed;
  CHECK(resumed.load_state_dict(back.with_prefix("model."), true).complete());
  CHECK(resumed.weight.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  const StateDict opt = back.with_prefix("optimizer.");
  CHECK(opt.at("state.0.step").item<std::int64_t>() == 12);
  CHECK(opt.at("param_groups.0.lr").dtype() == float64);
  CHECK(opt.at("param_groups.0.lr").item<double>() == 0.01);
  CHECK(opt.at("state.0.momentum_buffer").to_vector<float>() == std::vector<float>(6, 0.25f));
}

TEST_CASE("checkpoint: bool masks round-trip as NumPy '|b1'") {
  TempFolder dir("checkpoint");
  StateDict s;
  const Tensor x = tensor({-1.0, 2.0, 0.0, 3.0, -0.5, 7.0}).reshape({2, 3});
  s.insert("mask", x > 0.0);
  s.insert("empty_mask", zeros({0}) > 0.0);
  save(s, dir / "masks.npz");
  const StateDict back = load(dir / "masks.npz");
  CHECK(back.at("mask").dtype() == Dtype::boolean);
  CHECK(back.at("mask").shape() == Shape{2, 3});
  CHECK(back.at("mask").to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 0, 1, 0, 1});
  CHECK(back.at("empty_mask").numel() == 0);
  CHECK(back.at("empty_mask").dtype() == Dtype::boolean);
}
