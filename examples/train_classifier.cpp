// The README's nn + optim example: a user-defined module, a training loop, a checkpoint.
// tests/check_readme.cmake checks that every C++ block of README.md appears verbatim in examples/.
#include <xgrad/checkpoint.h>
#include <xgrad/nn.h>
#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

using namespace xgrad;

struct Net : nn::Module {
  nn::Handle<nn::Linear> fc1 = register_module("fc1", nn::Linear(20, 64));
  nn::Handle<nn::Linear> fc2 = register_module("fc2", nn::Linear(64, 2));
  Tensor forward(const Tensor& x) override { return fc2(relu(fc1(x))); }
};

int main() {
  manual_seed(0);
  Tensor x = randn({512, 20});                        // 512 examples, 20 features
  Tensor y = (x.sum({1}) > 0).to(Dtype::int64);       // class 1 when the features sum above 0

  Net net;
  optim::Adam opt(net.parameters(), {.lr = 1e-2});
  optim::StepLR schedule(opt, {.step_size = 50, .gamma = 0.5});
  nn::CrossEntropyLoss criterion;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    Tensor loss = criterion(net(x), y);
    loss.backward();
    opt.step();
    schedule.step();
    if (step % 50 == 0) fmt::print("step {:3d}  loss {:.4f}\n", step, loss.item());
  }
  save(net, "net.npz");                               // NumPy .npz, written atomically
  Net restored;
  load(restored, "net.npz");                          // validated before anything is changed
  fmt::print("{}\n", restored);
  double accuracy = (restored(x).argmax(1) == y).to(Dtype::float64).mean().item();
  fmt::print("training accuracy {:.1f}%\n", 100 * accuracy);
  return accuracy > 0.95 ? 0 : 1;
}
