// InlineList (a node's edges and saved tensors): elements stay in order and intact when the list
// grows past its inline capacity, and nodes with more inputs than that work end to end.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <memory>
#include <string>

using namespace xgrad;

TEST_CASE("inline list: keeps order and values across the spill to the heap") {
  InlineList<std::string, 3> list;
  CHECK(list.empty());
  for (int i = 0; i < 10; ++i) {
    list.emplace_back(std::string(40, static_cast<char>('a' + i)));  // heap-allocated strings move
    REQUIRE(list.size() == static_cast<std::size_t>(i + 1));
    for (int j = 0; j <= i; ++j) CHECK(list[static_cast<std::size_t>(j)] == std::string(40, static_cast<char>('a' + j)));
  }
  std::string joined;
  for (const std::string& s : list) joined += s.front();
  CHECK(joined == "abcdefghij");
  list.clear();
  CHECK(list.empty());
  list.push_back("x");
  CHECK(list.size() == 1);
  CHECK(list.span()[0] == "x");
}

TEST_CASE("inline list: a node with more inputs than the inline edges (cat of 7) routes every gradient") {
  TensorList parts;
  for (int i = 0; i < 7; ++i) parts.push_back(full({2}, static_cast<double>(i), {.requires_grad = true}));
  Tensor y = cat(parts, 0);
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->next_edges().size() == 7);
  // Weights 0..13 along the concatenation: part i gets [2i, 2i + 1].
  Tensor w = arange(0.0, 14.0);
  sum(y * w).backward();
  for (int i = 0; i < 7; ++i) {
    const auto g = parts[static_cast<std::size_t>(i)].grad().to_vector<float>();
    CHECK(g[0] == doctest::Approx(2 * i));
    CHECK(g[1] == doctest::Approx(2 * i + 1));
  }
}
