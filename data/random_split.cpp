// random_split: torch.utils.data.random_split's rules (lengths or fractions, one randperm).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "xgrad/data/dataset.h"
#include "xgrad/error.h"
#include "xgrad/generator.h"

namespace xgrad::data {

std::vector<std::int64_t> split_lengths(std::int64_t size, const Fractions& fractions_in) {
  const std::vector<double>& fractions = fractions_in.values;
  XGRAD_CHECK(!fractions.empty(), "random_split: no fractions given");
  XGRAD_CHECK(size >= 0, "random_split: negative dataset size {}", size);
  double total = 0;
  for (std::size_t k = 0; k < fractions.size(); ++k) {
    XGRAD_CHECK(fractions[k] >= 0 && fractions[k] <= 1, "random_split: fraction at index {} is {}, not in [0, 1]",
                k, fractions[k]);
    total += fractions[k];
  }
  // PyTorch: math.isclose(sum, 1) (relative tolerance 1e-9) and sum <= 1.
  XGRAD_CHECK(std::abs(total - 1.0) <= 1e-9 * std::max(1.0, std::abs(total)) && total <= 1.0,
              "random_split: fractions sum to {}, expected 1", total);
  std::vector<std::int64_t> lengths;
  std::int64_t assigned = 0;
  for (double f : fractions) {
    lengths.push_back(static_cast<std::int64_t>(std::floor(static_cast<double>(size) * f)));
    assigned += lengths.back();
  }
  // The remainder goes one example at a time to the pieces in order, round robin.
  const std::int64_t remainder = size - assigned;
  for (std::int64_t r = 0; r < remainder; ++r) lengths[static_cast<std::size_t>(r) % lengths.size()] += 1;
  return lengths;
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const std::vector<std::int64_t>& lengths, Generator* gen) {
  XGRAD_CHECK(dataset != nullptr, "random_split: the dataset is null");
  const std::int64_t n = dataset->size();
  std::int64_t total = 0;
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    XGRAD_CHECK(lengths[k] >= 0, "random_split: length at index {} is negative ({})", k, lengths[k]);
    total += lengths[k];
  }
  XGRAD_CHECK(total == n, "random_split: lengths sum to {}, but the dataset has {} examples", total, n);
  const std::vector<std::int64_t> order =
      randperm(n, gen ? *gen : default_generator()).to_vector<std::int64_t>();
  std::vector<std::shared_ptr<Subset>> pieces;
  auto start = order.begin();
  for (std::int64_t length : lengths) {
    pieces.push_back(std::make_shared<Subset>(dataset, std::vector<std::int64_t>(start, start + length)));
    start += length;
  }
  return pieces;
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const Fractions& fractions, Generator* gen) {
  XGRAD_CHECK(dataset != nullptr, "random_split: the dataset is null");
  return random_split(dataset, split_lengths(dataset->size(), fractions), gen);
}

}  // namespace xgrad::data
