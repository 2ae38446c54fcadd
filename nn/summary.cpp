#include "xgrad/nn/summary.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <ostream>
#include <unordered_map>

#include "xgrad/generator.h"
#include "xgrad/grad_mode.h"
#include "xgrad/nn/conv.h"
#include "xgrad/nn/pooling.h"

namespace xgrad::nn {

namespace {

std::int64_t product(const Shape& s, std::size_t from, std::size_t to) {
  std::int64_t n = 1;
  for (std::size_t i = from; i < to && i < s.size(); ++i) n *= s[i];
  return n;
}

std::int64_t count_params(const std::vector<Tensor>& params) {
  std::int64_t n = 0;
  for (const auto& p : params) n += p.numel();
  return n;
}

// torchinfo's multiply-adds of one call of a leaf module with output shape `out`.
std::int64_t mult_adds_of(const Module& m, const Shape& out) {
  if (out.empty()) return 0;
  const std::string type = m.type_name();
  std::int64_t macs = 0;
  for (const auto& [name, p] : m.named_parameters(/*recurse=*/false)) {
    const std::int64_t count = p.numel();
    if (name == "weight" || name == "bias") {
      if (type.find("Conv") != std::string::npos)
        macs += count * out[0] * product(out, 2, out.size());  // the channel dim is not an output position
      else if (type.find("Linear") != std::string::npos)
        macs += count * product(out, 0, out.size() - 1);
      else
        macs += count * out[0];
    } else if (name.find("weight") != std::string::npos || name.find("bias") != std::string::npos) {
      macs += count * product(out, 0, 2);  // recurrent layers' inner weights
    }
  }
  return macs;
}

// A sliding window over the spatial dims: what the receptive field follows.
struct Window {
  std::vector<std::int64_t> kernel, stride, dilation;
};

std::vector<std::int64_t> two(Int2 v) { return {v.h, v.w}; }

std::optional<Window> window_of(const Module& m) {
  if (auto* c = dynamic_cast<const Conv1d*>(&m)) return Window{{c->kernel_size}, {c->options.stride}, {c->options.dilation}};
  if (auto* c = dynamic_cast<const Conv2d*>(&m))
    return Window{two(c->kernel_size), two(c->options.stride), two(c->options.dilation)};
  if (auto* p = dynamic_cast<const MaxPool1d*>(&m)) return Window{{p->kernel_size}, {p->stride}, {p->options.dilation}};
  if (auto* p = dynamic_cast<const MaxPool2d*>(&m))
    return Window{two(p->kernel_size), two(p->stride), two(p->options.dilation)};
  if (auto* p = dynamic_cast<const AvgPool1d*>(&m)) return Window{{p->kernel_size}, {p->stride}, {1}};
  if (auto* p = dynamic_cast<const AvgPool2d*>(&m)) return Window{two(p->kernel_size), two(p->stride), {1, 1}};
  return std::nullopt;
}

// Layers after which one output position sees the whole input (or whose geometry the receptive
// field does not follow): the conv stack ends there.
bool ends_conv_stack(const Module& m) {
  const std::string type = m.type_name();
  return type == "Flatten" || type == "Linear" || type.starts_with("Adaptive") || type.starts_with("ConvTranspose");
}

std::string with_commas(std::int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", s[i]);
  return out + "]";
}

std::string joined(const std::vector<std::int64_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += fmt::format("{}{}", i ? "x" : "", v[i]);
  return out;
}

// Restores every module's training flag and removes the hooks, also when the forward throws.
struct ModelState {
  std::vector<std::pair<Module*, bool>> training;
  std::vector<HookHandle> hooks;
  ~ModelState() {
    for (auto& h : hooks) h.remove();
    for (auto& [m, on] : training) m->train(on);  // parents first, so children end with their own flag
  }
};

}  // namespace

ModelSummary summary(Module& model, const Shape& input_shape, SummaryOptions options) {
  XGRAD_CHECK(!input_shape.empty(), "nn::summary: the input shape is empty; expected [batch, ...] (e.g. [100, 1, 40])");
  for (auto d : input_shape)
    XGRAD_CHECK(d > 0, "nn::summary: input shape {} has a size {}; every size must be positive",
                shape_text(input_shape), d);
  XGRAD_CHECK(options.dtype == Dtype::float32 || options.dtype == Dtype::float64,
              "nn::summary: the input dtype must be float32 or float64, got {}", dtype_name(options.dtype));
  XGRAD_CHECK(options.max_depth >= 1, "nn::summary: max_depth must be >= 1, got {}", options.max_depth);

  ModelSummary s;
  s.model_type = model.type_name();
  s.input_shape = input_shape;

  struct Call {
    Module* module;
    std::string name;
    int depth;
    Shape output;
    bool done = false;
  };
  std::vector<Call> calls;
  std::vector<std::size_t> open;  // calls whose forward has not returned yet

  const auto named = model.named_modules();
  {
    ModelState state;
    for (auto& [name, m] : named) state.training.emplace_back(m, m->is_training());
    for (auto& [name, m] : named) {
      if (m == &model) continue;
      const int depth = static_cast<int>(std::count(name.begin(), name.end(), '.')) + 1;
      const std::string row_name = name;
      state.hooks.push_back(m->register_forward_pre_hook([&calls, &open, row_name, depth](Module& self, const Tensor&) {
        open.push_back(calls.size());
        calls.push_back({&self, row_name, depth, {}});
      }));
      state.hooks.push_back(m->register_forward_hook([&calls, &open](Module&, const Tensor&, const Tensor& out) {
        if (open.empty()) return;
        Call& c = calls[open.back()];
        open.pop_back();
        c.output = out.defined() ? out.shape() : Shape{};
        c.done = true;
      }));
    }
    model.eval();
    Generator gen(0);  // a private stream: the default generator is left as it was
    const Tensor input = randn(input_shape, gen, {.dtype = options.dtype});
    NoGradGuard no_grad;
    (void)model(input);
  }

  // Rows: the calls at depth <= max_depth; a deeper leaf's mult-adds go to its nearest shown ancestor.
  std::vector<std::int64_t> leaf_macs(calls.size(), 0);
  std::vector<int> shown_row(calls.size(), -1);
  std::vector<std::size_t> ancestors;  // call indices, by nesting (calls are in pre-order)
  const std::size_t elem = static_cast<std::size_t>(dtype_size(options.dtype));
  std::vector<std::int64_t> rf, jump;
  bool stack_open = true;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const Call& c = calls[i];
    while (!ancestors.empty() && calls[ancestors.back()].depth >= c.depth) ancestors.pop_back();
    const bool leaf = c.module->children().empty();
    if (leaf) {
      leaf_macs[i] = mult_adds_of(*c.module, c.output);
      s.total_mult_adds += leaf_macs[i];
      if (!c.module->parameters().empty())
        s.forward_backward_bytes += 2 * numel_of(c.output) * static_cast<std::int64_t>(elem);
      if (stack_open) {
        if (auto w = window_of(*c.module)) {
          if (rf.empty()) {
            rf.assign(w->kernel.size(), 1);
            jump.assign(w->kernel.size(), 1);
          }
          if (rf.size() == w->kernel.size())
            for (std::size_t d = 0; d < rf.size(); ++d) {
              rf[d] += (w->kernel[d] - 1) * w->dilation[d] * jump[d];
              jump[d] *= w->stride[d];
            }
          else
            stack_open = false;  // 1-d and 2-d windows mixed: stop following
        } else if (ends_conv_stack(*c.module)) {
          stack_open = false;
        }
      }
    }
    if (c.depth <= options.max_depth) {
      SummaryRow row;
      row.name = c.name;
      row.type = c.module->type_name();
      row.depth = c.depth;
      row.output_shape = c.output;
      row.params = count_params(c.module->parameters());
      row.is_leaf = leaf;
      row.mult_adds = leaf ? leaf_macs[i] : 0;
      shown_row[i] = static_cast<int>(s.rows.size());
      s.rows.push_back(std::move(row));
    } else if (leaf) {
      for (auto a = ancestors.rbegin(); a != ancestors.rend(); ++a)
        if (shown_row[*a] >= 0) {
          s.rows[static_cast<std::size_t>(shown_row[*a])].mult_adds += leaf_macs[i];
          break;
        }
    }
    ancestors.push_back(i);
  }
  s.receptive_field = rf;
  s.effective_stride = jump;

  for (const auto& p : model.parameters()) {
    s.total_params += p.numel();
    if (p.requires_grad()) s.trainable_params += p.numel();
    s.param_bytes += p.numel() * static_cast<std::int64_t>(dtype_size(p.dtype()));
  }
  s.non_trainable_params = s.total_params - s.trainable_params;
  s.input_bytes = numel_of(input_shape) * static_cast<std::int64_t>(elem);
  return s;
}

std::string ModelSummary::to_string() const {
  std::vector<std::string> names;
  std::size_t name_width = std::string("Layer (type)").size();
  for (const auto& r : rows) {
    names.push_back(std::string(static_cast<std::size_t>(2 * (r.depth - 1)), ' ') + r.name + " (" + r.type + ")");
    name_width = std::max(name_width, names.back().size());
  }
  std::size_t shape_width = std::string("Output Shape").size();
  for (const auto& r : rows) shape_width = std::max(shape_width, shape_text(r.output_shape).size());
  name_width += 3;
  shape_width += 3;
  const std::size_t width = name_width + shape_width + 12 + 15;
  const std::string heavy(width, '='), light(width, '-');

  std::string out;
  out += fmt::format("{}: input {}\n", model_type, shape_text(input_shape));
  out += heavy + "\n";
  out += fmt::format("{:<{}}{:<{}}{:>12}{:>15}\n", "Layer (type)", name_width, "Output Shape", shape_width, "Param #",
                     "Mult-Adds");
  out += heavy + "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    out += fmt::format("{:<{}}{:<{}}{:>12}{:>15}\n", names[i], name_width, shape_text(r.output_shape), shape_width,
                       r.params ? with_commas(r.params) : "--", r.mult_adds ? with_commas(r.mult_adds) : "--");
  }
  out += heavy + "\n";
  out += fmt::format("Total params: {}\n", with_commas(total_params));
  out += fmt::format("Trainable params: {}\n", with_commas(trainable_params));
  out += fmt::format("Non-trainable params: {}\n", with_commas(non_trainable_params));
  out += fmt::format("Total mult-adds: {} ({:.2f} M)\n", with_commas(total_mult_adds),
                     static_cast<double>(total_mult_adds) / 1e6);
  out += light + "\n";
  out += fmt::format("Input size (MB): {:.2f}\n", input_mb());
  out += fmt::format("Forward/backward pass size (MB): {:.2f}\n", forward_backward_mb());
  out += fmt::format("Params size (MB): {:.2f}\n", params_mb());
  out += fmt::format("Estimated total size (MB): {:.2f}\n", total_mb());
  out += light + "\n";
  if (receptive_field.empty())
    out += "Receptive field: -- (no convolution or pooling window)\n";
  else
    out += fmt::format("Receptive field: {} (effective stride {})\n", joined(receptive_field), joined(effective_stride));
  out += heavy + "\n";
  return out;
}

std::ostream& operator<<(std::ostream& os, const ModelSummary& s) { return os << s.to_string(); }

}  // namespace xgrad::nn
