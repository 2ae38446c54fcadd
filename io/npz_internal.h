#pragma once
// save() with zip64 thresholds of the caller's choosing: tests use it to write zip64 records into
// small archives (the real thresholds need 4 GiB or 65535 entries). Not a public header.
#include <filesystem>

#include "xgrad/state_dict.h"
#include "zip_writer.h"

namespace xgrad::io {

void save_npz(const StateDict& state, const std::filesystem::path& path, const ZipLimits& limits);

}  // namespace xgrad::io
