// Fuzz test: seeded random calls of every public function (ops.h, tensor.h, autograd.h) and of
// every registry op, with random and extreme arguments (tests/fuzz/). Each call must return or
// raise xgrad::Error naming the op called; anything else (another exception type, an error naming
// another op, a wrong result shape, a call slower than a few seconds) is recorded, and the test
// fails at the end listing them. Crashes and undefined behaviour are caught by the sanitizer build
// (`make fuzz`: ASan + UBSan + float-cast-overflow); the call being run is printed when one happens.
//
//   XGRAD_FUZZ_CALLS=N      number of calls (default 3000)
//   XGRAD_FUZZ_SEED=S       seed (default 1); call i draws from its own generator seeded by (S, i)
//   XGRAD_FUZZ_ONLY=i       replay call i alone, printing its arguments and outcome
//   XGRAD_FUZZ_FIRST=i      start at call i (resume after a crash)
//   XGRAD_FUZZ_VERBOSE=1    print every call
//   XGRAD_FUZZ_SLOW_SECONDS (default 5) a call slower than this is a failure
//   XGRAD_FUZZ_HANG_SECONDS (default 60) a call slower than this aborts the run (watchdog)
//   XGRAD_FUZZ_MAX_RSS_MB   (default 4096) the watchdog aborts when the process grows beyond this
//
// Rule for new public functions: add an entry to tests/fuzz/public_ops.cpp (ops.h) or
// tests/fuzz/tensor_api.cpp (tensor.h, autograd.h). The coverage test below parses those headers
// and fails for a function without an entry. Registry ops are covered automatically.
#include <doctest/doctest.h>
#include <cxxabi.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "fuzz/fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
// A failed huge allocation returns null (the library then throws std::bad_alloc, as in a Release
// build) instead of ASan ending the process; the fuzz test then reports it as a non-xgrad exception.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }
// GCC links UBSan as its own runtime, whose fatal errors do not run ASan's death callback: they
// abort instead, so the crash handler below names the call.
extern "C" const char* __ubsan_default_options() { return "abort_on_error=1:halt_on_error=1:print_stacktrace=1"; }
#endif

using namespace xgrad;
using namespace xgrad::fuzz;

namespace xgrad::fuzz {
const std::vector<FuzzedFunction>& public_functions() {
  static const std::vector<FuzzedFunction> table = [] {
    std::vector<FuzzedFunction> t;
    add_ops_functions(t);
    add_tensor_api_functions(t);
    return t;
  }();
  return table;
}
}  // namespace xgrad::fuzz

namespace {

std::int64_t env_int(const char* name, std::int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

struct Settings {
  std::uint64_t seed = static_cast<std::uint64_t>(env_int("XGRAD_FUZZ_SEED", 1));
  std::int64_t calls = env_int("XGRAD_FUZZ_CALLS", 3000);
  std::int64_t first = env_int("XGRAD_FUZZ_FIRST", 0);
  std::int64_t only = env_int("XGRAD_FUZZ_ONLY", -1);
  bool verbose = env_int("XGRAD_FUZZ_VERBOSE", 0) != 0;
  double slow_seconds = static_cast<double>(env_int("XGRAD_FUZZ_SLOW_SECONDS", 5));
  double hang_seconds = static_cast<double>(env_int("XGRAD_FUZZ_HANG_SECONDS", 60));
  std::int64_t max_rss_mb = env_int("XGRAD_FUZZ_MAX_RSS_MB", 4096);
};

// ---------------------------------------------------------------- what is running, for crash reports

// Written by the test thread before each call; read by the signal handler (same thread) and, for
// the index and key only, by the watchdog.
std::atomic<std::int64_t> current_index{-1};
std::uint64_t current_seed = 0;
char current_key[128] = "";
char current_args[4096] = "";
char test_binary[1024] = "xgrad_tests";

void write_stderr(const char* s) { (void)!::write(2, s, std::strlen(s)); }

void print_current_call(const char* what) {
  const std::int64_t i = current_index.load();
  if (i < 0) return;
  char line[1600];  // room for the binary's path (up to 1023 bytes)
  std::snprintf(line, sizeof line, "\n*** %s in fuzz call %lld (seed %llu): %s ", what, static_cast<long long>(i),
                static_cast<unsigned long long>(current_seed), current_key);
  write_stderr(line);
  write_stderr(current_args);
  std::snprintf(line, sizeof line, "\n*** replay: XGRAD_FUZZ_SEED=%llu XGRAD_FUZZ_ONLY=%lld %s -tc='fuzz: every*'\n",
                static_cast<unsigned long long>(current_seed), static_cast<long long>(i), test_binary);
  write_stderr(line);
}

constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
struct sigaction previous_handlers[std::size(kCrashSignals)];

extern "C" void on_crash_signal(int sig) {
  print_current_call(strsignal(sig));
  for (std::size_t k = 0; k < std::size(kCrashSignals); ++k)
    if (kCrashSignals[k] == sig) sigaction(sig, &previous_handlers[k], nullptr);
  raise(sig);  // delivered to the previous handler (doctest's, ASan's or the default) on return
}

#if defined(__SANITIZE_ADDRESS__)
void on_sanitizer_death() { print_current_call("sanitizer error"); }
#endif

// Installs the crash reporters for the duration of the run.
struct CrashReporter {
  CrashReporter() {
    if (const auto n = readlink("/proc/self/exe", test_binary, sizeof test_binary - 1); n > 0) test_binary[n] = '\0';
    // Its own stack, so a stack overflow in the library is reported too.
    stack_.resize(1 << 16);
    stack_t alt{};
    alt.ss_sp = stack_.data();
    alt.ss_size = stack_.size();
    sigaltstack(&alt, &previous_stack_);
    struct sigaction sa {};
    sa.sa_handler = on_crash_signal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (std::size_t k = 0; k < std::size(kCrashSignals); ++k) sigaction(kCrashSignals[k], &sa, &previous_handlers[k]);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif
  }
  ~CrashReporter() {
    for (std::size_t k = 0; k < std::size(kCrashSignals); ++k) sigaction(kCrashSignals[k], &previous_handlers[k], nullptr);
    sigaltstack(&previous_stack_, nullptr);
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_set_death_callback(nullptr);
#endif
    current_index = -1;
  }

 private:
  std::vector<char> stack_;
  stack_t previous_stack_{};
};

// Aborts the run when one call hangs or the process grows beyond the memory bound (a library
// looping or allocating gigabytes for a tiny input), naming the call.
class Watchdog {
 public:
  explicit Watchdog(const Settings& s) : hang_(s.hang_seconds), max_rss_(s.max_rss_mb * 1024 * 1024) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void call_started() { started_ns_ = now_ns(); }

 private:
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  static std::int64_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * sysconf(_SC_PAGESIZE);
  }
  void loop() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_; })) {
      const double running = static_cast<double>(now_ns() - started_ns_.load()) * 1e-9;
      const std::int64_t rss = rss_bytes();
      if (current_index.load() >= 0 && (running > hang_ || rss > max_rss_)) {
        char line[512];
        std::snprintf(line, sizeof line,
                      "\n*** watchdog: fuzz call %lld (seed %llu) %s (%.1f s, %lld MB resident): %s ",
                      static_cast<long long>(current_index.load()), static_cast<unsigned long long>(current_seed),
                      running > hang_ ? "hangs" : "exceeds the memory bound", running,
                      static_cast<long long>(rss >> 20), current_key);
        write_stderr(line);
        write_stderr(current_args);  // the test thread is stuck in the call: the arguments are complete
        write_stderr("\n");
        std::_Exit(3);
      }
    }
  }
  double hang_;
  std::int64_t max_rss_;
  std::atomic<std::int64_t> started_ns_{now_ns()};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------- outcomes

std::string type_name(const std::exception& e) {
  int status = 0;
  char* name = abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status);
  std::string out = status == 0 && name ? name : typeid(e).name();
  std::free(name);
  return out;
}

bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Whether the message names one of `names` ("a|b") as a whole word.
bool names_op(const std::string& message, const std::string& names) {
  std::size_t from = 0;
  while (from <= names.size()) {
    const std::size_t bar = std::min(names.find('|', from), names.size());
    const std::string name = names.substr(from, bar - from);
    for (std::size_t at = message.find(name); !name.empty() && at != std::string::npos; at = message.find(name, at + 1)) {
      const bool starts = at == 0 || !is_identifier_char(message[at - 1]);
      const bool ends = at + name.size() == message.size() || !is_identifier_char(message[at + name.size()]);
      if (starts && ends) return true;
    }
    from = bar + 1;
  }
  return false;
}

struct Failure {
  std::int64_t index;
  std::string key, args, outcome;
};

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n') c = ' ';
  return s.size() > 400 ? s.substr(0, 400) + "..." : s;
}

// Runs call `index`: draws its arguments, calls the function, runs backward through the results
// that require grad. Returns the failure, if any.
std::optional<std::string> run_call(const FuzzedFunction& f, const Settings& s, std::int64_t index,
                                    std::string& args, std::string& result) {
  FuzzCall g(s.seed, static_cast<std::uint64_t>(index));
  manual_seed(g.bits());  // xgrad's own draws (rand, dropout, samples) are reproducible per call too
  const bool no_grad = g.chance(0.1);
  if (no_grad) g.note("(no_grad)");
  AutoGradMode mode(no_grad ? false : is_grad_enabled());
  current_args[0] = '\0';
  FuzzCall::mirror = current_args;
  FuzzCall::mirror_size = sizeof current_args;
  const auto start = std::chrono::steady_clock::now();
  std::optional<std::string> failure;
  try {
    TensorList outputs = f.run(g);
    result = "returned";
    set_grad_enabled(true);  // backward records (sum) and runs with grad mode on; mode restores
    for (const Tensor& y : outputs) {
      if (!y.defined() || !is_floating(y.dtype()) || !y.requires_grad()) continue;
      result += " " + describe_tensor(y);
      try {
        y.sum().backward();
      } catch (const std::exception& e) {
        failure = fmt::format("backward through the result threw {}: {}", type_name(e), one_line(e.what()));
      }
    }
  } catch (const Error& e) {
    result = std::string("raised: ") + e.what();
    if (!names_op(e.what(), f.op)) failure = fmt::format("xgrad::Error not naming '{}': {}", f.op, one_line(e.what()));
  } catch (const std::exception& e) {
    failure = fmt::format("threw {}: {}", type_name(e), one_line(e.what()));
  } catch (...) {
    failure = "threw an exception that is not a std::exception";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  FuzzCall::mirror = nullptr;
  args = g.args();
  if (!failure && !g.broken_expectations().empty()) failure = "wrong result: " + g.broken_expectations().front();
  if (!failure && seconds > s.slow_seconds) failure = fmt::format("took {:.1f} s", seconds);
  return failure;
}

std::vector<const FuzzedFunction*> all_entries(const std::vector<FuzzedFunction>& registry) {
  std::vector<const FuzzedFunction*> all;
  for (const auto& f : public_functions()) all.push_back(&f);
  for (const auto& f : registry) all.push_back(&f);
  return all;
}

// ---------------------------------------------------------------- header parsing for the coverage test

// Names of the functions declared at namespace scope (column 0) of a header, and of the methods of
// `class Tensor` as "Tensor::name". Declarations in this code base start on one line with the
// return type and the name, e.g. "Tensor add(const Tensor& a," or "  Tensor reshape(...) const;".
std::set<std::string> declared_functions(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  static const std::regex free_fn(R"(^(?:template <[^>]*>\s*)?(?:inline\s+)?[A-Za-z_][\w:<>, ]*[&*]?\s+(operator[^\s(]+|\w+)\()");
  static const std::regex method(R"(^  (?:template <[^>]*>\s*)?(?:explicit\s+)?[A-Za-z_][\w:<>, ]*[&*]?\s+(operator[^\s(]+|\w+)\()");
  std::set<std::string> names;
  bool in_tensor = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("class Tensor {", 0) == 0) in_tensor = true;
    else if (in_tensor && line.rfind("};", 0) == 0) in_tensor = false;
    std::smatch m;
    if (in_tensor) {
      if (std::regex_search(line, m, method) && m[1] != "Tensor") names.insert("Tensor::" + m[1].str());
    } else if (std::regex_search(line, m, free_fn)) {
      names.insert(m[1].str());
    }
  }
  return names;
}

}  // namespace

TEST_CASE("fuzz: the tables cover every public function and every registry op") {
  std::set<std::string> fuzzed;
  for (const auto& f : public_functions()) fuzzed.insert(f.key);
  std::set<std::string> declared;
  for (const char* header : {"ops.h", "tensor.h", "autograd.h"}) {
    const auto names = declared_functions(std::string(XGRAD_SOURCE_DIR) + "/include/xgrad/" + header);
    CHECK_MESSAGE(names.size() >= 2, std::string(header), ": the declaration parser found only ", names.size(), " functions");
    for (const auto& n : names) {
      CHECK_MESSAGE(fuzzed.count(n), std::string(header), " declares ", n, " but tests/fuzz/ has no entry for it");
      declared.insert(n);
    }
  }
  for (const auto& n : fuzzed) CHECK_MESSAGE(declared.count(n), "tests/fuzz/ fuzzes ", n, ", declared nowhere");
  CHECK(declared.count("conv2d"));  // the parser sees the usual forms
  CHECK(declared.count("operator+"));
  CHECK(declared.count("Tensor::item"));
  CHECK(declared.count("max_pool2d_with_indices"));

  const auto registry = registry_functions();
  std::set<std::string> registry_keys;
  for (const auto& f : registry) registry_keys.insert(f.key);
  for (const OpInfo& op : registered_ops())
    CHECK_MESSAGE(registry_keys.count("registry:" + op.name), "registry op ", op.name, " is not fuzzed");
}

TEST_CASE("fuzz: the error check needs the op's name as a word") {
  CHECK(names_op("add: shapes [2] and [3] do not broadcast", "add"));
  CHECK(names_op("in reshape(): bad", "reshape"));
  CHECK(names_op("t: expects 2 dims", "t"));
  CHECK_FALSE(names_op("sum_to: bad", "sum"));
  CHECK_FALSE(names_op("expand: bad", "broadcast_to"));
  CHECK(names_op("pow: bad", "pow_scalar|pow"));
  CHECK_FALSE(names_op("", "add"));
}

TEST_CASE("fuzz: every public op and every registry op, random and extreme arguments") {
  const Settings s;
  const auto registry = registry_functions();
  const auto entries = all_entries(registry);
  REQUIRE(!entries.empty());

  std::int64_t first = s.first, last = s.first + s.calls;
  if (s.only >= 0) first = s.only, last = s.only + 1;

  CrashReporter reporter;
  Watchdog watchdog(s);
  current_seed = s.seed;
  std::vector<Failure> failures;
  std::vector<int> calls_of(entries.size(), 0);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t i = first; i < last; ++i) {
    const std::size_t which = static_cast<std::size_t>(i) % entries.size();  // round robin: every entry is hit
    const FuzzedFunction& f = *entries[which];
    ++calls_of[which];
    std::snprintf(current_key, sizeof current_key, "%s", f.key.c_str());
    watchdog.call_started();
    current_index = i;
    std::string args, result;
    const auto failure = run_call(f, s, i, args, result);
    current_index = -1;
    if (s.verbose || s.only >= 0)
      fmt::print(stderr, "fuzz call {} (seed {}): {} {}\n    -> {}{}\n", i, s.seed, f.key, args, one_line(result),
                 failure ? "\n    FAILURE: " + *failure : "");
    if (failure) {
      // Printed at once too: a later crash ends the run before the summary.
      if (!s.verbose && s.only < 0) fmt::print(stderr, "fuzz failure: call {} (seed {}): {} {}\n    -> {}\n", i, s.seed, f.key, args, *failure);
      failures.push_back({i, f.key, args, *failure});
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE(fmt::format("fuzz: {} calls (seed {}, {} functions) in {:.1f} s, {} failures", last - first, s.seed,
                      entries.size(), seconds, failures.size()));

  if (s.only < 0 && last - first >= static_cast<std::int64_t>(entries.size()))
    for (std::size_t k = 0; k < entries.size(); ++k) CHECK_MESSAGE(calls_of[k] > 0, entries[k]->key, " never ran");

  if (!failures.empty()) {
    std::map<std::string, std::vector<std::int64_t>> by_function;
    for (const auto& f : failures) by_function[f.key].push_back(f.index);
    std::string report = fmt::format("{} failing calls of {} functions (seed {}):\n", failures.size(),
                                     by_function.size(), s.seed);
    for (const auto& [key, indices] : by_function) {
      report += fmt::format("  {:<40} {:>4} x, calls", key, indices.size());
      for (std::size_t k = 0; k < std::min<std::size_t>(indices.size(), 6); ++k) report += fmt::format(" {}", indices[k]);
      report += indices.size() > 6 ? " ...\n" : "\n";
    }
    report += "first failures:\n";
    for (std::size_t k = 0; k < std::min<std::size_t>(failures.size(), 50); ++k)
      report += fmt::format("fuzz call {} (seed {}): {} {}\n    -> {}\n", failures[k].index, s.seed, failures[k].key,
                            failures[k].args, failures[k].outcome);
    fmt::print(stderr, "{}", report);
    FAIL_CHECK(fmt::format("{} of {} fuzz calls failed; replay one with XGRAD_FUZZ_SEED={} XGRAD_FUZZ_ONLY=<call>",
                           failures.size(), last - first, s.seed));
  }
}
