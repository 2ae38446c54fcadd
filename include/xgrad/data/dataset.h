#pragma once
// Datasets: indexable collections of (input, target) examples, PyTorch's map-style datasets.
#include <cstdint>
#include <memory>
#include <vector>

#include "xgrad/tensor.h"

namespace xgrad {
class Generator;
}

namespace xgrad::data {

struct Example {
  Tensor input;
  Tensor target;
};

// Examples' inputs and targets stacked along a new first dim (0-d targets become [B]).
struct Batch {
  Tensor input;
  Tensor target;
};

// The batch of `examples` (at least one, all of one input shape and one target shape).
Batch collate(const std::vector<Example>& examples);

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::int64_t size() const = 0;
  // Raises xgrad::Error naming the index and the size when i is outside [0, size()).
  Example get(std::int64_t i) const;
  // The examples at `indices` (at least one, each checked as by get()) as one batch.
  Batch get_batch(const std::vector<std::int64_t>& indices) const;

 protected:
  // Called with an index already checked against size().
  virtual Example get_checked(std::int64_t i) const = 0;
  // Called with checked indices. By default get() of each, then collate(); a dataset holding
  // its examples in tensors gathers the batch in one go instead.
  virtual Batch get_batch_checked(const std::vector<std::int64_t>& indices) const;
};

// Example i is (inputs[i], targets[i]); the first dims must match.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);
  std::int64_t size() const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 protected:
  Example get_checked(std::int64_t i) const override;
  Batch get_batch_checked(const std::vector<std::int64_t>& indices) const override;  // index_select

 private:
  Tensor inputs_;
  Tensor targets_;
};

// The examples of `dataset` at `indices` (each checked against the dataset's size), in that order.
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> dataset, std::vector<std::int64_t> indices);
  std::int64_t size() const override;
  const std::vector<std::int64_t>& indices() const { return indices_; }
  const std::shared_ptr<const Dataset>& dataset() const { return dataset_; }

 protected:
  Example get_checked(std::int64_t i) const override;
  Batch get_batch_checked(const std::vector<std::int64_t>& indices) const override;  // the parent's batch

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::vector<std::int64_t> indices_;
};

// Fractions for random_split: random_split(ds, Fractions{{0.8, 0.2}}) (a type of its own, so that
// random_split(ds, {800, 200}) is not ambiguous).
struct Fractions {
  std::vector<double> values;
};

// PyTorch's random_split: one randperm of the whole dataset cut into consecutive pieces of the
// given lengths, which must sum to the dataset's size. Fractions (all in [0, 1], summing to 1)
// become floor(size * fraction) each, and the remainder is handed out one by one to the pieces
// in order, round robin. Draws from `gen`, or default_generator() when null.
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const std::vector<std::int64_t>& lengths,
                                                  Generator* gen = nullptr);
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const Fractions& fractions, Generator* gen = nullptr);
// The lengths the fractions of random_split become for a dataset of `size` examples.
std::vector<std::int64_t> split_lengths(std::int64_t size, const Fractions& fractions);

}  // namespace xgrad::data
