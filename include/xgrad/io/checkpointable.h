#pragma once
// save / load for anything that exposes its state as a StateDict: modules, optimizers, learning
// rate schedulers. The object is touched only after the whole file has been read and validated,
// and load_state_dict checks names and shapes before changing anything.
#include <concepts>
#include <filesystem>
#include <type_traits>

#include "xgrad/io/npz.h"
#include "xgrad/state_dict.h"

namespace xgrad {

template <class T>
concept Checkpointable = requires(T& object, const T& const_object, const StateDict& state, bool strict) {
  { const_object.state_dict() } -> std::convertible_to<StateDict>;
  { object.load_state_dict(state, strict) } -> std::convertible_to<LoadReport>;
};

// A shared handle (std::shared_ptr<Module>, a module holder) to a checkpointable object.
template <class P>
concept CheckpointableHandle = !Checkpointable<P> && requires(const P& handle) {
  requires Checkpointable<std::remove_cvref_t<decltype(*handle)>>;
};

template <Checkpointable T>
void save(const T& object, const std::filesystem::path& path) {
  save(object.state_dict(), path);
}

// strict = true raises when names or shapes differ (the object unchanged); strict = false loads
// the matching entries and returns what it skipped.
template <Checkpointable T>
LoadReport load(T& object, const std::filesystem::path& path, bool strict = true) {
  const StateDict state = load(path);
  return object.load_state_dict(state, strict);
}

template <CheckpointableHandle P>
void save(const P& handle, const std::filesystem::path& path) {
  save(*handle, path);
}

template <CheckpointableHandle P>
LoadReport load(const P& handle, const std::filesystem::path& path, bool strict = true) {
  return load(*handle, path, strict);
}

}  // namespace xgrad
