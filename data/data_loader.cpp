// DataLoader: epoch order on the caller's thread, batches collated on a per-loader worker thread
// one batch ahead of the caller (or on the caller's thread without prefetch).
#include "xgrad/data/data_loader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "xgrad/error.h"
#include "xgrad/generator.h"
#include "xgrad/grad_mode.h"
#include "xgrad/ops.h"

namespace xgrad::data {

struct DataLoader::State {
  std::shared_ptr<const Dataset> dataset;
  DataLoaderOptions options;

  // The epoch, owned by the caller's thread. `order` is written only while no batch is being
  // prepared; the mutex hand-off below orders those writes before the worker's reads.
  std::vector<std::int64_t> order;
  std::int64_t batches = 0;
  std::int64_t current_index = 0;
  Batch current;
  bool in_flight = false;  // a batch was requested from the worker and not yet taken

  // The worker's mailbox.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool requested = false;
  std::int64_t request = 0;
  bool ready = false;
  Batch result;
  std::exception_ptr error;
  std::thread worker;

  std::int64_t count_batches(std::int64_t n) const {
    const std::int64_t b = options.batch_size;
    return options.drop_last ? n / b : (n + b - 1) / b;
  }

  // Under NoGradGuard on either thread: loading never records a graph, whichever thread runs it.
  Batch make_batch(std::int64_t k) const {
    NoGradGuard no_grad;
    const std::int64_t n = static_cast<std::int64_t>(order.size());
    const std::int64_t first = k * options.batch_size;
    const std::int64_t last = std::min(n, first + options.batch_size);
    return dataset->get_batch(std::vector<std::int64_t>(order.begin() + first, order.begin() + last));
  }

  void work() {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || requested; });
      if (stop) return;
      const std::int64_t k = request;
      requested = false;
      lock.unlock();
      Batch batch;
      std::exception_ptr failure;
      try {
        batch = make_batch(k);
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      result = std::move(batch);
      error = failure;
      ready = true;
      cv.notify_all();
    }
  }

  void ask(std::int64_t k) {
    {
      std::lock_guard lock(mu);
      request = k;
      requested = true;
    }
    in_flight = true;
    cv.notify_all();
  }

  // The requested batch, once the worker has it; rethrows what preparing it raised.
  Batch take() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return ready; });
    ready = false;
    in_flight = false;
    Batch batch = std::move(result);
    std::exception_ptr failure = std::exchange(error, nullptr);
    lock.unlock();
    if (failure) std::rethrow_exception(failure);
    return batch;
  }

  // Batch k of the epoch: the prefetched one when it was asked for, else made here.
  Batch fetch(std::int64_t k) {
    if (in_flight) return take();
    return make_batch(k);
  }

  // Batch k becomes current; if preparing it raises, the next advance carries on with k + 1.
  void advance_to(std::int64_t k) {
    current_index = k;
    current = Batch{};
    if (k >= batches) return;
    current = fetch(k);
    if (options.prefetch && k + 1 < batches) ask(k + 1);
  }

  void start_epoch() {
    if (in_flight) {
      try {
        take();  // the abandoned epoch's batch
      } catch (...) {  // belongs to the abandoned epoch
      }
    }
    const std::int64_t n = dataset->size();
    if (options.shuffle) {
      order = randperm(n, options.generator ? *options.generator : default_generator()).to_vector<std::int64_t>();
    } else {
      order.resize(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    }
    batches = count_batches(n);
    if (options.prefetch && batches > 0) ask(0);
    advance_to(0);
  }

  void shut_down() {
    if (!worker.joinable()) return;
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    worker.join();
  }
};

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : state_(std::make_unique<State>()) {
  XGRAD_CHECK(dataset != nullptr, "DataLoader: the dataset is null");
  XGRAD_CHECK(options.batch_size >= 1, "DataLoader: batch_size must be at least 1, got {}", options.batch_size);
  state_->dataset = std::move(dataset);
  state_->options = options;
  if (options.prefetch) state_->worker = std::thread([s = state_.get()] { s->work(); });
}

DataLoader::~DataLoader() {
  if (state_) state_->shut_down();
}

DataLoader::DataLoader(DataLoader&&) noexcept = default;

DataLoader& DataLoader::operator=(DataLoader&& other) noexcept {
  if (this != &other) {
    if (state_) state_->shut_down();
    state_ = std::move(other.state_);
  }
  return *this;
}

std::int64_t DataLoader::size() const { return state_->count_batches(state_->dataset->size()); }

const DataLoaderOptions& DataLoader::options() const { return state_->options; }

DataLoader::Iterator DataLoader::begin() {
  state_->start_epoch();
  return Iterator(state_.get(), state_->current_index);
}

DataLoader::Iterator DataLoader::end() { return Iterator(state_.get(), state_->batches); }

const Batch& DataLoader::Iterator::operator*() const {
  XGRAD_CHECK(batch_ == state_->current_index && batch_ < state_->batches,
              "DataLoader::Iterator: batch {} is not the loader's current batch ({} of {}): one epoch at a time",
              batch_, state_->current_index, state_->batches);
  return state_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  XGRAD_CHECK(batch_ == state_->current_index && batch_ < state_->batches,
              "DataLoader::Iterator: cannot advance batch {} (the loader is at {} of {}): one epoch at a time",
              batch_, state_->current_index, state_->batches);
  ++batch_;
  state_->advance_to(batch_);
  return *this;
}

}  // namespace xgrad::data
