// Resuming from a checkpoint reproduces the uninterrupted run bit for bit: model (parameters and
// BatchNorm buffers), optimizer (Adam moments, step counts), scheduler (OneCycleLR) and the
// generator behind dropout masks and batch order all go into one .npz and come back into fresh
// objects, and the losses after the reload equal the uninterrupted run's exactly.
#include <doctest/doctest.h>
#include <xgrad/checkpoint.h>
#include <xgrad/nn.h>
#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

#include <memory>

#include "test_util.h"

using namespace xgrad;

namespace {

constexpr int kTotalSteps = 12;
constexpr int kStopAt = 5;

struct Run {
  Generator gen{7};  // dropout masks and batch order
  nn::Sequential model;
  std::unique_ptr<optim::Adam> opt;
  std::unique_ptr<optim::OneCycleLR> sched;

  static nn::Sequential make_model(std::uint64_t init_seed, Generator& gen) {
    manual_seed(init_seed);
    return nn::Sequential(nn::Conv1d(1, 4, 3, {.stride = 2}), nn::BatchNorm1d(4), nn::ReLU(),
                          nn::Dropout(0.25, {.generator = &gen}), nn::Flatten(), nn::Linear(4 * 9, 3));
  }

  explicit Run(std::uint64_t init_seed) : model(make_model(init_seed, gen)) {
    opt = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = 0.01, .weight_decay = 1e-3});
    sched = std::make_unique<optim::OneCycleLR>(*opt, optim::OneCycleLROptions{.max_lr = 0.05, .total_steps = kTotalSteps});
  }

  StateDict state_dict() const {
    StateDict all;
    all.insert_prefixed("model.", model.state_dict());
    all.insert_prefixed("optimizer.", opt->state_dict());
    all.insert_prefixed("scheduler.", sched->state_dict());
    all.insert("generator", gen.get_state());
    return all;
  }
  void load_state_dict(const StateDict& all) {
    CHECK(model.load_state_dict(all.with_prefix("model.")).complete());
    CHECK(opt->load_state_dict(all.with_prefix("optimizer.")).complete());
    CHECK(sched->load_state_dict(all.with_prefix("scheduler.")).complete());
    gen.set_state(all.at("generator"));
  }

  // One step on a batch of 8 drawn (by index) from the data with the run's generator.
  double step(const Tensor& x, const Tensor& y) {
    const Tensor idx = narrow(randperm(x.size(0), gen), 0, 0, 8);
    opt->zero_grad();
    const Tensor loss = cross_entropy(model(index_select(x, 0, idx)), index_select(y, 0, idx));
    loss.backward();
    opt->step();
    sched->step();
    return loss.item();
  }
};

}  // namespace

TEST_CASE("resume: a run saved at step k and reloaded into fresh objects continues bit for bit") {
  Generator data_gen(1);
  const Tensor x = randn({32, 1, 20}, data_gen);
  const Tensor y = randint(0, 3, {32}, data_gen);

  std::vector<double> straight;
  {
    Run run(42);
    for (int i = 0; i < kTotalSteps; ++i) straight.push_back(run.step(x, y));
  }

  const test::TempFolder dir("resume");
  const auto path = dir / "ckpt.npz";
  {
    Run run(42);
    for (int i = 0; i < kStopAt; ++i) CHECK(run.step(x, y) == straight[static_cast<std::size_t>(i)]);
    save(run.state_dict(), path);
    (void)run.step(x, y);  // the interrupted run goes on a little: nothing of it may leak into the resume
  }
  Run resumed(999);  // other initial weights, a fresh generator, optimizer and scheduler
  resumed.load_state_dict(load(path));
  for (int i = kStopAt; i < kTotalSteps; ++i) {
    INFO("step ", i);
    CHECK(resumed.step(x, y) == straight[static_cast<std::size_t>(i)]);
  }
}
