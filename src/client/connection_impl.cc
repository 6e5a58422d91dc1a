// The client connection's machinery. See connection_impl.h for the threads and locks, and
// docs/ARCHITECTURE.md ("The client library") for the life of a message through it.
#include "client/connection_impl.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "client/subject_check.h"

namespace gannet::client::detail {

using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadBufferSize = size_t{128} * 1024;
constexpr auto kCloseFlushTimeout = std::chrono::seconds(1);
// Queued bytes at which a publisher writes to the socket itself (when the I/O thread is not
// writing): large, so that a send (and the reader's wake-up) is shared by thousands of small
// messages; 4 KB short of 256 KB so that, with messages up to 4 KB, the queue's buffer stops
// growing at 256 KB (it doubles: at exactly 256 KB it would become 512 KB).
constexpr size_t kInlineWriteBytes = size_t{252} * 1024;
// How long such a publisher's blocking send waits for a full socket before leaving it to the
// I/O thread.
constexpr auto kInlineWriteWait = std::chrono::milliseconds(100);
// Queued bytes that mark a publisher's burst, and how long the I/O thread then leaves the
// queue to the publisher (libnats's flusher waits 1 ms in every case).
constexpr size_t kBurstBytes = size_t{16} * 1024;
constexpr int kBurstMessages = 8;
// Queue memory kept when idle; a burst's larger buffer is given back.
constexpr size_t kKeepBufferBytes = size_t{1024} * 1024;
constexpr auto kBurstTick = std::chrono::milliseconds(1);

uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
         static_cast<uint64_t>(Clock::now().time_since_epoch().count());
}

// memcpy for the publish path's short pieces (subject, size digits, small payloads): two
// overlapping loads and stores instead of a library call when n <= 16.
[[gnu::always_inline]] inline void CopyShort(char* dst, const char* src, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    std::memcpy(&a, src, 8);
    std::memcpy(&b, src + n - 8, 8);
    std::memcpy(dst, &a, 8);
    std::memcpy(dst + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n < 4) {
    // Not a loop: the compiler would make it a memcpy call.
    if (n != 0) {
      dst[0] = src[0];
      dst[n / 2] = src[n / 2];
      dst[n - 1] = src[n - 1];
    }
  } else {
    std::memcpy(dst, src, n);
  }
}

std::string_view StripErr(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\'')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\'')) text.remove_suffix(1);
  return text;
}

bool IsAuthError(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("authorization") != std::string::npos ||
         lower.find("authentication") != std::string::npos;
}

}  // namespace

Owner::~Owner() {
  if (impl) impl->Close();
}

ConnectionImpl::ConnectionImpl(Options opts)
    : opts_(std::move(opts)),
      parser_(ParserRole::kClientForServer, std::numeric_limits<size_t>::max()) {
  read_buf_.resize(kReadBufferSize);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ConnectionImpl::~ConnectionImpl() {
  for (std::thread* t : {&io_thread_, &msgs_.thread, &events_.thread}) {
    if (t->joinable()) {
      if (t->get_id() == std::this_thread::get_id()) {
        t->detach();
      } else {
        t->join();
      }
    }
  }
  if (fd_ >= 0) ::close(fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// ---------------------------------------------------------------------------------------------
// Connecting

Result<bool> ConnectionImpl::Connect() {
  std::string error;
  std::vector<std::string> urls = opts_.servers;
  if (urls.empty()) urls.emplace_back("nats://127.0.0.1:4222");
  if (pool_.AddConfigured(urls, &error) != Status::kOk) {
    return Result<bool>(Status::kInvalidArgument, error);
  }
  if (opts_.randomize) pool_.Shuffle(RandomSeed());
  for (const auto& s : pool_.servers()) {
    if (!s.user.empty() || !s.token.empty()) {
      first_credentials_ = s;
      break;
    }
  }
  if (wake_fd_ < 0) return Result<bool>(Status::kIoError, "eventfd failed");

  // No other thread exists yet: the pool and the parser are ours.
  Status last = Status::kNoServers;
  std::string detail;
  bool connected = false;
  for (size_t i = 0; i < pool_.servers().size(); ++i) {
    ServerUrl attempt = pool_.servers()[i];
    std::string why;
    Status st = Handshake(attempt, &why);
    pool_.servers()[i].last_attempt = attempt.last_attempt;
    if (st == Status::kOk) {
      pool_.set_current(i);
      connected = true;
      std::lock_guard lk(mu_);
      state_ = ConnectionState::kConnected;
      subs_live_ = true;
      break;
    }
    pool_.servers()[i].failed_attempts++;
    if (last != Status::kAuthorization) last = st;
    detail = attempt.ToString() + ": " + why;
  }
  if (!connected) {
    if (!(opts_.retry_on_failed_connect && opts_.allow_reconnect)) {
      std::lock_guard lk(mu_);
      state_ = ConnectionState::kClosed;
      return Result<bool>(last == Status::kAuthorization ? last : Status::kNoServers, detail);
    }
    std::lock_guard lk(mu_);
    state_ = ConnectionState::kReconnecting;
    last_error_ = detail;
    pool_.set_current(0);
  }

  auto self = shared_from_this();
  std::lock_guard lk(join_mu_);
  msgs_.thread = std::thread([self] { self->RunLane(self->msgs_); });
  msgs_.id = msgs_.thread.get_id();
  events_.thread = std::thread([self] { self->RunLane(self->events_); });
  events_.id = events_.thread.get_id();
  io_thread_ = std::thread([self] { self->IoLoop(); });
  return true;
}

void ConnectionImpl::AppendConnect(std::string& out, const ServerUrl& server) const {
  nlohmann::json j;
  j["verbose"] = opts_.verbose;
  j["pedantic"] = opts_.pedantic;
  j["tls_required"] = hs_secure_;
  if (!opts_.name.empty()) j["name"] = opts_.name;
  j["lang"] = "cpp";
  j["version"] = GANNET_VERSION;
  j["protocol"] = 1;
  j["echo"] = opts_.echo;
  bool headers = opts_.headers && info_.headers;
  j["headers"] = headers;
  j["no_responders"] = headers && opts_.no_responders;
  // Credentials: the URL's own, else (for a server the cluster told us of) those of the URL
  // we were given, else the options'.
  const ServerUrl& cred = (!server.user.empty() || !server.token.empty() || !server.discovered)
                              ? server
                              : first_credentials_;
  std::string user = !cred.user.empty() ? cred.user : opts_.user;
  std::string pass = !cred.user.empty() ? cred.password : opts_.password;
  std::string token = !cred.token.empty() ? cred.token : opts_.token;
  if (!user.empty()) {
    j["user"] = user;
    j["pass"] = pass;
  }
  if (!token.empty()) j["auth_token"] = token;
  out += "CONNECT ";
  out += j.dump();
  out += "\r\nPING\r\n";
}

Status ConnectionImpl::Handshake(ServerUrl& server, std::string* detail) {
  Deadline deadline = Clock::now() + opts_.connect_timeout;
  server.last_attempt = Clock::now();
  int fd = ConnectTcp(server.host, server.port, deadline, kInlineWriteWait, detail);
  if (fd < 0) return Status::kNoServers;

  parser_ =
      Parser<ConnectionImpl>(ParserRole::kClientForServer, std::numeric_limits<size_t>::max());
  handshake_ = true;
  hs_got_info_ = false;
  hs_got_pong_ = false;
  hs_error_.clear();
  hs_fd_ = fd;
  hs_tls_ = nullptr;
  hs_secure_ = false;
  std::unique_ptr<TlsSession> tls;
  auto fail = [&](Status st, std::string why) {
    handshake_ = false;
    hs_fd_ = -1;
    hs_tls_ = nullptr;
    tls.reset();
    ::close(fd);
    *detail = std::move(why);
    return st;
  };
  // Reads and handles what arrives until `done` holds.
  auto read_until = [&](const bool& done) -> Status {
    while (!done && hs_error_.empty()) {
      std::string why;
      long n = ReadSomeFrom(fd, tls.get(), read_buf_.data(), read_buf_.size(), deadline, &why);
      if (n == 0) why = "connection closed by the server";
      if (n <= 0) {
        *detail = why;
        return Status::kIoError;
      }
      if (parser_.Feed(*this, read_buf_.data(), static_cast<size_t>(n)) != ParseStatus::kOk) {
        *detail = "the server did not speak the NATS protocol";
        return Status::kProtocolError;
      }
      ProcessControl();
    }
    return Status::kOk;
  };
  std::string why;
  if (Status st = read_until(hs_got_info_); st != Status::kOk) return fail(st, *detail);
  bool tls_required;
  {
    std::lock_guard lk(mu_);
    tls_required = info_.tls_required;
  }
  // TLS after the plain-text INFO (as nats-server 2.9): asked for by the URL or the options, or
  // required by the server (then taken up even if not asked for, as nats.go does).
  bool want_tls = server.scheme == "tls" || opts_.secure;
  if (want_tls && !tls_required) {
    return fail(Status::kIoError,
                "secure connection required by the client, not offered by " + server.ToString());
  }
  if (tls_required) {
    tls = TlsSession::Connect(fd, opts_, server.host, deadline, &why);
    if (!tls) return fail(Status::kIoError, why);
    hs_tls_ = tls.get();
    hs_secure_ = true;
  }
  std::string connect;
  {
    std::lock_guard lk(mu_);
    AppendConnect(connect, server);
  }
  if (!WriteAllTo(fd, tls.get(), connect.data(), connect.size(), deadline, &why)) {
    return fail(Status::kIoError, why);
  }
  if (Status st = read_until(hs_got_pong_); st != Status::kOk) return fail(st, *detail);
  if (!hs_error_.empty()) {
    return fail(IsAuthError(hs_error_) ? Status::kAuthorization : Status::kServerError, hs_error_);
  }
  handshake_ = false;
  hs_fd_ = -1;
  hs_tls_ = nullptr;

  std::lock_guard lk(mu_);
  tls_ = std::move(tls);
  // A server sends nothing larger than its max_payload; a peer that announces more is not
  // buffered (the parser would hold the whole message).
  msg_limit_ = std::max<int64_t>(info_.max_payload, int64_t{1024} * 1024) * 2;
  fd_ = fd;
  connected_url_ = server.ToString();
  pings_out_ = 0;
  next_ping_ = Clock::now() + opts_.ping_interval;
  server.failed_attempts = 0;
  return Status::kOk;
}

void ConnectionImpl::ApplyInfo(std::string_view json, bool* discovered, bool* ldm) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  std::lock_guard lk(mu_);
  info_.server_id = str("server_id");
  info_.server_name = str("server_name");
  info_.version = str("version");
  info_.host = str("host");
  info_.client_ip = str("client_ip");
  info_.nonce = str("nonce");
  info_.cluster = str("cluster");
  if (j.contains("port") && j["port"].is_number_integer()) info_.port = j["port"].get<int>();
  if (j.contains("proto") && j["proto"].is_number_integer()) info_.proto = j["proto"].get<int>();
  if (j.contains("client_id") && j["client_id"].is_number_unsigned()) {
    info_.client_id = j["client_id"].get<uint64_t>();
  }
  if (j.contains("max_payload") && j["max_payload"].is_number_integer()) {
    info_.max_payload = j["max_payload"].get<int64_t>();
  }
  auto flag = [&](const char* k) { return j.contains(k) && j[k].is_boolean() && j[k].get<bool>(); };
  info_.headers = flag("headers");
  info_.auth_required = flag("auth_required");
  info_.tls_required = flag("tls_required");
  info_.lame_duck_mode = flag("ldm");
  *ldm = info_.lame_duck_mode;
  info_.connect_urls.clear();
  if (j.contains("connect_urls") && j["connect_urls"].is_array()) {
    for (const auto& u : j["connect_urls"]) {
      if (u.is_string()) info_.connect_urls.push_back(u.get<std::string>());
    }
  }
  *discovered = pool_.AddDiscovered(info_.connect_urls, RandomSeed(), opts_.randomize) > 0;
}

// ---------------------------------------------------------------------------------------------
// What the server sends. Called by the parser; control commands are recorded and handled
// after the read batch (ProcessControl), so that subs_mu_ can be held across a batch of
// messages without nesting mu_ inside it.

bool ConnectionImpl::OnInfo(std::string_view json) {
  ctl_infos_.emplace_back(json);
  if (handshake_) hs_got_info_ = true;
  return true;
}

bool ConnectionImpl::OnErr(std::string_view text) {
  ctl_errs_.emplace_back(StripErr(text));
  if (handshake_) hs_error_ = ctl_errs_.back();
  return true;
}

bool ConnectionImpl::OnPing() {
  ++ctl_pings_;
  return true;
}

bool ConnectionImpl::OnPong() {
  if (handshake_) {
    hs_got_pong_ = true;
  } else {
    ++ctl_pongs_;
  }
  return true;
}

bool ConnectionImpl::OnMsg(Verb verb, const MsgArgs& args, std::string_view payload) {
  uint64_t sid = 0;
  auto [ptr, ec] = std::from_chars(args.sid.data(), args.sid.data() + args.sid.size(), sid);
  if (ec != std::errc()) return true;
  in_msgs_.store(in_msgs_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  in_bytes_.store(in_bytes_.load(std::memory_order_relaxed) + payload.size(),
                  std::memory_order_relaxed);
  auto it = subs_.find(sid);
  if (it == subs_.end()) return true;  // unsubscribed; the server had it in flight
  SubState& s = *it->second;
  int64_t n = s.received.load(std::memory_order_relaxed) + 1;
  s.received.store(n, std::memory_order_relaxed);
  int64_t max = s.max.load(std::memory_order_relaxed);
  if (max > 0 && n > max) return true;
  std::string_view hdr;
  std::string_view data = payload;
  if (verb == Verb::kHmsg) {
    hdr = payload.substr(0, static_cast<size_t>(args.header_size));
    data = payload.substr(hdr.size());
  }

  if (s.is_resp_mux) {
    CompleteRequest(args.subject, args.reply, hdr, data);
  } else if (!s.closed.load(std::memory_order_relaxed)) {
    int64_t size = static_cast<int64_t>(payload.size());
    if (s.pending_msgs.load() + s.io_msgs >= s.limit_msgs.load(std::memory_order_relaxed) ||
        s.pending_bytes.load() + s.io_bytes + size >
            s.limit_bytes.load(std::memory_order_relaxed)) {
      s.dropped.fetch_add(1, std::memory_order_relaxed);
      if (!s.slow.exchange(true)) {
        if (!s.handler) {
          std::lock_guard lk(s.mu);
          s.slow_to_report = true;
          s.cv.notify_all();
        }
        if (opts_.on_error) {
          std::string subject = s.subject;
          auto cb = opts_.on_error;
          PostEvent([cb, subject] { cb(Status::kSlowConsumer, subject); });
        }
      }
    } else {
      s.slow.store(false, std::memory_order_relaxed);
      Message m = arena_.Make(args.subject, args.reply, hdr, data);
      if (s.handler) {
        // Counted once per read batch (FlushBatch), not per message: the counters' cache line
        // is shared with the dispatcher thread.
        if (s.io_msgs == 0) io_touched_.push_back(&s);
        ++s.io_msgs;
        s.io_bytes += size;
        batch_.push_back({it->second, std::move(m), nullptr});
      } else {
        s.pending_msgs.fetch_add(1);
        s.pending_bytes.fetch_add(size);
        std::lock_guard lk(s.mu);
        s.queue_msgs.push_back(std::move(m));
        s.cv.notify_one();
      }
    }
  }
  if (max > 0 && n == max) subs_.erase(it);  // auto-unsubscribe reached
  return true;
}

void ConnectionImpl::CompleteRequest(std::string_view subject, std::string_view reply,
                                     std::string_view hdr, std::string_view data) {
  std::lock_guard lk(req_mu_);
  if (subject.size() <= resp_prefix_.size()) return;
  auto it = requests_.find(std::string(subject.substr(resp_prefix_.size())));
  if (it == requests_.end()) return;  // timed out already, or a second reply
  RequestWaiter* w = it->second;
  requests_.erase(it);
  w->msg = Message(subject, reply, hdr, data);
  w->status = w->msg.IsNoResponders() ? Status::kNoResponders : Status::kOk;
  w->done = true;
  w->cv.notify_one();
}

void ConnectionImpl::ProcessControl() {
  for (auto& json : ctl_infos_) {
    bool discovered = false;
    bool ldm = false;
    ApplyInfo(json, &discovered, &ldm);
    if (!handshake_ && discovered && opts_.on_discovered_servers) {
      auto cb = opts_.on_discovered_servers;
      auto list = servers();
      PostEvent([cb, list] { cb(list); });
    }
    if (ldm && opts_.on_lame_duck) PostEvent(opts_.on_lame_duck);
  }
  ctl_infos_.clear();
  for (auto& text : ctl_errs_) {
    if (!handshake_) {
      {
        std::lock_guard lk(mu_);
        last_error_ = text;
      }
      if (opts_.on_error) {
        auto cb = opts_.on_error;
        Status st = IsAuthError(text) ? Status::kAuthorization : Status::kServerError;
        PostEvent([cb, st, text] { cb(st, text); });
      }
    }
  }
  ctl_errs_.clear();
  if (ctl_pings_ > 0) {
    if (handshake_) {
      std::string why;
      for (; ctl_pings_ > 0; --ctl_pings_)
        WriteAllTo(hs_fd_, hs_tls_, "PONG\r\n", 6, Clock::now() + opts_.connect_timeout, &why);
    } else {
      std::lock_guard lk(mu_);
      for (; ctl_pings_ > 0; --ctl_pings_) pending_.Append("PONG\r\n");
    }
  }
  if (ctl_pongs_ > 0) {
    std::lock_guard lk(mu_);
    pings_out_ = 0;
    for (; ctl_pongs_ > 0; --ctl_pongs_) {
      if (pings_.empty()) continue;
      PingEntry e = pings_.front();
      pings_.pop_front();
      if (e.waiter) e.waiter->done = true;
    }
    pong_cv_.notify_all();
  }
}

// ---------------------------------------------------------------------------------------------
// The I/O thread

void ConnectionImpl::WakeIo() {
  uint64_t one = 1;
  ssize_t r = ::write(wake_fd_, &one, sizeof(one));
  (void)r;
}

bool ConnectionImpl::ReadAvailable() {
  for (int round = 0; round < 4; ++round) {
    long n = 0;
    std::string why;
    if (tls_) {
      // TLS hands out one record per read: fill the buffer, as one recv would.
      size_t filled = 0;
      while (filled < read_buf_.size()) {
        long r = tls_->Read(read_buf_.data() + filled, read_buf_.size() - filled, &why);
        if (r <= 0) {
          if (filled == 0) n = r;
          break;
        }
        filled += static_cast<size_t>(r);
      }
      if (filled > 0) n = static_cast<long>(filled);
    } else {
      n = RecvSome(fd_, nullptr, read_buf_.data(), read_buf_.size(), &why);
    }
    if (n == 0) {
      io_error_ = "connection closed by the server";
      return false;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      io_error_ = why.empty() ? std::string("read: ") + std::strerror(errno) : why;
      return false;
    }
    ParseStatus st;
    {
      std::lock_guard lk(subs_mu_);
      st = parser_.Feed(*this, read_buf_.data(), static_cast<size_t>(n));
    }
    if (!batch_.empty()) {
      // The batch's pending counts first: the dispatcher lowers them as it hands messages out.
      for (SubState* t : io_touched_) {
        t->pending_msgs.fetch_add(t->io_msgs);
        t->pending_bytes.fetch_add(t->io_bytes);
        t->io_msgs = 0;
        t->io_bytes = 0;
      }
      io_touched_.clear();
      {
        std::lock_guard lk(msgs_.mu);
        if (msgs_.queue.empty()) {
          msgs_.queue.swap(batch_);  // the dispatcher kept up: hand over the whole vector
        } else {
          for (auto& item : batch_) msgs_.queue.push_back(std::move(item));
        }
      }
      batch_.clear();
      msgs_.cv.notify_one();
    }
    ProcessControl();
    if (st != ParseStatus::kOk) {
      io_error_ = "protocol error: the server sent bytes that are not the NATS protocol";
      return false;
    }
    if (static_cast<size_t>(n) < read_buf_.size()) break;
  }
  return true;
}

void ConnectionImpl::IoLoop() {
  bool room_again = false;  // the socket was full and has room now
  bool saw_burst = false;   // burst_mode_ as last seen
  while (true) {
    bool have_fd;
    bool holding_off = false;
    bool want_pollout = false;
    bool write_failed = false;
    bool ticking = false;  // a publisher's burst: look at the queue every tick
    std::unique_lock lk(mu_, std::defer_lock);
    if (saw_burst && !room_again && !lk.try_lock()) {
      // A burst, and a publisher holds the lock: it is at work, which is all this tick wanted
      // to know. Waiting for the lock would cost both threads a futex call.
      have_fd = true;
      ticking = true;
      burst_check_ = Clock::now() + kBurstTick;
    } else {
      if (!lk.owns_lock()) lk.lock();
      if (close_requested_) break;
      have_fd = fd_ >= 0;
      auto now = Clock::now();
      if (have_fd && burst_mode_) {
        // Publishers write their own batches (Publish). Once a tick, and when a full socket
        // has room again, see whether they are still at it: if so, leave the writing to them
        // (two writers would take turns at the lock and the socket); if not, write what they
        // left and, with nothing left, end the burst.
        bool tick = now >= burst_check_;
        if (tick || room_again) {
          bool active = publish_count_ != count_at_tick_;
          if (tick) {
            count_at_tick_ = publish_count_;
            burst_check_ = now + kBurstTick;
          }
          if (!active && !pending_.empty() && !socket_full_) write_failed = !WriteLocked(false);
          if (!active && pending_.empty()) burst_mode_ = false;
        }
      } else if (have_fd && !pending_.empty() && !socket_full_) {
        if (pending_.size() >= kBurstBytes || queued_since_write_ >= kBurstMessages) {
          // A publisher in a burst (it queued many messages in the moment it took us to
          // wake): it writes its batches itself, so leave the queue to it for a moment rather
          // than contend with it for the lock and the socket, message by message. A lone
          // message (a reply, a sparse publisher) is written at once.
          if (!in_hold_off_) {
            in_hold_off_ = true;
            hold_off_end_ = now + kBurstTick;
          }
          holding_off = now < hold_off_end_;
        }
        if (!holding_off) {
          in_hold_off_ = false;
          write_failed = !WriteLocked(false);
        }
      }
      if (have_fd && !burst_mode_ && pending_.empty()) {
        kicked_ = false;  // idle: from here a publisher must wake us
        in_hold_off_ = false;
        pending_.Shrink(kKeepBufferBytes);
      }
      ticking = burst_mode_;
      saw_burst = burst_mode_;
      want_pollout = socket_full_;
      if (space_waiters_ > 0 && pending_.size() < opts_.max_queued_bytes) space_cv_.notify_all();
      lk.unlock();
    }
    room_again = false;
    if (!have_fd) {
      if (!Reconnect()) break;
      continue;
    }
    if (write_failed) {
      OnDisconnect(io_error_);
      continue;
    }

    pollfd fds[2] = {{fd_, static_cast<short>(POLLIN | (want_pollout ? POLLOUT : 0)), 0},
                     {wake_fd_, POLLIN, 0}};
    Deadline wake_at = next_ping_;
    if (holding_off) wake_at = std::min(wake_at, hold_off_end_);
    if (ticking) wake_at = std::min(wake_at, burst_check_);
    // Records OpenSSL already holds are not announced by poll.
    bool tls_pending = tls_ && tls_->HasPending();
    int r = ::poll(fds, 2, tls_pending ? 0 : PollTimeout(wake_at));
    if (tls_pending && r >= 0) fds[0].revents |= POLLIN;
    if (r < 0 && errno != EINTR) {
      OnDisconnect(std::string("poll: ") + std::strerror(errno));
      continue;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      ssize_t rr = ::read(wake_fd_, &v, sizeof(v));
      (void)rr;
    }
    if (fds[0].revents & POLLOUT) {
      std::lock_guard lk(mu_);
      socket_full_ = false;  // room again: write on the next round
      room_again = true;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!ReadAvailable()) {
        OnDisconnect(io_error_);
        continue;
      }
    }
    if (Clock::now() >= next_ping_) {
      next_ping_ = Clock::now() + opts_.ping_interval;
      bool stale;
      {
        std::lock_guard lk(mu_);
        stale = pings_out_ >= opts_.max_pings_out;
        if (!stale) {
          ++pings_out_;
          QueuePingLocked(nullptr);
        }
      }
      if (stale) OnDisconnect("Stale Connection");
    }
  }
  FinishClose();
}

void ConnectionImpl::OnDisconnect(const std::string& why) {
  bool reconnect;
  {
    std::lock_guard lk(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    tls_.reset();
    if (head_partial_) {
      // A direct write sent part of the first queued command: the rest cannot be sent to
      // another server, and the boundary is unknown, so what was queued is given up.
      taken_ += pending_.size();
      pending_.Clear();
      head_partial_ = false;
    }
    FailPongsLocked(taken_, Status::kIoError);
    socket_full_ = false;
    kicked_ = false;
    subs_live_ = false;
    pings_out_ = 0;
    last_error_ = why;
    connected_url_.clear();
    reconnect = opts_.allow_reconnect && !close_requested_;
    if (reconnect) {
      state_ = ConnectionState::kReconnecting;
    } else {
      close_requested_ = true;
    }
    space_cv_.notify_all();
  }
  if (opts_.on_disconnected) PostEvent(opts_.on_disconnected);
}

bool ConnectionImpl::Reconnect() {
  std::mt19937_64 rng(RandomSeed());
  while (true) {
    ServerUrl attempt;
    {
      std::lock_guard lk(mu_);
      if (close_requested_) return false;
      ServerUrl* next = pool_.NextForReconnect(opts_.max_reconnect_attempts);
      if (!next) {
        last_error_ = "no servers available for connection";
        close_requested_ = true;
        return false;
      }
      attempt = *next;
    }
    // Wait out reconnect_wait (plus jitter) since the last attempt at this server; a Close
    // wakes us.
    auto jitter = opts_.reconnect_jitter.count() > 0
                      ? std::chrono::milliseconds(
                            rng() % static_cast<uint64_t>(opts_.reconnect_jitter.count() + 1))
                      : std::chrono::milliseconds(0);
    Deadline not_before = attempt.last_attempt + opts_.reconnect_wait + jitter;
    while (Clock::now() < not_before) {
      pollfd p{wake_fd_, POLLIN, 0};
      if (::poll(&p, 1, PollTimeout(not_before)) > 0) {
        uint64_t v;
        ssize_t rr = ::read(wake_fd_, &v, sizeof(v));
        (void)rr;
      }
      std::lock_guard lk(mu_);
      if (close_requested_) return false;
    }
    std::string why;
    Status st = Handshake(attempt, &why);
    int fd = -1;
    std::unique_ptr<TlsSession> tls;
    std::string preamble;
    {
      std::lock_guard lk(mu_);
      for (auto& s : pool_.servers()) {
        if (s.SameAddress(attempt)) {
          s.last_attempt = attempt.last_attempt;
          s.failed_attempts = st == Status::kOk ? 0 : s.failed_attempts + 1;
        }
      }
      if (st != Status::kOk) {
        last_error_ = attempt.ToString() + ": " + why;
        continue;
      }
      // Handshake stored the socket in fd_; hold it back from publishers until the
      // subscriptions are re-established, so nothing overtakes them.
      fd = fd_;
      fd_ = -1;
      tls = std::move(tls_);
      ResendSubscriptions(preamble);
      subs_live_ = true;
    }
    if (!preamble.empty() && !WriteAllTo(fd, tls.get(), preamble.data(), preamble.size(),
                                         Clock::now() + opts_.connect_timeout, &why)) {
      tls.reset();
      ::close(fd);
      std::lock_guard lk(mu_);
      subs_live_ = false;
      last_error_ = why;
      continue;
    }
    std::string url;
    {
      std::lock_guard lk(mu_);
      if (close_requested_) {
        tls.reset();
        ::close(fd);
        return false;
      }
      fd_ = fd;
      tls_ = std::move(tls);
      state_ = ConnectionState::kConnected;
      out_stats_.reconnects++;
      url = connected_url_;
    }
    if (opts_.on_reconnected) {
      auto cb = opts_.on_reconnected;
      PostEvent([cb, url] { cb(url); });
    }
    return true;
  }
}

void ConnectionImpl::ResendSubscriptions(std::string& out) {
  std::lock_guard lk(subs_mu_);
  for (auto& [sid, s] : subs_) {
    if (s->closed) continue;
    out += "SUB ";
    out += s->subject;
    if (!s->queue.empty()) {
      out += ' ';
      out += s->queue;
    }
    out += ' ';
    out += std::to_string(sid);
    out += "\r\n";
    int64_t max = s->max.load();
    if (max > 0) {
      int64_t left = max - s->received.load();
      if (left > 0) out += "UNSUB " + std::to_string(sid) + " " + std::to_string(left) + "\r\n";
    }
  }
}

void ConnectionImpl::FinishClose() {
  bool was_connected;
  {
    std::lock_guard lk(mu_);
    was_connected = fd_ >= 0;
    if (was_connected) {
      // Best effort: what was queued before Close goes out, within a bound.
      std::string why;
      WriteAllTo(fd_, tls_.get(), pending_.data(), pending_.size(),
                 Clock::now() + kCloseFlushTimeout, &why);
      taken_ += pending_.size();
      pending_.Clear();
      if (tls_) tls_->Shutdown();
      ::shutdown(fd_, SHUT_RDWR);
    }
  }
  {
    std::lock_guard lk(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    tls_.reset();
    state_ = ConnectionState::kClosed;
    connected_url_.clear();
    FailPongsLocked(std::numeric_limits<uint64_t>::max(), Status::kConnectionClosed);
    space_cv_.notify_all();
  }
  {
    std::lock_guard lk(req_mu_);
    for (auto& [token, w] : requests_) {
      w->done = true;
      w->status = Status::kConnectionClosed;
      w->cv.notify_one();
    }
    requests_.clear();
  }
  std::vector<std::shared_ptr<SubState>> subs;
  {
    std::lock_guard lk(subs_mu_);
    for (auto& [sid, s] : subs_) subs.push_back(s);
    subs_.clear();
  }
  for (auto& s : subs) {
    s->closed = true;
    std::lock_guard lk(s->mu);
    s->cv.notify_all();
  }
  if (was_connected && opts_.on_disconnected) PostEvent(opts_.on_disconnected);
  if (opts_.on_closed) PostEvent(opts_.on_closed);
  StopLane(msgs_);
  StopLane(events_);
}

// ---------------------------------------------------------------------------------------------
// The dispatcher thread

void ConnectionImpl::PostEvent(std::function<void()> ev) {
  {
    std::lock_guard lk(events_.mu);
    if (events_.stop) return;
    events_.queue.push_back({nullptr, Message(), std::move(ev)});
  }
  events_.cv.notify_one();
}

void ConnectionImpl::StopLane(Lane& lane) {
  {
    std::lock_guard lk(lane.mu);
    lane.stop = true;
  }
  lane.cv.notify_one();
}

// Runs a lane's items in order until it is stopped and empty. Events queued before the stop
// (on_closed last) still run; messages still queued at Close are dropped, as the connection
// is gone (Drain is the way to have them all handled).
void ConnectionImpl::RunLane(Lane& lane) {
  std::vector<DispatchItem> local;
  while (true) {
    bool stopping;
    {
      std::unique_lock lk(lane.mu);
      lane.cv.wait(lk, [&] { return !lane.queue.empty() || lane.stop; });
      if (lane.queue.empty()) break;  // stopped, and nothing left
      local.swap(lane.queue);
      stopping = lane.stop;
    }
    // Counts are settled per run of messages of one subscription (at most 64), not per
    // message: the counters' cache line is shared with the I/O thread.
    SubState* run = nullptr;
    int64_t run_msgs = 0, run_bytes = 0, run_delivered = 0;
    auto settle = [&] {
      if (!run) return;
      if (run_delivered) run->delivered.fetch_add(run_delivered, std::memory_order_relaxed);
      run->pending_bytes.fetch_sub(run_bytes);
      if (run->pending_msgs.fetch_sub(run_msgs) == run_msgs && run->draining.load()) {
        std::lock_guard lk(run->mu);
        run->cv.notify_all();
      }
      run = nullptr;
      run_msgs = run_bytes = run_delivered = 0;
    };
    for (auto& item : local) {
      if (!item.sub) {
        settle();
        item.event();
        continue;
      }
      SubState& s = *item.sub;
      if (&s != run || run_msgs == 64) {
        settle();
        run = &s;
      }
      int64_t size = static_cast<int64_t>(item.msg.header_block().size() + item.msg.data().size());
      if (!stopping && !s.closed.load(std::memory_order_relaxed)) {
        s.handler(item.msg);
        ++run_delivered;
      }
      ++run_msgs;
      run_bytes += size;
    }
    settle();
    local.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// What the application sends

[[gnu::always_inline]] inline void ConnectionImpl::AppendPub(std::string_view subject,
                                                             std::string_view reply,
                                                             const Headers* headers,
                                                             std::string_view data) {
  if (!headers) {
    // PUB <subject> [reply] <size>\r\n<data>\r\n, with one bounds check.
    size_t nd = 1;
    for (size_t v = data.size(); v >= 10; v /= 10) ++nd;
    size_t need =
        4 + subject.size() + 1 + (reply.empty() ? 0 : reply.size() + 1) + nd + 2 + data.size() + 2;
    char* p = pending_.Extend(need);
    *p++ = 'P';
    *p++ = 'U';
    *p++ = 'B';
    *p++ = ' ';
    CopyShort(p, subject.data(), subject.size());
    p += subject.size();
    *p++ = ' ';
    if (!reply.empty()) {
      CopyShort(p, reply.data(), reply.size());
      p += reply.size();
      *p++ = ' ';
    }
    size_t v = data.size();
    if (v < 100) {
      // The common sizes without a division: two digits written, the first kept only for 10+.
      p[0] = static_cast<char>('0' + v / 10);
      p[nd - 1] = static_cast<char>('0' + v % 10);
      p += nd;
    } else {
      p += nd;
      char* d = p;
      do {
        *--d = static_cast<char>('0' + v % 10);
        v /= 10;
      } while (v != 0);
    }
    *p++ = '\r';
    *p++ = '\n';
    CopyShort(p, data.data(), data.size());
    p += data.size();
    *p++ = '\r';
    *p = '\n';
    return;
  }
  AppendHpub(subject, reply, *headers, data);
}

void ConnectionImpl::AppendHpub(std::string_view subject, std::string_view reply,
                                const Headers& headers, std::string_view data) {
  // HPUB <subject> [reply] <header size> <total size>\r\n<headers><data>\r\n, with no
  // allocation once warm: the header block is serialized into a reused scratch string, then
  // everything goes into the queue with one bounds check.
  std::string& block = hdr_scratch_;
  block.clear();
  headers.AppendTo(block);
  char sizes[48];
  char* q = std::to_chars(sizes, sizes + 20, block.size()).ptr;
  *q++ = ' ';
  q = std::to_chars(q, sizes + sizeof(sizes), block.size() + data.size()).ptr;
  size_t ns = static_cast<size_t>(q - sizes);
  size_t need = 5 + subject.size() + 1 + (reply.empty() ? 0 : reply.size() + 1) + ns + 2 +
                block.size() + data.size() + 2;
  char* p = pending_.Extend(need);
  auto put = [&p](std::string_view v) {
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    p += v.size();
  };
  put("HPUB ");
  put(subject);
  *p++ = ' ';
  if (!reply.empty()) {
    put(reply);
    *p++ = ' ';
  }
  put(std::string_view(sizes, ns));
  put("\r\n");
  put(block);
  put(data);
  put("\r\n");
}

inline bool ConnectionImpl::NeedKickLocked() {
  if (kicked_ || burst_mode_ || pending_.empty() || fd_ < 0) return false;
  kicked_ = true;
  return true;
}

bool ConnectionImpl::WriteLocked(bool wait) {
  if (fd_ < 0) return true;
  // With `wait`, a blocking send: the kernel waits for room (at most SO_SNDTIMEO, set at
  // connect), holding our lock: back-pressure on every publisher of this connection, with no
  // other thread in the way, as libnats does.
  const int flags = MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT);
  bool waited = false;
  while (!pending_.empty()) {
    ssize_t n;
    if (tls_) {
      // The socket is non-blocking under TLS: waiting for room is a poll, bounded as the
      // plain socket's SO_SNDTIMEO. A record cut short is repeated from the same bytes.
      std::string why;
      n = tls_->Write(pending_.data(), pending_.size(), &why);
      if (n < 0 && errno == EAGAIN && wait && !waited) {
        waited = true;
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(kInlineWriteWait.count()));
        continue;
      }
    } else {
      n = ::send(fd_, pending_.data(), pending_.size(), flags);
    }
    if (n > 0) {
      taken_ += static_cast<uint64_t>(n);
      pending_.Consume(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      io_error_ = std::string("write: ") + std::strerror(errno);
      socket_full_ = true;  // publishers stop; the I/O thread finds the error
      return false;
    }
    // Full (or the send timed out): the I/O thread waits for room; publishers stop trying
    // until then.
    socket_full_ = true;
    break;
  }
  queued_since_write_ = 0;
  // A partial write leaves the tail of a command at the front of the queue.
  head_partial_ = !pending_.empty();
  return true;
}

void ConnectionImpl::QueuePingLocked(PongWaiter* w) {
  pending_.Append("PING\r\n");
  pings_.push_back({taken_ + pending_.size(), w});
}

void ConnectionImpl::FailPongsLocked(uint64_t up_to, Status status) {
  while (!pings_.empty() && pings_.front().stream_end <= up_to) {
    if (PongWaiter* w = pings_.front().waiter) {
      w->done = true;
      w->status = status;
    }
    pings_.pop_front();
  }
  pong_cv_.notify_all();
}

Status ConnectionImpl::Publish(std::string_view subject, std::string_view data,
                               const std::string_view& reply, const Headers* headers,
                               bool latency_sensitive) {
  if (!IsValidPublishSubject(subject)) return Status::kInvalidSubject;
  if (!reply.empty() && !IsValidPublishSubject(reply)) return Status::kInvalidSubject;
  bool wake;
  {
    // Not a unique_lock: its unlock is a call, and so was lock_guard's destructor.
    FastMutex::Guard lk(mu_);
    if (state_ == ConnectionState::kClosed || close_requested_) return Status::kConnectionClosed;
    if (draining_pubs_) return Status::kDraining;
    size_t size = data.size();
    if (headers) {
      if (!opts_.headers || !info_.headers) return Status::kHeadersNotSupported;
      size += headers->WireSize();
    }
    if (static_cast<int64_t>(size) > info_.max_payload) return Status::kMaxPayload;
    if (state_ == ConnectionState::kReconnecting) {
      if (pending_.size() + size + subject.size() + reply.size() + 32 >
          opts_.reconnect_buffer_size) {
        return Status::kBufferFull;
      }
    } else if (pending_.size() >= opts_.max_queued_bytes) [[unlikely]] {
      // Back-pressure: wait for the I/O thread to take the queue.
      std::unique_lock ul(mu_, std::adopt_lock);
      ++space_waiters_;
      space_cv_.wait(ul, [&] {
        return pending_.size() < opts_.max_queued_bytes || fd_ < 0 || close_requested_;
      });
      --space_waiters_;
      ul.release();  // still held: lk unlocks it
      if (close_requested_ || state_ == ConnectionState::kClosed) {
        return Status::kConnectionClosed;
      }
    }
    AppendPub(subject, reply, headers, data);
    ++queued_since_write_;
    ++publish_count_;
    out_stats_.out_msgs++;
    out_stats_.out_bytes += size;
    // A request wants its bytes out now; a publisher in a loop writes a full batch itself, as
    // the reference clients do, rather than hand it to the I/O thread: on a small machine that
    // thread would compete with the publisher and the server for the cores, and the batch is
    // still in this core's cache.
    if (!socket_full_) {
      if (latency_sensitive) {
        WriteLocked(false);
      } else if (pending_.size() >= kInlineWriteBytes) {
        WriteLocked(true);
        // A burst: the I/O thread now looks at the queue once a tick (for the tail when the
        // burst ends) instead of being woken for every batch's first message.
        if (!burst_mode_) {
          burst_mode_ = true;
          burst_check_ = Clock::now() + kBurstTick;
        }
      }
    }
    wake = NeedKickLocked();
  }
  if (wake) WakeIo();
  return Status::kOk;
}

Result<Subscription> ConnectionImpl::Subscribe(std::string_view subject, std::string_view queue,
                                               MessageHandler handler) {
  if (!IsValidSubscribeSubject(subject)) return Status::kInvalidSubject;
  if (!queue.empty() && !IsValidQueueName(queue))
    return Result<Subscription>(Status::kInvalidArgument, "invalid queue name");
  auto s = std::make_shared<SubState>();
  s->subject = subject;
  s->queue = queue;
  s->handler = std::move(handler);
  s->conn = weak_from_this();
  s->limit_msgs = opts_.pending_msgs_limit;
  s->limit_bytes = opts_.pending_bytes_limit;
  std::unique_lock lk(mu_);
  if (state_ == ConnectionState::kClosed || close_requested_) return Status::kConnectionClosed;
  if (draining_) return Status::kDraining;
  {
    std::lock_guard slk(subs_mu_);
    s->sid = next_sid_++;
    subs_[s->sid] = s;
  }
  if (subs_live_) {
    std::string line = "SUB " + s->subject + (s->queue.empty() ? "" : " " + s->queue) + " " +
                       std::to_string(s->sid) + "\r\n";
    pending_.Append(line);
  }
  bool wake = NeedKickLocked();
  lk.unlock();
  if (wake) WakeIo();
  return Subscription(std::move(s));
}

Status ConnectionImpl::Unsubscribe(SubState& s, int64_t max) {
  std::unique_lock lk(mu_);
  if (state_ == ConnectionState::kClosed) return Status::kConnectionClosed;
  if (s.closed) return Status::kInvalidSubscription;
  if (max > 0 && s.received.load() < max) {
    s.max = max;
    if (subs_live_)
      pending_.Append("UNSUB " + std::to_string(s.sid) + " " + std::to_string(max) + "\r\n");
  } else {
    s.closed = true;
    {
      std::lock_guard slk(subs_mu_);
      subs_.erase(s.sid);
    }
    if (subs_live_) pending_.Append("UNSUB " + std::to_string(s.sid) + "\r\n");
    std::lock_guard qlk(s.mu);
    s.queue_msgs.clear();
    s.cv.notify_all();
  }
  bool wake = NeedKickLocked();
  lk.unlock();
  if (wake) WakeIo();
  return Status::kOk;
}

Status ConnectionImpl::DrainSubscription(const std::shared_ptr<SubState>& s, Deadline deadline) {
  {
    std::unique_lock lk(mu_);
    if (state_ == ConnectionState::kClosed) return Status::kConnectionClosed;
    if (s->closed) return Status::kInvalidSubscription;
    s->draining = true;
    if (subs_live_) pending_.Append("UNSUB " + std::to_string(s->sid) + "\r\n");
  }
  // After the PONG nothing more for this subscription can arrive.
  Status st = Flush(deadline);
  if (st == Status::kOk && !(s->handler && OnDispatcher())) {
    std::unique_lock lk(s->mu);
    if (!s->cv.wait_until(lk, deadline, [&] { return s->pending_msgs.load() == 0 || s->closed; })) {
      st = Status::kTimeout;
    }
  }
  {
    std::lock_guard lk(mu_);
    s->closed = true;
    std::lock_guard slk(subs_mu_);
    subs_.erase(s->sid);
  }
  std::lock_guard lk(s->mu);
  s->drained = true;
  s->cv.notify_all();
  return st;
}

Result<Message> ConnectionImpl::NextMessage(SubState& s, std::chrono::milliseconds timeout) {
  if (s.handler) return Result<Message>(Status::kInvalidArgument, "not a synchronous subscription");
  Deadline deadline = Clock::now() + timeout;
  std::unique_lock lk(s.mu);
  s.cv.wait_until(lk, deadline,
                  [&] { return !s.queue_msgs.empty() || s.slow_to_report || s.closed.load(); });
  if (s.slow_to_report) {
    s.slow_to_report = false;
    return Status::kSlowConsumer;
  }
  if (!s.queue_msgs.empty()) {
    Message m = std::move(s.queue_msgs.front());
    s.queue_msgs.pop_front();
    s.pending_bytes.fetch_sub(static_cast<int64_t>(m.header_block().size() + m.data().size()));
    s.pending_msgs.fetch_sub(1);
    s.delivered.fetch_add(1);
    if (s.draining.load() && s.pending_msgs.load() == 0) s.cv.notify_all();
    return m;
  }
  bool closed = s.closed;
  lk.unlock();  // state() takes mu_, which comes before SubState::mu
  if (closed) {
    return state() == ConnectionState::kClosed ? Status::kConnectionClosed
                                               : Status::kInvalidSubscription;
  }
  return Status::kTimeout;
}

void ConnectionImpl::EnsureRespMux() {
  std::lock_guard init(resp_init_mu_);
  {
    std::lock_guard lk(req_mu_);
    if (!resp_prefix_.empty()) return;
  }
  std::string inbox = NewInbox();
  auto sub = Subscribe(inbox + ".*", {}, nullptr);
  if (!sub.ok()) return;
  {
    std::lock_guard slk(subs_mu_);
    sub->state_->is_resp_mux = true;
  }
  std::lock_guard lk(req_mu_);
  resp_prefix_ = inbox + ".";
}

Result<Message> ConnectionImpl::Request(std::string_view subject, const Headers* headers,
                                        std::string_view data, std::chrono::milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  EnsureRespMux();
  RequestWaiter w;
  std::string token;
  std::string reply;
  {
    std::lock_guard lk(req_mu_);
    if (resp_prefix_.empty()) return Status::kConnectionClosed;
    token = std::to_string(++next_token_);
    reply = resp_prefix_ + token;
    requests_[token] = &w;
  }
  Status st = Publish(subject, data, reply, headers, /*latency_sensitive=*/true);
  std::unique_lock lk(req_mu_);
  if (st != Status::kOk) {
    requests_.erase(token);
    return st;
  }
  if (!w.cv.wait_until(lk, deadline, [&] { return w.done; })) {
    requests_.erase(token);
    return Status::kTimeout;
  }
  if (w.status != Status::kOk) return w.status;
  return std::move(w.msg);
}

Status ConnectionImpl::Flush(Deadline deadline) {
  std::unique_lock lk(mu_);
  if (state_ == ConnectionState::kClosed || close_requested_) return Status::kConnectionClosed;
  PongWaiter w;
  QueuePingLocked(&w);
  if (!socket_full_) WriteLocked(false);
  bool wake = NeedKickLocked();
  lk.unlock();
  if (wake) WakeIo();
  lk.lock();
  if (!pong_cv_.wait_until(lk, deadline, [&] { return w.done; })) {
    // Keep the entry (PONGs pair with PINGs in order) but forget the waiter.
    for (auto& e : pings_) {
      if (e.waiter == &w) e.waiter = nullptr;
    }
    return Status::kTimeout;
  }
  return w.status;
}

Status ConnectionImpl::Drain(Deadline deadline) {
  {
    std::lock_guard lk(mu_);
    if (state_ == ConnectionState::kClosed || close_requested_) return Status::kConnectionClosed;
    if (draining_) return Status::kDraining;
    draining_ = true;
  }
  std::vector<std::shared_ptr<SubState>> subs;
  {
    std::lock_guard lk(subs_mu_);
    for (auto& [sid, s] : subs_) {
      if (!s->is_resp_mux) subs.push_back(s);
    }
  }
  Status result = Status::kOk;
  for (auto& s : subs) {
    Status st = DrainSubscription(s, deadline);
    if (st == Status::kTimeout) result = st;
  }
  {
    std::lock_guard lk(mu_);
    draining_pubs_ = true;
  }
  if (Status st = Flush(deadline); st == Status::kTimeout) result = st;
  Close();
  return result;
}

void ConnectionImpl::Close() {
  {
    std::lock_guard lk(mu_);
    close_requested_ = true;
    space_cv_.notify_all();
  }
  WakeIo();
  std::lock_guard lk(join_mu_);
  if (!io_thread_.joinable() && !msgs_.thread.joinable() && !events_.thread.joinable()) {
    // Never started (Connect failed) or already joined.
    std::lock_guard slk(mu_);
    state_ = ConnectionState::kClosed;
    return;
  }
  for (std::thread* t : {&io_thread_, &msgs_.thread, &events_.thread}) {
    if (!t->joinable()) continue;
    if (t->get_id() == std::this_thread::get_id()) {
      t->detach();  // Close from a callback: the dispatcher ends when the callback returns
    } else {
      t->join();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Queries

ConnectionState ConnectionImpl::state() const {
  std::lock_guard lk(mu_);
  if (state_ != ConnectionState::kClosed && draining_) return ConnectionState::kDraining;
  return state_;
}

std::string ConnectionImpl::connected_url() const {
  std::lock_guard lk(mu_);
  return connected_url_;
}

ServerInfo ConnectionImpl::server_info() const {
  std::lock_guard lk(mu_);
  return info_;
}

int64_t ConnectionImpl::max_payload() const {
  std::lock_guard lk(mu_);
  return info_.max_payload;
}

std::vector<std::string> ConnectionImpl::servers() const {
  std::lock_guard lk(mu_);
  return pool_.Urls();
}

Statistics ConnectionImpl::stats() const {
  Statistics s;
  {
    std::lock_guard lk(mu_);
    s = out_stats_;
  }
  s.in_msgs = in_msgs_.load(std::memory_order_relaxed);
  s.in_bytes = in_bytes_.load(std::memory_order_relaxed);
  return s;
}

std::string ConnectionImpl::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

std::string ConnectionImpl::NewInbox() const {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  thread_local std::mt19937_64 rng(RandomSeed());
  std::string s = opts_.inbox_prefix;
  s += '.';
  for (int i = 0; i < 22; ++i) s += kAlphabet[rng() % 62];
  return s;
}

}  // namespace gannet::client::detail
