#include "xgrad/optim/scheduler_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unordered_set>

#include "xgrad/error.h"

namespace xgrad::optim {

namespace {

Tensor int64_scalar(std::int64_t v) { return tensor(std::vector<std::int64_t>{v}, Shape{}); }
Tensor int64_list(const std::vector<std::int64_t>& v) {
  return tensor(v, Shape{static_cast<std::int64_t>(v.size())});
}
Tensor float64_list(const std::vector<double>& v) {
  return tensor(v, Shape{static_cast<std::int64_t>(v.size())}, {.dtype = Dtype::float64});
}
bool always_valid(const Tensor&) { return true; }

}  // namespace

void SchedulerState::add(Entry entry) {
  entry.name = prefix_ + entry.name;
  entries_.push_back(std::move(entry));
}

void SchedulerState::count(std::string name, std::int64_t& value) {
  add({std::move(name), Dtype::int64, Shape{}, [&value] { return int64_scalar(value); },
       [&value](const Tensor& t) { value = t.item<std::int64_t>(); }, always_valid});
}

void SchedulerState::real(std::string name, double& value) {
  add({std::move(name), Dtype::float64, Shape{}, [&value] { return scalar_tensor(value, {.dtype = Dtype::float64}); },
       [&value](const Tensor& t) { value = t.item<double>(); }, always_valid});
}

void SchedulerState::flag(std::string name, bool& value) {
  add({std::move(name), Dtype::int64, Shape{}, [&value] { return int64_scalar(value ? 1 : 0); },
       [&value](const Tensor& t) { value = t.item<std::int64_t>() != 0; },
       [](const Tensor& t) { return t.item<std::int64_t>() == 0 || t.item<std::int64_t>() == 1; }});
}

void SchedulerState::reals(std::string name, std::vector<double>& values) {
  add({std::move(name), Dtype::float64, Shape{static_cast<std::int64_t>(values.size())},
       [&values] { return float64_list(values); }, [&values](const Tensor& t) { values = t.to_vector<double>(); },
       always_valid});
}

void SchedulerState::counts(std::string name, std::vector<std::int64_t>& values) {
  add({std::move(name), Dtype::int64, Shape{static_cast<std::int64_t>(values.size())},
       [&values] { return int64_list(values); },
       [&values](const Tensor& t) { values = t.to_vector<std::int64_t>(); }, always_valid});
}

void SchedulerState::nest(std::string_view prefix, const std::function<void(SchedulerState&)>& describe) {
  const std::string outer = prefix_;
  prefix_ += prefix;
  describe(*this);
  prefix_ = outer;
}

StateDict SchedulerState::save() const {
  StateDict out;
  for (const auto& e : entries_) out.insert(e.name, e.save());
  return out;
}

LoadReport SchedulerState::load(const StateDict& state, bool strict, std::string_view who) const {
  LoadReport report;
  std::vector<std::string> problems;
  std::vector<const Entry*> loadable;
  std::unordered_set<std::string> known;
  for (const auto& e : entries_) {
    known.insert(e.name);
    const Tensor* t = state.find(e.name);
    if (t == nullptr || !t->defined()) {
      report.missing_keys.push_back(e.name);
      problems.push_back(fmt::format("missing '{}'", e.name));
    } else if (t->dtype() != e.dtype || t->shape() != e.shape) {
      report.mismatched_keys.push_back(e.name);
      problems.push_back(fmt::format("'{}' is {} {}, expected {} {}", e.name, dtype_name(t->dtype()),
                                     to_string(t->shape()), dtype_name(e.dtype), to_string(e.shape)));
    } else if (!e.valid(*t)) {
      report.mismatched_keys.push_back(e.name);
      problems.push_back(fmt::format("'{}' holds {}, expected 0 or 1", e.name, t->item()));
    } else {
      loadable.push_back(&e);
    }
  }
  for (const auto& entry : state)
    if (!known.contains(entry.name)) {
      report.unexpected_keys.push_back(entry.name);
      problems.push_back(fmt::format("unexpected '{}'", entry.name));
    }
  XGRAD_CHECK(!strict || problems.empty(), "{}.load_state_dict: {} problem(s), nothing loaded: {}", who,
              problems.size(), fmt::join(problems, "; "));
  for (const Entry* e : loadable) e->load(*state.find(e->name));
  return report;
}

}  // namespace xgrad::optim
