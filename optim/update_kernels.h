#pragma once
// Private to optim/: the fused update kernels. Each walks a parameter, its gradient and its state
// buffers once, in SIMD batches (xsimd), updating the parameter and the buffers together; no
// temporaries. Hyper-parameters arrive as doubles and are used in the parameter's type T, as
// PyTorch uses Python scalars on a tensor of that dtype. Instantiated for float and double.
#include <cstdint>

namespace xgrad::optim::kernels {

// g' = (maximize ? -g : g) + weight_decay * p, the gradient every rule starts from.
struct GradTerms {
  double weight_decay = 0;
  bool maximize = false;
};

// SGD. momentum_buffer is null when momentum == 0; `first` is the buffer's first step (b = g').
struct SgdRule {
  GradTerms grad;
  double lr, momentum, dampening;
  bool nesterov, first;
};
template <class T>
void sgd(std::int64_t n, T* param, const T* grad, T* momentum_buffer, const SgdRule& r);

// Adagrad with clr = lr / (1 + (step - 1) * lr_decay) computed by the caller.
struct AdagradRule {
  GradTerms grad;
  double clr, eps;
};
template <class T>
void adagrad(std::int64_t n, T* param, const T* grad, T* sum, const AdagradRule& r);

// RMSprop. grad_avg is null unless centered, momentum_buffer null unless momentum > 0.
struct RmspropRule {
  GradTerms grad;
  double lr, alpha, eps, momentum;
};
template <class T>
void rmsprop(std::int64_t n, T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer,
             const RmspropRule& r);

// Adam / AdamW. max_exp_avg_sq is null unless amsgrad. decay_factor = 1 - lr * weight_decay for
// AdamW (1 for Adam, whose weight decay is in grad).
struct AdamRule {
  GradTerms grad;
  double decay_factor, beta1, beta2, eps, step_size, bias_correction2_sqrt;
};
template <class T>
void adam(std::int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, const AdamRule& r);

struct AdadeltaRule {
  GradTerms grad;
  double lr, rho, eps;
};
template <class T>
void adadelta(std::int64_t n, T* param, const T* grad, T* square_avg, T* acc_delta, const AdadeltaRule& r);

// For clip_grad_norm_: sum of |x|^p (p = 2 squares, p = 1 absolute values), and max |x|.
// NaN propagates into both.
template <class T>
double sum_abs_pow(std::int64_t n, const T* x, double p);
template <class T>
double max_abs(std::int64_t n, const T* x);

}  // namespace xgrad::optim::kernels
