#pragma once
// Test hook of io::AtomicFile (not a public header): the named-temporary fallback that file
// systems without O_TMPFILE get, on any file system.
namespace xgrad::io::testing {

// While on, every new AtomicFile uses a named `.<target>.xgrad-tmp-<pid>-<n>` temporary.
void force_named_temporaries(bool on);

}  // namespace xgrad::io::testing
