// Optimizers (optim/): every update rule pinned to values computed independently from PyTorch's
// published formulas, options and their errors, parameter groups, zero_grad, the version counter,
// state dicts (resume bit for bit, validation), clip_grad_norm_/clip_grad_value_, and each
// optimizer driving the Rosenbrock function to its minimum.
#include <doctest/doctest.h>
#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "test_util.h"

using namespace xgrad;
using namespace xgrad::optim;
using Steps = std::vector<std::vector<double>>;

namespace {

using test::contains;

// The problem of tests/optim_expected.py: p = [1, -2, 3] and a fixed gradient per step.
const std::vector<double> kStart = {1.0, -2.0, 3.0};
const Steps kGrads = {{1.0, -2.0, 0.5}, {0.2, -0.5, 3.0}, {-0.1, 0.1, 0.05}};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(const Tensor&)>;

// Three steps in float64 and float32; after each, p must equal that step's expected values.
void check_steps(const MakeOptimizer& make, const Steps& expected) {
  for (Dtype dtype : {float64, float32}) {
    INFO("dtype ", dtype_name(dtype));
    Tensor p = tensor(kStart, {3}, {.dtype = dtype, .requires_grad = true});
    auto optimizer = make(p);
    for (std::size_t t = 0; t < expected.size(); ++t) {
      INFO("step ", t + 1);
      p.set_grad(tensor(kGrads[t], {3}, {.dtype = dtype}));
      optimizer->step();
      CHECK(p.dtype() == dtype);
      test::check_close(p, expected[t], dtype == float64 ? 1e-12 : 1e-5);
    }
    const ParamState* state = optimizer->param_state(0, 0);
    REQUIRE(state != nullptr);
    for (const auto& [name, buffer] : state->buffers) {
      INFO("buffer ", name);
      CHECK(buffer.dtype() == dtype);  // state in the parameter's dtype
      CHECK(buffer.shape() == p.shape());
    }
  }
}

template <class O, class Options>
MakeOptimizer make(Options options) {
  return [options](const Tensor& p) { return std::make_unique<O>(std::vector<Tensor>{p}, options); };
}

}  // namespace

// ---- update rules. Expected values: tests/optim_expected.py (PyTorch's formulas in double
// precision, element by element), pasted here.

TEST_CASE("optim: SGD plain, momentum with dampening and weight decay, Nesterov, maximize") {
  check_steps(make<SGD>(SGDOptions{.lr = 0.1}),
              {{0.9, -1.8, 2.95}, {0.88, -1.75, 2.65}, {0.89, -1.76, 2.645}});
  // First step: the buffer is the gradient itself (no dampening); later b = 0.9 b + 0.9 g.
  check_steps(make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}),
              {{0.899, -1.798, 2.947},
               {0.7892909, -1.5695818, 2.6266477},
               {0.69884234819, -1.37159279638, 2.33146664707}});
  // Nesterov looks ahead: p -= lr (g + 0.9 b); step 1 moves 1.9 lr g' (g' = g + 0.1 p).
  check_steps(make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true}),
              {{0.791, -1.582, 2.848}, {0.648871, -1.278742, 2.159088}, {0.552745351, -1.059751702, 1.784176528}});
  check_steps(make<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.5, .maximize = true}),
              {{1.1, -2.2, 3.05}, {1.17, -2.35, 3.375}, {1.195, -2.415, 3.5425}});
}

TEST_CASE("optim: Adam's bias correction, AMSGrad's max, coupled weight decay, maximize") {
  // Step 1 moves each element by lr * sign(g) (up to eps): the bias corrections cancel (1 - beta)
  // in m and v exactly.
  check_steps(make<Adam>(AdamOptions{.lr = 0.1}), {{0.900000001, -1.9000000005, 2.900000002},
                                                   {0.81969590427077721, -1.8169402477023615, 2.8155874769292906},
                                                   {0.7641577308781059, -1.7559084290999423, 2.7492945747904742}});
  // beta2 = 0.5 forgets fast, so v shrinks at step 2 (elements 0, 1) and step 3: AMSGrad keeps the max.
  check_steps(make<Adam>(AdamOptions{.lr = 0.1, .betas = {0.9, 0.5}, .weight_decay = 0.1, .amsgrad = true}),
              {{0.90000000090909082, -1.9000000004545454, 2.90000000125},
               {0.82499170339530947, -1.8217686897256777, 2.8225691739697423},
               {0.77464613762130285, -1.7666264562479614, 2.7649374013756631}});
  check_steps(make<Adam>(AdamOptions{.lr = 0.1, .betas = {0.9, 0.5}, .weight_decay = 0.1}),
              {{0.90000000090909082, -1.9000000004545454, 2.90000000125},
               {0.80060584111103039, -1.7988661575406157, 2.8225691739697423},
               {0.70651597690576839, -1.6983675777073295, 2.7418611211367256}});
  // A large eps shows where it goes: added to sqrt(v_hat), outside the square root.
  check_steps(make<Adam>(AdamOptions{.lr = 0.1, .eps = 0.1, .maximize = true}),
              {{1.0909090909090908, -2.0952380952380953, 3.0833333333333335},
               {1.1614312641598357, -2.1729646722566027, 3.1639960077499607},
               {1.2089359000323183, -2.2292692971211898, 3.2267173941747855}});
}

TEST_CASE("optim: AdamW decays the weights apart from the gradient, Adam adds the decay to it") {
  // AdamW step 1: p * (1 - 0.1 * 0.5) - 0.1 sign(g) = 0.95 - 0.1.
  check_steps(make<AdamW>(AdamWOptions{.lr = 0.1, .weight_decay = 0.5}),
              {{0.85000000099999995, -1.8000000004999999, 2.7500000019999997},
               {0.72719590422077718, -1.6269402476773613, 2.52808747682929},
               {0.63529793561706693, -1.4845614166910739, 2.3353902008490093}});
  check_steps(make<Adam>(AdamOptions{.lr = 0.1, .weight_decay = 0.5}),
              {{0.90000000066666663, -1.9000000003333333, 2.9000000005},
               {0.80892339716974815, -1.8072814576063758, 2.8046637604542251},
               {0.72800656602099367, -1.7226204479400449, 2.7157992660268082}});
  CHECK(AdamWOptions{}.weight_decay == 1e-2);
  CHECK(AdamOptions{}.weight_decay == 0);
}

TEST_CASE("optim: RMSprop plain, centered with momentum and weight decay, maximize") {
  check_steps(make<RMSprop>(RMSpropOptions{}), {{0.90000000999999907, -1.9000000049999999, 2.9000000199999962},
                                                {0.88029342637846064, -1.8756314972462194, 2.8013472985107182},
                                                {0.89014815344803278, -1.8805238859910882, 2.799695028830345}});
  check_steps(make<RMSprop>(
                  RMSpropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.1, .momentum = 0.9, .centered = true}),
              {{0.96666666767676768, -1.9666666671717172, 2.9666666680555553},
               {0.92733854304848651, -1.9258194378750797, 2.9034172614418932},
               {0.89218188962600187, -1.8875430528874202, 2.8428752019769319}});
  check_steps(make<RMSprop>(RMSpropOptions{.maximize = true}),
              {{1.099999990000001, -2.0999999950000001, 3.0999999800000038},
               {1.1197065736215395, -2.1243685027537809, 3.1986527014892818},
               {1.1098518465519673, -2.1194761140089118, 3.200304971169655}});
}

TEST_CASE("optim: Adagrad with lr_decay, weight decay and an initial accumulator") {
  check_steps(make<Adagrad>(
                  AdagradOptions{.lr = 0.1, .lr_decay = 0.5, .weight_decay = 0.1, .initial_accumulator_value = 0.1}),
              {{0.90389255377568278, -1.901017320457967, 2.9070018890157554},
               {0.88749771562609614, -1.8812488580044446, 2.8425026438126095},
               {0.88797406926217703, -1.8793569131439065, 2.8376126047298302}});
}

TEST_CASE("optim: Adadelta default and with weight decay and maximize") {
  check_steps(make<Adadelta>(AdadeltaOptions{}), {{0.99683773815110133, -1.9968377262926713, 2.9968377855834873},
                                                  {0.99591521415640971, -1.9956981227203308, 2.9924205711057112},
                                                  {0.99639677519645331, -1.995939811118262, 2.9923129011060188}});
  check_steps(make<Adadelta>(AdadeltaOptions{.lr = 0.5, .rho = 0.5, .weight_decay = 0.1, .maximize = true}),
              {{1.0007071059082169, -2.0007071065629436, 3.0007070891041798},
               {1.0008622284218589, -2.0009364708985293, 3.0017057074876301},
               {1.0005084007895331, -2.0006599142531725, 3.0015341967376723}});
}

TEST_CASE("optim: a tensor longer than a SIMD batch is updated like its elements one by one") {
  // 37 elements: several full batches and a partial one, in both dtypes.
  for (Dtype dtype : {float32, float64}) {
    std::vector<double> start(37), g(37);
    for (int i = 0; i < 37; ++i) {
      start[i] = 0.1 * i - 1.5;
      g[i] = std::sin(i + 1.0);
    }
    Tensor big = tensor(start, {37}, {.dtype = dtype, .requires_grad = true});
    Adam adam({big}, {.lr = 0.1, .amsgrad = true});
    for (int step = 0; step < 2; ++step) {
      big.set_grad(tensor(g, {37}, {.dtype = dtype}));
      adam.step();
    }
    // Two identical gradients: m_hat = g, v_hat = g^2 at both steps, so each step moves lr * sign(g).
    for (int i = 0; i < 37; ++i) {
      INFO("element ", i);
      CHECK(big.to_vector<double>()[i] == doctest::Approx(start[i] - 0.2 * (g[i] > 0 ? 1 : -1)).epsilon(1e-6));
    }
  }
}

// ---- options, groups, gradients

TEST_CASE("optim: defaults are PyTorch's") {
  CHECK(SGDOptions{}.lr == 1e-3);
  CHECK(AdagradOptions{}.lr == 1e-2);
  CHECK(AdagradOptions{}.eps == 1e-10);
  CHECK(RMSpropOptions{}.alpha == 0.99);
  CHECK(RMSpropOptions{}.eps == 1e-8);
  CHECK(AdamOptions{}.betas[1] == 0.999);
  CHECK(AdadeltaOptions{}.lr == 1.0);
  CHECK(AdadeltaOptions{}.rho == 0.9);
  CHECK(AdadeltaOptions{}.eps == 1e-6);
}

TEST_CASE("optim: invalid options raise, naming the option, its value and what is expected") {
  Tensor p = test::leaf({1.0, 2.0});
  CHECK(contains(test::error_of([&] { SGD({p}, {.lr = -0.1}); }), "SGD: invalid options: lr = -0.1: expected >= 0"));
  CHECK(contains(test::error_of([&] { SGD({p}, {.lr = 0.1, .nesterov = true}); }),
                 "nesterov = true needs momentum > 0 and dampening = 0 (momentum = 0, dampening = 0)"));
  CHECK(contains(test::error_of([&] { SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); }),
                 "dampening = 0.1"));
  CHECK(contains(test::error_of([&] { Adam({p}, {.betas = {1.0, 0.999}}); }), "betas[0] = 1: expected in [0, 1)"));
  CHECK(contains(test::error_of([&] { AdamW({p}, {.betas = {0.9, -0.1}}); }), "AdamW: invalid options: betas[1] = -0.1"));
  CHECK(contains(test::error_of([&] { Adadelta({p}, {.rho = 1.5}); }), "rho = 1.5: expected in [0, 1]"));
  CHECK(contains(test::error_of([&] { Adagrad({p}, {.lr_decay = -1}); }), "lr_decay = -1"));
  CHECK(contains(test::error_of([&] { RMSprop({p}, {.alpha = -0.5}); }), "alpha = -0.5"));
  CHECK(contains(test::error_of([&] { Adam({p}, {.eps = std::nan("")}); }), "eps = nan: expected >= 0"));
  // Every problem at once.
  const std::string several = test::error_of([&] { Adam({p}, {.lr = -1, .weight_decay = -2}); });
  CHECK(contains(several, "lr = -1"));
  CHECK(contains(several, "weight_decay = -2"));
  // Options changed through options(g) are checked again at step().
  SGD sgd({p}, {.lr = 0.1});
  sgd.options().momentum = -1;
  p.set_grad(ones_like(p));
  CHECK(contains(test::error_of([&] { sgd.step(); }), "momentum = -1: expected >= 0"));
}

TEST_CASE("optim: parameter group validation: empty, undefined, int64, non-leaf, duplicates") {
  Tensor a = test::leaf({1.0}), b = test::leaf({2.0});
  CHECK(contains(test::error_of([&] { SGD(std::vector<Tensor>{}); }), "at least one parameter"));
  CHECK(contains(test::error_of([&] { SGD(std::vector<ParamGroup<SGDOptions>>{}); }),
                 "SGD: got an empty list of parameter groups"));
  CHECK(contains(test::error_of([&] { SGD({a, Tensor()}); }), "parameter 1 of group 0 is undefined"));
  CHECK(contains(test::error_of([&] { SGD({tensor({1.0, 2.0}, {.dtype = Dtype::int64})}); }),
                 "is int64; expected float32 or float64"));
  Tensor non_leaf = a * 2.0;
  CHECK(contains(test::error_of([&] { Adam({non_leaf}); }), "Adam: parameter 0 of group 0 is not a leaf"));
  CHECK(contains(test::error_of([&] { SGD({a, b, a}); }), "parameter 2 of group 0 appears twice in the group"));
  SGD sgd({a});
  CHECK(contains(test::error_of([&] { sgd.add_param_group({b, a}, {}); }), "more than one parameter group"));
  CHECK(sgd.num_param_groups() == 1);  // nothing was added
  CHECK(contains(test::error_of([&] { sgd.options(3); }), "SGD: parameter group 3 out of range (1 groups)"));
}

TEST_CASE("optim: groups have their own options, add_param_group, lr and momentum hooks") {
  Tensor a = tensor({1.0, 1.0}, {.dtype = float64, .requires_grad = true});
  Tensor b = tensor({1.0}, {.dtype = float64, .requires_grad = true});
  Tensor c = tensor({1.0}, {.dtype = float64, .requires_grad = true});
  SGD sgd({{.params = {a}, .options = {.lr = 0.1}}, {.params = {b}, .options = {.lr = 0.01, .momentum = 0.5}}});
  sgd.add_param_group({c}, {.lr = 1.0});
  REQUIRE(sgd.num_param_groups() == 3);
  for (auto* t : {&a, &b, &c}) t->set_grad(ones_like(*t));
  sgd.step();
  test::check_close(a, {0.9, 0.9}, 1e-15);
  test::check_close(b, {0.99}, 1e-15);
  test::check_close(c, {0.0}, 1e-15);
  CHECK(sgd.lr(1) == 0.01);
  CHECK(sgd.momentum(1) == 0.5);
  sgd.set_lr(0, 0.5);
  sgd.set_momentum(0, 0.25);
  CHECK(sgd.options(0).lr == 0.5);
  CHECK(sgd.options(0).momentum == 0.25);
  Adam adam({a}, {.betas = {0.8, 0.9}});
  CHECK(adam.momentum(0) == 0.8);  // beta1, what OneCycleLR cycles
  adam.set_momentum(0, 0.95);
  CHECK(adam.options().betas[0] == 0.95);
  Adagrad adagrad({a});
  CHECK_FALSE(adagrad.momentum(0).has_value());
  CHECK(contains(test::error_of([&] { adagrad.set_momentum(0, 0.9); }), "Adagrad: has no momentum to set"));
  CHECK(adagrad.name() == "Adagrad");
}

TEST_CASE("optim: parameters without a gradient are skipped and get no state") {
  Tensor a = test::leaf({1.0, 2.0}), b = test::leaf({3.0});
  Adam adam({a, b}, {.lr = 0.1});
  a.set_grad(ones_like(a));
  adam.step();
  test::check_close(b, {3.0}, 1e-15);
  CHECK(adam.param_state(0, 1) == nullptr);
  REQUIRE(adam.param_state(0, 0) != nullptr);
  CHECK(adam.param_state(0, 0)->step == 1);
  CHECK(adam.param_state(0, 0)->find("exp_avg") != nullptr);
  CHECK(adam.param_state(0, 0)->find("max_exp_avg_sq") == nullptr);  // amsgrad is off
}

TEST_CASE("optim: zero_grad drops gradients by default and zeroes them in place with false") {
  Tensor a = test::leaf({1.0, 2.0});
  SGD sgd({a});
  (a * a).sum().backward();
  sgd.zero_grad(false);
  REQUIRE(a.grad().defined());
  test::check_close(a.grad(), {0.0, 0.0}, 1e-15);
  sgd.zero_grad();
  CHECK_FALSE(a.grad().defined());
  sgd.zero_grad();  // no gradient: nothing to do
}

TEST_CASE("optim: a step writes in place and bumps the version: a graph that saved the parameter refuses backward") {
  for (Dtype dtype : {float32, float64}) {
    Tensor w = tensor({1.0, 2.0}, {.dtype = dtype, .requires_grad = true});
    auto address = [&]() -> const void* {
      return dtype == float32 ? static_cast<const void*>(w.data<float>()) : w.data<double>();
    };
    const void* storage_before = address();
    Tensor loss = (w * w).sum();  // mul saves w
    w.set_grad(ones_like(w));
    const auto version = w.version();
    SGD sgd({w}, {.lr = 0.1});
    sgd.step();
    CHECK(address() == storage_before);  // same buffer: updated in place
    CHECK(w.version() > version);
    CHECK(w.is_leaf());
    CHECK(w.requires_grad());
    CHECK(contains(test::error_of([&] { loss.backward(); }), "was modified in place after the forward pass"));
  }
}

// ---- state dict

namespace {

// Trains a 2-parameter problem (float32 and float64 parameters) with a gradient depending on the
// parameters, so a resumed run diverges from an uninterrupted one at any state that was lost.
struct Problem {
  Tensor w = tensor({0.5, -1.0, 2.0, 0.25}, {.dtype = float32, .requires_grad = true});
  Tensor b = tensor({0.1, -0.3}, {.dtype = float64, .requires_grad = true});
  void gradients() {
    w.zero_grad();
    b.zero_grad();
    Tensor loss = (w * w * w).sum() + (b.exp() * b).sum() + (w.sum().to(float64) * b).sum();
    loss.backward();
  }
};

template <class O, class Options>
void check_resume(Options options, const std::vector<std::string>& expected_keys) {
  Problem straight, resumed;
  O first({straight.w, straight.b}, options);
  for (int step = 0; step < 3; ++step) {
    straight.gradients();
    first.step();
  }
  const StateDict saved = first.state_dict();
  CHECK(saved.keys() == expected_keys);
  {
    NoGradGuard no_grad;
    resumed.w.copy_(straight.w);
    resumed.b.copy_(straight.b);
  }
  for (int step = 0; step < 3; ++step) {
    straight.gradients();
    first.step();
  }
  O second({resumed.w, resumed.b}, Options{});  // other options: the dict brings them
  const LoadReport report = second.load_state_dict(saved);
  CHECK(report.complete());
  for (int step = 0; step < 3; ++step) {
    resumed.gradients();
    second.step();
  }
  CHECK(resumed.w.to_vector<float>() == straight.w.to_vector<float>());  // bit for bit
  CHECK(resumed.b.to_vector<double>() == straight.b.to_vector<double>());
}

std::vector<std::string> state_keys(const std::vector<std::string>& buffers, bool step,
                                    const std::vector<std::string>& options) {
  std::vector<std::string> keys;
  for (int i = 0; i < 2; ++i) {
    if (step) keys.push_back("state." + std::to_string(i) + ".step");
    for (const auto& b : buffers) keys.push_back("state." + std::to_string(i) + "." + b);
  }
  for (const auto& o : options) keys.push_back("param_groups.0." + o);
  keys.push_back("param_groups.0.params");
  return keys;
}

}  // namespace

TEST_CASE("optim: state_dict then load_state_dict into a fresh optimizer resumes bit for bit") {
  check_resume<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true},
                    state_keys({"momentum_buffer"}, false,
                               {"dampening", "lr", "maximize", "momentum", "nesterov", "weight_decay"}));
  check_resume<Adam>(AdamOptions{.lr = 0.05, .amsgrad = true},
                     state_keys({"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}, true,
                                {"amsgrad", "beta1", "beta2", "eps", "lr", "maximize", "weight_decay"}));
  check_resume<AdamW>(AdamWOptions{.lr = 0.05},
                      state_keys({"exp_avg", "exp_avg_sq"}, true,
                                 {"amsgrad", "beta1", "beta2", "eps", "lr", "maximize", "weight_decay"}));
  check_resume<RMSprop>(RMSpropOptions{.momentum = 0.5, .centered = true},
                        state_keys({"square_avg", "momentum_buffer", "grad_avg"}, true,
                                   {"alpha", "centered", "eps", "lr", "maximize", "momentum", "weight_decay"}));
  check_resume<Adagrad>(AdagradOptions{.lr_decay = 0.1},
                        state_keys({"sum"}, true,
                                   {"eps", "initial_accumulator_value", "lr", "lr_decay", "maximize", "weight_decay"}));
  check_resume<Adadelta>(AdadeltaOptions{.weight_decay = 0.01},
                         state_keys({"square_avg", "acc_delta"}, true, {"eps", "lr", "maximize", "rho", "weight_decay"}));
}

TEST_CASE("optim: state_dict holds 0-d float64 options, int64 steps and copies of the buffers") {
  Tensor a = test::leaf({1.0, 2.0});
  Adam adam({a}, {.lr = 0.25});
  a.set_grad(ones_like(a));
  adam.step();
  const StateDict s = adam.state_dict();
  CHECK(s.at("param_groups.0.lr").dim() == 0);
  CHECK(s.at("param_groups.0.lr").dtype() == float64);
  CHECK(s.at("param_groups.0.lr").item() == 0.25);
  CHECK(s.at("param_groups.0.amsgrad").item() == 0);
  CHECK(s.at("state.0.step").dtype() == Dtype::int64);
  CHECK(s.at("state.0.step").item<std::int64_t>() == 1);
  CHECK(s.at("param_groups.0.params").to_vector<std::int64_t>() == std::vector<std::int64_t>{0});
  test::check_close(s.at("state.0.exp_avg"), {0.1, 0.1}, 1e-15);
  adam.step();  // the dict holds copies: the optimizer's later steps do not change it
  test::check_close(s.at("state.0.exp_avg"), {0.1, 0.1}, 1e-15);
}

TEST_CASE("optim: load_state_dict validates everything first, lists every problem, changes nothing") {
  Tensor a = test::leaf({1.0, 2.0}), b = test::leaf({3.0});
  Adam source({a, b}, {.lr = 0.5});
  a.set_grad(ones_like(a));
  b.set_grad(ones_like(b));
  source.step();
  const StateDict good = source.state_dict();

  Tensor c = test::leaf({1.0, 2.0}), d = test::leaf({3.0});
  Adam target({c, d}, {.lr = 0.1});
  StateDict bad = good;
  bad.insert_or_assign("state.0.exp_avg", zeros({3}, {.dtype = float64}));        // wrong shape
  bad.insert_or_assign("state.1.exp_avg_sq", zeros({1}, {.dtype = float32}));     // wrong dtype
  bad.insert_or_assign("param_groups.0.beta1", scalar_tensor(1.5, {.dtype = float64}));  // invalid value
  bad.erase("param_groups.0.eps");
  bad.insert("state.0.momentum_buffer", zeros({2}, {.dtype = float64}));  // not an Adam buffer
  bad.insert("state.7.exp_avg", zeros({2}, {.dtype = float64}));          // no parameter 7
  const std::string message = test::error_of([&] { target.load_state_dict(bad); });
  CHECK(contains(message, "Adam.load_state_dict: the state does not fit; nothing was loaded"));
  CHECK(contains(message, "mismatched: state.0.exp_avg: [3] float64 in the state, the parameter is [2] float64"));
  CHECK(contains(message, "mismatched: state.1.exp_avg_sq: [1] float32 in the state, the parameter is [1] float64"));
  CHECK(contains(message, "param_groups.0: betas[0] = 1.5: expected in [0, 1)"));
  CHECK(contains(message, "missing: param_groups.0.eps"));
  CHECK(contains(message, "unexpected: state.0.momentum_buffer"));
  CHECK(contains(message, "unexpected: state.7.exp_avg"));
  CHECK(target.options().lr == 0.1);  // untouched
  CHECK(target.param_state(0, 0) == nullptr);

  // Group layout: another count or size is always an error.
  SGD one_group({c});
  CHECK(contains(test::error_of([&] { one_group.load_state_dict(SGD({a, b}).state_dict()); }),
                 "param_groups.0.params: [2] int64 in the state, expected int64 [1]"));
  SGD two_groups({{.params = {c}}, {.params = {d}}});
  CHECK(contains(test::error_of([&] { two_groups.load_state_dict(SGD({a, b}).state_dict(), false); }),
                 "the state has 1 parameter groups, this SGD has 2"));
}

TEST_CASE("optim: load_state_dict with strict = false loads the matching subset and reports the rest") {
  Tensor a = test::leaf({1.0, 2.0}), b = test::leaf({3.0});
  RMSprop source({a, b}, {.lr = 0.5, .momentum = 0.9});
  a.set_grad(ones_like(a));
  b.set_grad(ones_like(b));
  source.step();
  StateDict partial = source.state_dict();
  partial.insert_or_assign("state.1.square_avg", zeros({5}, {.dtype = float64}));
  partial.erase("param_groups.0.alpha");
  partial.insert("extra", zeros({1}));

  Tensor c = test::leaf({1.0, 2.0}), d = test::leaf({3.0});
  RMSprop target({c, d}, {.alpha = 0.5});
  const LoadReport report = target.load_state_dict(partial, false);
  CHECK(report.mismatched_keys == std::vector<std::string>{"state.1.square_avg"});
  CHECK(report.missing_keys == std::vector<std::string>{"param_groups.0.alpha"});
  CHECK(report.unexpected_keys == std::vector<std::string>{"extra"});
  CHECK(target.options().lr == 0.5);     // loaded
  CHECK(target.options().alpha == 0.5);  // kept
  REQUIRE(target.param_state(0, 0) != nullptr);
  CHECK(target.param_state(0, 0)->find("square_avg")->to_vector<double>() ==
        source.param_state(0, 0)->find("square_avg")->to_vector<double>());
  CHECK(target.param_state(0, 1)->find("square_avg") == nullptr);
  CHECK(target.param_state(0, 1)->find("momentum_buffer") != nullptr);
  // strict (the default) refuses the same dict.
  CHECK(contains(test::error_of([&] { target.load_state_dict(partial); }), "unexpected: extra"));
}

// ---- clipping

TEST_CASE("optim: clip_grad_norm_ returns the total norm and scales by max_norm / (total + 1e-6)") {
  Tensor a = test::leaf({1.0, 2.0}), b = tensor({2.0}, {.dtype = float32, .requires_grad = true});
  auto reset = [&] {
    a.set_grad(tensor({3.0, 0.0}, {.dtype = float64}));
    b.set_grad(tensor({-4.0}, {.dtype = float32}));
  };
  reset();
  // 2-norm of (3, 0, -4) = 5; coefficient 1 / (5 + 1e-6).
  CHECK(clip_grad_norm_({a, b}, 1.0) == doctest::Approx(5.0).epsilon(1e-12));
  test::check_close(a.grad(), {3.0 / (5 + 1e-6), 0.0}, 1e-12);
  test::check_close(b.grad(), {-4.0 / (5 + 1e-6)}, 1e-6);
  reset();
  CHECK(clip_grad_norm_({a, b}, 10.0) == doctest::Approx(5.0));  // under max_norm: unchanged
  test::check_close(a.grad(), {3.0, 0.0}, 1e-15);
  reset();
  CHECK(clip_grad_norm_({a, b}, 3.5, 1.0) == doctest::Approx(7.0));  // 1-norm 7
  test::check_close(a.grad(), {3.0 * 3.5 / (7 + 1e-6), 0.0}, 1e-12);
  reset();
  CHECK(clip_grad_norm_({a, b}, 2.0, inf_norm) == doctest::Approx(4.0));  // max |g|
  test::check_close(b.grad(), {-4.0 * 2.0 / (4 + 1e-6)}, 1e-6);
  reset();
  CHECK(clip_grad_norm_({a, b}, 100.0, 3.0) == doctest::Approx(std::cbrt(27.0 + 64.0)).epsilon(1e-6));
  // Many elements (full SIMD batches and a tail): norm of 1000 ones is sqrt(1000).
  Tensor big = ones({1000}, {.dtype = float32, .requires_grad = true});
  big.set_grad(ones({1000}, {.dtype = float32}));
  CHECK(clip_grad_norm_({big}, 1.0) == doctest::Approx(std::sqrt(1000.0)).epsilon(1e-6));
  CHECK(test::values(big.grad())[999] == doctest::Approx(1 / (std::sqrt(1000.0) + 1e-6)).epsilon(1e-6));
  // No gradients: 0.
  Tensor none = test::leaf({1.0});
  CHECK(clip_grad_norm_({none}, 1.0) == 0);
}

TEST_CASE("optim: clip_grad_norm_ non-finite totals and bad arguments") {
  Tensor a = test::leaf({1.0, 2.0});
  a.set_grad(tensor({std::nan(""), 1.0}, {.dtype = float64}));
  CHECK(contains(test::error_of([&] { clip_grad_norm_({a}, 1.0, 2.0, true); }),
                 "clip_grad_norm_: the total norm of order 2 of the gradients is nan"));
  test::check_close(a.grad(), {std::nan(""), 1.0}, 1e-15);  // nothing scaled
  CHECK(std::isnan(clip_grad_norm_({a}, 1.0)));
  a.set_grad(tensor({INFINITY, 1.0}, {.dtype = float64}));
  CHECK(contains(test::error_of([&] { clip_grad_norm_({a}, 1.0, inf_norm, true); }), "is inf"));
  CHECK(contains(test::error_of([&] { clip_grad_norm_({a}, -1.0); }), "max_norm = -1; expected >= 0"));
  CHECK(contains(test::error_of([&] { clip_grad_norm_({a}, 1.0, 0.0); }), "norm_type = 0"));
}

TEST_CASE("optim: clip_grad_value_ clamps every element") {
  Tensor a = test::leaf({1.0, 2.0, 3.0});
  a.set_grad(tensor({-5.0, 0.5, 7.0}, {.dtype = float64}));
  clip_grad_value_({a}, 1.0);
  test::check_close(a.grad(), {-1.0, 0.5, 1.0}, 1e-15);
  CHECK(contains(test::error_of([&] { clip_grad_value_({a}, -1.0); }), "clip_value = -1; expected >= 0"));
}

// ---- Rosenbrock: f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2), minimum at (1, 1).
// Learning rates and step counts were chosen with a Python run of the same rules.

namespace {

void check_rosenbrock(Optimizer& optimizer, const Tensor& xy, int steps,
                      const std::function<void(int)>& before_step = {}) {
  for (int t = 0; t < steps; ++t) {
    optimizer.zero_grad();
    Tensor x = xy[0], y = xy[1];
    Tensor loss = (1.0 - x).pow(2.0) + 100.0 * (y - x * x).pow(2.0);
    loss.backward();
    if (before_step) before_step(t);
    optimizer.step();
  }
  const auto v = xy.to_vector<double>();
  INFO(optimizer.name(), " ended at (", v[0], ", ", v[1], ")");
  CHECK(std::hypot(v[0] - 1, v[1] - 1) < 1e-2);
}

Tensor rosenbrock_start() { return tensor({-1.5, 2.0}, {.dtype = float64, .requires_grad = true}); }

}  // namespace

TEST_CASE("optim: SGD with momentum and with Nesterov momentum minimise the Rosenbrock function") {
  Tensor xy = rosenbrock_start();
  SGD momentum({xy}, {.lr = 1e-3, .momentum = 0.9});
  check_rosenbrock(momentum, xy, 3000);
  xy = rosenbrock_start();
  SGD nesterov({xy}, {.lr = 1e-3, .momentum = 0.9, .nesterov = true});
  check_rosenbrock(nesterov, xy, 3000);
}

TEST_CASE("optim: Adam, AMSGrad and AdamW minimise the Rosenbrock function") {
  Tensor xy = rosenbrock_start();
  Adam adam({xy}, {.lr = 0.05});
  check_rosenbrock(adam, xy, 2000);
  xy = rosenbrock_start();
  Adam amsgrad({xy}, {.lr = 0.05, .amsgrad = true});
  check_rosenbrock(amsgrad, xy, 3000);
  xy = rosenbrock_start();
  AdamW adamw({xy}, {.lr = 0.05, .weight_decay = 1e-3});  // the decay moves the minimum by ~4e-3
  check_rosenbrock(adamw, xy, 3000);
}

TEST_CASE("optim: RMSprop (plain, centered with momentum) and Adagrad minimise the Rosenbrock function") {
  Tensor xy = rosenbrock_start();
  RMSprop plain({xy}, {.lr = 1e-3});
  check_rosenbrock(plain, xy, 10000);
  xy = rosenbrock_start();
  RMSprop centered({xy}, {.lr = 1e-3, .momentum = 0.5, .centered = true});
  check_rosenbrock(centered, xy, 5000);
  xy = rosenbrock_start();
  Adagrad adagrad({xy}, {.lr = 1.0});
  check_rosenbrock(adagrad, xy, 20000);
}

TEST_CASE("optim: Adadelta minimises the Rosenbrock function with a decaying learning rate") {
  // Plain Adadelta keeps oscillating in the valley (its step grows with acc_delta); lr * 0.9995^t,
  // set through the scheduler hook, settles it.
  Tensor xy = rosenbrock_start();
  Adadelta adadelta({xy}, {.lr = 1.0});
  check_rosenbrock(adadelta, xy, 10000, [&](int t) { adadelta.set_lr(0, std::pow(0.9995, t + 1)); });
}

TEST_CASE("optim: the README example (two groups, clipping, state dict) trains a linear classifier") {
  manual_seed(3);
  const Tensor x = randn({32, 10});
  const Tensor y = (x.sum({1}) > 0.0).to(Dtype::int64);  // a linearly separable label
  Tensor w = randn({10, 3}, {.requires_grad = true}), b = zeros({3}, {.requires_grad = true});
  optim::Adam opt({{.params = {w}, .options = {.lr = 1e-2, .weight_decay = 1e-4}},
                   {.params = {b}, .options = {.lr = 1e-2}}});
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 100; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(linear(x, w.t(), b), y);
    loss.backward();
    optim::clip_grad_norm_(opt.all_params(), 1.0);
    opt.step();
    (step == 0 ? first_loss : last_loss) = loss.item();
  }
  CHECK(last_loss < 0.5 * first_loss);
  CHECK(opt.state_dict().size() == 2 * 3 + 2 * 8);  // 2 params x (step, exp_avg, exp_avg_sq); 2 groups x 8
}

TEST_CASE("optim: a long parameter updated on the thread pool equals the one-thread update bit for bit") {
  test::ThreadCountGuard guard;
  auto run = [](int threads) {
    set_num_threads(threads);
    Generator gen(4);
    Tensor w = randn({300001}, gen).requires_grad_();
    optim::Adam opt({w}, {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true});
    for (int step = 0; step < 3; ++step) {
      w.set_grad(randn({300001}, gen));
      opt.step();
    }
    return w.detach().clone();
  };
  const Tensor one = run(1);
  const Tensor two = run(2);
  CHECK(equal(one, two));
}
