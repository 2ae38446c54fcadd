#include "xgrad/nn/containers.h"

#include <algorithm>

#include <fmt/ranges.h>

namespace xgrad::nn {

const std::shared_ptr<Module>& ModuleSequence::operator[](std::int64_t i) const {
  const auto n = static_cast<std::int64_t>(size());
  XGRAD_CHECK(i >= -n && i < n, "{}: index {} is out of range for {} module{}", type_name(), i, n, n == 1 ? "" : "s");
  return child_entries()[static_cast<std::size_t>(i < 0 ? i + n : i)].module;
}

Sequential::Sequential(std::initializer_list<NamedModule> named) {
  for (const auto& entry : named) add_child(entry.name, entry.module);
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& child : child_entries()) x = (*child.module)(x);
  return x;
}

std::string ModuleList::repr() const {
  if (empty()) return type_name() + "()";
  // Runs of children printing the same, as [first, last] index pairs with their repr.
  struct Run {
    std::size_t first, last;
    std::string text;
  };
  std::vector<Run> runs;
  for (std::size_t i = 0; i < size(); ++i) {
    std::string text = child_entries()[i].module->repr();
    if (!runs.empty() && runs.back().text == text)
      runs.back().last = i;
    else
      runs.push_back({i, i, std::move(text)});
  }
  std::vector<std::string> lines;
  for (const auto& r : runs) {
    std::string line = r.first == r.last
                           ? fmt::format("({}): {}", r.first, r.text)
                           : fmt::format("({}-{}): {} x {}", r.first, r.last, r.last - r.first + 1, r.text);
    lines.push_back(detail::add_indent(line, 2));
  }
  return fmt::format("{}(\n  {}\n)", type_name(), fmt::join(lines, "\n  "));
}

ModuleDict::ModuleDict(std::initializer_list<NamedModule> named) {
  for (const auto& entry : named) add_child(entry.name, entry.module);
}

bool ModuleDict::contains(std::string_view name) const {
  return std::any_of(child_entries().begin(), child_entries().end(), [&](const Child& c) { return c.name == name; });
}

const std::shared_ptr<Module>& ModuleDict::operator[](std::string_view name) const {
  for (const auto& c : child_entries())
    if (c.name == name) return c.module;
  XGRAD_CHECK(false, "ModuleDict: no module named '{}' (keys: {})", name, fmt::join(keys(), ", "));
  return child_entries().front().module;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& c : child_entries()) out.push_back(c.name);
  return out;
}

}  // namespace xgrad::nn
