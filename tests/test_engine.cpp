// The reverse-mode engine: semantics follow PyTorch's autograd.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <thread>

#include <xgrad/xgrad.h>

using namespace xgrad;

namespace {
Tensor scalar(double v, bool requires_grad = true) {
  return scalar_tensor(v, {.dtype = float64, .requires_grad = requires_grad});
}
}  // namespace

TEST_CASE("engine: the lecture circuit f = (x + y) z") {
  auto x = scalar(-2.0), y = scalar(5.0), z = scalar(-4.0);
  auto q = x + y;
  auto f = q * z;
  CHECK(f.item<double>() == -12.0);
  f.backward();
  CHECK(x.grad().item<double>() == -4.0);
  CHECK(y.grad().item<double>() == -4.0);
  CHECK(z.grad().item<double>() == 3.0);
  CHECK(f.grad_fn_name() == "mul");
  CHECK(q.grad_fn_name() == "add");
  CHECK(x.is_leaf());
  CHECK_FALSE(q.is_leaf());
  CHECK_FALSE(q.grad().defined());  // non-leaf grads are not kept unless retained
}

TEST_CASE("engine: fan-out gradients add up (x used three times)") {
  auto x = scalar(3.0);
  auto y = x * x + x;  // dy/dx = 2x + 1
  y.backward();
  CHECK(x.grad().item<double>() == 7.0);
}

TEST_CASE("engine: a non-leaf reused by two consumers gets one summed gradient") {
  auto x = scalar(2.0);
  auto h = exp(x);
  int calls = 0;
  h.register_hook([&](const Tensor& g) {
    ++calls;
    CHECK(g.item<double>() == doctest::Approx(2.0 * std::exp(2.0) + 1.0));
    return Tensor();
  });
  auto y = h * h + h;  // dy/dh = 2h + 1
  y.backward();
  CHECK(calls == 1);  // hooks see the summed buffer once
  CHECK(x.grad().item<double>() == doctest::Approx((2 * std::exp(2.0) + 1) * std::exp(2.0)));
}

TEST_CASE("engine: grad accumulates across backward calls until zero_grad") {
  auto x = scalar(1.5);
  (x * x).backward();
  CHECK(x.grad().item<double>() == 3.0);
  (x * x).backward();
  CHECK(x.grad().item<double>() == 6.0);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * 4.0).backward();
  CHECK(x.grad().item<double>() == 4.0);
}

TEST_CASE("engine: a second backward through freed saved tensors names the node") {
  auto x = scalar(2.0);
  auto y = x * x;
  y.backward();
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("mul"), Error);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph"), Error);
}

TEST_CASE("engine: retain_graph keeps the graph for another backward") {
  auto x = scalar(2.0);
  auto y = x * x;
  y.backward({}, {.retain_graph = true});
  y.backward();
  CHECK(x.grad().item<double>() == 8.0);
}

TEST_CASE("engine: nodes without saved tensors can be re-run") {
  auto x = scalar(2.0);
  auto y = x + x;
  y.backward();
  y.backward();
  CHECK(x.grad().item<double>() == 4.0);
}

TEST_CASE("engine: backward needs an explicit gradient for non-scalar outputs") {
  auto x = ones({2, 3}, {.dtype = float64, .requires_grad = true});
  auto y = x * 2.0;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("[2, 3]"), Error);
  y.backward(full({2, 3}, 0.5, {.dtype = float64}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK_THROWS_WITH_AS((x * 2.0).backward(ones({3, 2}, {.dtype = float64})), doctest::Contains("[3, 2]"), Error);
}

TEST_CASE("engine: backward on a tensor without history is an error") {
  auto x = scalar(1.0, false);
  CHECK_THROWS_AS(x.backward(), Error);
  CHECK_THROWS_AS((x * 2.0).backward(), Error);
}

TEST_CASE("engine: backward on a leaf itself fills its .grad (it aborted before: the seed's node was freed)") {
  auto x = scalar(2.0);
  x.backward();
  CHECK(x.grad().item<double>() == 1.0);
  x.backward(scalar_tensor(3.0, {.dtype = float64}));
  CHECK(x.grad().item<double>() == 4.0);
  auto v = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  CHECK(grad({v}, {v}, {tensor({5.0, 6.0}, {.dtype = float64})})[0].to_vector<double>() ==
        std::vector<double>{5.0, 6.0});
}

TEST_CASE("engine: NoGradGuard stops recording and is thread-local") {
  auto x = scalar(2.0);
  CHECK(is_grad_enabled());
  {
    NoGradGuard guard;
    CHECK_FALSE(is_grad_enabled());
    auto y = x * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    bool other_thread_enabled = false;
    std::thread t([&] { other_thread_enabled = is_grad_enabled(); });
    t.join();
    CHECK(other_thread_enabled);
    {
      EnableGradGuard enable;
      CHECK((x * x).requires_grad());
    }
    CHECK_FALSE(is_grad_enabled());
  }
  CHECK(is_grad_enabled());
}

TEST_CASE("engine: detach cuts the graph but shares values") {
  auto x = scalar(3.0);
  auto d = (x * x).detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.item<double>() == 9.0);
  auto y = x * d;  // d is a constant here
  y.backward();
  CHECK(x.grad().item<double>() == 9.0);
}

TEST_CASE("engine: hooks can replace gradients, removed hooks stop running") {
  auto x = scalar(2.0);
  const auto h = x.register_hook([](const Tensor& g) { return g * 10.0; });
  (x * x).backward();
  CHECK(x.grad().item<double>() == 40.0);
  x.remove_hook(h);
  x.zero_grad();
  (x * x).backward();
  CHECK(x.grad().item<double>() == 4.0);

  auto a = scalar(1.0);
  auto b = a * 3.0;
  b.register_hook([](const Tensor& g) { return g * 2.0; });  // non-leaf hook
  (b * b).backward();                                       // dL/db = 2b = 6, doubled to 12
  CHECK(a.grad().item<double>() == 36.0);
  CHECK_THROWS_AS(scalar(1.0, false).register_hook([](const Tensor& g) { return g; }), Error);
}

TEST_CASE("engine: retain_grad keeps a non-leaf gradient") {
  auto x = scalar(2.0);
  auto h = x * x;
  h.retain_grad();
  CHECK(h.retains_grad());
  auto y = h * 3.0;
  y.backward();
  CHECK(h.grad().item<double>() == 3.0);
  CHECK(x.grad().item<double>() == 12.0);
}

TEST_CASE("engine: create_graph gives differentiable gradients (double backward)") {
  auto x = scalar(2.0);
  auto y = x * x * x;  // 3x^2 = 12, 6x = 12, 6
  auto g = grad({y}, {x}, {}, {.create_graph = true})[0];
  CHECK(g.item<double>() == 12.0);
  CHECK(g.requires_grad());
  auto gg = grad({g}, {x}, {}, {.create_graph = true})[0];
  CHECK(gg.item<double>() == 12.0);
  auto ggg = grad({gg}, {x})[0];
  CHECK(ggg.item<double>() == 6.0);
  CHECK_FALSE(x.grad().defined());  // grad() never touches .grad

  // backward(create_graph) leaves a differentiable .grad
  auto z = scalar(3.0);
  (exp(z) * z).backward({}, {.create_graph = true});
  auto dz = z.grad();  // (1 + z) e^z
  CHECK(dz.item<double>() == doctest::Approx(4.0 * std::exp(3.0)));
  z.zero_grad();
  dz.backward();  // d/dz (1 + z) e^z = (2 + z) e^z
  CHECK(z.grad().item<double>() == doctest::Approx(5.0 * std::exp(3.0)));
}

TEST_CASE("engine: grad() with several inputs, grad_outputs and allow_unused") {
  auto a = ones({3}, {.dtype = float64, .requires_grad = true});
  auto b = full({3}, 2.0, {.dtype = float64, .requires_grad = true});
  auto c = scalar(5.0);
  auto y = a * b;
  auto gs = grad({y}, {a, b}, {full({3}, 3.0, {.dtype = float64})});
  CHECK(gs[0].to_vector<double>() == std::vector<double>{6, 6, 6});
  CHECK(gs[1].to_vector<double>() == std::vector<double>{3, 3, 3});
  CHECK_FALSE(a.grad().defined());
  auto s = sum(a * b);
  CHECK_THROWS_WITH_AS(grad({s}, {a, c}), doctest::Contains("allow_unused"), Error);
  auto s2 = sum(a * b);
  auto gu = grad({s2}, {a, c}, {}, {.allow_unused = true});
  CHECK(gu[0].defined());
  CHECK_FALSE(gu[1].defined());
  // a non-leaf input
  auto x = scalar(2.0);
  auto h = x * x;
  auto out = h * 3.0;
  CHECK(grad({out}, {h})[0].item<double>() == 3.0);
}

TEST_CASE("engine: several roots at once") {
  auto x = scalar(2.0);
  backward({x * 3.0, x * x});
  CHECK(x.grad().item<double>() == 7.0);
}

TEST_CASE("engine: gradients are deterministic") {
  auto run = [] {
    manual_seed(7);
    auto x = randn({4, 5}, {.requires_grad = true});
    auto w = randn({5}, {.requires_grad = true});
    auto y = sum(exp(x * w) * x + x / (w * w + 1.0));
    y.backward();
    return std::pair{x.grad().to_vector<float>(), w.grad().to_vector<float>()};
  };
  CHECK(run() == run());
}

TEST_CASE("engine: requires_grad rules") {
  CHECK_THROWS_WITH_AS(zeros({2}, {.dtype = int64}).requires_grad_(), doctest::Contains("int64"), Error);
  auto x = scalar(1.0);
  auto y = x * 2.0;
  CHECK(y.requires_grad());
  CHECK_THROWS_AS(y.requires_grad_(false), Error);
  auto c = scalar(1.0, false);
  CHECK_FALSE((c * 2.0).requires_grad());
  CHECK((c * x).requires_grad());
}

TEST_CASE("engine: a chain of 1,000,000 ops builds, back-propagates and is freed without recursion") {
  auto x = scalar_tensor(1.0, {.requires_grad = true});
  auto one = scalar_tensor(1.0);
  {
    Tensor y = x;
    for (int i = 0; i < 1'000'000; ++i) y = (i % 2) ? y * one : y + one;
    y.backward();
    CHECK(x.grad().item<float>() == 1.0f);
  }  // the chain is freed here
  {
    Tensor y = x;
    for (int i = 0; i < 1'000'000; ++i) y = y * one;
  }  // freed without any backward: saved tensors still hold the chain
  CHECK(true);
}

// ---------------------------------------------------------------- re-entrancy and hooks

TEST_CASE("engine: grad() inside a hook keeps the outer pass's gradients (per-pass state)") {
  // The reproducer: the inner pass runs through y's node, which the outer pass also uses.
  auto x = tensor({1.0, 2.0}, {.dtype = float64, .requires_grad = true});
  auto y = x * 2.0;
  auto ys = y.sum();
  auto z = y * 3.0;
  Tensor inner;
  z.register_hook([&](const Tensor&) {
    inner = grad({ys}, {x}, {}, {.retain_graph = true})[0];
    return Tensor();
  });
  z.sum().backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6.0, 6.0});
  CHECK(inner.to_vector<double>() == std::vector<double>{2.0, 2.0});
}

TEST_CASE("engine: backward() inside a hook, on another graph or the same leaves, nests") {
  auto x = scalar(3.0);
  auto w = scalar(5.0);
  auto y = x * w;
  y.register_hook([&](const Tensor&) {
    EnableGradGuard record;  // a plain backward runs with grad mode off, as in PyTorch
    (w * w).backward();      // a separate graph sharing the leaf w: w.grad += 2w
    return Tensor();
  });
  (y * 2.0).backward();
  CHECK(x.grad().item<double>() == 10.0);       // 2 w
  CHECK(w.grad().item<double>() == 6.0 + 10.0);  // 2 x from the outer pass, 2 w from the inner one
}

TEST_CASE("engine: grad() runs only the branches leading to the requested inputs") {
  auto a = scalar(1.0), b = scalar(2.0);
  auto ha = a * 3.0, hb = b * 4.0;
  int hb_hooks = 0;
  hb.register_hook([&](const Tensor&) {
    ++hb_hooks;
    return Tensor();
  });
  auto loss = ha * hb;
  auto ga = grad({loss}, {a}, {}, {.retain_graph = true})[0];
  CHECK(ga.item<double>() == 24.0);  // 3 * hb
  CHECK(hb_hooks == 0);
  CHECK_FALSE(b.grad().defined());
  // The graph is intact for a full pass afterwards.
  loss.backward();
  CHECK(hb_hooks == 1);
  CHECK(b.grad().item<double>() == 12.0);  // 4 * ha
}

TEST_CASE("engine: a hook on a leaf's accumulator node fires, after the tensor's own hooks") {
  auto x = scalar(2.0);
  auto y = x * 3.0;
  auto acc = y.grad_fn()->next_edges()[0].fn;
  REQUIRE(acc);
  CHECK(acc->accumulates_leaf());
  std::vector<std::string> order;
  x.register_hook([&](const Tensor& g) {
    order.push_back("tensor");
    return g * 2.0;
  });
  acc->register_hook([&](const Tensor& g) {
    order.push_back("node");
    CHECK(g.item<double>() == 6.0);  // the tensor hook's replacement arrives here
    return g + 1.0;
  });
  y.backward();
  CHECK(order == std::vector<std::string>{"tensor", "node"});
  CHECK(x.grad().item<double>() == 7.0);
}

TEST_CASE("engine: post-hooks see a node's input gradients and may replace them") {
  auto x = scalar(2.0), w = scalar(5.0);
  auto y = x * w;
  std::vector<double> seen;
  double seen_output = 0;
  const auto h = y.grad_fn()->register_post_hook([&](const TensorList& grad_inputs, const Tensor& grad_output) {
    for (const Tensor& g : grad_inputs) seen.push_back(g.item<double>());
    seen_output = grad_output.item<double>();
    return TensorList{grad_inputs[0] * 0.0, grad_inputs[1]};
  });
  (y * 4.0).backward({}, {.retain_graph = true});
  CHECK(seen == std::vector<double>{20.0, 8.0});  // dL/dx = 4w, dL/dw = 4x
  CHECK(seen_output == 4.0);
  CHECK(x.grad().item<double>() == 0.0);
  CHECK(w.grad().item<double>() == 8.0);
  y.grad_fn()->remove_hook(h);
  x.zero_grad();
  (y * 4.0).backward();
  CHECK(x.grad().item<double>() == 20.0);
  // A post-hook returning the wrong number of gradients is named.
  auto z = x * w;
  z.grad_fn()->register_post_hook([](const TensorList&, const Tensor&) { return TensorList{Tensor()}; });
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("post-hook of 'mul'"), Error);
}

TEST_CASE("engine: hook handles come from one source, so tensor and node hooks never collide") {
  auto x = scalar(1.0);
  auto y = x * 2.0;
  std::vector<std::size_t> handles;
  handles.push_back(x.register_hook([](const Tensor&) { return Tensor(); }));
  handles.push_back(y.register_hook([](const Tensor&) { return Tensor(); }));
  handles.push_back(y.grad_fn()->register_hook([](const Tensor&) { return Tensor(); }));
  handles.push_back(y.grad_fn()->register_post_hook([](const TensorList&, const Tensor&) { return TensorList{}; }));
  handles.push_back(y.grad_fn()->next_edges()[0].fn->register_hook([](const Tensor&) { return Tensor(); }));
  std::sort(handles.begin(), handles.end());
  CHECK(std::adjacent_find(handles.begin(), handles.end()) == handles.end());
  // Removing one handle leaves the others in place.
  int calls = 0;
  const auto keep = y.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  const auto drop = y.register_hook([&](const Tensor&) {
    calls += 100;
    return Tensor();
  });
  y.remove_hook(drop);
  y.backward({}, {.retain_graph = true});
  CHECK(calls == 1);
  y.remove_hook(keep);
  CHECK_THROWS_WITH_AS(x.register_hook(GradHook()), doctest::Contains("register_hook"), Error);
}

TEST_CASE("engine: a hook returning another dtype is refused, naming both") {
  auto x = scalar(1.0);
  x.register_hook([](const Tensor& g) { return g.to(float32); });
  CHECK_THROWS_WITH_AS((x * 2.0).backward(), doctest::Contains("float32"), Error);
}
