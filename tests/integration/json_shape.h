// The JSON shape comparison of the compatibility tests: every key the reference's document has
// must exist in ours with the same JSON type, recursively (the elements of a list merged, so
// every key any element has is checked).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gannet::test {

inline std::string TypeOf(const nlohmann::json& j) {
  return j.is_number() ? "number" : j.type_name();
}

inline nlohmann::json MergedElements(const nlohmann::json& list) {
  nlohmann::json merged = nlohmann::json::object();
  for (const nlohmann::json& e : list) {
    if (!e.is_object()) return e;
    for (auto& [k, v] : e.items()) {
      if (!merged.contains(k)) merged[k] = v;
    }
  }
  return merged;
}

// Appends one line per difference ("<path>: missing", "<path>: reference string, ours number").
inline void CompareShape(const nlohmann::json& ref, const nlohmann::json& ours,
                         const std::string& path, std::vector<std::string>& problems) {
  if (TypeOf(ref) != TypeOf(ours)) {
    problems.push_back(path + ": reference " + TypeOf(ref) + ", ours " + TypeOf(ours));
    return;
  }
  if (ref.is_object()) {
    for (auto& [k, v] : ref.items()) {
      std::string sub = path + "." + k;
      if (!ours.contains(k)) {
        problems.push_back(sub + ": missing");
      } else {
        CompareShape(v, ours[k], sub, problems);
      }
    }
  } else if (ref.is_array() && !ref.empty()) {
    if (ours.empty()) {
      problems.push_back(path + ": reference lists elements, ours is empty");
      return;
    }
    CompareShape(MergedElements(ref), MergedElements(ours), path + "[]", problems);
  }
}

}  // namespace gannet::test
