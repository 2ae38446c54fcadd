#pragma once
// xgrad's one random generator (seeded by manual_seed); every random draw goes through it so a
// fixed seed reproduces factories, dropout masks and registry samples.
#include <cstdint>

namespace xgrad::random {

std::uint64_t next_u64();
// Uniform on [0, range) exactly (Lemire's multiply-and-reject); range 0 means 2^64.
std::uint64_t below(std::uint64_t range);
double uniform01();  // [0, 1)
double normal01();   // N(0, 1)

}  // namespace xgrad::random
