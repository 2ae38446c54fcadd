// MNIST-1D from a .npz (the checkpoint reader does the file format; this checks the four arrays).
#include <algorithm>
#include <string>

#include "xgrad/data/mnist1d.h"
#include "xgrad/error.h"
#include "xgrad/io/npz.h"
#include "xgrad/state_dict.h"

namespace xgrad::data {
namespace {

const Tensor& array(const StateDict& arrays, const char* name, const std::string& file) {
  const Tensor* t = arrays.find(name);
  XGRAD_CHECK(t != nullptr, "load_mnist1d_npz: '{}' has no array '{}' (expected x, y, x_test, y_test)", file, name);
  return *t;
}

Tensor signals(const StateDict& arrays, const char* name, const std::string& file) {
  const Tensor& x = array(arrays, name, file);
  XGRAD_CHECK(x.dim() == 2 && x.dtype() != Dtype::boolean,
              "load_mnist1d_npz: '{}': array '{}' must be numbers of shape [N, length], got {} of shape {}", file,
              name, dtype_name(x.dtype()), to_string(x.shape()));
  return x.to(float32);
}

Tensor labels(const StateDict& arrays, const char* name, const std::string& file, const Tensor& x,
              const char* x_name) {
  const Tensor& y = array(arrays, name, file);
  XGRAD_CHECK(y.dim() == 1 && y.dtype() == Dtype::int64,
              "load_mnist1d_npz: '{}': array '{}' must be integer labels of shape [N], got {} of shape {}", file,
              name, dtype_name(y.dtype()), to_string(y.shape()));
  XGRAD_CHECK(y.size(0) == x.size(0), "load_mnist1d_npz: '{}': '{}' has {} signals but '{}' has {} labels", file,
              x_name, x.size(0), name, y.size(0));
  const std::int64_t* p = y.data<std::int64_t>();
  const std::int64_t* bad = std::find_if(p, p + y.numel(), [](std::int64_t v) { return v < 0 || v > 9; });
  XGRAD_CHECK(bad == p + y.numel(), "load_mnist1d_npz: '{}': '{}' holds label {} at index {}, outside 0..9", file,
              name, *bad, bad - p);
  return y;
}

}  // namespace

Mnist1d load_mnist1d_npz(const std::filesystem::path& path) {
  const std::string file = path.string();
  const StateDict arrays = xgrad::load(path);
  Mnist1d set;
  set.x = signals(arrays, "x", file);
  set.x_test = signals(arrays, "x_test", file);
  XGRAD_CHECK(set.x.size(1) == set.x_test.size(1),
              "load_mnist1d_npz: '{}': 'x' has signals of {} points but 'x_test' of {}", file, set.x.size(1),
              set.x_test.size(1));
  set.y = labels(arrays, "y", file, set.x, "x");
  set.y_test = labels(arrays, "y_test", file, set.x_test, "x_test");
  return set;
}

}  // namespace xgrad::data
