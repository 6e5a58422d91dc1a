// The replicated commands of a clustered Streaming server: every change the leader makes to its
// store (messages, channels, clients, subscriptions, pending and acked sequences), encoded into
// one Raft log entry per batch, and applied by the other nodes to their own stores.
//
// Entry := version u8, origin u64 (the proposing node's Raft id), incarnation u64 (its process'
// random start token), then ops until the end or a zero byte (padding). Integers little-endian,
// strings u32 length + bytes. An op's first byte is its OpType.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "streaming/store/store.h"

namespace gannet::streaming::cluster {

enum class OpType : uint8_t {
  kInit = 1,           // ServerInfo
  kAddClient = 2,      // ClientInfo
  kDeleteClient = 3,   // client id
  kCreateChannel = 4,  // name
  kDeleteChannel = 5,  // name
  kMsg = 6,            // channel, seq, timestamp, record
  kExpire = 7,         // channel, now (max_age, as the leader's clock saw it)
  kEmpty = 8,          // channel
  kCreateSub = 9,      // channel, SubState (with the leader's id)
  kUpdateSub = 10,     // channel, SubState
  kDeleteSub = 11,     // channel, sub id
  kAddPending = 12,    // channel, sub id, seq
  kAck = 13,           // channel, sub id, seq
};

inline constexpr uint8_t kEntryVersion = 1;
inline constexpr size_t kEntryHeaderSize = 17;

// Appends to an op buffer (the entry's body).
class OpWriter {
 public:
  explicit OpWriter(std::string& out) : out_(out) {}
  void Init(const store::ServerInfo& info);
  void AddClient(const store::ClientInfo& info);
  void DeleteClient(std::string_view id);
  void Channel(OpType type, std::string_view name);  // kCreateChannel, kDeleteChannel, kEmpty
  void Msg(std::string_view channel, uint64_t seq, int64_t ts, std::string_view record);
  void Expire(std::string_view channel, int64_t now_ns);
  void Sub(OpType type, std::string_view channel, const store::SubState& s);  // create, update
  void DeleteSub(std::string_view channel, uint64_t id);
  void SubSeq(OpType type, std::string_view channel, uint64_t id, uint64_t seq);

 private:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v);
  void U64(uint64_t v);
  void Str(std::string_view s);
  std::string& out_;
};

// Zero bytes up to a multiple of 8. Observed with libraft 0.15: after a restart, the entries
// loaded from the on-disk log that followed one whose size was not a multiple of 8 came back
// with their payloads shifted; with every entry padded they come back intact (tested by the
// restart tests of tests/streaming/stan_cluster_test.cc).
void PadEntry(std::string& entry);

void AppendEntryHeader(std::string& out, uint64_t origin, uint64_t incarnation);
// False when `entry` is too short or of another version.
bool ReadEntryHeader(std::string_view entry, uint64_t& origin, uint64_t& incarnation);

// Applies the ops of `entry` (after its header) to `st`, then flushes every channel touched.
// Channels named by an op are created when missing. The error, if any (the entry is then only
// partly applied).
store::Status ApplyEntry(std::string_view entry, store::Store& st);

}  // namespace gannet::streaming::cluster
