#include "initial_lrs.h"

#include <mutex>
#include <unordered_map>

#include "xgrad/error.h"

namespace xgrad::optim::initial_lrs {

namespace {

struct Record {
  std::vector<double> lrs;
  int schedulers = 0;
};

struct Table {
  std::mutex mutex;
  std::unordered_map<const Optimizer*, Record> records;
};

Table& table() {
  static Table t;
  return t;
}

// Groups added since the record was made get their current lr, as setdefault would give them.
void extend(const Optimizer& optimizer, Record& r) {
  for (std::size_t g = r.lrs.size(); g < optimizer.num_param_groups(); ++g) r.lrs.push_back(optimizer.lr(g));
}

}  // namespace

std::vector<double> attach(const Optimizer& optimizer) {
  Table& t = table();
  std::lock_guard lock(t.mutex);
  Record& r = t.records[&optimizer];
  ++r.schedulers;
  extend(optimizer, r);
  return r.lrs;
}

void detach(const Optimizer* optimizer) {
  Table& t = table();
  std::lock_guard lock(t.mutex);
  auto it = t.records.find(optimizer);
  if (it != t.records.end() && --it->second.schedulers <= 0) t.records.erase(it);
}

void overwrite(const Optimizer& optimizer, const std::vector<double>& lrs) {
  Table& t = table();
  std::lock_guard lock(t.mutex);
  t.records[&optimizer].lrs = lrs;
}

std::vector<double> get(const Optimizer& optimizer) {
  Table& t = table();
  std::lock_guard lock(t.mutex);
  auto it = t.records.find(&optimizer);
  if (it == t.records.end()) {  // no scheduler attached: the current lrs
    Record fresh;
    extend(optimizer, fresh);
    return fresh.lrs;
  }
  extend(optimizer, it->second);
  return it->second.lrs;
}

}  // namespace xgrad::optim::initial_lrs
