#pragma once
#include <cstddef>
#include <cstdint>

namespace xgrad {

// Runtime element type. float32 is the default; float64 is for gradcheck; int64 holds labels
// and indices; boolean (printed "bool", one byte holding 0 or 1) holds masks, as comparisons
// return them. Only the floating dtypes are differentiable.
enum class Dtype : std::uint8_t { float32, float64, int64, boolean };

inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;
inline constexpr Dtype int64 = Dtype::int64;
inline constexpr Dtype boolean = Dtype::boolean;

const char* dtype_name(Dtype d);
std::size_t dtype_size(Dtype d);
inline bool is_floating(Dtype d) { return d == Dtype::float32 || d == Dtype::float64; }

// PyTorch's promotion between two tensors of the same kind of dimensionality:
// bool < int64 < float32 < float64.
Dtype promote_types(Dtype a, Dtype b);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr Dtype value = Dtype::float32; };
template <> struct dtype_of<double> { static constexpr Dtype value = Dtype::float64; };
template <> struct dtype_of<std::int64_t> { static constexpr Dtype value = Dtype::int64; };
template <> struct dtype_of<bool> { static constexpr Dtype value = Dtype::boolean; };
template <class T> inline constexpr Dtype dtype_of_v = dtype_of<T>::value;

}  // namespace xgrad
