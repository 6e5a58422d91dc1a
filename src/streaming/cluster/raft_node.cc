// One Raft node on libraft and libuv (see raft_node.h).
#include "streaming/cluster/raft_node.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "streaming/log.h"

namespace gannet::streaming::cluster {

namespace {

// One node per process: libraft's C callbacks find it here (libraft owns the transport's and
// the io's `data` fields).
RaftNode* g_node = nullptr;
raft_uv_accept_cb g_accept_cb = nullptr;
raft_uv_transport_close_cb g_close_cb = nullptr;
raft_uv_transport* g_transport = nullptr;
raft_uv_transport* g_tcp = nullptr;

constexpr auto kPollInterval = 20;  // ms: how often the Raft thread looks at its state

// A free TCP port on `host` (the transport binds it right after; a race we accept for the
// default only: tests and deployments give the port).
int FreePort(const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

struct ProposeReq {
  struct raft_apply req {};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int status = 0;
  void Complete(int s) {
    std::lock_guard lk(mu);
    status = s;
    done = true;
    cv.notify_all();
  }
};

}  // namespace

uint64_t RaftNode::IdOf(const std::string& node_id) {
  uint64_t id = raft_digest(node_id.data(), node_id.size());
  return id == 0 ? 1 : id;
}

RaftNode::~RaftNode() { Stop(); }

void RaftNode::SetPeerAddress(const std::string& node_id, const std::string& host_port) {
  std::lock_guard lk(mu_);
  addrs_[IdOf(node_id)] = host_port;
}

std::string RaftNode::AddressOf(uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = addrs_.find(id);
  // Not announced yet: a port nothing listens on, so the attempt fails and libraft retries.
  return it == addrs_.end() ? "127.0.0.1:1" : it->second;
}

void RaftNode::Post(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    tasks_.push_back(std::move(task));
  }
  uv_async_send(&async_);
}

void RaftNode::RunTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lk(mu_);
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t();
}

std::string RaftNode::ConnectAddress(uint64_t id) {
  return Allowed(id) ? AddressOf(id) : "127.0.0.1:1";
}

void RaftNode::OnAccepted(uint64_t id, uv_stream_t* stream) {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream), &fd) != 0) return;
  accepted_fds_[fd] = id;
  if (!Allowed(id)) ::shutdown(fd, SHUT_RDWR);  // libraft reads EOF and drops it
}

void RaftNode::CheckPartition() {
  std::ifstream in(partition_file_);
  if (!in) {
    if (partitioned_) STAN_INFO("Raft partition (test) healed");
    partitioned_ = false;
    return;
  }
  std::string list((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::set<uint64_t> allowed;
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find_first_of(",\n", start);
    if (end == std::string::npos) end = list.size();
    if (end > start) allowed.insert(IdOf(list.substr(start, end - start)));
    start = end + 1;
  }
  if (partitioned_ && allowed == allowed_) return;
  partitioned_ = true;
  allowed_ = std::move(allowed);
  STAN_INFO("Raft partition (test): talking only to [%s]", list.c_str());
  CutConnections();
}

// Shuts down (without closing: libraft owns the fds) every Raft connection to or from a node
// the partition separates us from.
void RaftNode::CutConnections() {
  std::map<int, uint64_t> by_port;  // the other nodes' transport ports
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, addr] : addrs_) {
      if (id != id_) by_port[std::atoi(addr.substr(addr.rfind(':') + 1).c_str())] = id;
    }
  }
  const int my_port = std::atoi(listen_.substr(listen_.rfind(':') + 1).c_str());
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const int fd = std::atoi(e.path().filename().c_str());
    sockaddr_in local{}, peer{};
    socklen_t ll = sizeof(local), pl = sizeof(peer);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0 ||
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0 ||
        local.sin_family != AF_INET) {
      continue;
    }
    bool cut = false;
    if (ntohs(local.sin_port) == my_port) {
      auto it = accepted_fds_.find(fd);
      cut = it == accepted_fds_.end() || !Allowed(it->second);
    } else if (auto it = by_port.find(ntohs(peer.sin_port)); it != by_port.end()) {
      cut = !Allowed(it->second);
    }
    if (cut) ::shutdown(fd, SHUT_RDWR);
  }
}

void RaftNode::Poll() {
  if (closing_) return;
  if (!partition_file_.empty()) CheckPartition();
  const bool leader = raft_state(&raft_) == RAFT_LEADER;
  if (leader && !leader_reported_ && !barrier_pending_) {
    // Leader: once a barrier of this term is applied, every earlier entry is in the store.
    barrier_pending_ = true;
    barrier_.data = this;
    int rv = raft_barrier(&raft_, &barrier_, [](struct raft_barrier* req, int status) {
      auto* n = static_cast<RaftNode*>(req->data);
      n->barrier_pending_ = false;
      if (status == 0 && raft_state(&n->raft_) == RAFT_LEADER && !n->leader_reported_) {
        n->leader_reported_ = true;
        n->leader_(true);
      }
    });
    if (rv != 0) barrier_pending_ = false;
  } else if (!leader && leader_reported_) {
    leader_reported_ = false;
    leader_(false);
  }
}

int RaftNode::VoterCount() const {
  int n = 0;
  for (unsigned i = 0; i < raft_.configuration.n; ++i) {
    if (raft_.configuration.servers[i].role == RAFT_VOTER) ++n;
  }
  return n;
}

void RaftNode::OnApply(std::string_view entry) {
  apply_(entry);
  bytes_since_snapshot_ += entry.size();
  ++entries_since_snapshot_;
  if (!snapshot_forced_ && bytes_since_snapshot_ >= opts_.snapshot_bytes) {
    // libraft looks at its threshold after each apply: a snapshot now.
    snapshot_forced_ = true;
    raft_set_snapshot_threshold(&raft_, 1);
  }
}

int RaftNode::OnSnapshot(raft_buffer* bufs[], unsigned* n_bufs) {
  // libraft truncates the log once this snapshot is written, keeping the trailing entries
  // as set now: at most the configured count, and about trailing_bytes of entries.
  if (entries_since_snapshot_ > 0) {
    const uint64_t avg = std::max<uint64_t>(1, bytes_since_snapshot_ / entries_since_snapshot_);
    const uint64_t by_bytes = std::max<uint64_t>(8, opts_.trailing_bytes / avg);
    raft_set_snapshot_trailing(
        &raft_, static_cast<unsigned>(std::min<uint64_t>(opts_.snapshot_trailing, by_bytes)));
  }
  if (snapshot_forced_) {
    raft_set_snapshot_threshold(&raft_, std::max(1U, opts_.snapshot_threshold));
    snapshot_forced_ = false;
  }
  bytes_since_snapshot_ = 0;
  entries_since_snapshot_ = 0;
  std::string state = snapshot_();
  auto* b = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  if (!b) return RAFT_NOMEM;
  b->len = state.size();
  b->base = raft_malloc(state.size() == 0 ? 1 : state.size());
  if (!b->base) {
    raft_free(b);
    return RAFT_NOMEM;
  }
  std::memcpy(b->base, state.data(), state.size());
  *bufs = b;
  *n_bufs = 1;
  return 0;
}

int RaftNode::OnRestore(raft_buffer* buf) {
  if (!restore_(std::string_view(static_cast<const char*>(buf->base), buf->len))) {
    return RAFT_CORRUPT;  // libraft frees the buffer
  }
  bytes_since_snapshot_ = 0;
  entries_since_snapshot_ = 0;
  raft_free(buf->base);  // ours once restored
  return 0;
}

std::string RaftNode::Start(const RaftNodeOptions& opts, ApplyFn apply, LeaderFn leader,
                            SnapshotFn snapshot, RestoreFn restore) {
  opts_ = opts;
  apply_ = std::move(apply);
  leader_ = std::move(leader);
  snapshot_ = std::move(snapshot);
  restore_ = std::move(restore);
  id_ = IdOf(opts.node_id);
  g_node = this;

  listen_ = opts.listen;
  auto colon = listen_.rfind(':');
  if (colon == std::string::npos) return "invalid Raft listen address \"" + listen_ + "\"";
  if (listen_.substr(colon + 1) == "0") {
    int port = FreePort(listen_.substr(0, colon));
    if (port == 0) return "no free port for the Raft transport on " + listen_;
    listen_ = listen_.substr(0, colon + 1) + std::to_string(port);
  }
  SetPeerAddress(opts.node_id, listen_);
  if (const char* dir = std::getenv("GANNET_RAFT_PARTITION_DIR"); dir && *dir) {
    partition_file_ = std::string(dir) + "/" + opts.node_id;
  }

  std::error_code ec;
  std::filesystem::create_directories(opts.log_dir, ec);
  if (ec) return "unable to create the Raft log directory " + opts.log_dir + ": " + ec.message();

  if (int rv = uv_loop_init(&loop_); rv != 0)
    return std::string("uv_loop_init: ") + uv_strerror(rv);
  if (int rv = raft_uv_tcp_init(&tcp_, &loop_); rv != 0) return "raft_uv_tcp_init failed";
  if (int rv = raft_uv_tcp_set_bind_address(&tcp_, listen_.c_str()); rv != 0) {
    return "invalid Raft listen address \"" + listen_ + "\"";
  }
  g_tcp = &tcp_;
  g_transport = &transport_;
  // Our transport: libraft's TCP one, with node ids resolved to the announced host:port.
  transport_.init = [](raft_uv_transport*, ::raft_id id, const char* address) {
    return g_tcp->init(g_tcp, id, address);
  };
  transport_.listen = [](raft_uv_transport*, raft_uv_accept_cb cb) {
    g_accept_cb = cb;
    return g_tcp->listen(
        g_tcp, [](raft_uv_transport*, ::raft_id id, const char* address, uv_stream_t* stream) {
          g_node->OnAccepted(id, stream);
          g_accept_cb(g_transport, id, address, stream);
        });
  };
  transport_.connect = [](raft_uv_transport*, raft_uv_connect* req, ::raft_id id, const char*,
                          raft_uv_connect_cb cb) {
    static thread_local std::map<uint64_t, std::string> resolved;  // kept while connecting
    resolved[id] = g_node->ConnectAddress(id);
    return g_tcp->connect(g_tcp, req, id, resolved[id].c_str(), cb);
  };
  transport_.close = [](raft_uv_transport*, raft_uv_transport_close_cb cb) {
    g_close_cb = cb;
    g_tcp->close(g_tcp, [](raft_uv_transport*) {
      if (g_close_cb) g_close_cb(g_transport);
    });
  };

  if (int rv = raft_uv_init(&io_, &loop_, opts.log_dir.c_str(), &transport_); rv != 0) {
    return std::string("raft_uv_init: ") + io_.errmsg;
  }
  // Test hook: smaller log segments (libraft's default is 8 MB), so that the tests see old
  // segments removed after a snapshot.
  if (const char* seg = std::getenv("GANNET_RAFT_SEGMENT_SIZE"); seg && std::atoll(seg) > 0) {
    raft_uv_set_segment_size(&io_, static_cast<size_t>(std::atoll(seg)));
  }
  fsm_.version = 1;
  fsm_.data = this;
  fsm_.apply = [](raft_fsm* fsm, const raft_buffer* buf, void** result) {
    static_cast<RaftNode*>(fsm->data)->OnApply(
        std::string_view(static_cast<const char*>(buf->base), buf->len));
    *result = nullptr;
    return 0;
  };
  // Snapshots hold the state, not the messages (see cluster/commands.h, ClusterState).
  fsm_.snapshot = [](raft_fsm* fsm, raft_buffer** bufs, unsigned* n) {
    return static_cast<RaftNode*>(fsm->data)->OnSnapshot(bufs, n);
  };
  fsm_.restore = [](raft_fsm* fsm, raft_buffer* buf) {
    return static_cast<RaftNode*>(fsm->data)->OnRestore(buf);
  };
  if (int rv = raft_init(&raft_, &io_, &fsm_, id_, opts.node_id.c_str()); rv != 0) {
    return std::string("raft_init: ") + raft_errmsg(&raft_);
  }
  if (opts.bootstrap || !opts.peers.empty()) {
    raft_configuration conf;
    raft_configuration_init(&conf);
    raft_configuration_add(&conf, id_, opts.node_id.c_str(), RAFT_VOTER);
    for (const std::string& p : opts.peers) {
      if (p != opts.node_id) raft_configuration_add(&conf, IdOf(p), p.c_str(), RAFT_VOTER);
    }
    int rv = raft_bootstrap(&raft_, &conf);
    raft_configuration_close(&conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
      return CloseAfterFailure(std::string("raft_bootstrap: ") + raft_errmsg(&raft_));
    }
  }
  raft_set_election_timeout(&raft_, opts.election_timeout_ms);
  raft_set_heartbeat_timeout(&raft_, opts.heartbeat_timeout_ms);
  raft_set_snapshot_threshold(&raft_, std::max(1U, opts.snapshot_threshold));
  raft_set_snapshot_trailing(&raft_, opts.snapshot_trailing);
  // A snapshot holds no message (small) and its restore returns at once (the store catches up
  // on the applier thread): a lost InstallSnapshot is sent again after 3 s, not libraft's 30.
  raft_set_install_snapshot_timeout(&raft_, 3000);
  raft_set_pre_vote(&raft_, true);
  if (int rv2 = raft_start(&raft_); rv2 != 0) {
    return CloseAfterFailure(std::string("raft_start: ") + raft_strerror(rv2) + " " +
                             raft_errmsg(&raft_));
  }
  async_.data = this;
  uv_async_init(&loop_, &async_,
                [](uv_async_t* a) { static_cast<RaftNode*>(a->data)->RunTasks(); });
  poll_.data = this;
  uv_timer_init(&loop_, &poll_);
  uv_timer_start(
      &poll_, [](uv_timer_t* t) { static_cast<RaftNode*>(t->data)->Poll(); }, kPollInterval,
      kPollInterval);
  started_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stan-raft");
    Run();
  });
  return {};
}

// Start failed after raft_init (a damaged snapshot, say): libraft and libuv released here, on
// the calling thread (the Raft thread does not run yet).
std::string RaftNode::CloseAfterFailure(std::string error) {
  raft_close(&raft_, [](raft*) {});
  uv_run(&loop_, UV_RUN_DEFAULT);
  raft_uv_close(&io_);
  raft_uv_tcp_close(&tcp_);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  return error;
}

void RaftNode::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  raft_uv_close(&io_);
  raft_uv_tcp_close(&tcp_);
  uv_loop_close(&loop_);
}

void RaftNode::Stop() {
  if (!started_.exchange(false)) return;
  Post([this] {
    closing_ = true;
    uv_timer_stop(&poll_);
    raft_close(&raft_, [](raft*) {
      uv_close(reinterpret_cast<uv_handle_t*>(&g_node->poll_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&g_node->async_), nullptr);
    });
  });
  if (thread_.joinable()) thread_.join();
}

namespace {

// A membership change in flight (raft_add, then raft_assign), freed when it ends.
struct ChangeReq {
  struct raft_change change {};
  struct raft* raft;
  uint64_t id;
  std::function<void(const std::string&)> done;
};

void Finish(ChangeReq* r, int status) {
  r->done(status == 0 ? "" : raft_strerror(status));
  delete r;
}

void AssignVoter(ChangeReq* r) {
  int rv = raft_assign(r->raft, &r->change, r->id, RAFT_VOTER, [](struct raft_change* c, int st) {
    Finish(static_cast<ChangeReq*>(c->data), st);
  });
  if (rv != 0) Finish(r, rv);
}

}  // namespace

void RaftNode::AddVoter(const std::string& node_id, std::function<void(const std::string&)> done) {
  Post([this, node_id, done = std::move(done)] {
    if (closing_ || raft_state(&raft_) != RAFT_LEADER) {
      done("not the leader");
      return;
    }
    const uint64_t id = IdOf(node_id);
    bool known = false;
    for (unsigned i = 0; i < raft_.configuration.n; ++i) {
      if (raft_.configuration.servers[i].id != id) continue;
      if (raft_.configuration.servers[i].role == RAFT_VOTER) {
        done("");
        return;
      }
      known = true;  // added before (a spare, or a standby): only its role changes
    }
    auto* req = new ChangeReq{{}, &raft_, id, done};
    req->change.data = req;
    if (known) {
      AssignVoter(req);
      return;
    }
    // raft_add makes it a spare; raft_assign catches its log up, then makes it a voter.
    int rv = raft_add(&raft_, &req->change, id, node_id.c_str(), [](struct raft_change* c, int st) {
      auto* r = static_cast<ChangeReq*>(c->data);
      if (st != 0) {
        Finish(r, st);
      } else {
        AssignVoter(r);
      }
    });
    if (rv != 0) Finish(req, rv);
  });
}

store::Status RaftNode::Propose(std::string entry, std::chrono::milliseconds timeout) {
  auto req = std::make_shared<ProposeReq>();
  Post([this, req, entry = std::move(entry)] {
    if (closing_) {
      req->Complete(RAFT_SHUTDOWN);
      return;
    }
    raft_buffer buf;
    buf.len = entry.size();
    buf.base = raft_malloc(entry.size());
    std::memcpy(buf.base, entry.data(), entry.size());
    req->req.data = new std::shared_ptr<ProposeReq>(req);
    int rv = raft_apply(&raft_, &req->req, &buf, 1, [](struct raft_apply* r, int status, void*) {
      auto* sp = static_cast<std::shared_ptr<ProposeReq>*>(r->data);
      (*sp)->Complete(status);
      delete sp;
    });
    if (rv != 0) {
      raft_free(buf.base);
      delete static_cast<std::shared_ptr<ProposeReq>*>(req->req.data);
      req->Complete(rv);
    }
  });
  std::unique_lock lk(req->mu);
  if (!req->cv.wait_for(lk, timeout, [&] { return req->done; })) {
    return store::Status(store::Code::kIo, "replication timed out");
  }
  if (req->status != 0) {
    return store::Status(store::Code::kIo,
                         std::string("replication failed: ") + raft_strerror(req->status));
  }
  return store::Status::Ok();
}

}  // namespace gannet::streaming::cluster
