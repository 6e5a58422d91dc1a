// nRPC's streamed replies (include/gannet/nrpc.h): the caller's loop with its heartbeats, the
// server's keep-alive and cancellation, as nats-rpc/nrpc's StreamCall and KeepStreamAlive put
// them on the wire.
#include <google/protobuf/message_lite.h>

#include <condition_variable>

#include "gannet/nrpc.h"
#include "nrpc.pb.h"

namespace gannet::nrpc {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kBeat{1};  // keep-alives and heartbeats: every second
constexpr int kMissedHeartbeats = 5;      // the server cancels after this many beats without one

bool IsKeepAlive(std::string_view data) { return data.size() == 1 && data[0] == '\0'; }

}  // namespace

Result<uint32_t> StreamCall(client::Connection& nc, const std::string& subject,
                            std::string_view encoding, const google::protobuf::MessageLite& request,
                            const std::function<bool(std::string_view)>& on_reply,
                            std::chrono::milliseconds timeout) {
  std::string data;
  std::string heartbeat;  // HeartBeat{} in the call's encoding: no bytes, or {}
  if (!Marshal(encoding, request, &data) || !Marshal(encoding, ::nrpc::HeartBeat(), &heartbeat)) {
    return Result<uint32_t>(client::Status::kInvalidArgument,
                            "the request does not encode in " + std::string(encoding));
  }
  const std::string inbox = nc.NewInbox();
  const std::string heartbeats = inbox + ".heartbeat";
  auto sub = nc.SubscribeSync(inbox);
  if (!sub.ok()) return Result<uint32_t>(sub.status(), sub.detail());
  // The inbox is unsubscribed however the call ends (a dropped handle would not do it).
  struct Unsubscriber {
    client::Subscription& sub;
    ~Unsubscriber() { sub.Unsubscribe(); }
  } unsubscriber{*sub};
  const std::string full = encoding == kProtobuf ? subject : subject + "." + std::string(encoding);
  if (client::Status st = nc.Publish(full, data, inbox); st != client::Status::kOk) {
    return Result<uint32_t>(st);
  }
  uint32_t count = 0;
  auto last = Clock::now();
  auto beat = last + kBeat;
  for (;;) {
    auto now = Clock::now();
    if (now >= beat) {
      nc.Publish(heartbeats, heartbeat);
      beat += kBeat;
    }
    const auto deadline = last + timeout;
    if (now >= deadline) return Result<uint32_t>(client::Status::kTimeout);
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::min(deadline, beat) - now);
    client::Result<client::Message> msg = sub->NextMessage(wait);
    if (!msg.ok()) {
      if (msg.status() == client::Status::kTimeout) continue;
      return Result<uint32_t>(msg.status(), msg.detail());
    }
    last = Clock::now();
    std::string_view body = msg->data();
    if (IsKeepAlive(body)) continue;
    Error error;
    if (DecodeError(body, &error, encoding)) {
      if (error.type != Error::Type::kEos) return error;
      if (error.msg_count != count) {
        return Result<uint32_t>(client::Status::kProtocolError,
                                "stream reply received an incorrect number of messages");
      }
      return count;
    }
    if (!on_reply(body)) {
      return Error{Error::Type::kServer, "a streamed reply does not parse", 0};
    }
    ++count;
  }
}

void ServeStream(client::Connection& nc, const client::Message& request, std::string_view encoding,
                 const std::atomic<bool>& stopping,
                 const std::function<Result<bool>(const RawPush&)>& method) {
  const std::string reply(request.reply());
  if (reply.empty()) return;
  auto heartbeats = nc.SubscribeSync(reply + ".heartbeat");
  std::atomic<bool> cancelled{!heartbeats.ok()};

  // The keep-alive thread: a 0x00 every second while the method runs; the caller's heartbeats
  // read at each beat.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::thread keep_alive([&] {
    int missed = 0;
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, kBeat, [&] { return finished; })) {
      lock.unlock();
      bool heard = false;
      while (heartbeats.ok()) {
        auto hb = heartbeats->NextMessage(std::chrono::milliseconds(0));
        if (!hb.ok()) break;
        heard = true;
        ::nrpc::HeartBeat beat;
        if (!Unmarshal(encoding, hb->data(), &beat) || beat.lastbeat()) {
          cancelled = true;  // the caller gave up (or speaks no nRPC)
        }
      }
      missed = heard ? 0 : missed + 1;
      if (missed >= kMissedHeartbeats) cancelled = true;
      if (!cancelled) nc.Publish(reply, std::string_view("\0", 1));
      lock.lock();
      if (cancelled) break;
    }
  });

  uint32_t sent = 0;
  RawPush push = [&](const google::protobuf::MessageLite& m) {
    if (cancelled || stopping) return false;
    std::string data;
    if (!Marshal(encoding, m, &data) || nc.Publish(reply, data) != client::Status::kOk) {
      cancelled = true;
      return false;
    }
    ++sent;
    return true;
  };
  Result<bool> result = method(push);
  {
    std::lock_guard lock(mu);
    finished = true;
  }
  cv.notify_all();
  keep_alive.join();
  if (heartbeats.ok()) heartbeats->Unsubscribe();
  // As nrpc's Go handler: the method's error, else the end of the stream with its count, sent
  // even when the caller cancelled (it may still be listening).
  if (result.is_rpc_error()) {
    RespondError(nc, request, encoding, result.rpc_error());
  } else if (!result.ok()) {
    RespondError(nc, request, encoding, Error{Error::Type::kServer, result.error(), 0});
  } else {
    RespondError(nc, request, encoding, Error{Error::Type::kEos, "", sent});
  }
}

StreamRunner::~StreamRunner() {
  stopping_ = true;
  std::vector<Call> calls;
  {
    std::lock_guard lock(mu_);
    calls.swap(calls_);
  }
  for (Call& c : calls) c.thread.join();
}

void StreamRunner::Start(std::function<void(const std::atomic<bool>& stopping)> call) {
  std::lock_guard lock(mu_);
  // Reap the calls that ended, so a long-running handler keeps only the live ones.
  for (auto it = calls_.begin(); it != calls_.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = calls_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  calls_.push_back(Call{std::thread([this, call = std::move(call), done] {
                          call(stopping_);
                          *done = true;
                        }),
                        done});
}

}  // namespace gannet::nrpc
