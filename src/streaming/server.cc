// The Streaming server: startup, subjects, the startup guard, the loop's dispatch, shutdown
// (see server.h).
#include "streaming/server.h"

#include <time.h>

#include <algorithm>
#include <cctype>

#include "streaming/cluster/commands.h"
#include "streaming/cluster/raft_node.h"
#include "streaming/log.h"
#include "streaming/nuid.h"
#include "streaming/store/factory.h"
#include "streaming/store/limits.h"

#ifndef GANNET_VERSION
#define GANNET_VERSION "0.0.0"
#endif

namespace gannet::streaming {

namespace {
constexpr std::chrono::milliseconds kStandaloneCheckTimeout{250};
constexpr std::chrono::seconds kMonitorTimeout{5};
}  // namespace

StreamingServer::StreamingServer(StreamingOptions options)
    : opts_(std::move(options)), server_id_(NextNuid()), link_(loop_) {
  g_stan_debug = opts_.debug;
  g_stan_trace = opts_.trace;
}

StreamingServer::~StreamingServer() { Shutdown(); }

int64_t StreamingServer::NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

std::string_view StreamingServer::store_name() const {
  return store_ ? store_->Name() : std::string_view(opts_.store.type);
}

std::string StreamingServer::Open(std::unique_ptr<store::Store> store) {
  start_time_ = std::chrono::system_clock::now();
  STAN_INFO("Starting gannet-streaming[%s] version %s (compatible with nats-streaming-server %s)",
            opts_.cluster_id.c_str(), GANNET_VERSION, kCompatibleStreamingVersion);
  STAN_INFO("ServerID: %s", server_id_.c_str());
  STAN_INFO("Git commit: [not set]");
  for (char& ch : opts_.store.type)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (opts_.store.type == "FILE" && opts_.store.dir.empty()) {
    return "for FILE store type, the directory (--dir) must be specified";
  }
  if (store) {
    store_ = std::move(store);
  } else if (clustered()) {
    if (std::string err = OpenClustered(); !err.empty()) return err;
  } else if (ft_mode()) {
    // The store is opened by whichever server of the group takes its lock (ft.cc).
    auto lock = store::CreateExclusiveLock(opts_.store);
    if (!lock) return lock.status().message();
    ft_lock_ = std::move(lock).value();
  } else {
    auto st = store::CreateStore(opts_.store);
    if (!st) return st.status().message();
    store_ = std::move(st).value();
  }
  // The limits as the store resolved them, for the startup table and /streaming/storez.
  if (store::Status s = store::BuildLimits(opts_.store.limits); !s) return s.message();
  return {};
}

std::string StreamingServer::Start(const NatsLinkOptions& nats) {
  if (!store_ && !ft_lock_ && !cluster_store_) return "the store is not open";
  loop_.SetBatchWait(static_cast<size_t>(std::max(1, opts_.io_batch_size)),
                     std::chrono::microseconds(std::max<int64_t>(0, opts_.io_sleep_time_us)));
  loop_.Start([this](std::vector<Inbound>& batch) { OnBatch(batch); }, [this] { AfterBatch(); });
  if (std::string err = link_.Connect(nats); !err.empty()) {
    return "unable to connect to NATS: " + err;
  }
  if (ft_lock_) return StartStandby();
  if (clustered()) return StartClustered();
  return Activate();
}

std::string StreamingServer::Activate() {
  // Everything from here runs on the loop: the state it builds is the loop's.
  std::string error;
  bool ok = loop_.RunAndWait(
      [&] {
        STAN_INFO("Recovering the state...");
        auto rec = store_->Recover();
        if (!rec) {
          error = rec.status().message();
          return;
        }
        recovered_ = std::move(*rec);
        if (recovered_) {
          STAN_INFO("Recovered %zu channel(s)", recovered_->channels.size());
        } else {
          STAN_INFO("No recovered state");
        }
        if (error = InitSubjects(); !error.empty()) return;
        // A server of an FT group holds the store's lock: no other can be serving it.
        if (!ft_mode() && !clustered()) {
          if (error = EnsureRunningStandalone(); !error.empty()) return;
        }
        if (error = SubscribeProtocol(); !error.empty()) return;
        if (recovered_) AfterRecovery();
        recovered_.reset();
      },
      std::chrono::hours(1));
  if (!ok) return "the server's loop did not start";
  if (!error.empty()) return error;
  // The subscriptions must be in place at the NATS server before clients are told we are up.
  if (link_.connection().Flush(std::chrono::seconds(10)) != client::Status::kOk) {
    return "could not flush the subscriptions";
  }
  STAN_INFO("Message store is %.*s", static_cast<int>(store_->Name().size()),
            store_->Name().data());
  if (!opts_.store.dir.empty()) STAN_INFO("Store location: %s", opts_.store.dir.c_str());
  for (const std::string& line : store::PrintLimits(opts_.store.limits)) {
    STAN_INFO("%s", line.c_str());
  }
  running_ = true;
  if (auto interval = store_->SubFlushInterval(); interval.count() > 0) {
    loop_.PostTask([this, interval] {
      loop_.AddTimer(interval, [this, interval] { FlushSubscriptions(interval); });
    });
  }
  if (ft_mode()) {
    ft_state_ = FtState::kActive;
    loop_.RunAndWait([this] { SendFtHeartbeat(); }, std::chrono::seconds(10));
  }
  STAN_INFO("Streaming Server is ready");
  return {};
}

void StreamingServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (clustered()) NoteShuttingDown();
  STAN_INFO("Shutting down.");
  {
    std::lock_guard lk(ft_mu_);
    ft_stop_ = true;
  }
  ft_cv_.notify_all();
  if (ft_thread_.joinable()) ft_thread_.join();
  cluster_stop_ = true;
  if (cluster_join_thread_.joinable()) cluster_join_thread_.join();
  if (cluster_thread_.joinable()) cluster_thread_.join();
  if (raft_) raft_->Stop();
  StopApplier();
  running_ = false;
  loop_.Stop();
  ft_sub_ = client::Subscription();
  cluster_sub_ = client::Subscription();
  cluster_join_sub_ = client::Subscription();
  cluster_snap_sub_ = client::Subscription();
  link_.Close();
  if (store_) store_->Close();
  if (cluster_store_) cluster_store_->Close();
  ft_lock_.reset();  // after the store: an SQL lock row is freed last
}

std::string StreamingServer::InitSubjects() {
  bool init = false;
  // Subjects of a standalone server carry a NUID, not the cluster id: clients learn them from
  // the ConnectResponse.
  const std::string subj_id = NextNuid();
  if (recovered_) {
    info_ = recovered_->info;
    if (info_.cluster_id != opts_.cluster_id) {
      return "cluster ID \"" + opts_.cluster_id + "\" does not match recovered value of \"" +
             info_.cluster_id + "\"";
    }
    if (info_.sub_close.empty()) {
      info_.sub_close = "_STAN.subclose." + subj_id;
      init = true;
    }
    if (info_.acks_subs.empty()) {
      info_.acks_subs = "_STAN.ack." + subj_id;
      init = true;
    }
    if (std::string err = RecoverState(*recovered_); !err.empty()) return err;
  } else {
    info_.cluster_id = opts_.cluster_id;
    info_.discovery = opts_.discover_prefix + "." + opts_.cluster_id;
    info_.publish = "_STAN.pub." + subj_id;
    info_.subscribe = "_STAN.sub." + subj_id;
    info_.sub_close = "_STAN.subclose." + subj_id;
    info_.unsubscribe = "_STAN.unsub." + subj_id;
    info_.close = "_STAN.close." + subj_id;
    info_.acks_subs = "_STAN.ack." + subj_id;
    init = true;
  }
  // The discover subject follows the configured prefix and cluster id, whatever was stored.
  info_.discovery = opts_.discover_prefix + "." + opts_.cluster_id;
  acks_prefix_ = info_.acks_subs + ".";
  if (init) {
    if (store::Status s = store_->Init(info_); !s) {
      return "unable to initialize the store: " + s.message();
    }
  }
  return {};
}

std::string StreamingServer::EnsureRunningStandalone() {
  // A connect request on our own discover subject: another server answering it means two
  // servers would share the cluster id.
  pb::ConnectRequest req;
  req.set_client_id(opts_.cluster_id);
  req.set_heartbeat_inbox(link_.connection().NewInbox());
  auto reply = link_.Request(info_.discovery, req.SerializeAsString(), kStandaloneCheckTimeout);
  if (!reply.ok()) {
    if (reply.status() == client::Status::kTimeout ||
        reply.status() == client::Status::kNoResponders) {
      STAN_DEBUG("Did not detect another server instance");
      return {};
    }
    return "request error detecting another server instance: " + reply.error();
  }
  pb::ConnectResponse cr;
  if (!cr.ParseFromArray(reply->data().data(), static_cast<int>(reply->data().size()))) {
    return "unmarshall error while detecting another server instance";
  }
  // Another server answered: undo the connection we made there, then refuse to start.
  pb::CloseRequest close;
  close.set_client_id(opts_.cluster_id);
  link_.Request(cr.close_requests(), close.SerializeAsString(), kStandaloneCheckTimeout);
  return "discovered another streaming server with cluster ID \"" + opts_.cluster_id + "\"";
}

std::string StreamingServer::SubscribeProtocol() {
  struct {
    std::string subject;
    InboundKind kind;
    const char* what;
  } subs[] = {
      {info_.discovery, InboundKind::kConnect, "discover"},
      {info_.publish + ".>", InboundKind::kPublish, "publish"},
      {info_.subscribe, InboundKind::kSubscribe, "subscribe request"},
      {info_.unsubscribe, InboundKind::kUnsubscribe, "subscription unsubscribe"},
      {info_.sub_close, InboundKind::kSubClose, "subscription close request"},
      {info_.close, InboundKind::kClose, "close request"},
      {info_.discovery + ".pings", InboundKind::kPing, "client pings"},
      {acks_prefix_ + ">", InboundKind::kAck, "acks"},
  };
  for (const auto& s : subs) {
    if (!link_.Subscribe(s.subject, s.kind)) {
      return std::string("could not subscribe to ") + s.what + " subject";
    }
  }
  STAN_DEBUG("Discover subject:           %s", info_.discovery.c_str());
  STAN_DEBUG("Publish subject:            %s.>", info_.publish.c_str());
  STAN_DEBUG("Subscribe subject:          %s", info_.subscribe.c_str());
  STAN_DEBUG("Subscription Close subject: %s", info_.sub_close.c_str());
  STAN_DEBUG("Unsubscribe subject:        %s", info_.unsubscribe.c_str());
  STAN_DEBUG("Close subject:              %s", info_.close.c_str());
  return {};
}

void StreamingServer::OnBatch(std::vector<Inbound>& batch) {
  clock_uses_ = 0;  // a new batch reads the clock again
  for (Inbound& in : batch) {
    switch (in.kind) {
      case InboundKind::kPublish:
        HandlePublish(in.msg);
        break;
      case InboundKind::kAck:
        HandleAck(in.msg);
        break;
      case InboundKind::kPing:
        HandlePing(in.msg);
        break;
      case InboundKind::kReply:
        HandleReply(in.msg);
        break;
      // Requests that read or change what the publishes so far touched see them stored,
      // flushed and acknowledged first.
      case InboundKind::kConnect:
        Commit();
        HandleConnect(in.msg);
        break;
      case InboundKind::kSubscribe:
        Commit();
        HandleSubscribe(in.msg);
        break;
      case InboundKind::kUnsubscribe:
        Commit();
        HandleUnsubscribe(in.msg, false);
        break;
      case InboundKind::kSubClose:
        Commit();
        HandleUnsubscribe(in.msg, true);
        break;
      case InboundKind::kClose:
        Commit();
        HandleClose(in.msg);
        break;
    }
  }
  Commit();
}

void StreamingServer::AfterBatch() { link_.FlushIfNeeded(); }

void StreamingServer::FlushSubscriptions(std::chrono::milliseconds interval) {
  for (auto& [name, c] : channels_) {
    if (store::Status s = c->store->subs->Flush(); !s) {
      STAN_ERROR("Unable to flush sub store: %s", s.message().c_str());
    }
  }
  loop_.AddTimer(interval, [this, interval] { FlushSubscriptions(interval); });
}

// ---- monitoring ----

std::optional<ServerView> StreamingServer::Server() {
  auto out = std::make_shared<ServerView>();
  bool ok = loop_.RunAndWait(
      [this, out] {
        out->clients = clients_.size();
        out->subscriptions = num_subs_;
        out->channels = channels_.size();
        for (const auto& [name, c] : channels_) {
          store::MsgStoreState st = c->store->msgs->State();
          out->total_msgs += st.msgs;
          out->total_bytes += st.bytes;
        }
      },
      kMonitorTimeout);
  if (!ok) return std::nullopt;
  return *out;
}

}  // namespace gannet::streaming
