#pragma once
// Include first in every kernel file that reaches xsimd, xtensor or the x86 intrinsics.
// GCC 12's AVX-512 headers initialise their "undefined" vectors from themselves (__Y = __Y), and
// once inlined into our loops that draws hundreds of false -W(maybe-)uninitialized warnings
// (GCC bug 105593, fixed in GCC 13). Diagnostic pragmas apply by source location, so silencing
// them around this one include covers exactly the intrinsic headers' lines and none of ours.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
