// Fault tolerance (--ft_group): servers with the same cluster id share a FILE or SQL store;
// whichever holds its lock (store/exclusive_lock.h) is active, the others stand by. The active
// publishes a CtrlMsg{FTHeartbeat, server id} on _STAN.ft.<cluster id>.<group> every second, as
// the reference. A standby tries the lock every kStandbyPoll: a FILE lock is free the moment
// the active process dies (the kernel drops its fcntl lock, kill -9 included), so the standby
// does not wait for heartbeats to go missing; neither does an SQL standby when the database
// ends the dead active's connection, which frees its session lock (sql_lock.cc); a row whose
// owner is still connected is taken over only once the active's heartbeats stopped for
// kMissedHeartbeats and its tick stopped moving (a hung active). The new active
// opens the store, recovers it (clients, subscriptions, pending messages: the subjects are the
// stored ones, so clients carry on) and serves.
#include <unistd.h>

#include "streaming/log.h"
#include "streaming/proto/records.pb.h"
#include "streaming/server.h"
#include "streaming/store/factory.h"

namespace gannet::streaming {

namespace {
constexpr std::chrono::seconds kHeartbeatInterval{1};
constexpr std::chrono::milliseconds kMissedHeartbeats{1250};
// A FILE lock's try is one fcntl call; an SQL lock's one query on the session lock while the
// row names a marked owner (the row itself is read every 100 ms: sql_lock.cc).
constexpr std::chrono::milliseconds kStandbyPoll{10};
}  // namespace

const char* StreamingServer::state_name() const {
  switch (ft_state_.load()) {
    case FtState::kStandby:
      return "FT_STANDBY";
    case FtState::kActive:
      return "FT_ACTIVE";
    case FtState::kStandalone:
      break;
  }
  return "STANDALONE";
}

std::string StreamingServer::FtSubject() const {
  return "_STAN.ft." + opts_.cluster_id + "." + opts_.ft_group;
}

std::string StreamingServer::StartStandby() {
  ft_state_ = FtState::kStandby;
  // On the client library's thread: only atomics are touched.
  auto sub = link_.connection().Subscribe(FtSubject(), [this](client::Message& m) {
    spb::CtrlMsg hb;
    if (!hb.ParseFromArray(m.data().data(), static_cast<int>(m.data().size()))) return;
    if (hb.msg_type() != spb::CtrlMsg::FTHeartbeat || hb.server_id() == server_id_) return;
    ft_last_peer_hb_ns_.store(NowNs());
    if (ft_state_.load() == FtState::kActive) {
      // The lock should make this impossible (a store shared over a filesystem that does not
      // honour fcntl locks would not): say it loudly.
      STAN_ERROR("Another server of fault tolerance group \"%s\" is active: %s",
                 opts_.ft_group.c_str(), hb.server_id().c_str());
    }
  });
  if (!sub) return "unable to subscribe to the fault tolerance subject: " + sub.error();
  ft_sub_ = std::move(sub).value();
  ft_last_peer_hb_ns_ = NowNs();  // as if the active had just spoken: the lock decides
  STAN_INFO("Starting in standby mode (ft group \"%s\")", opts_.ft_group.c_str());
  ft_thread_ = std::thread([this] { RunStandby(); });
  return {};
}

void StreamingServer::RunStandby() {
  bool reported = false;
  for (;;) {
    {
      std::unique_lock lk(ft_mu_);
      if (ft_cv_.wait_for(lk, kStandbyPoll, [this] { return ft_stop_; })) return;
    }
    const bool silent =
        NowNs() - ft_last_peer_hb_ns_.load() >=
        std::chrono::duration_cast<std::chrono::nanoseconds>(kMissedHeartbeats).count();
    auto locked = ft_lock_->TryLock(silent);
    if (!locked.ok()) {
      if (!reported)
        STAN_ERROR("Unable to try the store lock: %s", locked.status().message().c_str());
      reported = true;
      continue;
    }
    reported = false;
    if (*locked) break;
  }
  STAN_INFO("Server is active: the store's lock is ours");
  opts_.store.sql.fence_owner = ft_lock_->OwnerId();
  auto st = store::CreateStore(opts_.store);
  std::string err;
  if (!st) {
    err = st.status().message();
  } else {
    store_ = std::move(st).value();
    err = Activate();
  }
  if (!err.empty()) {
    // A server that holds the lock and cannot serve must not keep it from the others.
    STAN_FATAL("Failed to activate: %s", err.c_str());
    ::_exit(1);
  }
}

// On the loop, every second while active.
void StreamingServer::SendFtHeartbeat() {
  spb::CtrlMsg hb;
  hb.set_msg_type(spb::CtrlMsg::FTHeartbeat);
  hb.set_server_id(server_id_);
  link_.PublishNow(FtSubject(), hb.SerializeAsString());
  ft_hb_timer_ = loop_.AddTimer(kHeartbeatInterval, [this] { SendFtHeartbeat(); });
}

}  // namespace gannet::streaming
