// Channels: created on first publish or subscribe (store limits apply), message ages expired on
// a timer (max_age), idle channels deleted (max_inactivity).
#include <cctype>

#include "streaming/log.h"
#include "streaming/server.h"

namespace gannet::streaming {

namespace {
bool SameIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}
}  // namespace

Channel* StreamingServer::LookupChannel(std::string_view name) {
  auto it = channels_.find(name);
  return it == channels_.end() ? nullptr : it->second.get();
}

Channel& StreamingServer::AddChannel(const std::string& name, store::ChannelStore* cs) {
  auto c = std::make_unique<Channel>();
  c->name = name;
  c->store = cs;
  c->limits = store_->GetChannelLimits(name);
  c->next_seq = cs->msgs->LastSequence() + 1;
  if (auto last = cs->msgs->Lookup(cs->msgs->LastSequence()); last && last->found()) {
    c->last_timestamp = last->timestamp;
  }
  c->last_activity = NowNs();
  Channel& ref = *c;
  channels_[name] = std::move(c);
  return ref;
}

Channel* StreamingServer::LookupOrCreateChannel(const std::string& name, std::string* error) {
  if (Channel* c = LookupChannel(name)) return c;
  // Channel names differing only by case would share a directory on a case-insensitive file
  // system: refused.
  for (const auto& [other, c] : channels_) {
    if (SameIgnoringCase(other, name)) {
      *error = "channel \"";
      *error += name;
      *error += "\" differs only by case from existing channel \"";
      *error += other;
      *error += '"';
      return nullptr;
    }
  }
  auto cs = store_->CreateChannel(name);
  if (!cs) {
    *error = cs.status().message();
    return nullptr;
  }
  Channel& c = AddChannel(name, *cs);
  STAN_INFO("Channel \"%s\" has been created", name.c_str());
  MaybeStartDeleteTimer(c);
  return &c;
}

// ---- max_age ----

void StreamingServer::ArmAgeTimer(Channel& c, int64_t at_ns) {
  if (c.age_timer) loop_.CancelTimer(c.age_timer);
  c.age_timer_at = at_ns;
  const int64_t delay = std::max<int64_t>(0, at_ns - NowNs());
  const std::string name = c.name;
  c.age_timer =
      loop_.AddTimer(std::chrono::nanoseconds(delay), [this, name] { ExpireMessages(name); });
}

void StreamingServer::ExpireMessages(const std::string& name) {
  Channel* c = LookupChannel(name);
  if (!c) return;
  if (c->age_timer) loop_.CancelTimer(c->age_timer);
  c->age_timer = 0;
  c->age_timer_at = 0;
  auto next = c->store->msgs->ExpireMessages(NowNs());
  if (!next) {
    STAN_ERROR("Unable to expire messages of channel \"%s\": %s", name.c_str(),
               next.status().message().c_str());
    return;
  }
  if (*next > 0) ArmAgeTimer(*c, *next);
}

// ---- max_inactivity ----

void StreamingServer::MaybeStartDeleteTimer(Channel& c) {
  if (c.limits.max_inactivity.count() <= 0 || c.delete_timer != 0 || c.HasActiveSubs()) return;
  c.last_activity = NowNs();
  const std::string name = c.name;
  c.delete_timer =
      loop_.AddTimer(c.limits.max_inactivity, [this, name] { CheckChannelDelete(name); });
  STAN_DEBUG("Channel \"%s\" delete timer set to fire in %lld ns", name.c_str(),
             static_cast<long long>(c.limits.max_inactivity.count()));
}

void StreamingServer::StopDeleteTimer(Channel& c) {
  if (c.delete_timer == 0) return;
  loop_.CancelTimer(c.delete_timer);
  c.delete_timer = 0;
  STAN_DEBUG("Channel \"%s\" delete timer stopped", c.name.c_str());
}

void StreamingServer::CheckChannelDelete(const std::string& name) {
  Channel* c = LookupChannel(name);
  if (!c) return;
  c->delete_timer = 0;
  if (c->HasActiveSubs()) return;
  const int64_t elapsed = NowNs() - c->last_activity;
  const int64_t max = c->limits.max_inactivity.count();
  if (elapsed < max) {
    // A message came meanwhile: wait for the rest of the period.
    c->delete_timer = loop_.AddTimer(std::chrono::nanoseconds(max - elapsed),
                                     [this, name] { CheckChannelDelete(name); });
    return;
  }
  if (store::Status s = store_->DeleteChannel(name); !s) {
    STAN_ERROR("Error deleting channel \"%s\": %s", name.c_str(), s.message().c_str());
    MaybeStartDeleteTimer(*c);
    return;
  }
  // Offline durables and durable queue shadows go with the channel.
  std::vector<uint64_t> gone;
  for (const auto& [uid, sub] : subs_) {
    if (sub->channel == c) gone.push_back(uid);
  }
  for (uint64_t uid : gone) FreeSubscription(*subs_.at(uid));
  if (c->age_timer) loop_.CancelTimer(c->age_timer);
  channels_.erase(name);
  STAN_INFO("Channel \"%s\" has been deleted", name.c_str());
}

}  // namespace gannet::streaming
