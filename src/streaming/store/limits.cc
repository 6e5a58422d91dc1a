// Store limits (see limits.h).
#include "streaming/store/limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>

#include "core/subject.h"
#include "server/logger.h"
#include "server/monitor_format.h"

namespace gannet::streaming::store {

namespace {

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  TokenIterator it(s);
  std::string_view t;
  while (it.Next(t)) out.push_back(t);
  return out;
}

// True when every channel that `narrow` names (a literal or a wildcard) is also named by
// `wide`: "foo.>" covers "foo.bar.>" and "foo.*", "foo.*" covers "foo.bar".
bool Covers(std::string_view wide, std::string_view narrow) {
  std::vector<std::string_view> w = Tokens(wide), n = Tokens(narrow);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == ">") return n.size() > i;
    if (i >= n.size()) return false;
    if (w[i] == "*") {
      if (n[i] == ">") return false;
      continue;
    }
    if (w[i] != n[i]) return false;
  }
  return w.size() == n.size();
}

int LiteralTokens(std::string_view s) {
  int n = 0;
  for (std::string_view t : Tokens(s)) n += (t != "*" && t != ">");
  return n;
}

// For each per-channel entry, the entries that cover it (its ancestors), and its parent: the
// most specific ancestor, the one with the most ancestors of its own.
struct Tree {
  std::map<std::string, std::vector<std::string>> ancestors;
  std::map<std::string, std::string> parent;  // absent: the global limits
};

Tree BuildTree(const std::map<std::string, ChannelLimits>& entries) {
  Tree t;
  for (const auto& [name, limits] : entries) {
    auto& a = t.ancestors[name];
    for (const auto& [other, other_limits] : entries) {
      if (other != name && Covers(other, name)) a.push_back(other);
    }
  }
  for (const auto& [name, a] : t.ancestors) {
    const std::string* best = nullptr;
    for (const std::string& cand : a) {
      if (!best) {
        best = &cand;
        continue;
      }
      size_t cd = t.ancestors[cand].size(), bd = t.ancestors[*best].size();
      if (cd > bd || (cd == bd && LiteralTokens(cand) > LiteralTokens(*best))) best = &cand;
    }
    if (best) t.parent[name] = *best;
  }
  return t;
}

template <typename T>
void Inherit(T& value, T parent) {
  if (value < T{}) {
    value = T{};
  } else if (value == T{}) {
    value = parent;
  }
}

std::string GoDuration(std::chrono::nanoseconds d) { return FormatGoDuration(d.count()); }

enum class LimitKind { kCount, kBytes, kDuration };

std::string LimitStr(bool global, int64_t val, int64_t parent, LimitKind kind) {
  if (!global && val == parent) return "";
  std::string text;
  if (val == 0) {
    text = "unlimited";
  } else if (kind == LimitKind::kBytes) {
    text = FriendlyBytes(val);
  } else if (kind == LimitKind::kDuration) {
    text = FormatGoDuration(val);
  } else {
    text = std::to_string(val);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%13s%s", text.c_str(), val == parent ? " *" : "");
  return buf;
}

}  // namespace

bool IsChannelNameValid(std::string_view channel, bool wildcards_allowed) {
  if (channel.empty() || channel[0] == '.') return false;
  for (size_t i = 0; i < channel.size(); ++i) {
    char c = channel[i];
    if (c == '/') return false;
    if (c == '.' && (i == channel.size() - 1 || channel[i + 1] == '.')) return false;
    if (c == '*' || c == '>') {
      if (!wildcards_allowed) return false;
      if (i > 0 && channel[i - 1] != '.') return false;
      if (c == '>' && i != channel.size() - 1) return false;
      if (i < channel.size() - 1 && channel[i + 1] != '.') return false;
    }
  }
  return true;
}

bool IsChannelNameLiteral(std::string_view channel) {
  return channel.find_first_of("*>") == std::string_view::npos;
}

Status BuildLimits(StoreLimits& limits) {
  const ChannelLimits& g = limits.global;
  auto negative = [](const char* what, const std::string& value) {
    return Status(Code::kInvalid,
                  std::string("max ") + what + " limit cannot be negative (" + value + ")");
  };
  if (limits.max_channels < 0) return negative("channels", std::to_string(limits.max_channels));
  if (g.max_subscriptions < 0) {
    return negative("subscriptions", std::to_string(g.max_subscriptions));
  }
  if (g.max_msgs < 0) return negative("messages", std::to_string(g.max_msgs));
  if (g.max_bytes < 0) return negative("bytes", std::to_string(g.max_bytes));
  if (g.max_age.count() < 0) return negative("age", GoDuration(g.max_age));
  if (g.max_inactivity.count() < 0) return negative("inactivity", GoDuration(g.max_inactivity));
  if (limits.per_channel.empty()) return Status::Ok();

  int64_t literals = 0;
  for (const auto& [name, cl] : limits.per_channel) {
    if (!IsChannelNameValid(name, true)) {
      return Status(Code::kInvalid, "invalid channel name \"" + name + "\"");
    }
    if (IsChannelNameLiteral(name)) {
      ++literals;
      if (limits.max_channels > 0 && literals > limits.max_channels) {
        return Status(Code::kInvalid, Format("too many channels defined (%lld). The max channels "
                                             "limit is set to %lld",
                                             static_cast<long long>(literals),
                                             static_cast<long long>(limits.max_channels)));
      }
    }
  }
  // Parents first: an entry with fewer ancestors is resolved before those below it.
  Tree tree = BuildTree(limits.per_channel);
  std::vector<std::string> order;
  for (const auto& [name, cl] : limits.per_channel) order.push_back(name);
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return tree.ancestors[a].size() < tree.ancestors[b].size();
  });
  for (const std::string& name : order) {
    auto p = tree.parent.find(name);
    const ChannelLimits parent =
        p == tree.parent.end() ? limits.global : limits.per_channel.at(p->second);
    ChannelLimits& cl = limits.per_channel.at(name);
    Inherit(cl.max_subscriptions, parent.max_subscriptions);
    Inherit(cl.max_msgs, parent.max_msgs);
    Inherit(cl.max_bytes, parent.max_bytes);
    Inherit(cl.max_age, parent.max_age);
    Inherit(cl.max_inactivity, parent.max_inactivity);
  }
  return Status::Ok();
}

ChannelLimits LimitsForChannel(const StoreLimits& built, std::string_view channel) {
  if (auto it = built.per_channel.find(std::string(channel)); it != built.per_channel.end()) {
    return it->second;
  }
  std::vector<const std::string*> candidates;
  for (const auto& [name, cl] : built.per_channel) {
    if (!IsChannelNameLiteral(name) && SubjectMatchesPattern(channel, name)) {
      candidates.push_back(&name);
    }
  }
  if (candidates.empty()) return built.global;
  // The most specific: covered by the most other candidates.
  const std::string* best = nullptr;
  size_t best_depth = 0;
  for (const std::string* c : candidates) {
    size_t depth = 0;
    for (const std::string* o : candidates) depth += (o != c && Covers(*o, *c));
    if (!best || depth > best_depth ||
        (depth == best_depth && LiteralTokens(*c) > LiteralTokens(*best))) {
      best = c;
      best_depth = depth;
    }
  }
  return built.per_channel.at(*best);
}

std::string FriendlyBytes(int64_t bytes) {
  double f = static_cast<double>(bytes);
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* kPrefixes[] = {"K", "M", "G", "T", "P", "E"};
  int exp = static_cast<int>(std::log(f) / std::log(1024.0));
  if (exp > 6) exp = 6;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %sB", f / std::pow(1024.0, exp), kPrefixes[exp - 1]);
  return buf;
}

std::vector<std::string> PrintLimits(const StoreLimits& built) {
  const StoreLimits defaults;
  const ChannelLimits& d = defaults.global;
  const ChannelLimits& g = built.global;
  std::vector<std::string> txt;
  const std::string title = "---------- Store Limits ----------";
  txt.push_back(title);
  txt.push_back("Channels:        " +
                LimitStr(true, built.max_channels, defaults.max_channels, LimitKind::kCount));
  txt.push_back("--------- Channels Limits --------");
  txt.push_back("  Subscriptions: " +
                LimitStr(true, g.max_subscriptions, d.max_subscriptions, LimitKind::kCount));
  txt.push_back("  Messages     : " + LimitStr(true, g.max_msgs, d.max_msgs, LimitKind::kCount));
  txt.push_back("  Bytes        : " + LimitStr(true, g.max_bytes, d.max_bytes, LimitKind::kBytes));
  txt.push_back("  Age          : " +
                LimitStr(true, g.max_age.count(), d.max_age.count(), LimitKind::kDuration));
  txt.push_back("  Inactivity   : " + LimitStr(true, g.max_inactivity.count(),
                                               d.max_inactivity.count(), LimitKind::kDuration));
  size_t max_len = title.size();
  if (!built.per_channel.empty()) {
    Tree tree = BuildTree(built.per_channel);
    int max_levels = 0;
    for (const auto& [name, cl] : built.per_channel) {
      max_levels = std::max(max_levels, CountTokens(name));
    }
    // Children listed under their parent, alphabetically at each level.
    std::map<std::string, std::vector<std::string>> children;  // "" = top level
    for (const auto& [name, cl] : built.per_channel) {
      auto p = tree.parent.find(name);
      children[p == tree.parent.end() ? "" : p->second].push_back(name);
    }
    std::vector<std::string> lines;
    std::function<void(const std::string&, int)> walk = [&](const std::string& parent, int level) {
      for (const std::string& name : children[parent]) {
        const ChannelLimits& cl = built.per_channel.at(name);
        const ChannelLimits& pl = parent.empty() ? g : built.per_channel.at(parent);
        std::string left(static_cast<size_t>(level), ' ');
        std::string right(static_cast<size_t>(std::max(0, max_levels - level)), ' ');
        std::vector<std::string> mine{left + name};
        auto add = [&](const char* label, const std::string& value) {
          if (value.empty()) return;
          std::string line = left;
          line += " |-> ";
          line += label;
          line += right;
          line += value;
          mine.push_back(std::move(line));
        };
        add("Subscriptions ",
            LimitStr(false, cl.max_subscriptions, pl.max_subscriptions, LimitKind::kCount));
        add("Messages      ", LimitStr(false, cl.max_msgs, pl.max_msgs, LimitKind::kCount));
        add("Bytes         ", LimitStr(false, cl.max_bytes, pl.max_bytes, LimitKind::kBytes));
        add("Age           ",
            LimitStr(false, cl.max_age.count(), pl.max_age.count(), LimitKind::kDuration));
        add("Inactivity    ", LimitStr(false, cl.max_inactivity.count(), pl.max_inactivity.count(),
                                       LimitKind::kDuration));
        for (auto& l : mine) {
          max_len = std::max(max_len, l.size());
          lines.push_back(std::move(l));
        }
        walk(name, level + 1);
      }
    };
    walk("", 0);
    const std::string list_title = " List of Channels ";
    size_t dashes = max_len > list_title.size() ? max_len - list_title.size() : 0;
    txt.push_back(std::string(dashes / 2, '-') + list_title +
                  std::string(dashes - dashes / 2, '-'));
    txt.insert(txt.end(), lines.begin(), lines.end());
  }
  txt.push_back(std::string(max_len, '-'));
  return txt;
}

}  // namespace gannet::streaming::store
