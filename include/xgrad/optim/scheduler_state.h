#pragma once
// SchedulerState: the list of values a scheduler saves, each bound to the member it comes from, so
// state_dict() and load_state_dict() are written once. Loading checks every entry (missing,
// unexpected, wrong dtype or shape, a flag that is not 0/1) before it changes anything.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "xgrad/dtype.h"
#include "xgrad/shape.h"
#include "xgrad/state_dict.h"
#include "xgrad/tensor.h"

namespace xgrad::optim {

class SchedulerState {
 public:
  // Counts are 0-d int64, reals 0-d float64, lists 1-d of the member's current length.
  void count(std::string name, std::int64_t& value);
  void real(std::string name, double& value);
  void flag(std::string name, bool& value);  // int64 0 or 1
  void reals(std::string name, std::vector<double>& values);
  void counts(std::string name, std::vector<std::int64_t>& values);
  // A two-valued enum, saved as int64 0 or 1.
  template <class Enum>
  void choice(std::string name, Enum& value) {
    add({std::move(name), Dtype::int64, Shape{},
         [&value] { return scalar_tensor(static_cast<double>(value), {.dtype = Dtype::int64}); },
         [&value](const Tensor& t) { value = static_cast<Enum>(t.item<std::int64_t>()); },
         [](const Tensor& t) { return t.item<std::int64_t>() == 0 || t.item<std::int64_t>() == 1; }});
  }

  // Everything under prefix (a nested scheduler's entries: "schedulers.0.").
  void nest(std::string_view prefix, const std::function<void(SchedulerState&)>& describe);

  StateDict save() const;
  // `who` names the scheduler in errors. strict: any problem raises, listing all of them, and
  // nothing is loaded; otherwise the valid entries are loaded and the rest reported.
  LoadReport load(const StateDict& state, bool strict, std::string_view who) const;

 private:
  struct Entry {
    std::string name;
    Dtype dtype;
    Shape shape;
    std::function<Tensor()> save;
    std::function<void(const Tensor&)> load;
    std::function<bool(const Tensor&)> valid;  // value check after dtype and shape match
  };
  void add(Entry entry);

  std::string prefix_;
  std::vector<Entry> entries_;
};

}  // namespace xgrad::optim
