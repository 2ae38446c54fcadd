// Dataset's index check, TensorDataset and Subset.
#include "xgrad/data/dataset.h"

#include <utility>
#include <vector>

#include "xgrad/error.h"
#include "xgrad/ops.h"

namespace xgrad::data {

Example Dataset::get(std::int64_t i) const {
  const std::int64_t n = size();
  XGRAD_CHECK(i >= 0 && i < n, "Dataset::get: index {} is out of range for a dataset of size {}", i, n);
  return get_checked(i);
}

Batch collate(const std::vector<Example>& examples) {
  XGRAD_CHECK(!examples.empty(), "collate: no examples to batch");
  TensorList inputs, targets;
  inputs.reserve(examples.size());
  targets.reserve(examples.size());
  for (std::size_t k = 0; k < examples.size(); ++k) {
    XGRAD_CHECK(examples[k].input.defined() && examples[k].target.defined(),
                "collate: example {} of the batch has an undefined input or target", k);
    XGRAD_CHECK(examples[k].input.shape() == examples[0].input.shape(),
                "collate: example {} has input shape {}, but example 0 has {}", k, to_string(examples[k].input.shape()),
                to_string(examples[0].input.shape()));
    XGRAD_CHECK(examples[k].target.shape() == examples[0].target.shape(),
                "collate: example {} has target shape {}, but example 0 has {}", k, to_string(examples[k].target.shape()),
                to_string(examples[0].target.shape()));
    inputs.push_back(examples[k].input);
    targets.push_back(examples[k].target);
  }
  return {.input = stack(inputs, 0), .target = stack(targets, 0)};
}

Batch Dataset::get_batch(const std::vector<std::int64_t>& indices) const {
  XGRAD_CHECK(!indices.empty(), "Dataset::get_batch: no indices given");
  const std::int64_t n = size();
  for (std::size_t k = 0; k < indices.size(); ++k)
    XGRAD_CHECK(indices[k] >= 0 && indices[k] < n,
                "Dataset::get_batch: index {} (position {} of the batch) is out of range for a dataset of size {}",
                indices[k], k, n);
  return get_batch_checked(indices);
}

Batch Dataset::get_batch_checked(const std::vector<std::int64_t>& indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (std::int64_t i : indices) examples.push_back(get_checked(i));
  return collate(examples);
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  XGRAD_CHECK(inputs_.defined() && targets_.defined(), "TensorDataset: inputs and targets must be defined tensors");
  XGRAD_CHECK(inputs_.dim() >= 1 && targets_.dim() >= 1,
              "TensorDataset: inputs {} and targets {} need a first (example) dim", to_string(inputs_.shape()),
              to_string(targets_.shape()));
  XGRAD_CHECK(inputs_.size(0) == targets_.size(0),
              "TensorDataset: inputs {} and targets {} have different first dims ({} vs {})", to_string(inputs_.shape()),
              to_string(targets_.shape()), inputs_.size(0), targets_.size(0));
}

std::int64_t TensorDataset::size() const { return inputs_.size(0); }

Example TensorDataset::get_checked(std::int64_t i) const {
  return {.input = inputs_.index({i}), .target = targets_.index({i})};
}

Batch TensorDataset::get_batch_checked(const std::vector<std::int64_t>& indices) const {
  const Tensor rows = tensor(indices, Shape({static_cast<std::int64_t>(indices.size())}));
  return {.input = index_select(inputs_, 0, rows), .target = index_select(targets_, 0, rows)};
}

Subset::Subset(std::shared_ptr<const Dataset> dataset, std::vector<std::int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  XGRAD_CHECK(dataset_ != nullptr, "Subset: the dataset is null");
  const std::int64_t n = dataset_->size();
  for (std::size_t k = 0; k < indices_.size(); ++k)
    XGRAD_CHECK(indices_[k] >= 0 && indices_[k] < n,
                "Subset: indices[{}] = {} is out of range for a dataset of size {}", k, indices_[k], n);
}

std::int64_t Subset::size() const { return static_cast<std::int64_t>(indices_.size()); }

Example Subset::get_checked(std::int64_t i) const { return dataset_->get(indices_[static_cast<std::size_t>(i)]); }

Batch Subset::get_batch_checked(const std::vector<std::int64_t>& indices) const {
  std::vector<std::int64_t> parent(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) parent[k] = indices_[static_cast<std::size_t>(indices[k])];
  return dataset_->get_batch(parent);
}

}  // namespace xgrad::data
