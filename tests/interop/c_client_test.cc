// Interoperability tests with the official NATS C client (libnats). Every test runs against
// gannet-server and the reference nats-server 2.9.10, so the reference proves each
// expectation right in the same run.
//
// Rules: no sleeps. Waits are on conditions with timeouts, or on a flush: once a connection's
// PING has been answered, every message the server routed to that connection before it read
// the PING is in the client's queues (and a publisher's flush means the server has routed all
// its earlier publications), which makes "nothing more arrived" checks exact.
#include <nats/nats.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "server_test.h"
#include "tls_support.h"

namespace gannet::test {

// Lets GoogleTest print the parameter by name in failure messages.
void PrintTo(ServerKind kind, std::ostream* os) { *os << ServerKindName(kind); }

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kWaitMs = 5000;
constexpr std::chrono::milliseconds kWait{kWaitMs};
constexpr int kDefaultMaxPayload = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The library: opened once, torn down (waiting for its threads) at exit so sanitizers are quiet.

class NatsLibrary : public ::testing::Environment {
 public:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(nats_Open(-1), NATS_OK);
  }
  void TearDown() override { nats_CloseAndWait(10000); }
};
[[maybe_unused]] ::testing::Environment* const kNatsLibrary =
    ::testing::AddGlobalTestEnvironment(new NatsLibrary);

// ---------------------------------------------------------------------------------------------
// RAII for library objects.

struct NatsDeleter {
  void operator()(natsConnection* p) const { natsConnection_Destroy(p); }
  void operator()(natsSubscription* p) const { natsSubscription_Destroy(p); }
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
  void operator()(natsStatistics* p) const { natsStatistics_Destroy(p); }
  void operator()(natsInbox* p) const { natsInbox_Destroy(p); }
};
using Conn = std::unique_ptr<natsConnection, NatsDeleter>;
using Sub = std::unique_ptr<natsSubscription, NatsDeleter>;
using Msg = std::unique_ptr<natsMsg, NatsDeleter>;
using Opts = std::unique_ptr<natsOptions, NatsDeleter>;
using Stats = std::unique_ptr<natsStatistics, NatsDeleter>;
using Inbox = std::unique_ptr<natsInbox, NatsDeleter>;

// Status name plus the library's last error text (thread-local, so call on the failing thread).
std::string Describe(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string out = std::string(natsStatus_GetText(s)) + " (" + std::to_string(s) + ")";
  if (text && *text) out += "; last error: " + std::string(text);
  return out;
}

std::string LastErrorText() {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  return text ? text : "";
}

#define ASSERT_NATS_OK(expr)                                         \
  do {                                                               \
    const natsStatus s_ = (expr);                                    \
    ASSERT_EQ(s_, NATS_OK) << #expr << " returned " << Describe(s_); \
  } while (0)
#define EXPECT_NATS_OK(expr)                                         \
  do {                                                               \
    const natsStatus s_ = (expr);                                    \
    EXPECT_EQ(s_, NATS_OK) << #expr << " returned " << Describe(s_); \
  } while (0)

std::string Subject(natsMsg* m) { return natsMsg_GetSubject(m) ? natsMsg_GetSubject(m) : ""; }
std::string Reply(natsMsg* m) { return natsMsg_GetReply(m) ? natsMsg_GetReply(m) : ""; }
std::string Data(natsMsg* m) {
  const char* d = natsMsg_GetData(m);
  int n = natsMsg_GetDataLength(m);
  return d && n > 0 ? std::string(d, static_cast<size_t>(n)) : std::string();
}

// A payload of n bytes whose content depends on the seed and on every position.
std::string Pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  uint32_t x = 2654435761u * (seed + 1);
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// Asynchronous errors (slow consumer, permission violations...) the library reported. A
// process-lifetime counter, since the library may call the handler from its own threads.
std::atomic<int> g_async_errors{0};
std::mutex g_async_error_mu;
std::string g_last_async_error;

void RecordAsyncError(natsConnection*, natsSubscription*, natsStatus err, void*) {
  std::lock_guard lock(g_async_error_mu);
  g_last_async_error = natsStatus_GetText(err);
  g_async_errors.fetch_add(1);
}

std::string LastAsyncError() {
  std::lock_guard lock(g_async_error_mu);
  return g_last_async_error;
}

// A one-shot flag a library thread sets and a test waits on. Set() notifies while holding the
// lock, so the waiter may destroy the Event as soon as Wait() returns.
class Event {
 public:
  void Set() {
    std::lock_guard lock(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return set_; });
  }
  static void OnConnection(natsConnection*, void* closure) { static_cast<Event*>(closure)->Set(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Collects what an asynchronous subscription's callback receives. Hold() makes the callback
// block (so messages pile up in the client) until Release(). Declare a Collector before the
// subscriptions that feed it: its destructor waits for their completion callbacks, so no
// callback can run on a destroyed Collector.
class Collector {
 public:
  struct Received {
    std::string subject;
    std::string reply;
    std::string data;
    int64_t sid = 0;  // which subscription delivered it
  };

  ~Collector() {
    Release();
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return attached_ == 0; })) {
      ADD_FAILURE() << "a subscription feeding this Collector never completed";
    }
  }

  static void OnMsg(natsConnection*, natsSubscription* sub, natsMsg* msg, void* closure) {
    auto* self = static_cast<Collector*>(closure);
    Received r{Subject(msg), Reply(msg), Data(msg), natsSubscription_GetID(sub)};
    natsMsg_Destroy(msg);
    std::unique_lock lock(self->mu_);
    self->cv_.wait(lock, [&] { return !self->held_; });
    self->msgs_.push_back(std::move(r));
    self->cv_.notify_all();
  }
  static void OnComplete(void* closure) {
    auto* self = static_cast<Collector*>(closure);
    std::lock_guard lock(self->mu_);
    --self->attached_;
    self->cv_.notify_all();
  }
  void Attach() {
    std::lock_guard lock(mu_);
    ++attached_;
  }

  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Waits until at least n messages arrived; true if they did within the timeout.
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return msgs_.size() >= n; });
  }
  // Waits until every subscription feeding this collector has completed (closed and its
  // callback returned).
  bool WaitDetached(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return attached_ == 0; });
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return msgs_.size();
  }
  std::vector<Received> messages() {
    std::lock_guard lock(mu_);
    return msgs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> msgs_;
  bool held_ = false;
  int attached_ = 0;
};

// A responder: answers every request with "echo:" + payload, copying headers if any.
void EchoResponder(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  const char* reply = natsMsg_GetReply(msg);
  if (reply != nullptr) {
    std::string body = "echo:" + Data(msg);
    natsMsg* out = nullptr;
    if (natsMsg_Create(&out, reply, nullptr, body.data(), static_cast<int>(body.size())) ==
        NATS_OK) {
      const char** keys = nullptr;
      int count = 0;
      if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
        for (int i = 0; i < count; ++i) {
          const char* value = nullptr;
          if (natsMsgHeader_Get(msg, keys[i], &value) == NATS_OK) {
            natsMsgHeader_Set(out, keys[i], value);
          }
        }
        free(keys);
      }
      natsConnection_PublishMsg(nc, out);
      natsMsg_Destroy(out);
    }
  }
  natsMsg_Destroy(msg);
}

struct ConnectOptions {
  std::string url{};  // empty: the server's URL
  std::string user{};
  std::string password{};
  std::string token{};
  std::string nkey{};  // with nkey_seed_file: NKEY authentication
  std::string nkey_seed_file{};
  bool no_echo = false;
  bool verbose = false;
  Event* closed = nullptr;  // set when the connection is closed
  // TLS: natsOptions_SetSecure with a CA, an optional client certificate and the name the
  // server's certificate is checked against.
  bool secure = false;
  std::string ca_file{};
  std::string cert_file{};
  std::string key_file{};
  std::string expected_hostname{};
};

uint64_t InMsgs(natsConnection* nc) {
  natsStatistics* raw = nullptr;
  if (natsStatistics_Create(&raw) != NATS_OK) return UINT64_MAX;
  Stats stats(raw);
  uint64_t in = 0;
  if (natsConnection_GetStats(nc, raw) != NATS_OK) return UINT64_MAX;
  natsStatistics_GetCounts(raw, &in, nullptr, nullptr, nullptr, nullptr);
  return in;
}

// Messages queued in a synchronous subscription right now.
uint64_t Queued(natsSubscription* sub) {
  uint64_t n = 0;
  natsStatus s = natsSubscription_QueuedMsgs(sub, &n);
  return s == NATS_OK ? n : UINT64_MAX;
}

// Takes everything already queued in a synchronous subscription, without waiting.
std::vector<Msg> TakeQueued(natsSubscription* sub) {
  std::vector<Msg> out;
  for (;;) {
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, sub, 0) != NATS_OK) break;
    out.emplace_back(m);
  }
  return out;
}

std::vector<std::string> Subjects(const std::vector<Msg>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(Subject(m.get()));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Fixture: one server of the parameter's kind per test.

class InteropTest : public ServerTest {
 protected:
  void SetUp() override { Start(); }

  void TearDown() override {
    if (!servers().empty() && !stopped_on_purpose_) {
      EXPECT_TRUE(server().Running()) << "server exited during the test; output:\n"
                                      << server().Output();
    }
    ServerTest::TearDown();
    EXPECT_EQ(g_async_errors.exchange(0), 0)
        << "asynchronous error reported by the client: " << LastAsyncError();
  }

  // Connects with the C client; returns the status (and the connection in *out on success).
  natsStatus TryConnect(Conn* out, const ConnectOptions& o = {}) {
    natsOptions* raw = nullptr;
    natsStatus s = natsOptions_Create(&raw);
    if (s != NATS_OK) return s;
    Opts opts(raw);
    const std::string url = o.url.empty() ? server().url() : o.url;
    s = natsOptions_SetURL(raw, url.c_str());
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(raw, false);
    if (s == NATS_OK) s = natsOptions_SetTimeout(raw, kWaitMs);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(raw, RecordAsyncError, nullptr);
    if (s == NATS_OK && !o.user.empty()) {
      s = natsOptions_SetUserInfo(raw, o.user.c_str(), o.password.c_str());
    }
    if (s == NATS_OK && !o.token.empty()) s = natsOptions_SetToken(raw, o.token.c_str());
    if (s == NATS_OK && !o.nkey.empty()) {
      s = natsOptions_SetNKeyFromSeed(raw, o.nkey.c_str(), o.nkey_seed_file.c_str());
    }
    if (s == NATS_OK && o.no_echo) s = natsOptions_SetNoEcho(raw, true);
    if (s == NATS_OK && o.verbose) s = natsOptions_SetVerbose(raw, true);
    if (s == NATS_OK && o.closed) s = natsOptions_SetClosedCB(raw, Event::OnConnection, o.closed);
    if (s == NATS_OK && o.secure) s = natsOptions_SetSecure(raw, true);
    if (s == NATS_OK && !o.ca_file.empty()) {
      s = natsOptions_LoadCATrustedCertificates(raw, o.ca_file.c_str());
    }
    if (s == NATS_OK && !o.cert_file.empty()) {
      s = natsOptions_LoadCertificatesChain(raw, o.cert_file.c_str(), o.key_file.c_str());
    }
    if (s == NATS_OK && !o.expected_hostname.empty()) {
      s = natsOptions_SetExpectedHostname(raw, o.expected_hostname.c_str());
    }
    if (s != NATS_OK) return s;
    natsConnection* nc = nullptr;
    s = natsConnection_Connect(&nc, raw);
    if (s == NATS_OK) out->reset(nc);
    return s;
  }

  void Connect(Conn* out, const ConnectOptions& o = {}) {
    natsStatus s = TryConnect(out, o);
    ASSERT_EQ(s, NATS_OK) << "connect to " << server().url() << ": " << Describe(s)
                          << "\nserver output:\n"
                          << server().Output();
  }

  static void Flush(natsConnection* nc) {
    ASSERT_NATS_OK(natsConnection_FlushTimeout(nc, kWaitMs));
  }

  // Subscribes synchronously and flushes, so the server knows the interest when this returns.
  static void SubscribeSync(natsConnection* nc, const char* subject, Sub* out,
                            const char* queue = nullptr) {
    natsSubscription* s = nullptr;
    if (queue) {
      ASSERT_NATS_OK(natsConnection_QueueSubscribeSync(&s, nc, subject, queue));
    } else {
      ASSERT_NATS_OK(natsConnection_SubscribeSync(&s, nc, subject));
    }
    out->reset(s);
    ASSERT_NATS_OK(natsConnection_FlushTimeout(nc, kWaitMs));
  }

  // Subscribes asynchronously into a Collector and flushes.
  static void SubscribeAsync(natsConnection* nc, const char* subject, Collector* c, Sub* out,
                             const char* queue = nullptr) {
    natsSubscription* s = nullptr;
    if (queue) {
      ASSERT_NATS_OK(natsConnection_QueueSubscribe(&s, nc, subject, queue, Collector::OnMsg, c));
    } else {
      ASSERT_NATS_OK(natsConnection_Subscribe(&s, nc, subject, Collector::OnMsg, c));
    }
    out->reset(s);
    c->Attach();
    ASSERT_NATS_OK(natsSubscription_SetOnCompleteCB(s, Collector::OnComplete, c));
    ASSERT_NATS_OK(natsConnection_FlushTimeout(nc, kWaitMs));
  }

  // The next message of a synchronous subscription (null, with a test failure, on timeout).
  static Msg Next(natsSubscription* sub, int64_t timeout_ms = kWaitMs) {
    natsMsg* m = nullptr;
    natsStatus s = natsSubscription_NextMsg(&m, sub, timeout_ms);
    EXPECT_EQ(s, NATS_OK) << "NextMsg on " << natsSubscription_GetSubject(sub) << ": "
                          << Describe(s);
    return Msg(s == NATS_OK ? m : nullptr);
  }

  bool stopped_on_purpose_ = false;
};

// Same, but each test starts its own server with the flags it needs.
class InteropAuthTest : public InteropTest {
 protected:
  void SetUp() override {}
};

// ---------------------------------------------------------------------------------------------
// Connecting, and what the client learned from INFO.

TEST_P(InteropTest, ConnectParsesServerInfo) {
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc));
  EXPECT_EQ(natsConnection_Status(nc.get()), NATS_CONN_STATUS_CONNECTED);

  char buf[256] = {};
  ASSERT_NATS_OK(natsConnection_GetConnectedUrl(nc.get(), buf, sizeof buf));
  EXPECT_EQ(std::string(buf), server().url());

  // nats-server identifies itself with a server nkey: 56 base32 characters starting with 'N'.
  ASSERT_NATS_OK(natsConnection_GetConnectedServerId(nc.get(), buf, sizeof buf));
  std::string id = buf;
  EXPECT_EQ(id.size(), 56u) << "server id: " << id;
  EXPECT_EQ(id.substr(0, 1), "N") << "server id: " << id;
  EXPECT_TRUE(
      std::all_of(id.begin(), id.end(),
                  [](char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7'); }))
      << "server id: " << id;

  EXPECT_EQ(natsConnection_GetMaxPayload(nc.get()), kDefaultMaxPayload);
  EXPECT_EQ(natsConnection_HasHeaderSupport(nc.get()), NATS_OK) << "INFO without headers:true";

  uint64_t cid = 0;
  ASSERT_NATS_OK(natsConnection_GetClientID(nc.get(), &cid));
  EXPECT_GT(cid, 0u);

  char* ip = nullptr;
  ASSERT_NATS_OK(natsConnection_GetClientIP(nc.get(), &ip));
  EXPECT_STREQ(ip, "127.0.0.1");
  free(ip);

  // No cluster: the server must not advertise other URLs (connect_urls).
  char** servers = nullptr;
  int count = -1;
  ASSERT_NATS_OK(natsConnection_GetDiscoveredServers(nc.get(), &servers, &count));
  EXPECT_EQ(count, 0);
  for (int i = 0; i < count; ++i) free(servers[i]);
  free(servers);

  int64_t rtt = -1;
  ASSERT_NATS_OK(natsConnection_GetRTT(nc.get(), &rtt));
  EXPECT_GE(rtt, 0);

  // A second connection gets a different, larger client id and the same server id.
  Conn nc2;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc2));
  uint64_t cid2 = 0;
  ASSERT_NATS_OK(natsConnection_GetClientID(nc2.get(), &cid2));
  EXPECT_GT(cid2, cid);
  ASSERT_NATS_OK(natsConnection_GetConnectedServerId(nc2.get(), buf, sizeof buf));
  EXPECT_EQ(std::string(buf), id);
}

TEST_P(InteropTest, MaxPayloadFromInfoIsEnforcedByClient) {
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc));
  std::string too_big(static_cast<size_t>(kDefaultMaxPayload) + 1, 'x');
  natsStatus s =
      natsConnection_Publish(nc.get(), "big", too_big.data(), static_cast<int>(too_big.size()));
  EXPECT_EQ(s, NATS_MAX_PAYLOAD) << Describe(s);
  // The connection is still usable.
  EXPECT_NATS_OK(natsConnection_FlushTimeout(nc.get(), kWaitMs));
}

TEST_P(InteropTest, VerboseConnectionWorks) {
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, {.verbose = true}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "verbose.subject", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "verbose.subject", "v"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "v");
  EXPECT_NATS_OK(natsConnection_FlushTimeout(nc.get(), kWaitMs));
}

// ---------------------------------------------------------------------------------------------
// Publish / subscribe.

TEST_P(InteropTest, PublishSubscribeSync) {
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "greet.sync", &sub));

  ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "greet.sync", "hello"));
  ASSERT_NATS_OK(
      natsConnection_PublishRequestString(pub_nc.get(), "greet.sync", "reply.to.me", "request"));
  ASSERT_NATS_OK(natsConnection_Publish(pub_nc.get(), "greet.sync", nullptr, 0));
  ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "greet.other", "not for us"));
  const std::string binary("a\0b\r\nc", 6);
  ASSERT_NATS_OK(natsConnection_Publish(pub_nc.get(), "greet.sync", binary.data(),
                                        static_cast<int>(binary.size())));

  Msg m1 = Next(sub.get());
  ASSERT_TRUE(m1);
  EXPECT_EQ(Subject(m1.get()), "greet.sync");
  EXPECT_EQ(Reply(m1.get()), "");
  EXPECT_EQ(Data(m1.get()), "hello");

  Msg m2 = Next(sub.get());
  ASSERT_TRUE(m2);
  EXPECT_EQ(Reply(m2.get()), "reply.to.me");
  EXPECT_EQ(Data(m2.get()), "request");

  Msg m3 = Next(sub.get());
  ASSERT_TRUE(m3);
  EXPECT_EQ(natsMsg_GetDataLength(m3.get()), 0);

  Msg m4 = Next(sub.get());
  ASSERT_TRUE(m4);
  EXPECT_EQ(Data(m4.get()), binary);

  // Nothing else (no duplicates, nothing from greet.other).
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  EXPECT_EQ(Queued(sub.get()), 0u);
  EXPECT_EQ(InMsgs(sub_nc.get()), 4u);
}

TEST_P(InteropTest, PublisherReceivesItsOwnMessagesUnlessNoEcho) {
  Conn echo_nc, quiet_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&echo_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&quiet_nc, {.no_echo = true}));
  Sub echo_sub, quiet_sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(echo_nc.get(), "echo.test", &echo_sub));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(quiet_nc.get(), "echo.test", &quiet_sub));

  ASSERT_NATS_OK(natsConnection_PublishString(echo_nc.get(), "echo.test", "from-echo"));
  ASSERT_NO_FATAL_FAILURE(Flush(echo_nc.get()));
  ASSERT_NATS_OK(natsConnection_PublishString(quiet_nc.get(), "echo.test", "from-quiet"));
  ASSERT_NO_FATAL_FAILURE(Flush(quiet_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(echo_nc.get()));

  auto echo_msgs = TakeQueued(echo_sub.get());
  ASSERT_EQ(echo_msgs.size(), 2u);
  EXPECT_EQ(Data(echo_msgs[0].get()), "from-echo");
  EXPECT_EQ(Data(echo_msgs[1].get()), "from-quiet");

  auto quiet_msgs = TakeQueued(quiet_sub.get());
  ASSERT_EQ(quiet_msgs.size(), 1u) << "a no_echo connection got its own message back";
  EXPECT_EQ(Data(quiet_msgs[0].get()), "from-echo");
}

TEST_P(InteropTest, AsyncSubscriptionCallback) {
  Collector got;
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(sub_nc.get(), "async.sub", &got, &sub));

  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    std::string body = "m" + std::to_string(i);
    ASSERT_NATS_OK(natsConnection_PublishRequestString(pub_nc.get(), "async.sub", "async.reply",
                                                       body.c_str()));
  }
  ASSERT_TRUE(got.WaitFor(kCount)) << "callback got " << got.size() << " of " << kCount;
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  auto msgs = got.messages();
  ASSERT_EQ(msgs.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(msgs[i].subject, "async.sub");
    EXPECT_EQ(msgs[i].reply, "async.reply");
    EXPECT_EQ(msgs[i].data, "m" + std::to_string(i));
  }
  EXPECT_EQ(InMsgs(sub_nc.get()), static_cast<uint64_t>(kCount));
}

TEST_P(InteropTest, WildcardSubscriptions) {
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc));
  Sub star, gt, mid, first;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "w.*", &star));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "w.>", &gt));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "w.*.c", &mid));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "*.a", &first));

  for (const char* subject : {"w", "w.a", "w.a.b", "w.a.c", "w.b.c.d", "x.a", "w.bc", "wa.c"}) {
    ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), subject, subject));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));

  auto star_msgs = TakeQueued(star.get());
  auto gt_msgs = TakeQueued(gt.get());
  auto mid_msgs = TakeQueued(mid.get());
  auto first_msgs = TakeQueued(first.get());
  using V = std::vector<std::string>;
  EXPECT_EQ(Subjects(star_msgs), (V{"w.a", "w.bc"}));
  EXPECT_EQ(Subjects(gt_msgs), (V{"w.a", "w.a.b", "w.a.c", "w.b.c.d", "w.bc"}));
  EXPECT_EQ(Subjects(mid_msgs), (V{"w.a.c"}));
  EXPECT_EQ(Subjects(first_msgs), (V{"w.a", "x.a"}));
  for (const auto& m : gt_msgs) EXPECT_EQ(Data(m.get()), Subject(m.get()));
}

TEST_P(InteropTest, UnsubscribeStopsDelivery) {
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub going, staying;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "unsub.test", &going));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "unsub.test", &staying));

  ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "unsub.test", "before"));
  Msg m = Next(going.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "before");
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  EXPECT_EQ(InMsgs(sub_nc.get()), 2u);  // one per subscription

  ASSERT_NATS_OK(natsSubscription_Unsubscribe(going.get()));
  EXPECT_FALSE(natsSubscription_IsValid(going.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));

  constexpr int kAfter = 5;
  for (int i = 0; i < kAfter; ++i) {
    ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "unsub.test", "after"));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  // The server delivered the later messages once (to the remaining subscription), not twice.
  EXPECT_EQ(InMsgs(sub_nc.get()), 2u + kAfter);
  EXPECT_EQ(Queued(staying.get()), 1u + kAfter);
}

TEST_P(InteropTest, QueueGroupsSplitMessages) {
  constexpr int kMembers = 3;
  constexpr int kCount = 300;
  Conn pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  std::vector<Conn> conns(kMembers);
  std::vector<Sub> members(kMembers);
  for (int i = 0; i < kMembers; ++i) {
    ASSERT_NO_FATAL_FAILURE(Connect(&conns[i]));
    ASSERT_NO_FATAL_FAILURE(SubscribeSync(conns[i].get(), "jobs", &members[i], "workers"));
  }
  // A plain subscriber gets everything; a second group (one member) gets everything too.
  Sub plain, other_group;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(conns[0].get(), "jobs", &plain));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(conns[1].get(), "jobs", &other_group, "auditors"));

  for (int i = 0; i < kCount; ++i) {
    ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "jobs", std::to_string(i).c_str()));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  for (auto& c : conns) ASSERT_NO_FATAL_FAILURE(Flush(c.get()));

  std::multiset<std::string> seen;
  uint64_t total = 0;
  for (int i = 0; i < kMembers; ++i) {
    uint64_t n = Queued(members[i].get());
    EXPECT_GT(n, 0u) << "member " << i << " got nothing";
    total += n;
    for (auto& m : TakeQueued(members[i].get())) seen.insert(Data(m.get()));
  }
  EXPECT_EQ(total, static_cast<uint64_t>(kCount)) << "queue group must get each message once";
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(seen.count(std::to_string(i)), 1u) << "message " << i;
  }
  EXPECT_EQ(Queued(plain.get()), static_cast<uint64_t>(kCount));
  EXPECT_EQ(Queued(other_group.get()), static_cast<uint64_t>(kCount));
}

TEST_P(InteropTest, AsyncQueueSubscribersOnOneConnection) {
  constexpr int kCount = 200;
  Collector got;  // fed by both members
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub a, b;
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(sub_nc.get(), "q.async", &got, &a, "group"));
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(sub_nc.get(), "q.async", &got, &b, "group"));
  for (int i = 0; i < kCount; ++i) {
    ASSERT_NATS_OK(
        natsConnection_PublishString(pub_nc.get(), "q.async", std::to_string(i).c_str()));
  }
  ASSERT_TRUE(got.WaitFor(kCount)) << "callbacks got " << got.size() << " of " << kCount;
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  EXPECT_EQ(InMsgs(sub_nc.get()), static_cast<uint64_t>(kCount)) << "each message sent once";

  std::multiset<std::string> seen;
  std::map<int64_t, int> per_member;
  for (const auto& r : got.messages()) {
    seen.insert(r.data);
    ++per_member[r.sid];
  }
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(seen.count(std::to_string(i)), 1u) << i;
  EXPECT_GT(per_member[natsSubscription_GetID(a.get())], 0) << "member a got nothing";
  EXPECT_GT(per_member[natsSubscription_GetID(b.get())], 0) << "member b got nothing";
}

// ---------------------------------------------------------------------------------------------
// Request / reply.

TEST_P(InteropTest, RequestReply) {
  Conn responder_nc, requester_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&responder_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&requester_nc));
  natsSubscription* raw = nullptr;
  ASSERT_NATS_OK(
      natsConnection_Subscribe(&raw, responder_nc.get(), "svc.echo", EchoResponder, nullptr));
  Sub responder(raw);
  ASSERT_NO_FATAL_FAILURE(Flush(responder_nc.get()));

  for (int i = 0; i < 20; ++i) {
    std::string body = "req-" + std::to_string(i);
    natsMsg* reply = nullptr;
    natsStatus s =
        natsConnection_RequestString(&reply, requester_nc.get(), "svc.echo", body.c_str(), kWaitMs);
    ASSERT_EQ(s, NATS_OK) << "request " << i << ": " << Describe(s);
    Msg r(reply);
    EXPECT_EQ(Data(r.get()), "echo:" + body);
  }

  // The old style: an explicit inbox with its own subscription.
  natsInbox* inbox_raw = nullptr;
  ASSERT_NATS_OK(natsInbox_Create(&inbox_raw));
  Inbox inbox(inbox_raw);
  Sub inbox_sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(requester_nc.get(), inbox.get(), &inbox_sub));
  ASSERT_NATS_OK(
      natsConnection_PublishRequestString(requester_nc.get(), "svc.echo", inbox.get(), "old"));
  Msg r = Next(inbox_sub.get());
  ASSERT_TRUE(r);
  EXPECT_EQ(Subject(r.get()), std::string(inbox.get()));
  EXPECT_EQ(Data(r.get()), "echo:old");
}

TEST_P(InteropTest, NoRespondersFailsFast) {
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc));
  auto start = Clock::now();
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestString(&reply, nc.get(), "nobody.home", "hello?", kWaitMs);
  auto elapsed = Clock::now() - start;
  Msg r(reply);
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << Describe(s);
  EXPECT_LT(elapsed, kWait / 2) << "no-responders must not wait for the request timeout";

  // With an explicit reply subscription the 503 status message arrives there and the client
  // reports it as no responders.
  natsInbox* inbox_raw = nullptr;
  ASSERT_NATS_OK(natsInbox_Create(&inbox_raw));
  Inbox inbox(inbox_raw);
  Sub inbox_sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), inbox.get(), &inbox_sub));
  ASSERT_NATS_OK(natsConnection_PublishRequestString(nc.get(), "nobody.home", inbox.get(), "?"));
  natsMsg* m = nullptr;
  s = natsSubscription_NextMsg(&m, inbox_sub.get(), kWaitMs);
  Msg holder(m);
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << Describe(s);

  // A request to a subject that has a responder still works afterwards.
  Conn responder_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&responder_nc));
  natsSubscription* raw = nullptr;
  ASSERT_NATS_OK(
      natsConnection_Subscribe(&raw, responder_nc.get(), "somebody.home", EchoResponder, nullptr));
  Sub responder(raw);
  ASSERT_NO_FATAL_FAILURE(Flush(responder_nc.get()));
  reply = nullptr;
  s = natsConnection_RequestString(&reply, nc.get(), "somebody.home", "hi", kWaitMs);
  Msg ok(reply);
  ASSERT_EQ(s, NATS_OK) << Describe(s);
  EXPECT_EQ(Data(ok.get()), "echo:hi");
}

// ---------------------------------------------------------------------------------------------
// Headers.

TEST_P(InteropTest, HeadersRoundTrip) {
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "hdr.test", &sub));

  natsMsg* raw = nullptr;
  ASSERT_NATS_OK(natsMsg_Create(&raw, "hdr.test", "hdr.reply", "body", 4));
  Msg out(raw);
  ASSERT_NATS_OK(natsMsgHeader_Set(out.get(), "X-Trace", "abc-123"));
  ASSERT_NATS_OK(natsMsgHeader_Add(out.get(), "X-Multi", "one"));
  ASSERT_NATS_OK(natsMsgHeader_Add(out.get(), "X-Multi", "two words"));
  ASSERT_NATS_OK(natsConnection_PublishMsg(pub_nc.get(), out.get()));

  // Headers and no payload.
  raw = nullptr;
  ASSERT_NATS_OK(natsMsg_Create(&raw, "hdr.test", nullptr, nullptr, 0));
  Msg header_only(raw);
  ASSERT_NATS_OK(natsMsgHeader_Set(header_only.get(), "Only", "header"));
  ASSERT_NATS_OK(natsConnection_PublishMsg(pub_nc.get(), header_only.get()));

  // A plain message after them.
  ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "hdr.test", "plain"));

  Msg m1 = Next(sub.get());
  ASSERT_TRUE(m1);
  EXPECT_EQ(Subject(m1.get()), "hdr.test");
  EXPECT_EQ(Reply(m1.get()), "hdr.reply");
  EXPECT_EQ(Data(m1.get()), "body");
  const char* value = nullptr;
  ASSERT_NATS_OK(natsMsgHeader_Get(m1.get(), "X-Trace", &value));
  EXPECT_STREQ(value, "abc-123");
  const char** values = nullptr;
  int count = 0;
  ASSERT_NATS_OK(natsMsgHeader_Values(m1.get(), "X-Multi", &values, &count));
  ASSERT_EQ(count, 2);
  EXPECT_STREQ(values[0], "one");
  EXPECT_STREQ(values[1], "two words");
  free(values);
  const char** keys = nullptr;
  ASSERT_NATS_OK(natsMsgHeader_Keys(m1.get(), &keys, &count));
  EXPECT_EQ(count, 2);
  free(keys);

  Msg m2 = Next(sub.get());
  ASSERT_TRUE(m2);
  EXPECT_EQ(natsMsg_GetDataLength(m2.get()), 0);
  value = nullptr;
  ASSERT_NATS_OK(natsMsgHeader_Get(m2.get(), "Only", &value));
  EXPECT_STREQ(value, "header");

  Msg m3 = Next(sub.get());
  ASSERT_TRUE(m3);
  EXPECT_EQ(Data(m3.get()), "plain");
  value = nullptr;
  EXPECT_EQ(natsMsgHeader_Get(m3.get(), "X-Trace", &value), NATS_NOT_FOUND);

  // Headers survive a request/reply round trip through a responder.
  natsSubscription* rs = nullptr;
  ASSERT_NATS_OK(natsConnection_Subscribe(&rs, sub_nc.get(), "hdr.svc", EchoResponder, nullptr));
  Sub responder(rs);
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  raw = nullptr;
  ASSERT_NATS_OK(natsMsg_Create(&raw, "hdr.svc", nullptr, "q", 1));
  Msg req(raw);
  ASSERT_NATS_OK(natsMsgHeader_Set(req.get(), "Request-Id", "42"));
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_RequestMsg(&reply, pub_nc.get(), req.get(), kWaitMs);
  Msg rep(reply);
  ASSERT_EQ(s, NATS_OK) << Describe(s);
  EXPECT_EQ(Data(rep.get()), "echo:q");
  value = nullptr;
  ASSERT_NATS_OK(natsMsgHeader_Get(rep.get(), "Request-Id", &value));
  EXPECT_STREQ(value, "42");
}

// ---------------------------------------------------------------------------------------------
// Auto-unsubscribe.

TEST_P(InteropTest, AutoUnsubscribeSync) {
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "auto.sync", &sub));
  ASSERT_NATS_OK(natsSubscription_AutoUnsubscribe(sub.get(), 3));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));

  for (int i = 0; i < 10; ++i) {
    ASSERT_NATS_OK(
        natsConnection_PublishString(pub_nc.get(), "auto.sync", std::to_string(i).c_str()));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  // The server itself stopped after 3 (UNSUB <sid> 3), not just the client.
  EXPECT_EQ(InMsgs(sub_nc.get()), 3u);

  for (int i = 0; i < 3; ++i) {
    Msg m = Next(sub.get());
    ASSERT_TRUE(m);
    EXPECT_EQ(Data(m.get()), std::to_string(i));
  }
  natsMsg* extra = nullptr;
  natsStatus s = natsSubscription_NextMsg(&extra, sub.get(), 0);
  Msg holder(extra);
  EXPECT_NE(s, NATS_OK) << "a fourth message was delivered";
  EXPECT_FALSE(natsSubscription_IsValid(sub.get()));
}

TEST_P(InteropTest, AutoUnsubscribeAsync) {
  Collector got;
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(sub_nc.get(), "auto.async", &got, &sub));
  ASSERT_NATS_OK(natsSubscription_AutoUnsubscribe(sub.get(), 5));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));

  for (int i = 0; i < 20; ++i) {
    ASSERT_NATS_OK(
        natsConnection_PublishString(pub_nc.get(), "auto.async", std::to_string(i).c_str()));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  EXPECT_EQ(InMsgs(sub_nc.get()), 5u);
  ASSERT_TRUE(got.WaitDetached()) << "subscription did not complete after 5 messages";
  auto msgs = got.messages();
  ASSERT_EQ(msgs.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(msgs[i].data, std::to_string(i));
  EXPECT_FALSE(natsSubscription_IsValid(sub.get()));
}

// ---------------------------------------------------------------------------------------------
// Flush.

TEST_P(InteropTest, FlushWaitsForServer) {
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "flush.test", &sub));
  EXPECT_NATS_OK(natsConnection_FlushTimeout(pub_nc.get(), kWaitMs));

  constexpr int kCount = 10000;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "flush.test", "x"));
  }
  ASSERT_NATS_OK(natsConnection_FlushTimeout(pub_nc.get(), kWaitMs));
  EXPECT_EQ(natsConnection_Buffered(pub_nc.get()), 0);
  // After the publisher's flush the server has routed everything; after the subscriber's,
  // everything routed to it has arrived.
  ASSERT_NATS_OK(natsConnection_FlushTimeout(sub_nc.get(), kWaitMs));
  EXPECT_EQ(Queued(sub.get()), static_cast<uint64_t>(kCount));
}

TEST_P(InteropTest, ServerShutdownClosesConnection) {
  Event closed;
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, {.closed = &closed}));
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));
  stopped_on_purpose_ = true;
  server().Stop();
  ASSERT_TRUE(closed.Wait()) << "client did not notice the server going away";
  EXPECT_TRUE(natsConnection_IsClosed(nc.get()));
  natsStatus s = natsConnection_FlushTimeout(nc.get(), 1000);
  EXPECT_EQ(s, NATS_CONNECTION_CLOSED) << Describe(s);
}

// ---------------------------------------------------------------------------------------------
// Drain.

TEST_P(InteropTest, SubscriptionDrainDeliversInFlightMessages) {
  constexpr int kFromOther = 200, kFromSelf = 200;
  Collector got;
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(sub_nc.get(), "drain.sub", &got, &sub));
  ASSERT_NATS_OK(natsSubscription_SetPendingLimits(sub.get(), -1, -1));

  got.Hold();  // messages pile up in the client until Release()
  for (int i = 0; i < kFromOther; ++i) {
    ASSERT_NATS_OK(
        natsConnection_PublishString(pub_nc.get(), "drain.sub", ("o" + std::to_string(i)).c_str()));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  // These are still in the client's outgoing buffer when the drain starts (UNSUB follows them).
  for (int i = 0; i < kFromSelf; ++i) {
    ASSERT_NATS_OK(
        natsConnection_PublishString(sub_nc.get(), "drain.sub", ("s" + std::to_string(i)).c_str()));
  }
  ASSERT_NATS_OK(natsSubscription_Drain(sub.get()));
  got.Release();
  ASSERT_NATS_OK(natsSubscription_WaitForDrainCompletion(sub.get(), kWaitMs));
  EXPECT_NATS_OK(natsSubscription_DrainCompletionStatus(sub.get()));
  // The drain ends with the subscription closed (its completion callback runs after that).
  ASSERT_TRUE(got.WaitDetached());
  EXPECT_FALSE(natsSubscription_IsValid(sub.get()));

  auto msgs = got.messages();
  ASSERT_EQ(msgs.size(), static_cast<size_t>(kFromOther + kFromSelf));
  for (int i = 0; i < kFromOther; ++i) EXPECT_EQ(msgs[i].data, "o" + std::to_string(i));
  for (int i = 0; i < kFromSelf; ++i) {
    EXPECT_EQ(msgs[kFromOther + i].data, "s" + std::to_string(i));
  }

  // The interest is gone on the server.
  ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "drain.sub", "late"));
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  EXPECT_EQ(InMsgs(sub_nc.get()), static_cast<uint64_t>(kFromOther + kFromSelf));
}

TEST_P(InteropTest, ConnectionDrainDeliversAndFlushes) {
  constexpr int kIn = 300, kOut = 300;
  Collector inbound, outbound;
  Event closed;
  Conn drained_nc, pub_nc, observer_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&drained_nc, {.closed = &closed}));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&observer_nc));
  Sub in_sub, out_sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(drained_nc.get(), "cd.in", &inbound, &in_sub));
  ASSERT_NO_FATAL_FAILURE(SubscribeAsync(observer_nc.get(), "cd.out", &outbound, &out_sub));

  inbound.Hold();
  for (int i = 0; i < kIn; ++i) {
    ASSERT_NATS_OK(natsConnection_PublishString(pub_nc.get(), "cd.in", std::to_string(i).c_str()));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));
  // Publications still buffered in the draining connection must reach the server.
  for (int i = 0; i < kOut; ++i) {
    ASSERT_NATS_OK(
        natsConnection_PublishString(drained_nc.get(), "cd.out", std::to_string(i).c_str()));
  }
  ASSERT_NATS_OK(natsConnection_Drain(drained_nc.get()));
  inbound.Release();
  ASSERT_TRUE(closed.Wait(2 * kWait)) << "drained connection never closed";
  EXPECT_EQ(inbound.size(), static_cast<size_t>(kIn));
  ASSERT_TRUE(outbound.WaitFor(kOut)) << "observer got " << outbound.size() << " of " << kOut;
  auto in_msgs = inbound.messages();
  for (int i = 0; i < kIn && i < static_cast<int>(in_msgs.size()); ++i) {
    EXPECT_EQ(in_msgs[i].data, std::to_string(i));
  }
  auto out_msgs = outbound.messages();
  for (int i = 0; i < kOut; ++i) EXPECT_EQ(out_msgs[i].data, std::to_string(i));
}

// ---------------------------------------------------------------------------------------------
// Volume.

TEST_P(InteropTest, LargePayloads) {
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "large", &sub));

  std::vector<std::string> payloads;
  for (unsigned i = 0; i < 6; ++i) payloads.push_back(Pattern(512 * 1024, i));
  payloads.push_back(Pattern(kDefaultMaxPayload, 99));  // exactly max_payload is allowed
  for (const auto& p : payloads) {
    ASSERT_NATS_OK(
        natsConnection_Publish(pub_nc.get(), "large", p.data(), static_cast<int>(p.size())));
  }
  for (size_t i = 0; i < payloads.size(); ++i) {
    Msg m = Next(sub.get());
    ASSERT_TRUE(m) << "payload " << i;
    ASSERT_EQ(natsMsg_GetDataLength(m.get()), static_cast<int>(payloads[i].size()));
    EXPECT_TRUE(Data(m.get()) == payloads[i]) << "payload " << i << " corrupted";
  }

  // And back through request/reply.
  natsSubscription* rs = nullptr;
  ASSERT_NATS_OK(natsConnection_Subscribe(&rs, sub_nc.get(), "large.svc", EchoResponder, nullptr));
  Sub responder(rs);
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, pub_nc.get(), "large.svc", payloads[0].data(),
                                        static_cast<int>(payloads[0].size()), kWaitMs);
  Msg rep(reply);
  ASSERT_EQ(s, NATS_OK) << Describe(s);
  EXPECT_TRUE(Data(rep.get()) == "echo:" + payloads[0]);
}

TEST_P(InteropTest, ManyMessagesArriveCompleteAndInOrder) {
  constexpr int kCount = 100000;
  Conn sub_nc, pub_nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&sub_nc));
  ASSERT_NO_FATAL_FAILURE(Connect(&pub_nc));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(sub_nc.get(), "many", &sub));
  ASSERT_NATS_OK(natsSubscription_SetPendingLimits(sub.get(), -1, -1));

  for (int i = 0; i < kCount; ++i) {
    const std::string body = std::to_string(i);
    ASSERT_NATS_OK(
        natsConnection_Publish(pub_nc.get(), "many", body.data(), static_cast<int>(body.size())));
  }
  ASSERT_NO_FATAL_FAILURE(Flush(pub_nc.get()));

  int out_of_order = 0;
  for (int i = 0; i < kCount; ++i) {
    natsMsg* m = nullptr;
    natsStatus s = natsSubscription_NextMsg(&m, sub.get(), kWaitMs);
    ASSERT_EQ(s, NATS_OK) << "after " << i << " messages: " << Describe(s);
    Msg holder(m);
    if (Data(m) != std::to_string(i) && ++out_of_order <= 5) {
      ADD_FAILURE() << "message " << i << " has payload '" << Data(m) << "'";
    }
  }
  EXPECT_EQ(out_of_order, 0);
  ASSERT_NO_FATAL_FAILURE(Flush(sub_nc.get()));
  EXPECT_EQ(Queued(sub.get()), 0u);
  int64_t dropped = -1;
  ASSERT_NATS_OK(natsSubscription_GetDropped(sub.get(), &dropped));
  EXPECT_EQ(dropped, 0);
}

// ---------------------------------------------------------------------------------------------
// Authentication.

// The server answers a bad CONNECT with "-ERR 'Authorization Violation'" and closes; libnats
// reports that as NATS_CONNECTION_AUTH_FAILED and keeps the server's text as the last error.
void ExpectAuthorizationViolation(natsStatus s) {
  EXPECT_EQ(s, NATS_CONNECTION_AUTH_FAILED) << Describe(s);
  EXPECT_NE(LastErrorText().find("Authorization Violation"), std::string::npos)
      << "client error text: " << LastErrorText();
}

TEST_P(InteropAuthTest, UserPassword) {
  Start({"--user", "alice", "--pass", "s3cret"});

  Conn good;
  ASSERT_NO_FATAL_FAILURE(Connect(&good, {.user = "alice", .password = "s3cret"}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(good.get(), "auth.ok", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(good.get(), "auth.ok", "in"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "in");

  Conn in_url;
  EXPECT_NATS_OK(TryConnect(
      &in_url, {.url = "nats://alice:s3cret@127.0.0.1:" + std::to_string(server().port())}));

  Conn bad;
  ExpectAuthorizationViolation(TryConnect(&bad, {.user = "alice", .password = "wrong"}));
  EXPECT_FALSE(bad);
  ExpectAuthorizationViolation(TryConnect(&bad, {.user = "mallory", .password = "s3cret"}));
  ExpectAuthorizationViolation(TryConnect(&bad));
  ExpectAuthorizationViolation(TryConnect(&bad, {.token = "s3cret"}));
  EXPECT_FALSE(bad);

  // The accepted connection is unaffected by the refused ones.
  EXPECT_NATS_OK(natsConnection_FlushTimeout(good.get(), kWaitMs));
}

TEST_P(InteropAuthTest, Token) {
  Start({"--auth", "tok3n"});

  Conn good;
  ASSERT_NO_FATAL_FAILURE(Connect(&good, {.token = "tok3n"}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(good.get(), "auth.ok", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(good.get(), "auth.ok", "in"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "in");

  Conn in_url;
  EXPECT_NATS_OK(
      TryConnect(&in_url, {.url = "nats://tok3n@127.0.0.1:" + std::to_string(server().port())}));

  Conn bad;
  ExpectAuthorizationViolation(TryConnect(&bad, {.token = "wrong"}));
  ExpectAuthorizationViolation(TryConnect(&bad));
  ExpectAuthorizationViolation(TryConnect(&bad, {.user = "tok3n", .password = "tok3n"}));
  EXPECT_FALSE(bad);

  EXPECT_NATS_OK(natsConnection_FlushTimeout(good.get(), kWaitMs));
}

// ---------------------------------------------------------------------------------------------
// Users lists, NKEY users and permissions (authorization {} in a config file).

// A file in the temporary directory, removed at destruction.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content) {
    path_ = (std::filesystem::temp_directory_path() /
             ("gannet_interop_" + std::to_string(::getpid()) + "_" + name))
                .string();
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The reference's vectors (server/auth_test.go, config_check_test.go).
constexpr const char* kBcryptHash = "$2a$04$Q.CgCP2Sl9pkcTXEZHazaeMwPaAkSHk7AI51HkyMt5iJQQyUA4qxq";
constexpr const char* kBcryptPassword = "IW@$6v(y1(t@fhPDvf!5^%";
constexpr const char* kSeed = "SUAEL6RU3BSDAFKOHNTEOK5Q6FTM5FTAMWVIKBET6FHPO4JRII3CYELVNM";
constexpr const char* kNkeyUser = "UCARKS2E3KVB7YORL2DG34XLT7PUCOL2SVM7YXV6ETHLW6Z46UUJ2VZ3";

TEST_P(InteropAuthTest, UsersListWithPlainAndBcryptPasswords) {
  TempFile conf("users.conf", std::string("authorization { users = [\n"
                                          "  {user: alice, password: s3cret}\n"
                                          "  {user: bob, password: \"") +
                                  kBcryptHash + "\"}\n] }\n");
  Start({"-c", conf.path()});
  Conn alice;
  ASSERT_NO_FATAL_FAILURE(Connect(&alice, {.user = "alice", .password = "s3cret"}));
  Conn bob;
  ASSERT_NO_FATAL_FAILURE(Connect(&bob, {.user = "bob", .password = kBcryptPassword}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(bob.get(), "users.ok", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(alice.get(), "users.ok", "hi"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "hi");

  Conn bad;
  ExpectAuthorizationViolation(TryConnect(&bad, {.user = "bob", .password = kBcryptHash}));
  ExpectAuthorizationViolation(TryConnect(&bad, {.user = "alice", .password = "nope"}));
  ExpectAuthorizationViolation(TryConnect(&bad));
  EXPECT_FALSE(bad);
}

TEST_P(InteropAuthTest, NkeyUserFromSeedFile) {
  TempFile conf("nkey.conf",
                std::string("authorization { users = [ {nkey: ") + kNkeyUser + "} ] }\n");
  TempFile seed("user.nk", std::string(kSeed) + "\n");
  Start({"-c", conf.path()});
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, {.nkey = kNkeyUser, .nkey_seed_file = seed.path()}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "nkey.ok", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "nkey.ok", "signed"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "signed");

  Conn bad;
  ExpectAuthorizationViolation(TryConnect(&bad));
  EXPECT_FALSE(bad);
}

TEST_P(InteropAuthTest, PermissionViolationReachesTheErrorCallback) {
  TempFile conf("perms.conf",
                "authorization { users = [\n"
                "  {user: alice, password: a, permissions: {publish: \"ok.>\"}}\n"
                "] }\n");
  Start({"-c", conf.path()});
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, {.user = "alice", .password = "a"}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), ">", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "denied", "x"));
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "ok.1", "y"));
  // The connection stays open: the permitted message arrives after the refused one.
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Subject(m.get()), "ok.1");
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));
  for (int i = 0; i < 500 && g_async_errors.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(g_async_errors.exchange(0), 1);
  EXPECT_EQ(LastAsyncError(), natsStatus_GetText(NATS_NOT_PERMITTED));
  const char* text = nullptr;
  natsConnection_GetLastError(nc.get(), &text);
  ASSERT_NE(text, nullptr);
  EXPECT_NE(std::string(text).find("Permissions Violation for Publish to \"denied\""),
            std::string::npos)
      << text;
  EXPECT_FALSE(natsConnection_IsClosed(nc.get()));
}

// Accounts: libnats clients of two accounts share exactly what one exports and the other
// imports — a stream under the importer's prefix, and a service answered across accounts.
TEST_P(InteropAuthTest, AccountsShareOnlyExportsAndImports) {
  TempFile conf("accounts.conf",
                "accounts {\n"
                "  A: { users: [{user: a, password: a}]\n"
                "       exports: [{stream: \"events.>\"}, {service: \"svc.time\"}] }\n"
                "  B: { users: [{user: b, password: b}]\n"
                "       imports: [{stream: {account: A, subject: \"events.>\"}, prefix: \"a\"}\n"
                "                 {service: {account: A, subject: \"svc.time\"}, to: \"time\"}] }\n"
                "  C: { users: [{user: c, password: c}] }\n"
                "}\n");
  Start({"-c", conf.path()});
  Conn a, b, c;
  ASSERT_NO_FATAL_FAILURE(Connect(&a, {.user = "a", .password = "a"}));
  ASSERT_NO_FATAL_FAILURE(Connect(&b, {.user = "b", .password = "b"}));
  ASSERT_NO_FATAL_FAILURE(Connect(&c, {.user = "c", .password = "c"}));

  // The stream: B sees A's events under its prefix; C, which imports nothing, sees nothing.
  Sub b_events, c_all;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(b.get(), "a.events.>", &b_events));
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(c.get(), ">", &c_all));
  ASSERT_NATS_OK(natsConnection_PublishString(a.get(), "events.login", "alice"));
  Msg m = Next(b_events.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Subject(m.get()), "a.events.login");
  EXPECT_EQ(Data(m.get()), "alice");

  // The service: A answers on svc.time; B asks on its own subject `time`. The request tells
  // the responder which account asked (the Nats-Request-Info header).
  struct Responder {
    natsConnection* nc;
    std::mutex mu;
    std::string request_info;
  } responder{a.get(), {}, {}};
  auto on_request = [](natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* r = static_cast<Responder*>(closure);
    const char* info = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Request-Info", &info) == NATS_OK && info) {
      std::lock_guard<std::mutex> lock(r->mu);
      r->request_info = info;
    }
    natsConnection_PublishString(r->nc, natsMsg_GetReply(msg), "12:00");
    natsMsg_Destroy(msg);
  };
  natsSubscription* raw = nullptr;
  ASSERT_NATS_OK(natsConnection_Subscribe(&raw, a.get(), "svc.time", on_request, &responder));
  Sub service(raw);
  ASSERT_NO_FATAL_FAILURE(Flush(a.get()));
  natsMsg* reply = nullptr;
  ASSERT_NATS_OK(natsConnection_RequestString(&reply, b.get(), "time", "now?", kWaitMs));
  Msg reply_holder(reply);
  EXPECT_EQ(Data(reply), "12:00");
  {
    std::lock_guard<std::mutex> lock(responder.mu);
    EXPECT_NE(responder.request_info.find("\"acc\":\"B\""), std::string::npos)
        << responder.request_info;
  }
  // Nothing of A's or B's reached C.
  ASSERT_NO_FATAL_FAILURE(Flush(c.get()));
  EXPECT_EQ(Queued(c_all.get()), 0u);
  // C has no import: the same request finds no responder.
  ASSERT_NATS_OK(natsSubscription_Unsubscribe(c_all.get()));
  natsMsg* none = nullptr;
  natsStatus s = natsConnection_RequestString(&none, c.get(), "time", "now?", kWaitMs);
  EXPECT_EQ(s, NATS_NO_RESPONDERS) << Describe(s);
  natsMsg_Destroy(none);
}

// A config reload (SIGHUP) gives a connected client its new permissions: the official client
// stays connected (no reconnect, no error) and may publish where it could not before.
TEST_P(InteropAuthTest, ReloadAppliesNewPermissionsWithoutReconnecting) {
  TempFile conf("reload.conf",
                "authorization { users = [\n"
                "  {user: alice, password: a, permissions: {publish: \"ok.>\"}}\n"
                "] }\n");
  Start({"-c", conf.path()});
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, {.user = "alice", .password = "a"}));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "more.>", &sub));
  std::ofstream(conf.path()) << "authorization { users = [\n"
                                "  {user: alice, password: a, permissions: {publish: "
                                "[\"ok.>\", \"more.>\"]}}\n"
                                "] }\n";
  server().Signal(SIGHUP);
  auto deadline = Clock::now() + kWait;
  while (server().Output().find("Reloaded server configuration") == std::string::npos) {
    ASSERT_LT(Clock::now(), deadline) << "no reload logged:\n" << server().Output();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the server's log
  }
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "more.1", "now allowed"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "now allowed");
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));
  natsStatistics* raw = nullptr;
  ASSERT_NATS_OK(natsStatistics_Create(&raw));
  Stats stats(raw);
  ASSERT_NATS_OK(natsConnection_GetStats(nc.get(), raw));
  uint64_t reconnects = 1;
  natsStatistics_GetCounts(raw, nullptr, nullptr, nullptr, nullptr, &reconnects);
  EXPECT_EQ(reconnects, 0u);
  EXPECT_EQ(g_async_errors.load(), 0);
  EXPECT_FALSE(natsConnection_IsClosed(nc.get()));
}

// ---------------------------------------------------------------------------------------------
// TLS (tls {} in a config file; certificates made by the test, tests/support/tls_support.h).

std::string TlsConfig(const std::string& extra) {
  const TestCerts& c = Certs();
  return "tls { cert_file: \"" + c.server_cert + "\", key_file: \"" + c.server_key +
         "\", ca_file: \"" + c.ca + "\"\n" + extra + "\n}\n";
}

ConnectOptions Secure() {
  ConnectOptions o;
  o.secure = true;
  o.ca_file = Certs().ca;
  o.expected_hostname = "localhost";
  return o;
}

ConnectOptions SecureWithCert(const std::string& cert, const std::string& key) {
  ConnectOptions o = Secure();
  o.cert_file = cert;
  o.key_file = key;
  return o;
}

TEST_P(InteropAuthTest, TlsWithoutClientCertificate) {
  TempFile conf("tls.conf", TlsConfig(""));
  Start({"-c", conf.path()});
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, Secure()));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), "tls.ok", &sub));
  std::string big = Pattern(300000, 7);
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "tls.ok", "hi"));
  ASSERT_NATS_OK(
      natsConnection_Publish(nc.get(), "tls.ok", big.data(), static_cast<int>(big.size())));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Data(m.get()), "hi");
  Msg m2 = Next(sub.get());
  ASSERT_TRUE(m2);
  EXPECT_EQ(Data(m2.get()), big);
  // A client that does not trust the server's CA gives up.
  Conn bad;
  ConnectOptions other = Secure();
  other.ca_file = Certs().other_ca;
  EXPECT_NE(TryConnect(&bad, other), NATS_OK);
}

TEST_P(InteropAuthTest, TlsVerifyRequiresClientCertificate) {
  TempFile conf("tls-verify.conf", TlsConfig("verify: true"));
  Start({"-c", conf.path()});
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, SecureWithCert(Certs().client_cert, Certs().client_key)));
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));
  Conn none;
  EXPECT_NE(TryConnect(&none, Secure()), NATS_OK);
  EXPECT_FALSE(none);
  Conn other;
  EXPECT_NE(TryConnect(&other, SecureWithCert(Certs().other_cert, Certs().other_key)), NATS_OK);
  EXPECT_FALSE(other);
  // The server kept serving.
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));
}

TEST_P(InteropAuthTest, TlsVerifyAndMapAppliesTheMappedUsersPermissions) {
  TempFile conf("tls-map.conf",
                TlsConfig("verify_and_map: true") +
                    "authorization { users = [\n"
                    "  {user: \"alice@example.com\", permissions: {publish: \"ok.>\"}}\n"
                    "] }\n");
  Start({"-c", conf.path()});
  Conn nc;
  ASSERT_NO_FATAL_FAILURE(Connect(&nc, SecureWithCert(Certs().client_cert, Certs().client_key)));
  Sub sub;
  ASSERT_NO_FATAL_FAILURE(SubscribeSync(nc.get(), ">", &sub));
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "denied", "x"));
  ASSERT_NATS_OK(natsConnection_PublishString(nc.get(), "ok.1", "y"));
  Msg m = Next(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ(Subject(m.get()), "ok.1");
  ASSERT_NO_FATAL_FAILURE(Flush(nc.get()));
  for (int i = 0; i < 500 && g_async_errors.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(g_async_errors.exchange(0), 1);
  EXPECT_EQ(LastAsyncError(), natsStatus_GetText(NATS_NOT_PERMITTED));
  // A certificate naming no configured user is refused.
  TempFile conf2("tls-map2.conf", TlsConfig("verify_and_map: true") +
                                      "authorization { users = [ {user: carol} ] }\n");
  sub.reset();
  nc.reset();
  server().Stop();
  Start({"-c", conf2.path()});
  Conn refused;
  ExpectAuthorizationViolation(
      TryConnect(&refused, SecureWithCert(Certs().client_cert, Certs().client_key)));
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS(InteropTest);
GANNET_INSTANTIATE_FOR_BOTH_SERVERS(InteropAuthTest);

}  // namespace
}  // namespace gannet::test
