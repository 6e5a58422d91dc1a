// The replicated commands of a clustered Streaming server: every change the leader makes to its
// store (messages, channels, clients, subscriptions, pending and acked sequences), encoded into
// one Raft log entry per batch, and applied by the other nodes to their own stores.
//
// Entry := version u8, origin u64 (the proposing node's Raft id), incarnation u64 (its process'
// random start token), then ops until the end or a zero byte (padding). Integers little-endian,
// strings u32 length + bytes. An op's first byte is its OpType.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

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
  kFirstSeq = 14,      // channel, first seq (the leader's store, after its limits removed some)
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
  void FirstSeq(std::string_view channel, uint64_t first);

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

// Records `sub` under its own id (the leader's) in `subs`, whatever id the store would pick.
store::Status CreateSubWithId(store::SubStore& subs, const store::SubState& sub);

// ---- Snapshots (fsm->snapshot / fsm->restore): the state, not the messages ----------------
//
// The committed state as the applied entries left it, kept by every node on the Raft thread
// (the leader's store runs ahead of the commit, so the snapshot is not read from a store): the
// server info, the clients, and per channel its first and last sequences and its subscriptions
// with their pending sequences. Encoded as "GSNP", version u8, then the fields (same integer
// and string encoding as the entries).
struct StateSub {
  store::SubState state;
  std::set<uint64_t> pending;
};
struct StateChannel {
  uint64_t first = 0;  // 0: no message was ever stored
  uint64_t last = 0;
  std::map<uint64_t, StateSub> subs;
};
struct ClusterState {
  bool has_info = false;
  store::ServerInfo info;
  std::map<std::string, store::ClientInfo, std::less<>> clients;
  std::map<std::string, StateChannel, std::less<>> channels;

  // Applies the ops of a committed entry (with its header). False when it does not parse.
  bool Apply(std::string_view entry);
  std::string Encode() const;
  // "" or why `in` is not a snapshot.
  static std::string Decode(std::string_view in, ClusterState& out);
};

// ---- Catch-up: message ranges fetched from another node (_STAN.snap.<cluster id>.<channel>) --
//
// Request: "GCUR", from u64, to u64. Reply: "GCUP", the responder's first sequence u64, a count
// u32, then the messages from `from` (or the responder's first, if later) on, contiguous:
// seq u64, timestamp u64, record (MsgProto) string. A reply may stop before `to` (size bound).
std::string EncodeFetchRequest(uint64_t from, uint64_t to);
bool DecodeFetchRequest(std::string_view in, uint64_t& from, uint64_t& to);
struct FetchedMsg {
  uint64_t seq = 0;
  int64_t timestamp = 0;
  std::string_view record;  // into the reply
};
struct FetchReply {
  uint64_t first = 0;
  std::vector<FetchedMsg> msgs;
};
class FetchReplyWriter {
 public:
  explicit FetchReplyWriter(uint64_t first);
  void Add(uint64_t seq, int64_t ts, std::string_view record);
  size_t size() const { return out_.size(); }
  std::string Finish();

 private:
  std::string out_;
  uint32_t count_ = 0;
};
// "" or why `in` is not a catch-up reply.
std::string DecodeFetchReply(std::string_view in, FetchReply& out);

}  // namespace gannet::streaming::cluster
