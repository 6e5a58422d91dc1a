// The NATS Streaming server (nats-streaming-server 0.25 compatible): client connections and
// heartbeats, publishes stored in batches and acknowledged, subscriptions with every start
// position, acks and redelivery, durables and queue groups, channels and their limits.
//
// Threads. All state lives on the I/O loop (event_loop.h); the NATS connection's callback thread
// only queues messages to it. The methods below are for the owner (main): Open, Start and
// Shutdown on its thread; the monitoring calls from the HTTP thread (they run on the loop and
// wait). The protocol handlers are split by concern: clients.cc (connect, close, heartbeats,
// pings), publish.cc (the store batch), subscribe.cc (subscribe, unsubscribe, acks, removal),
// delivery.cc (sending, redelivery, queue groups), channels.cc (channels and their limits),
// recovery.cc (a store's recovered state), monitor.cc (/streaming/*).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "streaming/event_loop.h"
#include "streaming/nats_link.h"
#include "streaming/options.h"
#include "streaming/proto/protocol.pb.h"
#include "streaming/state.h"
#include "streaming/store/exclusive_lock.h"
#include "streaming/store/store.h"

namespace gannet::streaming {

namespace cluster {
class RaftNode;
struct ClusterState;
}  // namespace cluster

// The process' argv, for a clustered node that restarts itself (cluster/server_cluster.cc).
void SetProcessArgs(char** argv);
// A node losing its leadership from now on exits instead of restarting (Shutdown calls it).
void NoteShuttingDown();

// The reference's error texts, as clients see them.
namespace errors {
inline constexpr const char* kInvalidSubject = "stan: invalid subject";
inline constexpr const char* kInvalidStart = "stan: invalid start position";
inline constexpr const char* kInvalidSub = "stan: invalid subscription";
inline constexpr const char* kInvalidClient = "stan: clientID already registered";
inline constexpr const char* kMissingClient = "stan: clientID missing";
inline constexpr const char* kInvalidClientId =
    "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed";
inline constexpr const char* kInvalidAckWait = "stan: invalid ack wait time, should be >= 1s";
inline constexpr const char* kInvalidMaxInflight = "stan: invalid MaxInflight, should be >= 1";
inline constexpr const char* kInvalidConnReq = "stan: invalid connection request";
inline constexpr const char* kInvalidPubReq = "stan: invalid publish request";
inline constexpr const char* kInvalidSubReq = "stan: invalid subscription request";
inline constexpr const char* kInvalidUnsubReq = "stan: invalid unsubscribe request";
inline constexpr const char* kInvalidCloseReq = "stan: invalid close request";
inline constexpr const char* kDupDurable = "stan: duplicate durable registration";
inline constexpr const char* kInvalidDurName =
    "stan: durable name of a durable queue subscriber can't contain the character ':'";
inline constexpr const char* kUnknownClient = "stan: unknown clientID";
inline constexpr const char* kUnknownChannel = "stan: unknown channel";
inline constexpr const char* kPingUnknown = "client has been replaced or is no longer registered";
}  // namespace errors

// Copies of the state for the monitoring endpoints, taken on the loop.
struct SubscriptionView {
  std::string client_id, inbox, ack_inbox, durable_name, queue_name, channel;
  bool is_durable = false, is_offline = false, is_stalled = false;
  int32_t max_inflight = 0, ack_wait = 0;
  uint64_t last_sent = 0;
  size_t pending_count = 0;
};
struct ChannelView {
  std::string name;
  uint64_t msgs = 0, bytes = 0, first_seq = 0, last_seq = 0;
  std::vector<SubscriptionView> subs;  // filled when asked for
};
struct ClientView {
  std::string id, hb_inbox;
  std::vector<SubscriptionView> subs;  // filled when asked for
};
struct ServerView {
  size_t clients = 0, subscriptions = 0, channels = 0;
  uint64_t total_msgs = 0, total_bytes = 0;
};

class StreamingServer {
 public:
  explicit StreamingServer(StreamingOptions options);
  ~StreamingServer();
  StreamingServer(const StreamingServer&) = delete;
  StreamingServer& operator=(const StreamingServer&) = delete;

  // Logs the reference's first lines (version, server id, ...) and creates the store (or takes
  // `store`: tests, and later a replicating wrapper); in a fault-tolerance group, the group's
  // lock instead (the store is opened by whichever server takes it). Before the embedded NATS
  // server starts, as the reference. Error text on failure.
  std::string Open(std::unique_ptr<store::Store> store = nullptr);
  // Connects to NATS, recovers the store's state, makes sure no other server runs with this
  // cluster id, subscribes to the protocol subjects, logs the store and its limits, then
  // "Streaming Server is ready". Error text on failure (the caller then shuts down).
  // With --ft_group: connects, subscribes to the group's heartbeats and returns at once, in
  // standby; a thread takes the store's lock when it is free, then opens and recovers the store
  // and serves (ft.cc).
  std::string Start(const NatsLinkOptions& nats);
  // Stops the loop, closes the NATS connection and the store. Idempotent.
  void Shutdown();

  const StreamingOptions& options() const { return opts_; }
  const std::string& server_id() const { return server_id_; }
  const std::string& cluster_id() const { return opts_.cluster_id; }
  std::string_view store_name() const;
  std::chrono::system_clock::time_point start_time() const { return start_time_; }
  bool running() const { return running_.load(); }
  // "STANDALONE", "FT_STANDBY", "FT_ACTIVE" or "CLUSTERED" (/streaming/serverz); any thread.
  const char* state_name() const;
  bool ft_active() const { return ft_state_.load() == FtState::kActive; }
  bool ft_mode() const { return !opts_.ft_group.empty(); }
  bool clustered() const { return opts_.cluster.clustered; }
  // This node leads its Raft group and serves (any thread).
  bool cluster_leader() const { return cluster_activating_.load() && running_.load(); }

  // Monitoring (any thread; they run on the loop and wait). Nullopt when the loop did not
  // answer in time.
  std::optional<ServerView> Server();
  // Every channel (sorted by name), with subscriptions when `subs`.
  std::optional<std::vector<ChannelView>> Channels(bool subs);
  // One channel; `found` false when there is none.
  std::optional<ChannelView> ChannelInfo(const std::string& name, bool subs, bool& found);
  std::optional<std::vector<ClientView>> Clients(bool subs);
  std::optional<ClientView> ClientInfo(const std::string& id, bool subs, bool& found);
  // Counters since the start (atomics: read anywhere).
  struct Stats {
    std::atomic<int64_t> in_msgs{0}, in_bytes{0}, out_msgs{0}, out_bytes{0};
  };
  const Stats& stats() const { return stats_; }

 private:
  // ---- server.cc: the loop, subjects, startup guard ----
  void OnBatch(std::vector<Inbound>& batch);
  void AfterBatch();
  std::string InitSubjects();  // recovered or new ServerInfo, store Init
  std::string EnsureRunningStandalone();
  std::string SubscribeProtocol();
  // Recovers the store and serves (Start, or a standby taking over).
  std::string Activate();
  // On the loop, every Store::SubFlushInterval: flushes every channel's subscription store.
  void FlushSubscriptions(std::chrono::milliseconds interval);
  static int64_t NowNs();

  // ---- ft.cc: fault tolerance ----
  std::string StartStandby();
  void RunStandby();
  void SendFtHeartbeat();
  std::string FtSubject() const;

  // ---- cluster/server_cluster.cc: Raft clustering ----
  std::string OpenClustered();
  std::string WipeStoreButLog();  // "" or the error
  std::string StartClustered();
  std::string AnnounceSubject() const;
  std::string JoinSubject() const;
  // A node started with neither peers nor bootstrap asks the leader to add it (a thread).
  void RunJoin();
  // The leader's side: adds the nodes that ask.
  std::string ServeJoins();
  void AnnounceRaftAddress();
  void OnClusterApply(std::string_view entry);
  void OnClusterLeader(bool leader);
  void ActivateClustered(int voters);
  void WriteLeaderMarker(int voters);
  // The snapshot callback (Raft thread): the state, and the index noted as one of this node's.
  std::string TakeClusterSnapshot();
  [[noreturn]] static void RestartProcess(const char* why);
  // Snapshots: the state (cluster_state_) and its restore into the follower's store, with the
  // message ranges it lacks fetched from another node (_STAN.snap.<cluster id>.<channel>).
  bool OnClusterRestore(std::string_view snapshot);
  struct ApplyItem {
    bool restore = false;
    std::string entry;
    std::shared_ptr<const cluster::ClusterState> restore_state;
    bool at_start = false;  // the restore of the last snapshot on disk, in raft_start
  };
  void EnqueueApply(ApplyItem item);
  void RunApplier();
  void StopApplier();
  // `cut`: the messages past the snapshot's last sequence of each channel go first.
  store::Status RestoreSnapshot(const cluster::ClusterState& snap, bool cut);
  store::Status RestoreStore(const cluster::ClusterState& snap, bool cut);
  // Drops the follower's store and opens it again, empty (cluster_mu_, or before Raft starts).
  std::string DropClusterStore();
  store::Status FetchMessages(const std::string& channel, store::ChannelStore* cs, uint64_t from,
                              uint64_t to, uint64_t& gap_at);
  std::string CatchUpPrefix() const;
  void HandleCatchUp(const client::Message& m);

  // ---- publish.cc ----
  void HandlePublish(const client::Message& m);
  void Commit();
  void SendPublishError(std::string_view reply, std::string_view guid, std::string_view error);

  // ---- clients.cc ----
  void HandleConnect(const client::Message& m);
  void FinishConnect(const pb::ConnectRequest& req, const std::string& reply, bool replace);
  void SendConnectError(std::string_view reply, std::string_view error);
  void HandleClose(const client::Message& m);
  void HandlePing(const client::Message& m);
  void HandleReply(const client::Message& m);
  // Unregisters the client, removes its non-durable subscriptions (durables go offline).
  bool CloseClient(const std::string& client_id);
  Client* LookupClient(std::string_view id);
  bool ValidPublisher(std::string_view client_id, std::string_view conn_id);
  void ScheduleHeartbeat(Client& c, std::chrono::nanoseconds after);
  void SendHeartbeat(const std::string& client_id);
  void HeartbeatResult(const std::string& client_id, bool answered);
  // An asynchronous request whose answer or timeout calls `done(answered)` on the loop.
  void Request(std::string_view subject, std::chrono::nanoseconds timeout,
               std::function<void(bool answered)> done);

  // ---- subscribe.cc ----
  void HandleSubscribe(const client::Message& m);
  void HandleUnsubscribe(const client::Message& m, bool close);
  void HandleAck(const client::Message& m);
  // Creates or resumes the subscription; an error text, or "" with *out set.
  std::string AddSubscription(pb::SubscriptionRequest& req, Channel& c, Subscription** out);
  std::string SetStartSequence(Channel& c, Subscription& sub, const pb::SubscriptionRequest& req);
  // Removes `sub` from its channel (the reference's subStore.Remove): `unsubscribe` deletes a
  // durable; otherwise durables go offline and a durable queue group keeps a shadow.
  void RemoveSubscription(Subscription& sub, bool unsubscribe);
  void ProcessAck(Subscription& sub, uint64_t seq);
  void IndexAckInbox(Subscription& sub);
  Subscription* NewSubscription();
  void FreeSubscription(Subscription& sub);

  // ---- delivery.cc ----
  // Sends what `sub` (or its group) can take now.
  void SendAvailable(Subscription& sub);
  void SendAvailableMessages(Subscription& sub);
  void SendAvailableToQueue(Channel& c, QueueGroup& q);
  // Everything new on a channel after a store batch.
  void DeliverNew(Channel& c);
  // Sends message `m` to `sub`; returns whether it was sent, `more` whether the subscription
  // can take more. `redelivery` marks it redelivered (and ignores max in flight with `force`).
  bool SendToSub(Subscription& sub, const store::MsgRef& m, bool force, bool redelivery,
                 bool* more);
  Subscription* SendToQueue(QueueGroup& q, const store::MsgRef& m, bool force, bool redelivery,
                            bool* sent, bool* more);
  bool NextMessage(Channel& c, uint64_t& next, uint64_t& last_sent, store::MsgRef& out);
  void RedeliverExpired(uint64_t uid, bool startup);
  void RedeliverDurable(Subscription& sub);
  void ArmAckTimer(Subscription& sub, int64_t at_ns);
  void ClearAckTimer(Subscription& sub);

  // ---- channels.cc ----
  // The channel, created on first use; error text when it cannot be.
  Channel* LookupOrCreateChannel(const std::string& name, std::string* error);
  Channel* LookupChannel(std::string_view name);
  Channel& AddChannel(const std::string& name, store::ChannelStore* cs);
  void ArmAgeTimer(Channel& c, int64_t at_ns);
  void ExpireMessages(const std::string& name);
  void MaybeStartDeleteTimer(Channel& c);
  void StopDeleteTimer(Channel& c);
  void CheckChannelDelete(const std::string& name);

  // ---- recovery.cc ----
  std::string RecoverState(store::RecoveredState& state);
  void RecoverSubscription(Channel& c, store::RecoveredSubscription& rs);
  void AfterRecovery();

  // ---- monitor views (monitor.cc) ----
  SubscriptionView ViewOf(const Subscription& s) const;

  StreamingOptions opts_;
  std::string server_id_;
  std::chrono::system_clock::time_point start_time_;
  std::atomic<bool> running_{false};
  bool shut_down_ = false;

  EventLoop loop_;
  NatsLink link_;
  std::unique_ptr<store::Store> store_;
  store::ServerInfo info_;

  // Fault tolerance: the group's lock, the standby thread, the active's heartbeat timer.
  enum class FtState { kStandalone, kStandby, kActive };
  std::atomic<FtState> ft_state_{FtState::kStandalone};
  std::unique_ptr<store::ExclusiveLock> ft_lock_;
  std::thread ft_thread_;
  std::mutex ft_mu_;
  std::condition_variable ft_cv_;
  bool ft_stop_ = false;                        // under ft_mu_
  std::atomic<int64_t> ft_last_peer_hb_ns_{0};  // the last heartbeat of another server
  client::Subscription ft_sub_;
  EventLoop::TimerId ft_hb_timer_ = 0;
  std::optional<store::RecoveredState> recovered_;

  // Clustering: the Raft node; the store followers apply entries to (the applier thread, under
  // cluster_mu_) until this node leads; the thread that makes the leader serve.
  std::unique_ptr<cluster::RaftNode> raft_;
  std::unique_ptr<store::Store> cluster_store_;
  // The catch-up responder (the client library's thread) only tries it for a while: it must
  // not wait behind a restore that is itself waiting for a reply on that thread. (Not a
  // timed_mutex: ThreadSanitizer does not see its timed lock.)
  std::mutex cluster_mu_;
  // The committed state, for snapshots (Raft thread; the restore at start: Start's thread).
  std::unique_ptr<cluster::ClusterState> cluster_state_;
  // What the store held at start (OpenClustered), for the first restore.
  std::optional<store::RecoveredState> cluster_recovered_;
  std::atomic<bool> cluster_restoring_{false};  // a restore is queued or under way
  // This start cuts the store's tails back to the snapshot restored at start (a node that led,
  // OpenClustered), until that restore is done; no catch-up answers from the store until then.
  std::atomic<bool> cluster_cut_tails_{false};
  // raft_start restored a snapshot this node took: the cut goes ahead.
  std::atomic<bool> cluster_cut_verified_{false};
  std::thread::id cluster_start_thread_;  // the thread that calls raft_start
  // The last snapshots this node took (Raft thread; OpenClustered before it runs).
  struct OwnSnapshot {
    uint64_t index = 0;
    uint64_t digest = 0;  // of the snapshot's bytes
  };
  std::vector<OwnSnapshot> cluster_own_snapshots_;
  std::vector<OwnSnapshot> ReadOwnSnapshots() const;
  std::atomic<bool> cluster_serving_{false};  // cluster_active_, read without cluster_mu_
  // The applier thread ("stan-apply"): entries and restores, in Raft order (apply_mu_).
  std::thread cluster_applier_;
  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<ApplyItem> apply_queue_;
  int restores_queued_ = 0;
  bool applying_ = false;
  bool apply_stop_ = false;
  client::Subscription cluster_snap_sub_;
  bool cluster_active_ = false;  // under cluster_mu_: serving as the leader
  std::atomic<bool> cluster_activating_{false};
  std::thread cluster_thread_;
  uint64_t incarnation_ = 0;
  client::Subscription cluster_sub_;
  client::Subscription cluster_join_sub_;
  std::thread cluster_join_thread_;
  std::atomic<bool> cluster_stop_{false};
  std::string acks_prefix_;  // "<info.acks_subs>." : ack inboxes under our wildcard subscription

  // Loop-owned state.
  StringMap<std::unique_ptr<Client>> clients_;
  StringMap<Client*> clients_by_conn_;
  StringMap<std::unique_ptr<Channel>> channels_;
  std::unordered_map<uint64_t, std::unique_ptr<Subscription>> subs_;  // every subscription
  StringMap<Subscription*> by_ack_;                                   // online, by ack inbox
  uint64_t next_sub_uid_ = 1;
  size_t num_subs_ = 0;                         // online subscriptions (/serverz)
  std::map<std::string, bool> dup_cid_checks_;  // client ids with a duplicate check under way

  // Requests the server made (heartbeats, duplicate checks), by token.
  struct PendingRequest {
    std::function<void(bool)> done;
    EventLoop::TimerId timer = 0;
  };
  std::unordered_map<uint64_t, PendingRequest> requests_;
  uint64_t next_token_ = 1;

  // The publish batch: messages stored, not yet flushed and acknowledged.
  struct PendingPubAck {
    uint32_t reply_off, reply_len;  // in pub_arena_
    uint32_t ack_off, ack_len;      // the encoded PubAck, in pub_arena_
    Channel* channel;
  };
  std::vector<PendingPubAck> pub_acks_;
  std::string pub_arena_;
  std::vector<Channel*> batch_channels_;
  std::string record_;    // scratch: the MsgProto being stored
  int64_t clock_ns_ = 0;  // the publishes' timestamp, read once per 64 of a batch
  int clock_uses_ = 0;
  std::string out_;  // scratch: encodings sent
  // The generated parsers', for payloads the fast readers leave to them (streaming/wire.h).
  pb::PubMsg pub_scratch_;
  pb::Ack ack_scratch_;

  Stats stats_;
};

}  // namespace gannet::streaming
