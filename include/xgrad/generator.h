#pragma once
// Generator: a seeded source of random numbers. Every random draw in xgrad (factories, in-place
// fills, dropout masks, nn::init, data shuffling) takes an optional generator; without one it uses
// default_generator(), the one manual_seed() seeds. Give each model, data loader or thread its
// own generator to make their streams independent of each other and of call order elsewhere.
//
// Each generator has its own lock, taken once per call (once per tensor for the bulk fills), so
// generators on different threads never contend; one generator shared by threads stays correct
// but its draws interleave in whatever order the threads reach it.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <random>

namespace xgrad {

class Tensor;

class Generator {
 public:
  static constexpr std::uint64_t kDefaultSeed = 0x5eed;

  explicit Generator(std::uint64_t seed = kDefaultSeed);
  Generator(const Generator& other);  // an independent copy continuing the same stream
  Generator& operator=(const Generator& other);

  void manual_seed(std::uint64_t seed);  // restarts the stream
  std::uint64_t initial_seed() const;

  std::uint64_t next_u64();
  std::uint64_t below(std::uint64_t range);  // uniform on [0, range), exact; range 0 means 2^64
  double uniform01();                        // [0, 1), 53 random bits
  double normal01();                         // N(0, 1)

  // n draws under one lock.
  void fill_uniform01(double* out, std::size_t n);
  void fill_normal01(double* out, std::size_t n);
  void fill_below(std::uint64_t* out, std::size_t n, std::uint64_t range);

  // The whole state as an int64 tensor (a checkpoint restores it for a bit-exact resume).
  Tensor get_state() const;
  void set_state(const Tensor& state);  // raises, changing nothing, on a tensor not from get_state()

 private:
  std::uint64_t next_u64_locked() { return engine_(); }
  std::uint64_t below_locked(std::uint64_t range);
  double normal01_locked();

  mutable std::mutex mu_;
  std::mt19937_64 engine_;
  std::uint64_t seed_;
  bool has_spare_ = false;  // Box-Muller yields normals in pairs
  double spare_ = 0;
};

// The generator used when none is passed; manual_seed(s) is default_generator().manual_seed(s).
Generator& default_generator();

}  // namespace xgrad
