// Publishing: a PubMsg checked, given its channel's next sequence and a timestamp, stored; then,
// once per batch, the store flushed (group commit), the new messages delivered and the PubAcks
// sent (StreamingServer::HandlePublish, Commit).
#include <google/protobuf/io/coded_stream.h>

#include <algorithm>

#include "streaming/log.h"
#include "streaming/proto/records.pb.h"
#include "streaming/server.h"
#include "streaming/store/limits.h"
#include "streaming/store/records.h"
#include "streaming/wire.h"

namespace gannet::streaming {

namespace {

// PubAck{guid, error} encoded straight into `out` (field 1 and 2, both strings).
void AppendPubAck(std::string& out, std::string_view guid, std::string_view error) {
  auto field = [&](uint8_t tag, std::string_view s) {
    if (s.empty()) return;
    uint8_t buf[8];
    uint8_t* p = buf;
    *p++ = tag;
    p = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
        static_cast<uint32_t>(s.size()), p);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(p - buf));
    out.append(s);
  };
  field((1 << 3) | 2, guid);
  field((2 << 3) | 2, error);
}

}  // namespace

void StreamingServer::SendPublishError(std::string_view reply, std::string_view guid,
                                       std::string_view error) {
  out_.clear();
  AppendPubAck(out_, guid, error);
  link_.PublishNow(reply, out_);
}

void StreamingServer::HandlePublish(const client::Message& m) {
  PubMsgView pm;
  std::string_view data = m.data();
  if (!ParsePubMsg(data, pm, pub_scratch_)) {
    // Older servers sent control messages on the publish subject: a valid one is ignored.
    spb::CtrlMsg ctrl;
    if (ctrl.ParseFromArray(data.data(), static_cast<int>(data.size()))) return;
    pm = PubMsgView{};
  }
  auto text = [](std::string_view v) { return std::string(v); };
  if (pm.guid.empty() || !store::IsChannelNameValid(pm.subject, false) ||
      !ValidPublisher(pm.client_id, pm.conn_id)) {
    STAN_ERROR("Received invalid client publish message {ClientID:%s Guid:%s Subject:%s}",
               text(pm.client_id).c_str(), text(pm.guid).c_str(), text(pm.subject).c_str());
    SendPublishError(m.reply(), pm.guid, errors::kInvalidPubReq);
    return;
  }
  Channel* c = LookupChannel(pm.subject);
  if (!c) {
    std::string error;
    c = LookupOrCreateChannel(std::string(pm.subject), &error);
    if (!c) {
      STAN_ERROR("[Client:%s] Error processing message for subject \"%s\": %s",
                 text(pm.client_id).c_str(), text(pm.subject).c_str(), error.c_str());
      SendPublishError(m.reply(), pm.guid, error);
      return;
    }
  }
  // Timestamps never go back within a channel, even if the clock does. The clock is read once
  // per 64 publishes of a batch (they arrived together), not once per message.
  if (clock_uses_ == 0) clock_ns_ = NowNs();
  clock_uses_ = (clock_uses_ + 1) % 64;
  const int64_t ts = std::max(clock_ns_, c->last_timestamp);
  const uint64_t seq = c->next_seq;
  record_.clear();
  store::AppendMsgRecord(record_, seq, pm.subject, pm.reply, pm.data, ts);
  if (store::Status s = c->store->msgs->Store(seq, ts, record_); !s) {
    STAN_ERROR("[Client:%s] Error processing message for subject \"%s\": %s",
               text(pm.client_id).c_str(), text(pm.subject).c_str(), s.message().c_str());
    SendPublishError(m.reply(), pm.guid, s.message());
    return;
  }
  c->last_timestamp = ts;
  c->next_seq = seq + 1;
  stats_.in_msgs.fetch_add(1, std::memory_order_relaxed);
  stats_.in_bytes.fetch_add(static_cast<int64_t>(pm.data.size()), std::memory_order_relaxed);
  if (!c->in_batch) {
    c->in_batch = true;
    batch_channels_.push_back(c);
  }
  STAN_TRACE("[Client:%s] Received message from publisher subj=%s guid=%s",
             text(pm.client_id).c_str(), text(pm.subject).c_str(), text(pm.guid).c_str());
  // The PubAck goes out after the batch is flushed; keep it encoded in the arena.
  PendingPubAck pa;
  pa.reply_off = static_cast<uint32_t>(pub_arena_.size());
  pa.reply_len = static_cast<uint32_t>(m.reply().size());
  pub_arena_.append(m.reply());
  pa.ack_off = static_cast<uint32_t>(pub_arena_.size());
  AppendPubAck(pub_arena_, pm.guid, {});
  pa.ack_len = static_cast<uint32_t>(pub_arena_.size() - pa.ack_off);
  pa.channel = c;
  pub_acks_.push_back(pa);
  if (pub_acks_.size() >= static_cast<size_t>(std::max(1, opts_.io_batch_size))) Commit();
}

void StreamingServer::Commit() {
  if (batch_channels_.empty()) return;
  // Group commit: one flush (and fsync, for a FILE store with file_sync) per channel written,
  // for every publisher of the batch.
  std::vector<store::ChannelStore*> stores;
  stores.reserve(batch_channels_.size());
  for (Channel* c : batch_channels_) stores.push_back(c->store);
  store::Status flushed = store_->FlushBatch(stores);
  if (!flushed) STAN_ERROR("Unable to flush msg store: %s", flushed.message().c_str());

  const int64_t now = NowNs();
  for (Channel* c : batch_channels_) {
    c->in_batch = false;
    if (!flushed) continue;
    // Messages go out to subscribers only once stored for good.
    DeliverNew(*c);
    if (store::Status s = c->store->subs->Flush(); !s) {
      STAN_ERROR("Unable to flush sub store: %s", s.message().c_str());
    }
    c->last_activity = now;
    // max_age: the channel had nothing due to expire; now it has.
    if (c->limits.max_age.count() > 0 && c->age_timer == 0) ExpireMessages(c->name);
  }
  batch_channels_.clear();

  // The PubAcks, in the order the messages came; the last one is written at once.
  for (size_t i = 0; i < pub_acks_.size(); ++i) {
    const PendingPubAck& pa = pub_acks_[i];
    std::string_view reply(pub_arena_.data() + pa.reply_off, pa.reply_len);
    std::string_view ack(pub_arena_.data() + pa.ack_off, pa.ack_len);
    if (!flushed) {
      // The guid is the PubAck's only field so far: re-encode it with the error.
      pb::PubAck decoded;
      decoded.ParseFromArray(ack.data(), static_cast<int>(ack.size()));
      SendPublishError(reply, decoded.guid(), flushed.message());
      continue;
    }
    if (i + 1 == pub_acks_.size()) {
      link_.PublishNow(reply, ack);
    } else {
      link_.Publish(reply, ack);
    }
  }
  pub_acks_.clear();
  pub_arena_.clear();
}

}  // namespace gannet::streaming
