#pragma once
// NumPy .npz checkpoints of a StateDict: a zip archive holding one `<name>.npy` per entry, so
// numpy.load reads them and arrays saved by numpy.savez / numpy.savez_compressed load back.
// Format details and guarantees: io/README.md.
#include <filesystem>

#include "xgrad/state_dict.h"

namespace xgrad {

// Writes every entry (float32 '<f4', float64 '<f8', int64 '<i8'; any shape, 0-d and empty
// included) as an uncompressed .npz, atomically (io::AtomicFile): on any error the previous file
// at `path` is left as it was and no temporary remains. Raises xgrad::Error naming the entry or
// the file system problem.
void save(const StateDict& state, const std::filesystem::path& path);

// Reads a whole .npz (stored or deflate-compressed entries) and validates everything before
// returning: the zip structure, each entry's CRC-32, its .npy header, data length against shape,
// duplicate names. Also reads '<i4' '<i2' '|i1' '|u1' (as int64), '|b1' (as int64 0/1) and
// Fortran-ordered arrays (made C-ordered). Raises one xgrad::Error naming the file and listing
// every problem found, each with its entry.
StateDict load(const std::filesystem::path& path);

}  // namespace xgrad
