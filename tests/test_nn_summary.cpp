// nn::summary against the lectures' MNIST-1D table (../shared/LECTURES.md) and torchinfo's counts.
#include <doctest/doctest.h>
#include <xgrad/nn.h>
#include <xgrad/xgrad.h>

#include <sstream>

#include "test_util.h"

using namespace xgrad;

namespace {

nn::Sequential lecture_convnet() {
  return nn::Sequential(nn::Conv1d(1, 15, 3, {.stride = 2}), nn::ReLU(), nn::Conv1d(15, 15, 3, {.stride = 2}),
                        nn::ReLU(), nn::Conv1d(15, 15, 3, {.stride = 2}), nn::ReLU(), nn::Flatten(),
                        nn::Linear(60, 10));
}

}  // namespace

TEST_CASE("nn: summary reproduces the lectures' MNIST-1D ConvNet table") {
  nn::Sequential net = lecture_convnet();
  const nn::ModelSummary s = nn::summary(net, {100, 1, 40});
  REQUIRE(s.rows.size() == 8);
  const std::vector<std::string> types{"Conv1d", "ReLU", "Conv1d", "ReLU", "Conv1d", "ReLU", "Flatten", "Linear"};
  const std::vector<Shape> shapes{{100, 15, 19}, {100, 15, 19}, {100, 15, 9}, {100, 15, 9},
                                  {100, 15, 4},  {100, 15, 4},  {100, 60},    {100, 10}};
  const std::vector<std::int64_t> params{60, 0, 690, 0, 690, 0, 0, 610};
  // torchinfo: conv params x output positions x batch; linear params x batch.
  const std::vector<std::int64_t> macs{60 * 19 * 100, 0, 690 * 9 * 100, 0, 690 * 4 * 100, 0, 0, 610 * 100};
  for (std::size_t i = 0; i < 8; ++i) {
    INFO("row ", i);
    CHECK(s.rows[i].name == std::to_string(i));
    CHECK(s.rows[i].type == types[i]);
    CHECK(s.rows[i].output_shape == shapes[i]);
    CHECK(s.rows[i].params == params[i]);
    CHECK(s.rows[i].mult_adds == macs[i]);
    CHECK(s.rows[i].depth == 1);
  }
  CHECK(s.total_params == 2050);
  CHECK(s.trainable_params == 2050);
  CHECK(s.non_trainable_params == 0);
  CHECK(s.total_mult_adds == 1072000);
  CHECK(s.receptive_field == std::vector<std::int64_t>{15});  // 1 + 2*1 + 2*2 + 2*4
  CHECK(s.effective_stride == std::vector<std::int64_t>{8});
  CHECK(s.input_bytes == 100 * 40 * 4);
  CHECK(s.forward_backward_bytes == 2 * 4 * (100 * 15 * 19 + 100 * 15 * 9 + 100 * 15 * 4 + 100 * 10));
  CHECK(s.param_bytes == 2050 * 4);

  const std::string table = s.to_string();
  for (const char* line : {"0 (Conv1d)", "[100, 15, 19]", "114,000", "7 (Linear)", "Total params: 2,050",
                           "Trainable params: 2,050", "Non-trainable params: 0",
                           "Total mult-adds: 1,072,000 (1.07 M)", "Input size (MB): 0.02",
                           "Forward/backward pass size (MB): 0.39", "Params size (MB): 0.01",
                           "Estimated total size (MB): 0.42", "Receptive field: 15 (effective stride 8)"})
    CHECK_MESSAGE(table.find(line) != std::string::npos, "missing: ", line, "\n", table);
  std::ostringstream os;
  os << s;
  CHECK(os.str() == table);
  CHECK(fmt::format("{}", s) == table);
}

TEST_CASE("nn: summary leaves the model's modes, parameters and the default generator as they were") {
  nn::Sequential net(nn::Conv1d(1, 4, 3), nn::BatchNorm1d(4), nn::Dropout(0.5), nn::ReLU());
  net[2]->eval();  // mixed modes survive
  const StateDict before = net.state_dict();
  manual_seed(5);
  const Tensor expected_next = rand({4});
  manual_seed(5);
  (void)nn::summary(net, {2, 1, 10});
  CHECK(equal(rand({4}), expected_next));
  CHECK(net.is_training());
  CHECK(net[1]->is_training());
  CHECK_FALSE(net[2]->is_training());
  for (const auto& e : net.state_dict()) CHECK(equal(e.value, before.at(e.name)));  // running stats untouched
}

TEST_CASE("nn: summary of nested modules: hierarchical names, container rows, max_depth folds mult-adds") {
  struct Net : nn::Module {
    nn::Handle<nn::Sequential> features = register_module(
        "features", nn::Sequential(nn::Conv2d(3, 10, 5, {.padding = 2}), nn::ReLU(), nn::MaxPool2d(2)));
    nn::Handle<nn::Linear> head = register_module("head", nn::Linear(10 * 16 * 16, 4));
    Tensor forward(const Tensor& x) override { return head(flatten(features(x), 1)); }
  } net;
  const nn::ModelSummary s = nn::summary(net, {2, 3, 32, 32});
  REQUIRE(s.rows.size() == 5);
  CHECK(s.rows[0].name == "features");
  CHECK(s.rows[0].type == "Sequential");
  CHECK_FALSE(s.rows[0].is_leaf);
  CHECK(s.rows[0].params == 760);  // the lectures' 10 filters of 5x5x3 plus bias
  CHECK(s.rows[1].name == "features.0");
  CHECK(s.rows[1].depth == 2);
  // 760 params x 32 x 32 positions x 2 images (the lectures' 768,000 per image, plus the bias adds)
  CHECK(s.rows[1].mult_adds == 760 * 32 * 32 * 2);
  CHECK(s.rows[3].output_shape == Shape{2, 10, 16, 16});
  CHECK(s.rows[4].name == "head");
  CHECK(s.total_params == 760 + 2560 * 4 + 4);
  CHECK(s.total_mult_adds == 760 * 32 * 32 * 2 + (2560 * 4 + 4) * 2);
  CHECK(s.receptive_field == std::vector<std::int64_t>{6, 6});  // 5x5 conv, then a 2x2 pool at stride 1
  CHECK(s.effective_stride == std::vector<std::int64_t>{2, 2});
  CHECK(s.to_string().find("  features.0 (Conv2d)") != std::string::npos);

  const nn::ModelSummary shallow = nn::summary(net, {2, 3, 32, 32}, {.max_depth = 1});
  REQUIRE(shallow.rows.size() == 2);
  CHECK(shallow.rows[0].mult_adds == 760 * 32 * 32 * 2);  // its hidden conv's count
  CHECK(shallow.total_mult_adds == s.total_mult_adds);
}

TEST_CASE("nn: summary counts frozen parameters as non-trainable and float64 sizes with 8 bytes") {
  nn::Sequential net(nn::Linear(4, 3), nn::Linear(3, 2));
  net.to(Dtype::float64);
  Tensor w = net[0]->parameter("weight");
  w.requires_grad_(false);
  const nn::ModelSummary s = nn::summary(net, {5, 4}, {.dtype = Dtype::float64});
  CHECK(s.total_params == 15 + 8);
  CHECK(s.trainable_params == 3 + 8);
  CHECK(s.non_trainable_params == 12);
  CHECK(s.param_bytes == 23 * 8);
  CHECK(s.input_bytes == 20 * 8);
  CHECK(s.total_mult_adds == 15 * 5 + 8 * 5);
  CHECK(s.receptive_field.empty());
  CHECK(s.to_string().find("Receptive field: --") != std::string::npos);
}

TEST_CASE("nn: summary rejects bad shapes and reports a forward that fails, restoring the model") {
  nn::Sequential net = lecture_convnet();
  CHECK(test::error_of([&] { nn::summary(net, {}); }).find("nn::summary") != std::string::npos);
  CHECK(test::error_of([&] { nn::summary(net, {100, 0, 40}); }).find("positive") != std::string::npos);
  // 3 input channels into a 1-channel conv: the conv op's own error comes through.
  CHECK(test::error_of([&] { nn::summary(net, {2, 3, 40}); }).find("Conv1d(1, 15") != std::string::npos);
  CHECK(net.is_training());
  const nn::ModelSummary ok = nn::summary(net, {100, 1, 40});  // no hooks left behind from the failed call
  CHECK(ok.rows.size() == 8);
}
