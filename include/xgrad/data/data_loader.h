#pragma once
// DataLoader: batches of a dataset, in order or shuffled each epoch, the next batch prepared on a
// background thread while the caller works on the current one.
//
//   DataLoader loader(dataset, {.batch_size = 64, .shuffle = true, .generator = &gen});
//   for (const Batch& b : loader) { ... b.input ... b.target ... }
//
// One epoch at a time: begin() starts a new epoch (drawing its order on the calling thread, so
// the same seed gives the same batches with or without prefetch) and abandons any earlier one.
// An exception raised while preparing a batch (by the dataset or the collation) is rethrown by
// the call that reaches that batch (begin() or ++); advancing again carries on with the next one.
// Iterate a loader from one thread at a time. A random transform inside the dataset runs on the
// worker thread: give it its own Generator (TransformDataset) so that its draws do not interleave
// with the training thread's draws from default_generator() (dropout, init).
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <vector>

#include "xgrad/data/dataset.h"
#include "xgrad/tensor.h"

namespace xgrad::data {

struct DataLoaderOptions {
  std::int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;              // drop the last batch when it is smaller than batch_size
  Generator* generator = nullptr;      // the shuffle's source; default_generator() when null
  bool prefetch = true;                // prepare the next batch on the loader's worker thread
};

class DataLoader {
  struct State;

 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    const Batch& operator*() const;
    const Batch* operator->() const { return &**this; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return batch_ == other.batch_; }

   private:
    friend class DataLoader;
    Iterator(State* state, std::int64_t batch) : state_(state), batch_(batch) {}
    State* state_;
    std::int64_t batch_;
  };

  DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});
  ~DataLoader();  // waits for a batch in preparation, then joins the worker
  DataLoader(DataLoader&&) noexcept;
  DataLoader& operator=(DataLoader&&) noexcept;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  std::int64_t size() const;  // batches per epoch
  const DataLoaderOptions& options() const;
  Iterator begin();  // starts an epoch
  Iterator end();

 private:
  std::unique_ptr<State> state_;
};

}  // namespace xgrad::data
