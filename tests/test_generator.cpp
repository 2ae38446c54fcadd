// Generator: seeded streams, one per object; the default generator keeps manual_seed's behaviour;
// every random factory and fill takes one; its state round-trips for bit-exact resumes.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <algorithm>
#include <numeric>
#include <thread>

#include "test_util.h"

using namespace xgrad;

TEST_CASE("generator: same seed same stream, different seeds differ, copies continue independently") {
  Generator a(42), b(42), c(43);
  const Tensor ra = rand({100}, a, {.dtype = Dtype::float64});
  CHECK(equal(ra, rand({100}, b, {.dtype = Dtype::float64})));
  CHECK_FALSE(equal(ra, rand({100}, c, {.dtype = Dtype::float64})));
  Generator fork = a;
  CHECK(equal(randn({10}, a), randn({10}, fork)));
  CHECK(a.initial_seed() == 42);
  a.manual_seed(42);
  CHECK(equal(rand({100}, a, {.dtype = Dtype::float64}), ra));
}

TEST_CASE("generator: a private generator is not disturbed by draws from the default one") {
  Generator g(7);
  const Tensor first = randn({5}, g);
  g.manual_seed(7);
  (void)rand({1000});  // default generator
  manual_seed(3);
  CHECK(equal(randn({5}, g), first));
}

TEST_CASE("generator: manual_seed still drives the functions given no generator") {
  manual_seed(11);
  const Tensor a = rand({8});
  const Tensor b = randn({8});
  const Tensor p = randperm(8);
  manual_seed(11);
  CHECK(equal(rand({8}), a));
  CHECK(equal(randn({8}), b));
  CHECK(equal(randperm(8), p));
  // The default generator is the one manual_seed seeds: drawing through it continues the stream.
  manual_seed(11);
  Generator& d = default_generator();
  CHECK(equal(rand({8}, d), a));
}

TEST_CASE("generator: the seeded stream matches the mt19937_64 reference values") {
  // std::mt19937_64 with its default seed 5489 yields 9981545732273789042 as its 10000th value
  // (the C++ standard's required check, [rand.predef]).
  Generator g(5489);
  std::uint64_t v = 0;
  for (int i = 0; i < 10000; ++i) v = g.next_u64();
  CHECK(v == 9981545732273789042ULL);
  // uniform01 keeps the top 53 bits: exactly k / 2^53.
  Generator h(5489);
  const double u = h.uniform01();
  CHECK(u == static_cast<double>(14514284786278117030ULL >> 11) * 0x1.0p-53);  // the first value for 5489
}

TEST_CASE("generator: randperm is a permutation, randint stays in range, bernoulli has the right mean") {
  Generator g(1);
  auto perm = randperm(1000, g).to_vector<std::int64_t>();
  std::vector<std::int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> expected(1000);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(sorted == expected);
  CHECK(perm != expected);
  CHECK(randperm(0, g).numel() == 0);
  CHECK(randperm(1, g).to_vector<std::int64_t>() == std::vector<std::int64_t>{0});

  const auto r = randint(-3, 4, {10000}, g).to_vector<std::int64_t>();
  CHECK(*std::min_element(r.begin(), r.end()) == -3);
  CHECK(*std::max_element(r.begin(), r.end()) == 3);

  const Tensor b = bernoulli({20000}, 0.3, g, {.dtype = Dtype::float64});
  CHECK(b.mean().item() == doctest::Approx(0.3).epsilon(0.05));
  const auto bv = b.to_vector<double>();
  CHECK(std::all_of(bv.begin(), bv.end(), [](double x) { return x == 0.0 || x == 1.0; }));
  // Per-element probabilities: 0 and 1 are certain.
  const Tensor probs = tensor({0.0, 1.0, 0.0, 1.0});
  CHECK(bernoulli(probs, g).to_vector<double>() == std::vector<double>{0, 1, 0, 1});
  CHECK(bernoulli(probs, g).dtype() == Dtype::float32);
}

TEST_CASE("generator: normal has the requested mean and std, uniform its range") {
  Generator g(5);
  const Tensor n = normal({50000}, 2.0, 0.5, g, {.dtype = Dtype::float64});
  CHECK(n.mean().item() == doctest::Approx(2.0).epsilon(0.01));
  CHECK(xgrad::std(n).item() == doctest::Approx(0.5).epsilon(0.02));
  const Tensor u = uniform({10000}, -2, 3, g);
  CHECK(u.min().item() >= -2);
  CHECK(u.max().item() < 3);
  Tensor w = zeros({1000}, {.dtype = Dtype::float64});
  Generator g1(9), g2(9);
  w.uniform_(-1, 1, g1);
  CHECK(equal(w, uniform({1000}, -1, 1, g2, {.dtype = Dtype::float64})));
  w.normal_(0, 1, g1);
  CHECK(equal(w, normal({1000}, 0, 1, g2, {.dtype = Dtype::float64})));
}

TEST_CASE("generator: dropout with a generator draws its mask from it") {
  const Tensor x = ones({64});
  Generator g1(3), g2(3);
  CHECK(equal(dropout(x, 0.5, true, g1), dropout(x, 0.5, true, g2)));
  CHECK_FALSE(equal(dropout(x, 0.5, true, g1), dropout(x, 0.5, true, g1)));
}

TEST_CASE("generator: get_state and set_state resume a stream exactly (normals' spare included)") {
  Generator g(123);
  (void)g.normal01();  // leaves a spare normal pending
  const Tensor state = g.get_state();
  CHECK(state.dtype() == Dtype::int64);
  const Tensor next = randn({7}, g, {.dtype = Dtype::float64});
  Generator other(999);
  other.set_state(state);
  CHECK(other.initial_seed() == 123);
  CHECK(equal(randn({7}, other, {.dtype = Dtype::float64}), next));

  Generator untouched(5);
  const Tensor before = untouched.get_state();
  CHECK(test::error_of([&] { untouched.set_state(zeros({3}, {.dtype = Dtype::int64})); }).find("get_state") !=
        std::string::npos);
  CHECK(test::error_of([&] { untouched.set_state(ones({10})); }).find("int64") != std::string::npos);
  Tensor bad = state.clone();
  bad.mutable_data<std::int64_t>()[0] = 1;  // wrong marker
  CHECK_THROWS_AS(untouched.set_state(bad), Error);
  CHECK(equal(untouched.get_state(), before));
}

TEST_CASE("generator: one generator per thread gives each thread its own reproducible stream") {
  std::vector<Tensor> out(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&out, t] {
      Generator g(static_cast<std::uint64_t>(100 + t));
      out[static_cast<std::size_t>(t)] = rand({1000}, g);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    Generator g(static_cast<std::uint64_t>(100 + t));
    CHECK(equal(out[static_cast<std::size_t>(t)], rand({1000}, g)));
  }
}

TEST_CASE("generator: bad arguments raise naming the function") {
  Generator g;
  CHECK(test::error_of([&] { randperm(-1, g); }).find("randperm") != std::string::npos);
  CHECK(test::error_of([&] { bernoulli({3}, 1.5, g); }).find("bernoulli") != std::string::npos);
  CHECK(test::error_of([&] { bernoulli(tensor({0.5, 2.0}), g); }).find("outside [0, 1]") != std::string::npos);
  CHECK(test::error_of([&] { normal({3}, 0, -1, g); }).find("normal") != std::string::npos);
  CHECK(test::error_of([&] { rand({3}, g, {.dtype = Dtype::int64}); }).find("rand") != std::string::npos);
}
