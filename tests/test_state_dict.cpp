// StateDict: insertion order, lookups that name the missing key, prefixes for nesting.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include "test_util.h"

using namespace xgrad;

TEST_CASE("state dict: keeps insertion order, finds by name, refuses duplicates") {
  StateDict s;
  s.insert("b.weight", ones({2}));
  s.insert("a.bias", zeros({3}));
  CHECK(s.keys() == std::vector<std::string>{"b.weight", "a.bias"});
  CHECK(s.at("a.bias").numel() == 3);
  CHECK(s.find("missing") == nullptr);
  CHECK(test::error_of([&] { s.at("missing"); }).find("'missing'") != std::string::npos);
  CHECK(test::error_of([&] { s.insert("a.bias", ones({1})); }).find("already present") != std::string::npos);
  CHECK(test::error_of([&] { s.insert("", ones({1})); }).find("empty name") != std::string::npos);
  s.insert_or_assign("a.bias", ones({1}));
  CHECK(s.at("a.bias").numel() == 1);
  CHECK(s.size() == 2);
  CHECK(s.erase("b.weight"));
  CHECK_FALSE(s.erase("b.weight"));
  CHECK(s.keys() == std::vector<std::string>{"a.bias"});
  CHECK(s.at("a.bias").numel() == 1);
}

TEST_CASE("state dict: prefixes nest one dict in another and take it out again") {
  StateDict inner;
  inner.insert("0.weight", ones({2, 2}));
  inner.insert("0.bias", zeros({2}));
  StateDict outer;
  outer.insert("step", scalar_tensor(3));
  outer.insert_prefixed("model.", inner);
  CHECK(outer.keys() == std::vector<std::string>{"step", "model.0.weight", "model.0.bias"});
  const StateDict back = outer.with_prefix("model.");
  CHECK(back.keys() == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(back.at("0.weight").is_same(inner.at("0.weight")));
}
