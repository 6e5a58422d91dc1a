// Store limits: channel name rules, validation and inheritance of per-channel limits (wildcard
// entries inherit from the closest wildcard that covers them, then from the global limits), the
// limits of one channel, and the startup log's "Store Limits" table, as the reference's
// stores/limits.go and util/util.go.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "streaming/store/store.h"

namespace gannet::streaming::store {

// A channel name: not empty, no '/', no empty token; with `wildcards_allowed`, '*' and '>'
// only as whole tokens and '>' last; without, no '*' or '>' at all.
bool IsChannelNameValid(std::string_view channel, bool wildcards_allowed);
bool IsChannelNameLiteral(std::string_view channel);

// Checks `limits` (no negative global limit, valid per-channel names, no more literal
// per-channel entries than max_channels) with the reference's error texts, then resolves every
// per-channel entry in place: 0 takes the parent's value, < 0 becomes 0 (unlimited).
Status BuildLimits(StoreLimits& limits);

// The limits of channel `channel` (a literal) under built limits: its own entry, else the most
// specific wildcard entry matching it, else the global limits.
ChannelLimits LimitsForChannel(const StoreLimits& built, std::string_view channel);

// The startup log's table ("---------- Store Limits ----------", ...) for built limits; a
// value equal to the reference's default is marked with " *", and per-channel entries show
// only what differs from their parent.
std::vector<std::string> PrintLimits(const StoreLimits& built);

// The reference's FriendlyBytes: "512 B", "1.00 KB", "976.56 MB".
std::string FriendlyBytes(int64_t bytes);

}  // namespace gannet::streaming::store
