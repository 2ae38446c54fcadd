// The usage example of the README, kept here so that it is always compiled (and run by CTest).
#include <xgrad/xgrad.h>

int main() {
  using namespace xgrad;
  manual_seed(0);
  Tensor x = randn({4, 3});                              // a batch of 4 inputs
  Tensor w = randn({3, 2}, {.requires_grad = true});     // a parameter
  Tensor loss = sum(relu(matmul(x, w)));                 // records the graph as it computes
  loss.backward();                                       // fills w.grad() with d loss / d w
  fmt::print("loss = {}\ndloss/dw =\n{}\n", loss.item<float>(), w.grad());
}
