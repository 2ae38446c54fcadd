// One name per op: every node any registered sample records (forward, and backward under
// create_graph, which records the VJPs' own nodes) carries the name of a registry entry whose
// arity is the node's input count, so graph dumps and error messages never show a name the
// registry does not know.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

using namespace xgrad;

namespace {

// Every node reachable from `roots`, leaves' accumulators excluded.
std::vector<std::shared_ptr<Node>> nodes_of(const TensorList& roots) {
  std::vector<std::shared_ptr<Node>> out, stack;
  std::set<Node*> seen;
  for (const Tensor& r : roots)
    if (r.defined() && r.grad_fn()) stack.push_back(r.grad_fn());
  while (!stack.empty()) {
    auto n = stack.back();
    stack.pop_back();
    if (!n || n->accumulates_leaf() || !seen.insert(n.get()).second) continue;
    out.push_back(n);
    for (const Edge& e : n->next_edges()) stack.push_back(e.fn);
  }
  return out;
}

}  // namespace

TEST_CASE("op names: every recorded node names a registry entry with the node's input count") {
  std::map<std::string, std::string> problems;  // node name -> first problem seen
  for (const OpInfo& op : registered_ops()) {
    manual_seed(7);
    for (const OpSample& sample : op.samples(float64)) {
      Tensor y = sample.call(sample.inputs);
      if (!y.defined() || !y.requires_grad()) continue;
      TensorList roots{y};
      // The VJPs' own nodes: backward with create_graph records them.
      TensorList diff_inputs;
      for (const Tensor& t : sample.inputs)
        if (t.defined() && t.requires_grad()) diff_inputs.push_back(t);
      // The seed requires grad too, so VJP nodes that depend only on it (slice_backward) are recorded.
      manual_seed(8);
      const Tensor seed = randn(y.shape(), {.dtype = y.dtype(), .requires_grad = true});
      if (!diff_inputs.empty())
        for (const Tensor& g : grad({y}, diff_inputs, {seed}, {.create_graph = true, .allow_unused = true}))
          if (g.defined()) roots.push_back(g);
      for (const auto& node : nodes_of(roots)) {
        const std::string name = node->name();
        const OpInfo* info = find_op(name);
        const auto inputs = static_cast<int>(node->next_edges().size());
        if (!info)
          problems.emplace(name, fmt::format("not in the registry (recorded by {} / {})", op.name, sample.description));
        else if (info->variadic ? inputs < 1 : info->arity != inputs)
          problems.emplace(name, fmt::format("node has {} inputs, registry arity {} (recorded by {} / {})", inputs,
                                             info->arity, op.name, sample.description));
      }
    }
  }
  for (const auto& [name, problem] : problems) FAIL_CHECK(fmt::format("'{}': {}", name, problem));
  CHECK(problems.empty());
}

namespace {
// The names of the functions ops.h declares: a line "<return type> name(" at namespace level.
std::set<std::string> declared_ops() {
  std::ifstream in(std::string(XGRAD_SOURCE_DIR) + "/include/xgrad/ops.h");
  REQUIRE(in.good());
  const std::regex decl(R"(^(?:inline\s+)?(?:Tensor|bool|Dtype|std::\w+(?:<[^>]*>)?)\s+(\w+)\()");
  std::set<std::string> names;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, decl)) names.insert(m[1]);
  }
  return names;
}
}  // namespace

TEST_CASE("op names: every public function of ops.h is a registry entry or a listed alias") {
  const auto names = declared_ops();
  CHECK(names.size() > 80);  // the parse found the declarations
  CHECK(names.count("conv2d") == 1);
  CHECK(names.count("transpose") == 1);
  for (const std::string& name : names) {
    INFO("ops.h declares '", name, "'");
    CHECK((find_op(name) != nullptr || find_alias(name) != nullptr));
  }
  for (const OpAlias& alias : op_aliases()) {
    INFO("alias '", alias.name, "'");
    CHECK(find_op(alias.name) == nullptr);  // an op is an entry or an alias, not both
    if (!alias.records_as.empty()) CHECK(find_op(alias.records_as) != nullptr);
  }
  // transpose records under its alias's name.
  auto x = ones({2, 3}, {.requires_grad = true});
  CHECK(transpose(x, 0, 1).grad_fn_name() == find_alias("transpose")->records_as);
}

TEST_CASE("op names: a node recorded with another input count than its declaration raises") {
  constexpr OpDecl kTwoInputs{"two_inputs", 2, "da = dy, db = dy"};
  const Tensor x = tensor({1.0, 2.0}, {.requires_grad = true});
  Tensor y = x * 2.0;
  CHECK_THROWS_WITH_AS(record(y, kTwoInputs, {x}, {}, [](Node&, const Tensor& g) -> TensorList { return {g}; }),
                       doctest::Contains("two_inputs: records a node with 1 inputs, but the op is declared with 2"),
                       Error);
  const OpInfo* mul_info = find_op("mul");
  REQUIRE(mul_info != nullptr);
  CHECK(mul_info->arity == 2);
  CHECK(mul_info->formula == "da = sum_to(dy * b), db = sum_to(dy * a)");
  CHECK_THROWS_WITH_AS(declared(kTwoInputs, {.name = "other", .differentiable = {true, true}, .samples = {}}), doctest::Contains("its name and formula come from"),
                       Error);
}
