// The code protoc-gen-gannet-nrpc generates from nrpc_test.proto, served and called over
// gannet-server and nats-server. The wire checks use bytes written out by hand from the
// protobuf encoding and nRPC's rules (nrpc.go: an error reply is 0x00 then the nrpc.Error), not
// from our own encoder, and the subjects are those nRPC's Go generator makes for the same options.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client_test_util.h"
#include "nrpc.pb.h"
#include "nrpc_test.nrpc.h"
#include "server_test.h"

namespace gannet::test {
namespace {

using client::Connection;
using client::Status;
using nrpc_test::Text;

Text MakeText(std::string s) {
  Text t;
  t.set_text(std::move(s));
  return t;
}

// A latch the timeout test's handler waits on (the test opens it once the caller gave up).
class Latch {
 public:
  void Open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait(std::chrono::milliseconds d) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, d, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class EchoImpl : public nrpc_test::EchoServer {
 public:
  nrpc::Result<Text> Say(const nrpc::Request& call, const Text& request) override {
    {
      std::lock_guard lk(mu);  // read by the test's thread: no socket is a happens-before to TSan
      last_instance = std::string(call.package_param("instance"));
    }
    if (request.text() == "refuse") {
      return nrpc::Error{nrpc::Error::Type::kClient, "refused: " + request.text(), 0};
    }
    if (request.text() == "throw") throw std::runtime_error("the handler threw");
    if (request.text() == "throw-bytes") throw std::runtime_error("bad \xff byte");
    if (request.text() == "slow") {
      entered.Open();
      release.Wait(std::chrono::seconds(10));
    }
    return MakeText("echo " + request.text());
  }
  nrpc::Result<::nrpc::Void> Nothing(const nrpc::Request&, const Text& request) override {
    ++nothing_calls;
    return ::nrpc::Void();
  }

  nrpc::Result<bool> Stream(const nrpc::Request&, const Text& request,
                            const nrpc::Push<Text>& push) override {
    if (request.text() == "three") {
      for (const char* t : {"1", "2", "3"}) push(MakeText(t));
      return true;
    }
    if (request.text() == "fail") {
      push(MakeText("1"));
      return nrpc::Error{nrpc::Error::Type::kClient, "stopped", 0};
    }
    if (request.text() == "wait") {  // until the test has seen keep-alives go by
      stream_release.Wait(std::chrono::seconds(20));
      push(MakeText("late"));
      return true;
    }
    // "forever": a reply every 10 ms until the caller cancels.
    while (push(MakeText("tick"))) {
      if (stream_release.Wait(std::chrono::milliseconds(10))) break;
    }
    stream_cancelled.Open();
    return true;
  }

  std::mutex mu;
  std::string last_instance;
  std::atomic<int> nothing_calls{0};
  Latch entered, release, stream_release, stream_cancelled;
};

class ParamsImpl : public nrpc_test::ParamsServer {
 public:
  nrpc::Result<Text> WithParams(const nrpc::Request& call, const std::string& mp1,
                                const std::string& mp2) override {
    return MakeText(std::string(call.package_param("instance")) + "/" +
                    std::string(call.service_param("clientid")) + "/" + mp1 + "/" + mp2 + "/" +
                    std::string(call.method_param("mp2")));
  }
  void Notify(const nrpc::Request& call, const Text& request) override {
    std::lock_guard lk(mu);
    notified = std::string(call.service_param("clientid")) + ":" + request.text();
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::string notified;
};

class NrpcTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerProcess& s = Start();
    std::string url = "nats://127.0.0.1:" + std::to_string(s.port());
    auto a = Connection::Connect(url);
    auto b = Connection::Connect(url);
    ASSERT_TRUE(a.ok()) << a.error();
    ASSERT_TRUE(b.ok()) << b.error();
    server_nc_ = std::move(*a);
    client_nc_ = std::move(*b);
  }
  void TearDown() override {
    echo_handler_.reset();
    params_handler_.reset();
    client_nc_.Close();
    server_nc_.Close();
    ServerTest::TearDown();
  }
  void Serve() {
    echo_handler_ = std::make_unique<nrpc_test::EchoHandler>(server_nc_, echo_);
    params_handler_ = std::make_unique<nrpc_test::ParamsHandler>(server_nc_, params_);
    ASSERT_EQ(echo_handler_->Subscribe(), Status::kOk);
    ASSERT_EQ(params_handler_->Subscribe(), Status::kOk);
    ASSERT_EQ(server_nc_.Flush(), Status::kOk);
  }
  // A raw request, as any NATS client would make it: the reply's bytes.
  std::string RawRequest(const std::string& subject, std::string_view data) {
    auto m = client_nc_.Request(subject, data, std::chrono::seconds(5));
    if (!m.ok()) Fail("raw request on " + subject + ": " + m.error());
    return std::string(m->data());
  }

  Connection server_nc_, client_nc_;
  EchoImpl echo_;
  ParamsImpl params_;
  std::unique_ptr<nrpc_test::EchoHandler> echo_handler_;
  std::unique_ptr<nrpc_test::ParamsHandler> params_handler_;
};

// nRPC's Go generator, for these options, subscribes to "root.*.custom.>"-style wildcards and
// calls "<pkg subject>.<pkg params>.<service subject>.<service params>.<method>.<method params>".
TEST(NrpcSubjects, AreThoseOfNrpc) {
  EXPECT_EQ(nrpc_test::EchoHandler::Subject(), "root.*.echo_svc.>");
  EXPECT_EQ(nrpc_test::ParamsHandler::Subject(), "root.*.params.*.>");
  Connection unconnected;
  nrpc_test::EchoClient echo(unconnected, "i1");
  EXPECT_EQ(echo.SaySubject(), "root.i1.echo_svc.say_it");       // methodSubject
  EXPECT_EQ(echo.NothingSubject(), "root.i1.echo_svc.nothing");  // methodSubjectRule TOLOWER
  nrpc_test::ParamsClient params(unconnected, "i1", "c7");
  EXPECT_EQ(params.WithParamsSubject("a", "b"), "root.i1.params.c7.withparams.a.b");
  EXPECT_EQ(params.NotifySubject(), "root.i1.params.c7.notify");
}

TEST(NrpcSubjects, ParseAsNrpcDoes) {
  std::string why;
  auto p =
      nrpc::ParseSubject("root", 1, "params", 1, "root.i1.params.c7.withparams.a.b.json", &why);
  ASSERT_TRUE(p.has_value()) << why;
  EXPECT_EQ(p->package_params, std::vector<std::string>{"i1"});
  EXPECT_EQ(p->service_params, std::vector<std::string>{"c7"});
  EXPECT_EQ(p->method, "withparams");
  std::vector<std::string> params;
  std::string encoding;
  ASSERT_TRUE(nrpc::ParseSubjectTail(2, p->tail, &params, &encoding, &why)) << why;
  EXPECT_EQ(params, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(encoding, "json");
  EXPECT_FALSE(nrpc::ParseSubjectTail(2, {"a"}, &params, &encoding, &why));
  EXPECT_EQ(why, "Invalid subject tail length. Expects 2 or 3 parts, got 1");
  EXPECT_FALSE(nrpc::ParseSubject("root", 1, "params", 1, "other.i1.params.c7.m", &why));
  EXPECT_EQ(why, "Invalid subject prefix. Expected 'root', got 'other'");
  EXPECT_FALSE(nrpc::ParseSubject("root", 1, "params", 1, "root.i1.params", &why));
}

TEST_P(NrpcTest, CallsCarryTheirParameters) {
  Serve();
  nrpc_test::EchoClient echo(client_nc_, "i1");
  auto r = echo.Say(MakeText("hi"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->text(), "echo hi");
  {
    std::lock_guard lk(echo_.mu);
    EXPECT_EQ(echo_.last_instance, "i1");
  }

  nrpc_test::ParamsClient params(client_nc_, "i2", "c7");
  auto p = params.WithParams("a", "b");
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->text(), "i2/c7/a/b/b");

  auto v = echo.Nothing(MakeText("x"));
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(echo_.nothing_calls.load(), 1);
}

TEST_P(NrpcTest, HandlerErrorsReachTheCallerAsNrpcErrors) {
  Serve();
  nrpc_test::EchoClient echo(client_nc_, "i1");
  auto refused = echo.Say(MakeText("refuse"));
  ASSERT_TRUE(refused.is_rpc_error()) << refused.error();
  EXPECT_EQ(refused.status(), Status::kOk);  // the server did answer
  EXPECT_EQ(refused.rpc_error().type, nrpc::Error::Type::kClient);
  EXPECT_EQ(refused.rpc_error().message, "refused: refuse");
  EXPECT_EQ(refused.error(), "CLIENT error: refused: refuse");

  auto threw = echo.Say(MakeText("throw"));
  ASSERT_TRUE(threw.is_rpc_error());
  EXPECT_EQ(threw.rpc_error().type, nrpc::Error::Type::kServer);
  EXPECT_EQ(threw.rpc_error().message, "the handler threw");
}

TEST_P(NrpcTest, ACallTimesOutAndNobodyListeningIsNoResponders) {
  nrpc_test::EchoClient echo(client_nc_, "i1");
  echo.timeout = std::chrono::milliseconds(200);
  auto none = echo.Say(MakeText("hi"));
  EXPECT_FALSE(none.is_rpc_error());
  EXPECT_EQ(none.status(), Status::kNoResponders);

  Serve();
  auto slow = echo.Say(MakeText("slow"));  // the handler waits for the latch
  EXPECT_FALSE(slow.is_rpc_error());
  EXPECT_EQ(slow.status(), Status::kTimeout);
  EXPECT_TRUE(echo_.entered.Wait(std::chrono::seconds(5)));
  echo_.release.Open();
  // The late answer goes nowhere; the next call is answered.
  echo.timeout = std::chrono::seconds(5);
  auto next = echo.Say(MakeText("again"));
  ASSERT_TRUE(next.ok()) << next.error();
  EXPECT_EQ(next->text(), "echo again");
}

TEST_P(NrpcTest, NoReplyMethodsArePublished) {
  Serve();
  nrpc_test::ParamsClient params(client_nc_, "i1", "c9");
  ASSERT_EQ(params.Notify(MakeText("ping")), Status::kOk);
  std::unique_lock lk(params_.mu);
  EXPECT_TRUE(
      params_.cv.wait_for(lk, std::chrono::seconds(10), [&] { return !params_.notified.empty(); }));
  EXPECT_EQ(params_.notified, "c9:ping");
}

// The wire, from bytes written by hand: a request as nRPC's Go client encodes it, the reply
// and the error replies as nRPC's Go handler encodes them.
TEST_P(NrpcTest, WireFormatIsNrpcs) {
  Serve();
  // Text{text: "abc"}: field 1, length-delimited.
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it", std::string("\x0a\x03"
                                                              "abc",
                                                              5)),
            std::string("\x0a\x08"
                        "echo abc",
                        10));
  // Error{type: CLIENT (0, not encoded), message}: 0x00, then field 2.
  const std::string unknown = "unknown name: nosuch";
  EXPECT_EQ(RawRequest("root.i1.echo_svc.nosuch", ""),
            std::string("\x00\x12", 2) + static_cast<char>(unknown.size()) + unknown);
  const std::string refused = "refused: refuse";
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it", std::string("\x0a\x06"
                                                              "refuse",
                                                              8)),
            std::string("\x00\x12", 2) + static_cast<char>(refused.size()) + refused);
  // Error{type: SERVER (1), message}.
  const std::string threw = "the handler threw";
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it", std::string("\x0a\x05"
                                                              "throw",
                                                              7)),
            std::string("\x00\x08\x01\x12", 4) + static_cast<char>(threw.size()) + threw);
  // Bytes that are no Text: a CLIENT error "bad request received: ...".
  std::string bad = RawRequest("root.i1.echo_svc.say_it", "\xff\xff\xff");
  ::nrpc::Error e;
  ASSERT_FALSE(bad.empty());
  EXPECT_EQ(bad[0], '\0');
  ASSERT_TRUE(e.ParseFromString(bad.substr(1)));
  EXPECT_EQ(e.type(), ::nrpc::Error::CLIENT);
  EXPECT_EQ(e.message().rfind("bad request received: ", 0), 0u) << e.message();
  // An encoding nRPC does not define: a CLIENT error (in protobuf).
  std::string xml = RawRequest("root.i1.echo_svc.say_it.xml", "<text/>");
  ASSERT_FALSE(xml.empty());
  ASSERT_TRUE(e.ParseFromString(xml.substr(1)));
  EXPECT_EQ(e.message(), "bad request received: Invalid encoding: xml");
}

// The json encoding (a ".json" suffix), as Go's encoding/json reads and writes nRPC's structs:
// the .proto's field names, zero values left out, unknown fields ignored, errors in
// {"__error__": ...} with the type as a number.
TEST_P(NrpcTest, JsonEncodingIsNrpcs) {
  Serve();
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it.json", R"({"text":"abc","extra":1})"),
            R"({"text":"echo abc"})");
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it.json", R"({"text":"refuse"})"),
            R"({"__error__":{"message":"refused: refuse"}})");
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it.json", R"({"text":"throw"})"),
            R"({"__error__":{"message":"the handler threw","type":1}})");
  // An error text that is not UTF-8 still makes valid JSON (U+FFFD for the bad byte).
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it.json", R"({"text":"throw-bytes"})"),
            R"({"__error__":{"message":"bad )"
            "\xef\xbf\xbd"
            R"( byte","type":1}})");
  EXPECT_EQ(RawRequest("root.i1.echo_svc.say_it.json", "not json"),
            R"({"__error__":{"message":"bad request received: not a valid )"
            R"(gannet.nrpc_test.Text in json"}})");

  // The generated client in json: calls, errors, a streamed reply (heartbeats in json too).
  nrpc_test::EchoClient echo(client_nc_, "i1");
  echo.encoding = std::string(nrpc::kJson);
  auto r = echo.Say(MakeText("j"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->text(), "echo j");
  auto refused = echo.Say(MakeText("refuse"));
  ASSERT_TRUE(refused.is_rpc_error());
  EXPECT_EQ(refused.rpc_error().message, "refused: refuse");
  std::vector<std::string> got;
  auto three = echo.Stream(MakeText("three"), [&](const Text& t) { got.push_back(t.text()); });
  ASSERT_TRUE(three.ok()) << three.error();
  EXPECT_EQ(*three, 3u);
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3"}));
  auto v = echo.Nothing(MakeText("x"));
  ASSERT_TRUE(v.ok()) << v.error();
}

// A json error reply as nRPC's Go server writes it, decoded by the generated client.
TEST_P(NrpcTest, ClientDecodesNrpcJsonErrors) {
  auto sub = server_nc_.Subscribe("root.i1.echo_svc.say_it.json", [this](client::Message& m) {
    server_nc_.Respond(m, R"({"__error__":{"type":1,"message":"boom"}})");
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(server_nc_.Flush(), Status::kOk);
  nrpc_test::EchoClient echo(client_nc_, "i1");
  echo.encoding = std::string(nrpc::kJson);
  auto err = echo.Say(MakeText("e"));
  ASSERT_TRUE(err.is_rpc_error()) << err.error();
  EXPECT_EQ(err.rpc_error().type, nrpc::Error::Type::kServer);
  EXPECT_EQ(err.rpc_error().message, "boom");
}

// The other way: a reply and an error reply from an nRPC server, as bytes, reach the generated
// client decoded.
TEST_P(NrpcTest, ClientDecodesNrpcReplies) {
  auto sub = server_nc_.Subscribe("root.i1.echo_svc.say_it", [this](client::Message& m) {
    if (m.data() == std::string_view("\x0a\x01"
                                     "e",
                                     3)) {
      server_nc_.Respond(m, std::string("\x00\x08\x01\x12\x04"
                                        "boom",
                                        9));  // SERVER "boom"
    } else {
      server_nc_.Respond(m, std::string("\x0a\x02"
                                        "ok",
                                        4));
    }
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(server_nc_.Flush(), Status::kOk);
  nrpc_test::EchoClient echo(client_nc_, "i1");
  auto ok = echo.Say(MakeText("x"));
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->text(), "ok");
  auto err = echo.Say(MakeText("e"));
  ASSERT_TRUE(err.is_rpc_error());
  EXPECT_EQ(err.rpc_error().type, nrpc::Error::Type::kServer);
  EXPECT_EQ(err.rpc_error().message, "boom");
}

TEST_P(NrpcTest, StreamedRepliesEndWithTheirCount) {
  Serve();
  nrpc_test::EchoClient echo(client_nc_, "i1");
  std::vector<std::string> got;
  auto three = echo.Stream(MakeText("three"), [&](const Text& t) { got.push_back(t.text()); });
  ASSERT_TRUE(three.ok()) << three.error();
  EXPECT_EQ(*three, 3u);
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3"}));

  got.clear();
  auto failed = echo.Stream(MakeText("fail"), [&](const Text& t) { got.push_back(t.text()); });
  ASSERT_TRUE(failed.is_rpc_error()) << failed.error();
  EXPECT_EQ(failed.rpc_error().message, "stopped");
  EXPECT_EQ(got, std::vector<std::string>{"1"});
}

// A streamed call outlives its timeout while the server's keep-alives (a 0x00 byte every
// second) arrive: a spy on the inboxes counts them before the server replies.
TEST_P(NrpcTest, KeepAlivesHoldAStreamedCallOpen) {
  Serve();
  auto keep_alives = std::make_shared<Counter>();  // shared with the spy's callback
  auto spy = server_nc_.Subscribe("_INBOX.>", [keep_alives](client::Message& m) {
    if (m.data() == std::string_view("\0", 1)) keep_alives->Add();
  });
  ASSERT_TRUE(spy.ok());
  ASSERT_EQ(server_nc_.Flush(), Status::kOk);
  std::thread opener([&] {
    keep_alives->WaitFor(2, std::chrono::seconds(10));
    echo_.stream_release.Open();
  });
  nrpc_test::EchoClient echo(client_nc_, "i1");
  echo.timeout = std::chrono::milliseconds(1800);  // keep-alives come every second
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> got;
  auto r = echo.Stream(MakeText("wait"), [&](const Text& t) { got.push_back(t.text()); });
  const auto took = std::chrono::steady_clock::now() - start;
  opener.join();
  spy->Unsubscribe();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(got, std::vector<std::string>{"late"});
  EXPECT_GE(keep_alives->value(), 2);
  EXPECT_GT(took, echo.timeout);
}

// nRPC's cancellation, from hand-written bytes: HeartBeat{lastbeat: true} on
// <inbox>.heartbeat stops the server's stream, which ends with EOS and the count it sent.
TEST_P(NrpcTest, ALastbeatCancelsAStreamedReply) {
  Serve();
  const std::string inbox = client_nc_.NewInbox();
  auto sub = client_nc_.SubscribeSync(inbox);
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(client_nc_.Publish("root.i1.echo_svc.stream",
                               std::string("\x0a\x07"
                                           "forever",
                                           9),
                               inbox),
            Status::kOk);
  auto first = sub->NextMessage(std::chrono::seconds(10));
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ(first->data(), std::string_view("\x0a\x04"
                                            "tick",
                                            6));
  ASSERT_EQ(client_nc_.Publish(inbox + ".heartbeat", std::string("\x08\x01", 2)), Status::kOk);
  EXPECT_TRUE(echo_.stream_cancelled.Wait(std::chrono::seconds(10)));
  uint32_t replies = 1;
  for (;;) {
    auto m = sub->NextMessage(std::chrono::seconds(10));
    ASSERT_TRUE(m.ok()) << m.error();
    std::string_view d = m->data();
    if (d == std::string_view("\0", 1)) continue;  // a keep-alive
    if (!d.empty() && d[0] == '\0') {
      ::nrpc::Error e;
      ASSERT_TRUE(e.ParseFromArray(d.data() + 1, static_cast<int>(d.size() - 1)));
      EXPECT_EQ(e.type(), ::nrpc::Error::EOS);
      EXPECT_EQ(e.msgcount(), replies);
      break;
    }
    ++replies;
  }
}

TEST_P(NrpcTest, NoRequestStreamsArePublishedAndSubscribed) {
  Serve();
  nrpc_test::EchoClient echo(client_nc_, "i1");
  EXPECT_EQ(echo.TicksSubject(), "root.i1.echo_svc.ticks");
  Counter got;
  std::string text;
  auto sub = echo.TicksSubscribe([&](const Text& t) {
    text = t.text();
    got.Add();
  });
  ASSERT_TRUE(sub.ok());
  ASSERT_EQ(client_nc_.Flush(), Status::kOk);
  ASSERT_EQ(echo_handler_->TicksPublish("i1", MakeText("tock")), Status::kOk);
  ASSERT_TRUE(got.WaitFor(1));
  EXPECT_EQ(text, "tock");
  // Another instance's stream is another subject.
  ASSERT_EQ(echo_handler_->TicksPublish("i2", MakeText("other")), Status::kOk);
  ASSERT_EQ(echo_handler_->TicksPublish("i1", MakeText("again")), Status::kOk);
  ASSERT_TRUE(got.WaitFor(2));
  EXPECT_EQ(text, "again");
  sub->Unsubscribe();  // before got and text go
}

GANNET_INSTANTIATE_FOR_BOTH_SERVERS_SANITIZED(NrpcTest);

}  // namespace
}  // namespace gannet::test
