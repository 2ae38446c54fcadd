// The lectures' MNIST-1D ConvNet (DS 542): three stride-2 Conv1d(k=3) layers of 15 channels with
// ReLU, then Flatten and Linear(60 -> 10), 2,050 parameters. Prints the model, its summary table
// (output shapes, parameters, mult-adds, receptive field) for the lectures' batch [100, 1, 40],
// and runs a few SGD steps (lr 0.01, as in the lectures) on a random batch to show the training
// loop. The MNIST-1D data itself arrives with the data module (examples/mnist1d).
#include <cstdio>

#include <xgrad/nn.h>
#include <xgrad/optim.h>
#include <xgrad/xgrad.h>

using namespace xgrad;

int main() {
  manual_seed(0);
  nn::Sequential net(nn::Conv1d(1, 15, 3, {.stride = 2}), nn::ReLU(),   //
                     nn::Conv1d(15, 15, 3, {.stride = 2}), nn::ReLU(),  //
                     nn::Conv1d(15, 15, 3, {.stride = 2}), nn::ReLU(),  //
                     nn::Flatten(), nn::Linear(60, 10));
  fmt::print("{}\n\n", net);
  const nn::ModelSummary table = nn::summary(net, {100, 1, 40});
  fmt::print("{}\n", table);

  optim::SGD opt(net.parameters(), {.lr = 0.01});
  nn::CrossEntropyLoss criterion;
  const Tensor x = randn({100, 1, 40});
  const Tensor y = randint(0, 10, {100});
  double first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    const Tensor loss = criterion(net(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  fmt::print("20 SGD steps on one random batch: loss {:.4f} -> {:.4f}\n", first, last);
  const bool table_ok = table.total_params == 2050 && table.total_mult_adds == 1072000 &&
                        table.receptive_field == std::vector<std::int64_t>{15};
  return table_ok && last < first ? 0 : 1;
}
