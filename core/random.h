#pragma once
// xgrad's one random generator (seeded by manual_seed); every random draw goes through it so a
// fixed seed reproduces factories, dropout masks and registry samples.
#include <cstdint>

namespace xgrad::random {

std::uint64_t next_u64();
double uniform01();  // [0, 1)
double normal01();   // N(0, 1)

}  // namespace xgrad::random
