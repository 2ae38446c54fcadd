// data/: datasets, random_split, the DataLoader (collation, shuffling, the prefetch thread) and
// the image transforms.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <xgrad/data.h>

#include "test_util.h"

using namespace xgrad;
using namespace xgrad::data;
using xgrad::test::check_close;
using xgrad::test::error_of;
using xgrad::test::values;

namespace {

// n examples: input i is [i, 10 i] (float32), target i is the 0-d int64 i.
std::shared_ptr<TensorDataset> counting_dataset(std::int64_t n) {
  std::vector<double> inputs;
  std::vector<std::int64_t> targets;
  for (std::int64_t i = 0; i < n; ++i) {
    inputs.push_back(static_cast<double>(i));
    inputs.push_back(10.0 * static_cast<double>(i));
    targets.push_back(i);
  }
  return std::make_shared<TensorDataset>(tensor(inputs, {n, 2}), tensor(targets, {n}));
}

// The targets of every batch of one epoch, batch by batch.
std::vector<std::vector<std::int64_t>> epoch_targets(DataLoader& loader) {
  std::vector<std::vector<std::int64_t>> out;
  for (const Batch& b : loader) out.push_back(b.target.to_vector<std::int64_t>());
  return out;
}

// Raises on example `bad`; counts the calls to get().
class FailingDataset : public Dataset {
 public:
  FailingDataset(std::int64_t n, std::int64_t bad) : n_(n), bad_(bad) {}
  std::int64_t size() const override { return n_; }
  mutable std::atomic<int> calls{0};

 protected:
  Example get_checked(std::int64_t i) const override {
    ++calls;
    if (i == bad_) throw Error(fmt::format("FailingDataset: example {} is broken", i));
    return {.input = full({2}, static_cast<double>(i)), .target = scalar_tensor(static_cast<double>(i), {.dtype = Dtype::int64})};
  }

 private:
  std::int64_t n_, bad_;
};

// Slow examples, so that a loader is destroyed while its worker is busy.
class SlowDataset : public Dataset {
 public:
  std::int64_t size() const override { return 64; }

 protected:
  Example get_checked(std::int64_t i) const override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return {.input = full({3}, static_cast<double>(i)), .target = scalar_tensor(static_cast<double>(i), {.dtype = Dtype::int64})};
  }
};

}  // namespace

TEST_CASE("data: Dataset::get raises naming the index and the size") {
  auto ds = counting_dataset(5);
  CHECK(ds->size() == 5);
  const Example e = ds->get(3);
  check_close(e.input, {3, 30}, 1e-12);
  CHECK(e.target.dim() == 0);
  CHECK(e.target.item<std::int64_t>() == 3);
  const std::string msg = error_of([&] { ds->get(5); });
  CHECK(msg.find("index 5") != std::string::npos);
  CHECK(msg.find("size 5") != std::string::npos);
  CHECK(error_of([&] { ds->get(-1); }).find("index -1") != std::string::npos);
  CHECK(error_of([] { TensorDataset(zeros({4, 2}), zeros({3})); }).find("first dims") != std::string::npos);
}

TEST_CASE("data: Subset maps indices and checks them") {
  auto ds = counting_dataset(6);
  Subset sub(ds, {4, 1, 4});
  CHECK(sub.size() == 3);
  CHECK(sub.get(0).target.item<std::int64_t>() == 4);
  CHECK(sub.get(1).target.item<std::int64_t>() == 1);
  CHECK(sub.get(2).target.item<std::int64_t>() == 4);
  CHECK(error_of([&] { sub.get(3); }).find("size 3") != std::string::npos);
  CHECK(error_of([&] { Subset(ds, {0, 6}); }).find("indices[1] = 6") != std::string::npos);
}

TEST_CASE("data: random_split lengths are disjoint and cover the dataset") {
  auto ds = counting_dataset(10);
  Generator gen(7);
  auto pieces = random_split(ds, {3, 0, 7}, &gen);
  REQUIRE(pieces.size() == 3);
  CHECK(pieces[0]->size() == 3);
  CHECK(pieces[1]->size() == 0);
  CHECK(pieces[2]->size() == 7);
  std::vector<std::int64_t> all;
  for (const auto& p : pieces)
    for (std::int64_t i = 0; i < p->size(); ++i) all.push_back(p->get(i).target.item<std::int64_t>());
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // The pieces are consecutive runs of one randperm of the same generator.
  Generator again(7);
  const auto perm = randperm(10, again).to_vector<std::int64_t>();
  CHECK(pieces[0]->indices() == std::vector<std::int64_t>(perm.begin(), perm.begin() + 3));
  CHECK(pieces[2]->indices() == std::vector<std::int64_t>(perm.begin() + 3, perm.end()));
  CHECK(error_of([&] { random_split(ds, {3, 6}, &gen); }).find("sum to 9") != std::string::npos);
}

TEST_CASE("data: random_split fractions round as PyTorch does") {
  // PyTorch: floor(n * f) each, then the remainder one by one round robin from the first piece.
  CHECK(split_lengths(10, Fractions{{0.5, 0.5}}) == std::vector<std::int64_t>{5, 5});
  CHECK(split_lengths(11, Fractions{{0.5, 0.5}}) == std::vector<std::int64_t>{6, 5});
  // 10 * 0.3 = 3 three times, remainder 1 -> the first piece.
  CHECK(split_lengths(10, Fractions{{0.3, 0.3, 0.4}}) == std::vector<std::int64_t>{3, 3, 4});
  // floor(7/3) = 2 each, remainder 1.
  CHECK(split_lengths(7, Fractions{{1.0 / 3, 1.0 / 3, 1.0 / 3}}) == std::vector<std::int64_t>{3, 2, 2});
  // floor(5 * 0.1) = 0, floor(5 * 0.1) = 0, floor(5 * 0.8) = 4, remainder 1 -> the first piece.
  CHECK(split_lengths(5, Fractions{{0.1, 0.1, 0.8}}) == std::vector<std::int64_t>{1, 0, 4});
  auto ds = counting_dataset(11);
  Generator gen(1);
  auto pieces = random_split(ds, Fractions{{0.5, 0.5}}, &gen);
  CHECK(pieces[0]->size() == 6);
  CHECK(pieces[1]->size() == 5);
  CHECK(error_of([] { split_lengths(10, Fractions{{0.5, 0.6}}); }).find("sum to") != std::string::npos);
  CHECK(error_of([] { split_lengths(10, Fractions{{1.5, -0.5}}); }).find("not in [0, 1]") != std::string::npos);
}

TEST_CASE("data: get_batch gathers what get() and collate() give") {
  // Targets with a dim of their own: [6, 2] -> batches [B, 2].
  std::vector<double> x, y;
  for (int i = 0; i < 6; ++i) {
    x.insert(x.end(), {1.0 * i, 2.0 * i, 3.0 * i});
    y.insert(y.end(), {-1.0 * i, 0.5 * i});
  }
  auto ds = std::make_shared<TensorDataset>(tensor(x, {6, 1, 3}), tensor(y, {6, 2}));
  const std::vector<std::int64_t> picks = {4, 0, 4, 2};
  const Batch fast = ds->get_batch(picks);  // index_select
  std::vector<Example> examples;
  for (std::int64_t i : picks) examples.push_back(ds->get(i));
  const Batch slow = collate(examples);  // stack
  CHECK(fast.input.shape() == Shape({4, 1, 3}));
  CHECK(fast.target.shape() == Shape({4, 2}));
  CHECK(slow.input.shape() == Shape({4, 1, 3}));
  check_close(fast.input, {4, 8, 12, 0, 0, 0, 4, 8, 12, 2, 4, 6}, 1e-12);
  check_close(fast.target, {-4, 2, 0, 0, -4, 2, -2, 1}, 1e-12);
  CHECK(values(slow.input) == values(fast.input));
  CHECK(values(slow.target) == values(fast.target));
  // A Subset's batch is its parent's batch at the mapped indices.
  Subset sub(ds, {5, 3});
  check_close(sub.get_batch({1, 0}).target, {-3, 1.5, -5, 2.5}, 1e-12);
  const std::string msg = error_of([&] { ds->get_batch({1, 6}); });
  CHECK(msg.find("index 6 (position 1") != std::string::npos);
  CHECK(msg.find("size 6") != std::string::npos);
  CHECK(error_of([&] { sub.get_batch({2}); }).find("size 2") != std::string::npos);
  CHECK(error_of([] { collate({{.input = zeros({2}), .target = zeros({})}, {.input = zeros({3}), .target = zeros({})}}); })
            .find("example 1 has input shape") != std::string::npos);
}

TEST_CASE("data: DataLoader collates batches in order, with a short last batch") {
  auto ds = counting_dataset(5);
  DataLoader loader(ds, {.batch_size = 2});
  CHECK(loader.size() == 3);
  std::vector<Batch> batches;
  for (const Batch& b : loader) batches.push_back(b);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].input.shape() == Shape({2, 2}));
  CHECK(batches[0].target.shape() == Shape({2}));
  CHECK(batches[0].target.dtype() == Dtype::int64);
  check_close(batches[0].input, {0, 0, 1, 10}, 1e-12);
  check_close(batches[1].input, {2, 20, 3, 30}, 1e-12);
  CHECK(batches[2].input.shape() == Shape({1, 2}));
  check_close(batches[2].input, {4, 40}, 1e-12);
  CHECK(batches[2].target.to_vector<std::int64_t>() == std::vector<std::int64_t>{4});
  // Batches of tensors that require grad carry no history: loading records nothing.
  auto leafy = std::make_shared<TensorDataset>(ones({4, 2}, {.requires_grad = true}), zeros({4}));
  for (bool prefetch : {true, false})
    for (const Batch& b : DataLoader(leafy, {.batch_size = 2, .prefetch = prefetch})) CHECK(b.input.grad_fn() == nullptr);
}

TEST_CASE("data: DataLoader drop_last drops the short batch") {
  auto ds = counting_dataset(5);
  DataLoader loader(ds, {.batch_size = 2, .drop_last = true});
  CHECK(loader.size() == 2);
  CHECK(epoch_targets(loader) == std::vector<std::vector<std::int64_t>>{{0, 1}, {2, 3}});
  DataLoader exact(counting_dataset(4), {.batch_size = 2, .drop_last = true});
  CHECK(exact.size() == 2);
  DataLoader too_small(counting_dataset(1), {.batch_size = 2, .drop_last = true});
  CHECK(too_small.size() == 0);
  CHECK(epoch_targets(too_small).empty());
  CHECK(error_of([&] { DataLoader(ds, {.batch_size = 0}); }).find("batch_size") != std::string::npos);
}

TEST_CASE("data: DataLoader shuffle gives a new permutation each epoch, the same for the same seed") {
  auto ds = counting_dataset(10);
  Generator gen(123);
  DataLoader loader(ds, {.batch_size = 3, .shuffle = true, .generator = &gen});
  std::vector<std::vector<std::int64_t>> epochs;
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<std::int64_t> seen;
    for (const Batch& b : loader) {
      // Inputs travel with their targets.
      const auto t = b.target.to_vector<std::int64_t>();
      const auto x = values(b.input);
      for (std::size_t k = 0; k < t.size(); ++k) CHECK(x[2 * k + 1] == 10.0 * static_cast<double>(t[k]));
      seen.insert(seen.end(), t.begin(), t.end());
    }
    std::vector<std::int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    epochs.push_back(seen);
  }
  CHECK(epochs[0] != epochs[1]);  // 1 chance in 10! of a false failure, and the seed is fixed
  // Each epoch's order is randperm(n) of the loader's generator.
  Generator replay(123);
  for (int epoch = 0; epoch < 3; ++epoch) CHECK(epochs[epoch] == randperm(10, replay).to_vector<std::int64_t>());
}

TEST_CASE("data: DataLoader thread prefetch on and off give identical batches") {
  auto base = counting_dataset(23);
  // A random transform too, drawing from the dataset's own generator on the worker thread.
  Generator transform_gen_a(5), transform_gen_b(5);
  auto noisy = [](const Tensor& x, Generator* g) { return x + static_cast<double>(g->below(1000)); };
  auto ds_a = std::make_shared<TransformDataset>(base, noisy, &transform_gen_a);
  auto ds_b = std::make_shared<TransformDataset>(base, noisy, &transform_gen_b);
  Generator gen_a(99), gen_b(99);
  DataLoader with(ds_a, {.batch_size = 4, .shuffle = true, .generator = &gen_a, .prefetch = true});
  DataLoader without(ds_b, {.batch_size = 4, .shuffle = true, .generator = &gen_b, .prefetch = false});
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<Batch> a, b;
    for (const Batch& batch : with) a.push_back(batch);
    for (const Batch& batch : without) b.push_back(batch);
    REQUIRE(a.size() == 6);
    REQUIRE(b.size() == 6);
    for (std::size_t k = 0; k < a.size(); ++k) {
      CHECK(a[k].target.to_vector<std::int64_t>() == b[k].target.to_vector<std::int64_t>());
      CHECK(values(a[k].input) == values(b[k].input));
    }
  }
}

TEST_CASE("data: DataLoader thread rethrows a worker exception at that batch") {
  for (bool prefetch : {true, false}) {
    INFO("prefetch ", prefetch);
    auto ds = std::make_shared<FailingDataset>(10, 5);
    DataLoader loader(ds, {.batch_size = 2, .prefetch = prefetch});
    std::vector<std::int64_t> reached;
    std::string message;
    try {
      for (const Batch& b : loader) reached.push_back(b.target.to_vector<std::int64_t>()[0]);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(reached == std::vector<std::int64_t>{0, 2});  // batch 2 holds example 5
    CHECK(message.find("example 5 is broken") != std::string::npos);
    // A new epoch starts cleanly after the failure.
    auto it = loader.begin();
    CHECK((*it).target.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
  }
  // Skipping the broken batch: the loader carries on with the next one.
  auto ds = std::make_shared<FailingDataset>(6, 2);
  DataLoader loader(ds, {.batch_size = 2});
  auto it = loader.begin();
  CHECK_THROWS_AS(++it, Error);
  ++it;
  CHECK((*it).target.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 5});
}

TEST_CASE("data: DataLoader thread destroyed mid-epoch joins cleanly") {
  auto ds = std::make_shared<SlowDataset>();
  for (int round = 0; round < 3; ++round) {
    DataLoader loader(ds, {.batch_size = 4, .shuffle = true});
    int seen = 0;
    for (const Batch& b : loader) {
      CHECK(b.input.shape() == Shape({4, 3}));
      if (++seen == 2) break;  // the worker is preparing batch 2 now
    }
    CHECK(seen == 2);
  }
  // Abandoning an epoch for a new one, and never iterating at all.
  DataLoader loader(ds, {.batch_size = 8});
  loader.begin();
  CHECK(epoch_targets(loader).size() == 8);
  DataLoader idle(ds, {.batch_size = 8});
  // A moved loader keeps its worker; the moved-from one destroys nothing.
  DataLoader moved = std::move(idle);
  CHECK(moved.size() == 8);
}

TEST_CASE("data: Normalize per channel") {
  // [2, 1, 2]: channel 0 = {1, 3}, channel 1 = {10, 20}.
  const Tensor image = tensor(std::vector<double>{1, 3, 10, 20}, Shape({2, 1, 2}));
  const Tensor out = Normalize({1, 10}, {2, 5})(image);
  CHECK(out.shape() == Shape({2, 1, 2}));
  check_close(out, {0, 1, 0, 2}, 1e-7);
  check_close(Normalize({1}, {2})(image), {0, 1, 4.5, 9.5}, 1e-7);
  CHECK(error_of([&] { Normalize({0, 0, 0}, {1, 1, 1})(image); }).find("2 channels") != std::string::npos);
  CHECK(error_of([] { Normalize({0}, {0}); }).find("std[0]") != std::string::npos);
}

TEST_CASE("data: RandomHorizontalFlip reverses the width") {
  const Tensor image = tensor(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape({1, 2, 3}));
  check_close(RandomHorizontalFlip(1.0)(image), {3, 2, 1, 6, 5, 4}, 1e-12);
  check_close(RandomHorizontalFlip(0.0)(image), {1, 2, 3, 4, 5, 6}, 1e-12);
  // p = 0.5: flips exactly when the generator's uniform draw is below p.
  Generator gen(3), replay(3);
  for (int k = 0; k < 20; ++k) {
    const bool flip = replay.uniform01() < 0.5;
    check_close(RandomHorizontalFlip(0.5)(image, &gen), flip ? std::vector<double>{3, 2, 1, 6, 5, 4}
                                                             : std::vector<double>{1, 2, 3, 4, 5, 6}, 1e-12);
  }
}

TEST_CASE("data: RandomCrop pads then cuts at the drawn corner") {
  // 1 x 2 x 2 image {1, 2; 3, 4}, padding 1 -> 4 x 4, crop 2 x 2: corners 0..2 each way.
  const Tensor image = tensor(std::vector<double>{1, 2, 3, 4}, Shape({1, 2, 2}));
  const std::vector<double> padded = {0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0};
  Generator gen(11), replay(11);
  std::set<std::pair<std::int64_t, std::int64_t>> corners;
  for (int k = 0; k < 30; ++k) {
    const auto top = static_cast<std::int64_t>(replay.below(3));
    const auto left = static_cast<std::int64_t>(replay.below(3));
    corners.insert({top, left});
    const Tensor out = RandomCrop({2, 2}, 1)(image, &gen);
    REQUIRE(out.shape() == Shape({1, 2, 2}));
    std::vector<double> expected;
    for (std::int64_t r = top; r < top + 2; ++r)
      for (std::int64_t c = left; c < left + 2; ++c) expected.push_back(padded[static_cast<std::size_t>(r * 4 + c)]);
    check_close(out, expected, 1e-12);
  }
  CHECK(corners.size() > 4);  // the corners vary
  // Same size, no padding: the image itself, nothing drawn.
  Generator untouched(11), reference(11);
  check_close(RandomCrop({2, 2})(image, &untouched), {1, 2, 3, 4}, 1e-12);
  CHECK(untouched.next_u64() == reference.next_u64());
  // Fill value and a crop larger than the padded image.
  check_close(RandomCrop({4, 4}, 1, -1.0)(image), {-1, -1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1, -1, -1, -1}, 1e-12);
  CHECK(error_of([&] { RandomCrop({3, 3})(image); }).find("larger than") != std::string::npos);
}

TEST_CASE("data: Compose and TransformDataset apply transforms in order") {
  const Tensor image = tensor(std::vector<double>{1, 2, 3, 4}, Shape({1, 2, 2}));
  Compose flip_then_normalize({RandomHorizontalFlip(1.0), Normalize({1}, {2})});
  check_close(flip_then_normalize(image), {0.5, 0, 1.5, 1}, 1e-7);
  auto ds = std::make_shared<TensorDataset>(tensor(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}, Shape({2, 1, 2, 2})),
                                            tensor(std::vector<std::int64_t>{7, 8}, {2}));
  TransformDataset flipped(ds, RandomHorizontalFlip(1.0));
  CHECK(flipped.size() == 2);
  const Example e = flipped.get(1);
  check_close(e.input, {6, 5, 8, 7}, 1e-12);
  CHECK(e.target.item<std::int64_t>() == 8);
  CHECK(error_of([&] { flipped.get(2); }).find("index 2") != std::string::npos);
}
