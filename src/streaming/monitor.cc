// The Streaming monitoring endpoints (see monitor.h), and the server's state views they read
// (taken on the loop).
#include "streaming/monitor.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <map>

#include <nlohmann/json.hpp>

#include "base/logger.h"
#include "server/monitor/monitor.h"
#include "server/monitor/monitor_format.h"

#ifndef GANNET_VERSION
#define GANNET_VERSION "0.0.0"
#endif

namespace gannet::streaming {

namespace {

using Json = nlohmann::ordered_json;
constexpr std::chrono::seconds kLoopTimeout{5};
constexpr int kDefaultListLimit = 1024;

int IntParam(const HttpRequest& r, std::string_view key, int def) {
  std::string v = r.Param(key);
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return def;
  return n;
}

// The reference's offset and limit: a negative offset is 0, a limit <= 0 is 1024.
void OffsetLimit(const HttpRequest& r, int& offset, int& limit) {
  offset = std::max(0, IntParam(r, "offset", 0));
  limit = IntParam(r, "limit", 0);
  if (limit <= 0) limit = kDefaultListLimit;
}

Json SubJson(const SubscriptionView& s) {
  Json j;
  j["client_id"] = s.client_id;
  j["inbox"] = s.inbox;
  j["ack_inbox"] = s.ack_inbox;
  if (!s.durable_name.empty()) j["durable_name"] = s.durable_name;
  if (!s.queue_name.empty()) j["queue_name"] = s.queue_name;
  j["is_durable"] = s.is_durable;
  j["is_offline"] = s.is_offline;
  j["max_inflight"] = s.max_inflight;
  j["ack_wait"] = s.ack_wait;
  j["last_sent"] = s.last_sent;
  j["pending_count"] = s.pending_count;
  j["is_stalled"] = s.is_stalled;
  return j;
}

Json ChannelJson(const ChannelView& c, bool subs) {
  Json j;
  j["name"] = c.name;
  j["msgs"] = c.msgs;
  j["bytes"] = c.bytes;
  j["first_seq"] = c.first_seq;
  j["last_seq"] = c.last_seq;
  j["subs_count"] = c.subs.size();
  if (subs && !c.subs.empty()) {
    Json arr = Json::array();
    for (const auto& s : c.subs) arr.push_back(SubJson(s));
    j["subscriptions"] = std::move(arr);
  }
  return j;
}

Json ClientJson(const ClientView& c, bool subs) {
  Json j;
  j["id"] = c.id;
  j["hb_inbox"] = c.hb_inbox;
  if (subs && !c.subs.empty()) {
    // Keyed by channel, as the reference's map[string][]*Subscriptionz.
    std::map<std::string, Json> by_channel;
    for (const auto& s : c.subs) {
      Json& arr = by_channel[s.channel];
      if (arr.is_null()) arr = Json::array();
      arr.push_back(SubJson(s));
    }
    Json m = Json::object();
    for (auto& [name, arr] : by_channel) m[name] = std::move(arr);
    j["subscriptions"] = std::move(m);
  }
  return j;
}

Json LimitsJson(const store::ChannelLimits& l) {
  Json j;
  j["max_msgs"] = l.max_msgs;
  j["max_bytes"] = l.max_bytes;
  j["max_age"] = l.max_age.count();
  j["max_subscriptions"] = l.max_subscriptions;
  j["max_inactivity"] = l.max_inactivity.count();
  return j;
}

void OpenFds(int& open, int& max) {
  open = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++open;
    }
    closedir(d);
    --open;  // the directory itself
  }
  rlimit rl;
  max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? static_cast<int>(rl.rlim_cur) : 0;
}

HttpResponse Busy() { return HttpResponse::Text(503, "streaming server busy: try again\n"); }

std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

// ---- the server's views (on the loop) ----

SubscriptionView StreamingServer::ViewOf(const Subscription& s) const {
  SubscriptionView v;
  v.client_id = s.IsOffline() ? s.saved_client_id : s.state.client_id;
  v.inbox = s.state.inbox;
  v.ack_inbox = s.state.ack_inbox;
  v.durable_name = s.state.durable_name;
  v.queue_name = s.state.q_group;
  v.channel = s.channel->name;
  v.is_durable = s.state.is_durable;
  v.is_offline = s.IsOffline();
  v.is_stalled = s.stalled;
  v.max_inflight = s.state.max_in_flight;
  v.ack_wait = s.state.ack_wait_in_secs;
  v.last_sent = s.state.last_sent;
  v.pending_count = s.pending.size();
  return v;
}

namespace {
void FillChannel(const Channel& c, bool subs, ChannelView& v,
                 const std::function<SubscriptionView(const Subscription&)>& view) {
  v.name = c.name;
  store::MsgStoreState st = c.store->msgs->State();
  v.msgs = st.msgs;
  v.bytes = st.bytes;
  v.first_seq = c.store->msgs->FirstSequence();
  v.last_seq = c.store->msgs->LastSequence();
  // Online plain and durable subscriptions, offline durables, queue members and shadows.
  std::vector<SubscriptionView> all;
  for (const Subscription* s : c.plain_subs) all.push_back(view(*s));
  for (const auto& [key, s] : c.durables) {
    if (s->IsOffline()) all.push_back(view(*s));
  }
  for (const auto& [name, q] : c.queues) {
    for (const Subscription* s : q->members) all.push_back(view(*s));
    if (q->shadow) all.push_back(view(*q->shadow));
  }
  v.subs = std::move(all);
  (void)subs;
}
}  // namespace

std::optional<std::vector<ChannelView>> StreamingServer::Channels(bool subs) {
  auto out = std::make_shared<std::vector<ChannelView>>();
  bool ok = loop_.RunAndWait(
      [this, out, subs] {
        for (const auto& [name, c] : channels_) {
          ChannelView v;
          FillChannel(*c, subs, v, [this](const Subscription& s) { return ViewOf(s); });
          out->push_back(std::move(v));
        }
      },
      kLoopTimeout);
  if (!ok) return std::nullopt;
  std::sort(out->begin(), out->end(),
            [](const ChannelView& a, const ChannelView& b) { return a.name < b.name; });
  return std::move(*out);
}

std::optional<ChannelView> StreamingServer::ChannelInfo(const std::string& name, bool subs,
                                                        bool& found) {
  auto out = std::make_shared<std::optional<ChannelView>>();
  bool ok = loop_.RunAndWait(
      [this, out, name, subs] {
        if (Channel* c = LookupChannel(name)) {
          ChannelView v;
          FillChannel(*c, subs, v, [this](const Subscription& s) { return ViewOf(s); });
          *out = std::move(v);
        }
      },
      kLoopTimeout);
  if (!ok) return std::nullopt;
  found = out->has_value();
  return found ? std::move(**out) : ChannelView{};
}

std::optional<std::vector<ClientView>> StreamingServer::Clients(bool subs) {
  auto out = std::make_shared<std::vector<ClientView>>();
  bool ok = loop_.RunAndWait(
      [this, out, subs] {
        for (const auto& [id, c] : clients_) {
          ClientView v;
          v.id = id;
          v.hb_inbox = c->info.hb_inbox;
          if (subs) {
            for (const Subscription* s : c->subs) v.subs.push_back(ViewOf(*s));
          }
          out->push_back(std::move(v));
        }
      },
      kLoopTimeout);
  if (!ok) return std::nullopt;
  std::sort(out->begin(), out->end(),
            [](const ClientView& a, const ClientView& b) { return a.id < b.id; });
  return std::move(*out);
}

std::optional<ClientView> StreamingServer::ClientInfo(const std::string& id, bool subs,
                                                      bool& found) {
  auto out = std::make_shared<std::optional<ClientView>>();
  bool ok = loop_.RunAndWait(
      [this, out, id, subs] {
        if (Client* c = LookupClient(id)) {
          ClientView v;
          v.id = id;
          v.hb_inbox = c->info.hb_inbox;
          if (subs) {
            for (const Subscription* s : c->subs) v.subs.push_back(ViewOf(*s));
          }
          *out = std::move(v);
        }
      },
      kLoopTimeout);
  if (!ok) return std::nullopt;
  found = out->has_value();
  return found ? std::move(**out) : ClientView{};
}

// ---- HTTP ----

HttpResponse StreamingMonitor::Handle(const HttpRequest& r) {
  const std::string& p = r.path;
  // As the reference: 200 from the active server of an FT group, 204 from any other.
  if (p == "/streaming/isFTActive") {
    HttpResponse resp;
    resp.status = server_.ft_active() && server_.running() ? 200 : 204;
    resp.content_type = "text/plain; charset=utf-8";
    return resp;
  }
  if (!server_.running()) return Busy();
  if (p == "/streaming" || p == "/streaming/") return Root();
  if (p == "/streaming/serverz") return Serverz(r);
  if (p == "/streaming/storez") return Storez(r);
  if (p == "/streaming/clientsz") return Clientsz(r);
  if (p == "/streaming/channelsz") return Channelsz(r);
  return HttpResponse::Text(404, "404 page not found\n");
}

HttpResponse StreamingMonitor::Root() {
  HttpResponse resp;
  resp.content_type = "text/html; charset=utf-8";
  resp.body =
      "<html lang=\"en\">\n<head><title>gannet-streaming</title></head>\n<body>\n"
      "<a href=/streaming/serverz>server</a><br/>\n"
      "<a href=/streaming/storez>store</a><br/>\n"
      "<a href=/streaming/clientsz>clients</a><br/>\n"
      "<a href=/streaming/channelsz>channels</a><br/>\n</body>\n</html>\n";
  return resp;
}

HttpResponse StreamingMonitor::Serverz(const HttpRequest& r) {
  auto v = server_.Server();
  if (!v) return Busy();
  auto now = std::chrono::system_clock::now();
  int open_fds = 0, max_fds = 0;
  OpenFds(open_fds, max_fds);
  const auto& st = server_.stats();
  Json j;
  j["cluster_id"] = server_.cluster_id();
  j["server_id"] = server_.server_id();
  j["version"] = kCompatibleStreamingVersion;
  j["go"] = std::string("gannet-streaming ") + GANNET_VERSION;
  if (server_.clustered()) {
    // The reference's clustered serverz: state CLUSTERED, the node's Raft role and id.
    j["state"] = "CLUSTERED";
    j["role"] = server_.cluster_leader() ? "Leader" : "Follower";
    j["node_id"] = server_.options().cluster.node_id;
  } else {
    j["state"] = server_.state_name();
  }
  j["now"] = FormatRfc3339Nano(now);
  j["start_time"] = FormatRfc3339Nano(server_.start_time());
  j["uptime"] = FormatUptime(now - server_.start_time());
  j["clients"] = v->clients;
  j["subscriptions"] = v->subscriptions;
  j["channels"] = v->channels;
  j["total_msgs"] = v->total_msgs;
  j["total_bytes"] = v->total_bytes;
  j["in_msgs"] = st.in_msgs.load();
  j["in_bytes"] = st.in_bytes.load();
  j["out_msgs"] = st.out_msgs.load();
  j["out_bytes"] = st.out_bytes.load();
  if (open_fds > 0) j["open_fds"] = open_fds;
  if (max_fds > 0) j["max_fds"] = max_fds;
  return JsonResponse(r, j);
}

HttpResponse StreamingMonitor::Storez(const HttpRequest& r) {
  auto v = server_.Server();
  if (!v) return Busy();
  const store::StoreLimits& l = server_.options().store.limits;
  Json limits;
  limits["max_channels"] = l.max_channels;
  const Json global = LimitsJson(l.global);
  for (auto it = global.begin(); it != global.end(); ++it) limits[it.key()] = it.value();
  if (!l.per_channel.empty()) {
    Json chans;
    for (const auto& [name, cl] : l.per_channel) chans[name] = LimitsJson(cl);
    limits["channels"] = std::move(chans);
  }
  Json j;
  j["cluster_id"] = server_.cluster_id();
  j["server_id"] = server_.server_id();
  j["now"] = FormatRfc3339Nano(std::chrono::system_clock::now());
  j["type"] = std::string(server_.store_name());
  j["limits"] = std::move(limits);
  j["total_msgs"] = v->total_msgs;
  j["total_bytes"] = v->total_bytes;
  return JsonResponse(r, j);
}

HttpResponse StreamingMonitor::Clientsz(const HttpRequest& r) {
  const bool subs = IntParam(r, "subs", 0) == 1;
  const std::string one = r.Param("client");
  if (!one.empty()) {
    bool found = false;
    auto c = server_.ClientInfo(one, subs, found);
    if (!c) return Busy();
    if (!found) return HttpResponse::Text(404, "Client " + one + " not found\n");
    return JsonResponse(r, ClientJson(*c, subs));
  }
  int offset = 0, limit = 0;
  OffsetLimit(r, offset, limit);
  auto all = server_.Clients(subs);
  if (!all) return Busy();
  const int total = static_cast<int>(all->size());
  const int lo = std::min(offset, total), hi = std::min(offset + limit, total);
  Json arr = Json::array();
  for (int i = lo; i < hi; ++i) arr.push_back(ClientJson((*all)[static_cast<size_t>(i)], subs));
  Json j;
  j["cluster_id"] = server_.cluster_id();
  j["server_id"] = server_.server_id();
  j["now"] = FormatRfc3339Nano(std::chrono::system_clock::now());
  j["offset"] = offset;
  j["limit"] = limit;
  j["count"] = hi - lo;
  j["total"] = total;
  j["clients"] = std::move(arr);
  return JsonResponse(r, j);
}

HttpResponse StreamingMonitor::Channelsz(const HttpRequest& r) {
  const bool subs = IntParam(r, "subs", 0) == 1;
  const std::string one = r.Param("channel");
  if (!one.empty()) {
    bool found = false;
    auto c = server_.ChannelInfo(one, subs, found);
    if (!c) return Busy();
    if (!found) return HttpResponse::Text(404, "Channel " + one + " not found\n");
    return JsonResponse(r, ChannelJson(*c, subs));
  }
  int offset = 0, limit = 0;
  OffsetLimit(r, offset, limit);
  auto all = server_.Channels(subs);
  if (!all) return Busy();
  const int total = static_cast<int>(all->size());
  const int lo = std::min(offset, total), hi = std::min(offset + limit, total);
  Json j;
  j["cluster_id"] = server_.cluster_id();
  j["server_id"] = server_.server_id();
  j["now"] = FormatRfc3339Nano(std::chrono::system_clock::now());
  j["offset"] = offset;
  j["limit"] = limit;
  j["count"] = hi - lo;
  j["total"] = total;
  if (subs) {
    Json arr = Json::array();
    for (int i = lo; i < hi; ++i) arr.push_back(ChannelJson((*all)[static_cast<size_t>(i)], true));
    if (!arr.empty()) j["channels"] = std::move(arr);
  } else {
    Json names = Json::array();
    for (int i = lo; i < hi; ++i) names.push_back((*all)[static_cast<size_t>(i)].name);
    if (!names.empty()) j["names"] = std::move(names);
  }
  return JsonResponse(r, j);
}

std::string StreamingMonitor::Metrics() {
  if (!server_.running()) return {};
  auto v = server_.Server();
  auto chans = server_.Channels(true);
  if (!v || !chans) return {};
  std::string out;
  auto metric = [&](const char* name, const char* help, const char* type, double value,
                    const std::string& labels = {}) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += labels;
    out += ' ';
    out += std::to_string(static_cast<long long>(value));
    out += '\n';
  };
  const std::string server_label = "{server_id=\"" + Label(server_.server_id()) + "\"}";
  const auto& st = server_.stats();
  metric("nss_server_clients", "Streaming clients connected", "gauge", double(v->clients),
         server_label);
  metric("nss_server_subscriptions", "Streaming subscriptions", "gauge", double(v->subscriptions),
         server_label);
  metric("nss_server_channels", "Streaming channels", "gauge", double(v->channels), server_label);
  metric("nss_server_total_msgs", "Messages stored in all channels", "gauge", double(v->total_msgs),
         server_label);
  metric("nss_server_total_bytes", "Bytes stored in all channels", "gauge", double(v->total_bytes),
         server_label);
  metric("nss_server_in_msgs", "Messages published", "counter", double(st.in_msgs.load()),
         server_label);
  metric("nss_server_out_msgs", "Messages delivered", "counter", double(st.out_msgs.load()),
         server_label);
  // Per channel, one HELP/TYPE and a sample per channel.
  auto per_channel = [&](const char* name, const char* help, const char* type, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    for (const ChannelView& c : *chans) {
      out += std::string(name) + "{channel=\"" + Label(c.name) + "\"} " + std::to_string(value(c)) +
             "\n";
    }
  };
  per_channel("nss_chan_msgs_total", "Messages stored in the channel", "gauge",
              [](const ChannelView& c) { return c.msgs; });
  per_channel("nss_chan_bytes_total", "Bytes stored in the channel", "gauge",
              [](const ChannelView& c) { return c.bytes; });
  per_channel("nss_chan_last_seq", "Last sequence of the channel", "gauge",
              [](const ChannelView& c) { return c.last_seq; });
  per_channel("nss_chan_subs_count", "Subscriptions on the channel", "gauge",
              [](const ChannelView& c) { return c.subs.size(); });
  per_channel("nss_chan_subs_pending_count", "Messages sent and not acknowledged", "gauge",
              [](const ChannelView& c) {
                size_t n = 0;
                for (const auto& s : c.subs) n += s.pending_count;
                return n;
              });
  per_channel("nss_chan_subs_stalled", "Stalled subscriptions on the channel", "gauge",
              [](const ChannelView& c) {
                size_t n = 0;
                for (const auto& s : c.subs) n += s.is_stalled;
                return n;
              });
  return out;
}

std::string StreamingMonitor::StartHttp(const std::string& host, int port) {
  http_ = std::make_unique<HttpServer>([this](const HttpRequest& r) { return Handle(r); });
  std::string err = http_->Start(host, port);
  if (!err.empty()) {
    http_.reset();
    return err;
  }
  LOG_INFO("Starting http monitor on %s:%d", host.c_str(), http_->port());
  return {};
}

void StreamingMonitor::Stop() {
  if (http_) http_->Stop();
}

}  // namespace gannet::streaming
