// Dataset's index check, TensorDataset and Subset.
#include "xgrad/data/dataset.h"

#include <utility>

#include "xgrad/error.h"

namespace xgrad::data {

Example Dataset::get(std::int64_t i) const {
  const std::int64_t n = size();
  XGRAD_CHECK(i >= 0 && i < n, "Dataset::get: index {} is out of range for a dataset of size {}", i, n);
  return get_checked(i);
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

}  // namespace xgrad::data
