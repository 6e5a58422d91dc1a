// A connection's socket, output queue, inbox and direct writes (see connection.h); its TLS is
// in connection_tls.cc.
#include "server/conn/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/logger.h"
#include "server/conn/flow_control.h"
#include "server/conn/tls_context.h"
#include "server/conn/worker.h"
#include "server/server.h"

namespace gannet {

const char* CloseReasonText(CloseReason reason) {
  switch (reason) {
    case CloseReason::kClientClosed:
      return "Client Closed";
    case CloseReason::kAuthenticationTimeout:
      return "Authentication Timeout";
    case CloseReason::kAuthenticationViolation:
      return "Authentication Failure";
    case CloseReason::kTLSHandshakeError:
      return "TLS Handshake Failure";
    case CloseReason::kSlowConsumerPendingBytes:
      return "Slow Consumer (Pending Bytes)";
    case CloseReason::kSlowConsumerWriteDeadline:
      return "Slow Consumer (Write Deadline)";
    case CloseReason::kWriteError:
      return "Write Error";
    case CloseReason::kReadError:
      return "Read Error";
    case CloseReason::kParseError:
      return "Parse Error";
    case CloseReason::kStaleConnection:
      return "Stale Connection";
    case CloseReason::kProtocolViolation:
      return "Protocol Violation";
    case CloseReason::kBadClientProtocolVersion:
      return "Bad Client Protocol Version";
    case CloseReason::kMaxPayloadExceeded:
      return "Maximum Message Payload Exceeded";
    case CloseReason::kMaxConnectionsExceeded:
      return "Maximum Connections Exceeded";
    case CloseReason::kMaxAccountConnectionsExceeded:
      return "Maximum Account Connections Exceeded";
    case CloseReason::kMaxControlLineExceeded:
      return "Maximum Control Line Exceeded";
    case CloseReason::kServerShutdown:
      return "Server Shutdown";
    case CloseReason::kNoRespondersRequiresHeaders:
      return "No Responders Requires Headers";
    case CloseReason::kDuplicateRoute:
      return "Duplicate Route";
    case CloseReason::kRouteRemoved:
      return "Route Removed";
    case CloseReason::kClusterNameConflict:
      return "Cluster Name Conflict";
  }
  return "Unknown State";
}

Connection::Connection(Server& server, Worker& worker, ConnectionKind kind, int fd, uint64_t id,
                       std::string ip, int port)
    : server_(server),
      worker_(worker),
      kind_(kind),
      fd_(fd),
      id_(id),
      ip_(std::move(ip)),
      port_(port) {
  created_ = last_activity_ = worker.now();
  created_wall_ = std::chrono::system_clock::now();
}

Connection::~Connection() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

Connection::Clock::time_point Connection::now() const { return worker_.now(); }

void Connection::MarkDirty() { worker_.MarkDirty(this); }

void Connection::SendProto(std::string_view bytes) {
  // After what other threads handed over first (a route's RS+ bulk before a PONG).
  OutputTailInOrder().append(bytes);
  MarkDirty();
}

void Connection::SendErr(std::string_view text) {
  std::string& tail = OutputTailInOrder();
  tail.append("-ERR '");
  tail.append(text);
  tail.append("'\r\n");
  MarkDirty();
  LOG_TRACE("%s - ->> [-ERR '%.*s']", log_prefix_.c_str(), static_cast<int>(text.size()),
            text.data());
}

void Connection::QueuedMessage(size_t payload_bytes) {
  out_msgs++;
  out_bytes += payload_bytes;
  worker_.CountDelivered(payload_bytes);
  last_activity_ = worker_.now();
  MarkDirty();
}

void Connection::HoldInput(bool hold) {
  if (input_held_ == hold) return;
  input_held_ = hold;
  UpdateEpoll();
}

void Connection::UpdateEpoll() {
  worker_.ModifyEpoll(fd_, id_, !read_paused_ && !input_held_, want_write_);
}

void Connection::CloseOnParseError(ParseStatus st, const char* kind, CloseReason bad_arguments) {
  switch (st) {
    case ParseStatus::kOk:
    case ParseStatus::kStopped:
      return;
    case ParseStatus::kUnknownOp:
      SendErr("Unknown Protocol Operation");
      LOG_ERROR("%s - %s parser ERROR", log_prefix_.c_str(), kind);
      Close(CloseReason::kProtocolViolation);
      return;
    case ParseStatus::kMaxControlLine:
      SendErr("maximum control line exceeded");
      Close(CloseReason::kMaxControlLineExceeded);
      return;
    case ParseStatus::kBadArguments:
      LOG_ERROR("%s - %s protocol arguments error", log_prefix_.c_str(), kind);
      Close(bad_arguments);
      return;
  }
}

// ---- Reading ----

void Connection::OnReadable() {
  if (tls_state_ == TlsState::kHandshake) {
    ContinueHandshake();
    return;
  }
  // Whatever this read produces (a +OK for a SUB, say) must not be overtaken by a direct write.
  CloseDirectWrites();
  if (has_inbox_.load(std::memory_order_acquire)) {
    DrainInbox();
    if (closing()) return;
    MarkDirty();
  }
  if (input_held_) {
    // Reading is off while input is held: only a hang-up or an error gets here.
    Close(CloseReason::kClientClosed);
    return;
  }
  if (ssl_) {
    ReadTls();
    return;
  }
  std::vector<char>& buf = worker_.read_buffer;
  // A producer held back by the flow control takes small bites (64 KiB), and any while a
  // receiver fed from this worker fills up its share of the round (Worker::pressured_read),
  // so receivers' queues grow by little between two judgements: a paused producer resumes
  // while its receiver may still be far behind (its pauses are at most 64 ms; sixteen of them
  // reading 1 MiB at each resume cut a reader starved of CPU by a profiler).
  size_t want = read_limit_;
  if (pauses_in_row_ > 0) {
    want = std::min(want, Worker::kPausedRead);
  } else if (worker_.flow().pressured(worker_.now())) {
    want = std::min(want, worker_.pressured_read());
  }
  ssize_t n = ::read(fd_, buf.data(), std::min(want, buf.size()));
  if (n == 0) {
    Close(CloseReason::kClientClosed);
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    Close(errno == ECONNRESET ? CloseReason::kClientClosed : CloseReason::kReadError);
    return;
  }
  const uint64_t delivered_before = worker_.delivered_bytes();
  const uint64_t msgs_before = in_msgs;
  OnInput(buf.data(), static_cast<size_t>(n));
  SizeNextRead(static_cast<size_t>(n), worker_.delivered_bytes() - delivered_before,
               in_msgs - msgs_before);
}

void Connection::SizeNextRead(size_t read, uint64_t delivered, uint64_t msgs) {
  // Large reads make few system calls (a read of 1 MiB and a write of as much per receiver: a
  // third less CPU per 1 KB message than 128 KiB reads), but what one read delivers is held at
  // once in receivers' queues and staging buffers: a read that fanned out to many receivers
  // is followed by a smaller one, so that it delivers about kReadDelivers. Where that would
  // leave few messages to a read (large ones), the read still takes about kReadMsgs of them
  // while it delivers at most kReadDeliversMax: a 1->4 fan-out of 1 KB messages reading
  // 256 KiB took a fifth more CPU per message than reading 1 MiB (four times the reads, sends
  // and receivers' wake-ups), where small messages lose by the larger buffers' cache misses.
  if (delivered <= read) {
    read_limit_ = kMaxRead;
    return;
  }
  uint64_t limit = kReadDelivers * read / delivered;
  if (msgs > 0) {
    const uint64_t for_msgs =
        std::min(kReadMsgs * read / msgs, kReadDeliversMax * read / delivered);
    limit = std::max(limit, for_msgs);
  }
  read_limit_ = static_cast<size_t>(std::clamp<uint64_t>(limit, kMinRead, kMaxRead));
}

// ---- Cross-worker hand-over ----

void Connection::PostBytes(std::string_view bytes) {
  bool notify = false;
  HandOverImpl(bytes, nullptr, 0, 0, /*max_pending=*/0, notify);
  if (notify) worker_.PostFlush(id_);
}

int64_t Connection::HandOver(std::string& bytes, uint64_t msgs, uint64_t payload_bytes,
                             int64_t max_pending, bool& notify) {
  return HandOverImpl(bytes, &bytes, msgs, payload_bytes, max_pending, notify);
}

int64_t Connection::HandOverImpl(std::string_view bytes, std::string* whole, uint64_t msgs,
                                 uint64_t payload_bytes, int64_t max_pending, bool& notify) {
  // Read before anything is taken: `bytes` may view *whole, which the hand-over empties.
  const auto added = static_cast<int64_t>(bytes.size());
  std::lock_guard lock(inbox_mu_);
  notify = !flush_posted_;
  flush_posted_ = true;
  const int64_t inbox = inbox_bytes_.load(std::memory_order_relaxed);
  const int64_t pending = inbox + added + owner_pending_.load(std::memory_order_relaxed);
  if (max_pending > 0 && pending > max_pending) {
    slow_consumer_.store(true, std::memory_order_relaxed);
    return -1;
  }
  // A small batch is copied into the inbox's last chunk (few chunks, few iovecs). A large one
  // (a read batch of 1 KB messages) is taken whole: the staging buffer becomes an inbox chunk
  // and the publisher's worker gets a spare in exchange, so buffers circulate between the two
  // sides and steady state neither allocates nor copies the bytes a second time (the copy was
  // a tenth of a 1 KB fan-in's time).
  constexpr size_t kInboxChunk = size_t{64} * 1024;
  constexpr size_t kTakeWhole = size_t{16} * 1024;
  auto spare = [this] {
    std::string chunk;
    if (!inbox_spares_.empty()) {
      chunk.swap(inbox_spares_.back());
      inbox_spares_.pop_back();
    }
    return chunk;
  };
  if (whole != nullptr && bytes.size() >= kTakeWhole) {
    std::string chunk = spare();
    chunk.clear();
    chunk.swap(*whole);
    inbox_.push_back(std::move(chunk));
  } else {
    if (inbox_.empty() || inbox_.back().size() + bytes.size() > kInboxChunk) {
      inbox_.push_back(spare());
    }
    inbox_.back().append(bytes);
  }
  inbox_bytes_.store(inbox + added, std::memory_order_relaxed);
  worker_.flow().budget().Add(added);
  direct_ok_.store(false, std::memory_order_release);  // queued bytes must go out first
  inbox_msgs_ += msgs;
  inbox_payload_bytes_ += payload_bytes;
  has_inbox_.store(true, std::memory_order_release);
  return pending;
}

bool Connection::TakeInbox() {
  uint64_t msgs;
  uint64_t payload_bytes;
  int64_t taken;
  std::string head;
  {
    std::lock_guard lock(inbox_mu_);
    flush_posted_ = false;
    has_inbox_.store(false, std::memory_order_relaxed);
    msgs = inbox_msgs_;
    inbox_msgs_ = 0;
    payload_bytes = inbox_payload_bytes_;
    inbox_payload_bytes_ = 0;
    taken = inbox_bytes_.exchange(0, std::memory_order_relaxed);
    drained_.swap(inbox_);
    head.swap(inbox_head_);
    // Written buffers go back round for the next hand-overs.
    while (inbox_spares_.size() < 4) {
      std::string spare;
      if (!out_.TakeSpare(spare)) break;
      inbox_spares_.push_back(std::move(spare));
    }
  }
  // The inbox's bytes now count as owner-side bytes (re-counted when the flush publishes).
  worker_.flow().budget().Add(-taken);
  // The rest of a direct write was already partly on the wire: it must come next.
  out_.PrependChunk(std::move(head));
  for (std::string& chunk : drained_) out_.AppendChunk(std::move(chunk));  // queued, not copied
  drained_.clear();
  if (msgs > 0) {
    out_msgs += msgs;
    out_bytes += payload_bytes;
    last_activity_ = worker_.now();
  }
  return slow_consumer_.load(std::memory_order_relaxed);
}

void Connection::DrainInbox() {
  CloseDirectWrites();
  bool slow;
  {
    std::lock_guard wlock(write_mu_);  // a direct write may be putting its rest in front
    slow = TakeInbox();
  }
  if (slow) worker_.flow().CutSlowConsumer(*this, CloseReason::kSlowConsumerPendingBytes);
}

bool Connection::TryDirectWrite(const std::string& bytes, uint64_t msgs, uint64_t payload_bytes) {
  if (!direct_ok_.load(std::memory_order_acquire)) return false;
  std::unique_lock wlock(write_mu_, std::try_to_lock);
  if (!wlock.owns_lock() || !direct_ok_.load(std::memory_order_acquire) || closing()) {
    return false;
  }
  size_t written = 0;
  if (ssl_) {
    // Open only once the handshake is done. SSL calls on this connection are serialized by
    // write_mu_ (the owner reads under it too). A write that stops half way leaves the rest
    // in front of everything, so the owner's next SSL_write repeats it as OpenSSL requires.
    while (written < bytes.size()) {
      ERR_clear_error();
      int n = SSL_write(ssl_, bytes.data() + written,
                        static_cast<int>(std::min<size_t>(bytes.size() - written, 1 << 30)));
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
  } else {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    written = n > 0 ? static_cast<size_t>(n) : 0;
  }
  direct_msgs_.fetch_add(msgs, std::memory_order_relaxed);
  direct_bytes_.fetch_add(payload_bytes, std::memory_order_relaxed);
  if (written == bytes.size()) return true;
  // The socket took only part (or failed): the rest goes out before anything else; the owner
  // writes it (and sees any error) once woken.
  bool notify;
  {
    std::lock_guard lock(inbox_mu_);
    inbox_head_.append(bytes, written, std::string::npos);
    const auto rest = static_cast<int64_t>(bytes.size() - written);
    inbox_bytes_.fetch_add(rest, std::memory_order_relaxed);
    worker_.flow().budget().Add(rest);
    direct_ok_.store(false, std::memory_order_release);
    has_inbox_.store(true, std::memory_order_release);
    notify = !flush_posted_;
    flush_posted_ = true;
  }
  if (notify) worker_.PostFlush(id_);
  return true;
}

// ---- Writing ----

void Connection::UpdateWriteInterest(bool want_write) {
  if (want_write == want_write_) return;
  want_write_ = want_write;
  UpdateEpoll();
}

void Connection::OnWritable() {
  if (tls_state_ == TlsState::kHandshake && out_.empty()) {
    ContinueHandshake();
    return;
  }
  if (read_wants_write_) {
    read_wants_write_ = false;
    OnReadable();
    if (closing()) return;
  }
  FlushOutbound();
}

void Connection::NoteWriteProgress(bool progressed) {
  if (progressed) {
    if (stalled_since_ != Clock::time_point{}) {
      stalled_since_ = {};
      stalled_since_ns_.store(0, std::memory_order_relaxed);
    }
  } else if (stalled_since_ == Clock::time_point{}) {
    stalled_since_ = worker_.now();
    // Never 0, which means "not stalled".
    stalled_since_ns_.store(std::max<int64_t>(1, stalled_since_.time_since_epoch().count()),
                            std::memory_order_relaxed);
  }
}

bool Connection::FlushOutbound() {
  bool failed = false;
  bool slow = false;
  {
    std::lock_guard wlock(write_mu_);
    // Anything a direct write left over goes first.
    if (has_inbox_.load(std::memory_order_acquire)) slow = TakeInbox();
    bool progressed = false;
    while (!slow && !out_.empty()) {
      ssize_t n = WriteSome();
      if (n > 0) {
        progressed = true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        UpdateWriteInterest(true);
        break;
      }
      if (n < 0 && errno == EINTR) continue;
      failed = true;
      break;
    }
    // Stalled: output waits and this flush wrote nothing. A flush that wrote something, or
    // emptied the queue, is progress.
    if (!failed && !slow) NoteWriteProgress(progressed || out_.empty());
    if (!failed && !slow && out_.empty()) {
      UpdateWriteInterest(read_wants_write_);
      // Nothing queued: other workers may write to the socket directly until we queue again
      // (through SSL once the handshake is done, never during it).
      std::lock_guard ilock(inbox_mu_);
      if (inbox_.empty() && inbox_head_.empty() && !closing() &&
          tls_state_ != TlsState::kHandshake) {
        direct_ok_.store(true, std::memory_order_release);
        direct_ok_local_ = true;
      }
    }
    const auto pending = static_cast<int64_t>(out_.pending());
    owner_pending_.store(pending, std::memory_order_relaxed);
    worker_.flow().budget().Add(pending - budget_owner_bytes_);
    budget_owner_bytes_ = pending;
  }
  if (slow) {
    worker_.flow().CutSlowConsumer(*this, CloseReason::kSlowConsumerPendingBytes);
    return false;
  }
  if (failed) {
    if (!closing()) Close(CloseReason::kWriteError);
    return false;
  }
  return true;
}

// ---- Timers ----

void Connection::Tick(Clock::time_point now) {
  if (out_.empty() && out_.has_spares() && now - last_activity_ > std::chrono::seconds(1)) {
    out_.ReleaseSpares();
  }
  if (tls_state_ == TlsState::kHandshake) {
    // The reference's read deadline and timer fire together: both lines are logged.
    if (now - tls_started_ > tls_->timeout()) {
      LOG_ERROR("%s - TLS handshake error: read tcp %s->%s: i/o timeout", log_prefix_.c_str(),
                LocalAddress().c_str(), RemoteAddress().c_str());
      Close(CloseReason::kTLSHandshakeError);
      LOG_ERROR("%s - TLS handshake timeout", log_prefix_.c_str());
    }
    return;
  }
  if (worker_.flow().CheckWriteDeadline(*this, now, worker_.options().write_deadline)) return;
  OnTimer(now);
}

// ---- Monitoring ----

void Connection::AddCounters(WorkerTotals& totals) const {
  totals.in_msgs += in_msgs;
  totals.in_bytes += in_bytes;
  totals.out_msgs += out_msgs + direct_msgs_.load(std::memory_order_relaxed);
  totals.out_bytes += out_bytes + direct_bytes_.load(std::memory_order_relaxed);
}

void Connection::Snapshot(ConnSnapshot& out, bool /*with_subs*/) const {
  out.cid = id_;
  out.ip = ip_;
  out.port = port_;
  out.start = created_wall_;
  out.last_activity =
      created_wall_ +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(last_activity_ - created_);
  out.pending_bytes = static_cast<int64_t>(out_.pending());
  out.in_msgs = in_msgs;
  out.in_bytes = in_bytes;
  out.out_msgs = out_msgs + direct_msgs_.load(std::memory_order_relaxed);
  out.out_bytes = out_bytes + direct_bytes_.load(std::memory_order_relaxed);
  out.tls_version = tls_version_;
  out.tls_cipher = tls_cipher_;
}

// ---- Closing ----

void Connection::Close(CloseReason reason) {
  if (closing_.exchange(true)) return;
  CloseDirectWrites();
  {
    // No direct write may be using the socket while it goes away.
    std::lock_guard wlock(write_mu_);
    // Best effort: let a final -ERR reach the peer. Drain what input is already here so the
    // close sends FIN rather than RST, which could discard what we wrote; a bounded amount,
    // so a peer that keeps sending cannot hold this worker.
    if (pending_out() > 0) WriteSome();  // the socket is non-blocking
    char sink[4096];
    for (int i = 0; i < 64 && ::recv(fd_, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    if (ssl_) ShutdownTls();
    ::shutdown(fd_, SHUT_WR);
    worker_.RemoveFromEpoll(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  // What this connection held no longer counts against the server's pending budget.
  {
    std::lock_guard lock(inbox_mu_);
    worker_.flow().budget().Add(-inbox_bytes_.exchange(0, std::memory_order_relaxed) -
                                budget_owner_bytes_);
    budget_owner_bytes_ = 0;
  }
  out_msgs += direct_msgs_.exchange(0, std::memory_order_relaxed);
  out_bytes += direct_bytes_.exchange(0, std::memory_order_relaxed);
  OnClosed(reason);
  worker_.in_msgs.fetch_add(in_msgs, std::memory_order_relaxed);
  worker_.in_bytes.fetch_add(in_bytes, std::memory_order_relaxed);
  worker_.out_msgs.fetch_add(out_msgs, std::memory_order_relaxed);
  worker_.out_bytes.fetch_add(out_bytes, std::memory_order_relaxed);
  // Freed by the reclaimer, after every worker has moved past it.
  worker_.ForgetConnection(this);
}

}  // namespace gannet
