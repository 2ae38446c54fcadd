// nn::Module and containers: registration, PyTorch's names and order, printing, state_dict /
// load_state_dict, modes, dtype conversion, hooks, and a user module trained by hand.
#include <doctest/doctest.h>
#include <xgrad/nn.h>
#include <xgrad/xgrad.h>

#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

using namespace xgrad;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The lectures' MNIST-1D ConvNet.
nn::Sequential mnist1d_convnet() {
  return nn::Sequential(nn::Conv1d(1, 15, 3, {.stride = 2}), nn::ReLU(), nn::Conv1d(15, 15, 3, {.stride = 2}),
                        nn::ReLU(), nn::Conv1d(15, 15, 3, {.stride = 2}), nn::ReLU(), nn::Flatten(),
                        nn::Linear(60, 10));
}

struct Block : nn::Module {
  nn::Handle<nn::Linear> fc = register_module("fc", nn::Linear(3, 4));
  Tensor& scale = register_parameter("scale", ones({4}));
  Tensor& steps = register_buffer("steps", zeros({1}));
  Tensor& scratch = register_buffer("scratch", zeros({2}), /*persistent=*/false);
  Tensor forward(const Tensor& x) override { return fc(x) * scale; }
};

struct Net : nn::Module {
  nn::Handle<nn::Linear> fc1 = register_module("fc1", nn::Linear(3, 3));
  nn::Handle<Block> block = register_module("block", Block());
  nn::Handle<nn::Sequential> head = register_module("head", nn::Sequential(nn::ReLU(), nn::Linear(4, 2)));
  Tensor forward(const Tensor& x) override { return head(block(relu(fc1(x)))); }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

std::vector<std::vector<double>> values_of(const nn::Module& m) {
  std::vector<std::vector<double>> out;
  for (const auto& entry : m.state_dict()) out.push_back(entry.value.to_vector<double>());
  return out;
}

}  // namespace

TEST_CASE("nn: the MNIST-1D ConvNet has PyTorch's names, shapes, counts and output shape") {
  manual_seed(0);
  nn::Sequential net = mnist1d_convnet();
  const auto named = net.named_parameters();
  CHECK(names_of(named) == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
                                                    "7.weight", "7.bias"});
  CHECK(named[0].second.shape() == Shape{15, 1, 3});
  CHECK(named[2].second.shape() == Shape{15, 15, 3});
  CHECK(named[6].second.shape() == Shape{10, 60});
  CHECK(named[7].second.shape() == Shape{10});
  std::vector<std::int64_t> counts;
  for (std::size_t i = 0; i < named.size(); i += 2) counts.push_back(named[i].second.numel() + named[i + 1].second.numel());
  CHECK(counts == std::vector<std::int64_t>{60, 690, 690, 610});
  for (const Tensor& p : net.parameters()) {
    CHECK(p.requires_grad());
    CHECK(p.dtype() == float32);
  }
  const Tensor y = net(randn({100, 1, 40}));
  CHECK(y.shape() == Shape{100, 10});
  CHECK(net.size() == 8);
  CHECK(net[-1]->type_name() == "Linear");
  CHECK(net.at<nn::Conv1d>(2)->out_channels == 15);
  CHECK(contains(test::error_of([&] { net.at<nn::Linear>(0); }), "Conv1d"));
  CHECK(contains(test::error_of([&] { net[8]; }), "index 8 is out of range for 8 modules"));
  CHECK(contains(test::error_of([&] { net[-9]; }), "index -9"));
}

TEST_CASE("nn: printing reproduces PyTorch's repr strings") {
  nn::Sequential net = mnist1d_convnet();
  const std::string expected =
      "Sequential(\n"
      "  (0): Conv1d(1, 15, kernel_size=(3,), stride=(2,))\n"
      "  (1): ReLU()\n"
      "  (2): Conv1d(15, 15, kernel_size=(3,), stride=(2,))\n"
      "  (3): ReLU()\n"
      "  (4): Conv1d(15, 15, kernel_size=(3,), stride=(2,))\n"
      "  (5): ReLU()\n"
      "  (6): Flatten(start_dim=1, end_dim=-1)\n"
      "  (7): Linear(in_features=60, out_features=10, bias=True)\n"
      ")";
  CHECK(net.repr() == expected);
  CHECK(fmt::format("{}", net) == expected);
  const nn::Handle<nn::Sequential> handle = std::make_shared<nn::Sequential>(mnist1d_convnet());
  CHECK(fmt::format("{}", handle) == expected);
  std::ostringstream os;
  os << net;
  CHECK(os.str() == expected);

  CHECK(nn::Linear(3, 2, {.bias = false}).repr() == "Linear(in_features=3, out_features=2, bias=False)");
  CHECK(nn::Conv2d(3, 8, 3, {.padding = 1}).repr() == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  CHECK(nn::Conv2d(4, 8, {3, 5}, {.stride = {2, 1}, .dilation = 2, .groups = 2, .bias = false}).repr() ==
        "Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 1), dilation=(2, 2), groups=2, bias=False)");
  CHECK(nn::Conv1d(2, 4, 3, {.padding = "same"}).repr() == "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=same)");
  CHECK(nn::ConvTranspose1d(4, 2, 3, {.stride = 2, .output_padding = 1}).repr() ==
        "ConvTranspose1d(4, 2, kernel_size=(3,), stride=(2,), output_padding=(1,))");
  CHECK(nn::ConvTranspose2d(4, 2, 4, {.stride = 2, .padding = 1}).repr() ==
        "ConvTranspose2d(4, 2, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))");
  CHECK(nn::LeakyReLU().repr() == "LeakyReLU(negative_slope=0.01)");
  CHECK(nn::ELU().repr() == "ELU(alpha=1.0)");
  CHECK(nn::Softmax(1).repr() == "Softmax(dim=1)");
  CHECK(nn::LogSoftmax(-1).repr() == "LogSoftmax(dim=-1)");
  CHECK(nn::Identity().repr() == "Identity()");
  CHECK(nn::Sigmoid().repr() == "Sigmoid()");
  CHECK(nn::Tanh().repr() == "Tanh()");
  CHECK(nn::Sequential().repr() == "Sequential()");

  // A user module prints its class name and nested children indented.
  Net user;
  CHECK(user.repr() ==
        "Net(\n"
        "  (fc1): Linear(in_features=3, out_features=3, bias=True)\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=3, out_features=4, bias=True)\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=4, out_features=2, bias=True)\n"
        "  )\n"
        ")");

  // ModuleList collapses runs of identical children, as PyTorch 2 prints it.
  nn::ModuleList list(nn::Linear(2, 2), nn::Linear(2, 2), nn::Linear(2, 2), nn::ReLU());
  CHECK(list.repr() ==
        "ModuleList(\n"
        "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (3): ReLU()\n"
        ")");
  nn::ModuleDict dict({{"act", nn::ReLU()}, {"proj", nn::Linear(2, 1)}});
  CHECK(dict.repr() ==
        "ModuleDict(\n"
        "  (act): ReLU()\n"
        "  (proj): Linear(in_features=2, out_features=1, bias=True)\n"
        ")");
}

TEST_CASE("nn: nested user modules name parameters, buffers and state_dict entries as PyTorch") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "block.scale", "block.fc.weight", "block.fc.bias",
                                 "head.1.weight", "head.1.bias"});
  CHECK(names_of(net.named_parameters(/*recurse=*/false)).empty());
  CHECK(names_of(net.block->named_parameters(false)) == std::vector<std::string>{"scale"});
  CHECK(names_of(net.named_buffers()) == std::vector<std::string>{"block.steps", "block.scratch"});
  // The non-persistent buffer stays out of the state.
  CHECK(net.state_dict().keys() ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "block.scale", "block.steps", "block.fc.weight",
                                 "block.fc.bias", "head.1.weight", "head.1.bias"});
  std::vector<std::string> module_names;
  for (auto& [name, m] : net.named_modules()) module_names.push_back(name + ":" + m->type_name());
  CHECK(module_names == std::vector<std::string>{":Net", "fc1:Linear", "block:Block", "block.fc:Linear",
                                                 "head:Sequential", "head.0:ReLU", "head.1:Linear"});
  CHECK(net.children().size() == 3);
  CHECK(net.named_children()[2].first == "head");
  CHECK(net.parameters()[0].is_same(net.fc1->weight));
  CHECK(net.block->scale.is_same(net.block->parameter("scale")));
  CHECK(net(randn({5, 3})).shape() == Shape{5, 2});
}

TEST_CASE("nn: a module or tensor shared by two parents is listed once") {
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential seq(shared, nn::ReLU(), nn::Handle<nn::Linear>(shared));
  CHECK(names_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(seq.modules().size() == 3);  // the Sequential, the Linear once, the ReLU
  CHECK(seq.children().size() == 2);
  // state_dict lists every path, as PyTorch's does.
  CHECK(seq.state_dict().keys() == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});

  struct Tied : nn::Module {
    Tensor& a = register_parameter("a", ones({2}));
  };
  Tied tied;
  tied.register_parameter("b", tied.a);
  CHECK(names_of(tied.named_parameters()) == std::vector<std::string>{"a"});
  // to() keeps tied tensors tied.
  tied.to(float64);
  CHECK(tied.a.dtype() == float64);
  CHECK(tied.a.is_same(tied.parameter("b")));
  CHECK(tied.parameters().size() == 1);
}

TEST_CASE("nn: registration validates names, and a module called the wrong way names its type") {
  nn::Sequential seq;
  CHECK(contains(test::error_of([&] { seq.register_parameter("", ones({1})); }), "must not be empty"));
  CHECK(contains(test::error_of([&] { seq.register_buffer("a.b", ones({1})); }), "'a.b' must not contain '.'"));
  seq.register_parameter("w", ones({1}));
  CHECK(contains(test::error_of([&] { seq.register_buffer("w", ones({1})); }), "'w' is already a parameter"));
  seq.push_back(nn::ReLU());
  CHECK(contains(test::error_of([&] { seq.register_module("0", nn::Tanh()); }), "'0' is already a submodule"));
  CHECK(contains(test::error_of([&] { seq.register_parameter("i", ones({1}, {.dtype = int64})); }), "int64"));
  CHECK(contains(test::error_of([&] { seq.register_parameter("h", ones({1}, {.requires_grad = true}) * 2.0); }),
                 "has history"));

  nn::ReLU relu_layer;
  CHECK(contains(test::error_of([&] { relu_layer(ones({1}), ones({1})); }), "ReLU: cannot be called with two inputs"));
  nn::ModuleList list;
  CHECK(contains(test::error_of([&] { list(ones({1})); }), "ModuleList: cannot be called with one input"));
  nn::Linear fc(3, 2);
  CHECK(contains(test::error_of([&] { fc(ones({2, 4})); }), "Linear(in_features=3, out_features=2): expected an input "
                                                            "whose last dim is 3, got shape [2, 4]"));
  nn::Conv1d conv(2, 4, 3);
  CHECK(contains(test::error_of([&] { conv(ones({1, 3, 8})); }), "Conv1d(2, 4, kernel_size=(3,), stride=(1,))"));
  CHECK(contains(test::error_of([] { nn::Conv1d(3, 4, 3, {.groups = 2}); }),
                 "Conv1d: in_channels (3) must be divisible by groups (2)"));
  CHECK(contains(test::error_of([] { nn::Conv2d(2, 4, 3, {.stride = 2, .padding = "same"}); }),
                 "padding='same' is not supported for strided convolutions"));
  CHECK(contains(test::error_of([] { nn::Conv1d(2, 4, 0); }), "Conv1d: kernel_size must be positive, got 0"));
  CHECK(contains(test::error_of([] { nn::ConvTranspose1d(2, 4, 3, {.stride = 2, .output_padding = 2}); }),
                 "output_padding (2) must be >= 0 and smaller than either stride (2) or dilation (1)"));
}

TEST_CASE("nn: containers index, append, name and iterate their children") {
  nn::Sequential seq({{"conv", nn::Conv1d(1, 2, 3)}, {"act", nn::ReLU()}});
  seq.push_back(nn::Flatten()).append(nn::Linear(12, 3));
  seq.push_back("out", nn::Softmax(1));
  CHECK(names_of(seq.named_parameters()) ==
        std::vector<std::string>{"conv.weight", "conv.bias", "3.weight", "3.bias"});
  std::vector<std::string> types;
  for (const auto& m : seq) types.push_back(m->type_name());
  CHECK(types == std::vector<std::string>{"Conv1d", "ReLU", "Flatten", "Linear", "Softmax"});
  CHECK(seq[-2]->type_name() == "Linear");
  const Tensor y = seq(randn({4, 1, 8}));
  CHECK(y.shape() == Shape{4, 3});
  test::check_close(y.sum(Dims{1}), {1, 1, 1, 1}, 1e-6);

  nn::ModuleDict dict({{"a", nn::Linear(2, 2)}});
  dict.insert("b", nn::Tanh());
  CHECK(dict.keys() == std::vector<std::string>{"a", "b"});
  CHECK(dict.contains("b"));
  CHECK(dict.at<nn::Linear>("a")->in_features == 2);
  CHECK(contains(test::error_of([&] { dict["c"]; }), "no module named 'c' (keys: a, b)"));
  CHECK(names_of(dict.named_parameters()) == std::vector<std::string>{"a.weight", "a.bias"});
}

TEST_CASE("nn: forward hooks see inputs and outputs and can be removed") {
  nn::Sequential seq(nn::Linear(3, 4), nn::ReLU());
  std::vector<std::string> seen;
  auto pre = seq[0]->register_forward_pre_hook([&](nn::Module& m, const Tensor& in) {
    seen.push_back(fmt::format("pre {} {}", m.type_name(), to_string(in.shape())));
  });
  auto post = seq[1]->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor& out) {
    seen.push_back(fmt::format("post {} {} {}", m.type_name(), to_string(in.shape()), to_string(out.shape())));
  });
  seq(ones({2, 3}));
  CHECK(seen == std::vector<std::string>{"pre Linear [2, 3]", "post ReLU [2, 4] [2, 4]"});
  pre.remove();
  post.remove();
  post.remove();  // twice is harmless
  seq(ones({2, 3}));
  CHECK(seen.size() == 2);
}

TEST_CASE("nn: train and eval reach every descendant") {
  Net net;
  CHECK(net.is_training());
  net.eval();
  for (nn::Module* m : net.modules()) CHECK_FALSE(m->is_training());
  net.train();
  for (nn::Module* m : net.modules()) CHECK(m->is_training());
  net.head->train(false);
  CHECK(net.is_training());
  CHECK_FALSE(net.head->is_training());
  CHECK_FALSE((*net.head)[1]->is_training());
}

TEST_CASE("nn: load_state_dict lists every problem and leaves the module bit-identical") {
  manual_seed(1);
  Net net;
  const auto before = values_of(net);
  StateDict bad = net.state_dict();
  bad.erase("fc1.bias");
  bad.insert_or_assign("block.fc.weight", zeros({4, 2}));
  bad.insert_or_assign("head.1.bias", zeros({2}, {.dtype = float64}));
  bad.insert("head.2.weight", zeros({1}));
  bad.insert_or_assign("fc1.weight", full({3, 3}, 7.0));  // valid, but must not be copied
  const std::string msg = test::error_of([&] { net.load_state_dict(bad); });
  CHECK(contains(msg, "Net::load_state_dict: 4 problems (nothing was loaded)"));
  CHECK(contains(msg, "missing key 'fc1.bias': expected float32 [3]"));
  CHECK(contains(msg, "mismatched key 'block.fc.weight': expected float32 [4, 3], found float32 [4, 2]"));
  CHECK(contains(msg, "mismatched key 'head.1.bias': expected float32 [2], found float64 [2]"));
  CHECK(contains(msg, "unexpected key 'head.2.weight': float32 [1]"));
  CHECK(values_of(net) == before);

  // strict = false loads the matching subset and reports the rest.
  const std::vector<Tensor> params_before = net.parameters();
  const LoadReport report = net.load_state_dict(bad, /*strict=*/false);
  CHECK(report.missing_keys == std::vector<std::string>{"fc1.bias"});
  CHECK(report.unexpected_keys == std::vector<std::string>{"head.2.weight"});
  CHECK(report.mismatched_keys == std::vector<std::string>{"block.fc.weight", "head.1.bias"});
  CHECK_FALSE(report.complete());
  CHECK(net.fc1->weight.to_vector<double>() == std::vector<double>(9, 7.0));
  CHECK(values_of(net)[1] == before[1]);  // fc1.bias untouched
}

TEST_CASE("nn: load_state_dict copies in place, so parameters keep their identity") {
  manual_seed(2);
  Net source;
  manual_seed(3);
  Net target;
  const std::vector<Tensor> params = target.parameters();
  const std::uint32_t version = target.fc1->weight.version();
  const LoadReport report = target.load_state_dict(source.state_dict());
  CHECK(report.complete());
  CHECK(values_of(target) == values_of(source));
  const std::vector<Tensor> after = target.parameters();
  REQUIRE(after.size() == params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(after[i].is_same(params[i]));
    CHECK(after[i].requires_grad());
    CHECK(after[i].is_leaf());
  }
  CHECK(target.fc1->weight.version() > version);
  // The loaded values are copies: changing the source afterwards leaves the target alone.
  {
    NoGradGuard no_grad;
    source.fc1->weight.fill_(5.0);
  }
  CHECK(target.fc1->weight.to_vector<double>() != source.fc1->weight.to_vector<double>());
}

TEST_CASE("nn: to(float64) converts parameters, buffers and gradients, and zero_grad drops or zeroes gradients") {
  manual_seed(4);
  Net net;
  const std::vector<double> w = net.fc1->weight.to_vector<double>();
  net(ones({2, 3})).sum().backward();
  net.to(float64);
  for (const auto& [name, p] : net.named_parameters()) {
    INFO(name);
    CHECK(p.dtype() == float64);
    CHECK(p.requires_grad());
    CHECK(p.grad().dtype() == float64);
  }
  CHECK(net.block->steps.dtype() == float64);
  CHECK(net.fc1->weight.to_vector<double>() == w);  // float32 values are exact in float64
  CHECK(net.state_dict().at("fc1.weight").dtype() == float64);
  const Tensor y = net(ones({2, 3}, {.dtype = float64}));
  CHECK(y.dtype() == float64);
  CHECK(contains(test::error_of([&] { net.to(int64); }), "Net::to: target dtype must be float32 or float64, got int64"));

  net.zero_grad(/*set_to_none=*/false);
  for (const Tensor& p : net.parameters()) {
    REQUIRE(p.grad().defined());
    CHECK(p.grad().abs().sum().item() == 0.0);
  }
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("nn: a user module registered in one line per member trains with a hand-written SGD step") {
  struct TwoLayer : nn::Module {
    nn::Handle<nn::Linear> fc1 = register_module("fc1", nn::Linear(2, 16));
    nn::Handle<nn::Linear> fc2 = register_module("fc2", nn::Linear(16, 1));
    Tensor forward(const Tensor& x) override { return fc2(relu(fc1(x))); }
  };
  manual_seed(5);
  auto net = std::make_shared<TwoLayer>();
  // y = x0 - 2 x1 + 0.5 on 32 fixed points.
  const Tensor x = randn({32, 2});
  const Tensor target = (x.transpose(0, 1)[0] - 2.0 * x.transpose(0, 1)[1] + 0.5).unsqueeze(1);
  std::vector<double> losses;
  for (int step = 0; step < 30; ++step) {
    net->zero_grad();
    const Tensor loss = mse_loss((*net)(x), target);
    loss.backward();
    losses.push_back(loss.item());
    NoGradGuard no_grad;
    for (Tensor p : net->parameters()) p.sub_(p.grad(), 0.05);
  }
  CHECK(losses.back() < 0.25 * losses.front());
  for (std::size_t i = 1; i < losses.size(); ++i) CHECK(losses[i] < losses[i - 1]);
}
