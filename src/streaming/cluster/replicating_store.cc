// The leader's replicating store (see replicating_store.h).
#include "streaming/cluster/replicating_store.h"

#include <vector>

#include "streaming/cluster/commands.h"

namespace gannet::streaming::cluster {

using store::Status;

namespace {

class ReplicatingMsgStore : public store::MsgStore {
 public:
  ReplicatingMsgStore(ReplicatingStore& owner, std::string channel, store::MsgStore* inner)
      : owner_(owner), channel_(std::move(channel)), inner_(inner) {}
  Status Store(uint64_t seq, int64_t ts, std::string_view record) override {
    Status s = inner_->Store(seq, ts, record);
    if (s.ok()) {
      OpWriter(owner_.ops()).Msg(channel_, seq, ts, record);
      NoteFirst();
    }
    return s;
  }
  Status Flush() override {
    if (Status s = owner_.Replicate(); !s) return s;
    return inner_->Flush();
  }
  store::Result<store::MsgRef> Lookup(uint64_t seq) override { return inner_->Lookup(seq); }
  uint64_t FirstSequence() const override { return inner_->FirstSequence(); }
  uint64_t LastSequence() const override { return inner_->LastSequence(); }
  store::Result<uint64_t> GetSequenceFromTimestamp(int64_t ts) override {
    return inner_->GetSequenceFromTimestamp(ts);
  }
  store::MsgStoreState State() const override { return inner_->State(); }
  store::Result<int64_t> ExpireMessages(int64_t now_ns) override {
    auto r = inner_->ExpireMessages(now_ns);
    if (r.ok()) {
      OpWriter(owner_.ops()).Expire(channel_, now_ns);
      NoteFirst();
    }
    return r;
  }
  Status Empty() override {
    Status s = inner_->Empty();
    if (s.ok()) {
      OpWriter(owner_.ops()).Channel(OpType::kEmpty, channel_);
      NoteFirst();
    }
    return s;
  }
  // A cut is a restarted node's restore, on its follower store: a leader never cuts.
  Status TruncateAfter(uint64_t) override {
    return Status(store::Code::kNotSupported, "a leader's store is not cut");
  }
  Status Close() override { return inner_->Close(); }

 private:
  // The snapshots keep each channel's first sequence: replicated when limits moved it.
  void NoteFirst() {
    const uint64_t first = inner_->FirstSequence();
    if (first == reported_first_) return;
    reported_first_ = first;
    OpWriter(owner_.ops()).FirstSeq(channel_, first);
  }
  uint64_t reported_first_ = 0;

  ReplicatingStore& owner_;
  std::string channel_;
  store::MsgStore* inner_;
};

class ReplicatingSubStore : public store::SubStore {
 public:
  ReplicatingSubStore(ReplicatingStore& owner, std::string channel, store::SubStore* inner)
      : owner_(owner), channel_(std::move(channel)), inner_(inner) {}
  Status CreateSub(store::SubState& sub) override {
    Status s = inner_->CreateSub(sub);
    if (!s) return s;
    OpWriter(owner_.ops()).Sub(OpType::kCreateSub, channel_, sub);
    return owner_.Replicate();
  }
  Status UpdateSub(const store::SubState& sub) override {
    Status s = inner_->UpdateSub(sub);
    if (!s) return s;
    OpWriter(owner_.ops()).Sub(OpType::kUpdateSub, channel_, sub);
    return owner_.Replicate();
  }
  Status DeleteSub(uint64_t id) override {
    Status s = inner_->DeleteSub(id);
    if (!s) return s;
    OpWriter(owner_.ops()).DeleteSub(channel_, id);
    return owner_.Replicate();
  }
  Status AddSeqPending(uint64_t id, uint64_t seq) override {
    Status s = inner_->AddSeqPending(id, seq);
    if (s.ok()) OpWriter(owner_.ops()).SubSeq(OpType::kAddPending, channel_, id, seq);
    return s;
  }
  Status AckSeqPending(uint64_t id, uint64_t seq) override {
    Status s = inner_->AckSeqPending(id, seq);
    if (s.ok()) OpWriter(owner_.ops()).SubSeq(OpType::kAck, channel_, id, seq);
    return s;
  }
  Status Flush() override {
    if (Status s = owner_.Replicate(); !s) return s;
    return inner_->Flush();
  }
  Status Close() override { return inner_->Close(); }

 private:
  ReplicatingStore& owner_;
  std::string channel_;
  store::SubStore* inner_;
};

}  // namespace

ReplicatingStore::ReplicatingStore(std::unique_ptr<store::Store> inner, ReplicateFn replicate)
    : inner_(std::move(inner)), replicate_(std::move(replicate)) {}

ReplicatingStore::~ReplicatingStore() { Close(); }

Status ReplicatingStore::Replicate() {
  if (ops_.empty()) return Status::Ok();
  Status s = replicate_(ops_);
  ops_.clear();
  return s;
}

store::ChannelStore* ReplicatingStore::Wrap(store::ChannelStore* inner) {
  auto cs = std::make_unique<store::ChannelStore>();
  cs->name = inner->name;
  cs->msgs = std::make_unique<ReplicatingMsgStore>(*this, inner->name, inner->msgs.get());
  cs->subs = std::make_unique<ReplicatingSubStore>(*this, inner->name, inner->subs.get());
  store::ChannelStore* out = cs.get();
  inner_of_[out] = inner;
  channels_[inner->name] = std::move(cs);
  return out;
}

Status ReplicatingStore::Init(const store::ServerInfo& info) {
  Status s = inner_->Init(info);
  if (!s) return s;
  OpWriter(ops_).Init(info);
  return Replicate();
}

store::Result<std::optional<store::RecoveredState>> ReplicatingStore::Recover() {
  auto r = inner_->Recover();
  if (!r || !r->has_value()) return r;
  for (auto& [name, rc] : (*r)->channels) rc.channel = Wrap(rc.channel);
  return r;
}

store::Result<store::ChannelStore*> ReplicatingStore::CreateChannel(std::string_view name) {
  auto r = inner_->CreateChannel(name);
  if (!r) return r;
  store::ChannelStore* cs = Wrap(*r);
  OpWriter(ops_).Channel(OpType::kCreateChannel, name);
  if (Status s = Replicate(); !s) return s;
  return cs;
}

store::ChannelStore* ReplicatingStore::LookupChannel(std::string_view name) {
  auto it = channels_.find(name);
  if (it != channels_.end()) return it->second.get();
  store::ChannelStore* inner = inner_->LookupChannel(name);
  return inner ? Wrap(inner) : nullptr;
}

Status ReplicatingStore::DeleteChannel(std::string_view name) {
  Status s = inner_->DeleteChannel(name);
  if (!s) return s;
  if (auto it = channels_.find(name); it != channels_.end()) {
    inner_of_.erase(it->second.get());
    channels_.erase(it);
  }
  OpWriter(ops_).Channel(OpType::kDeleteChannel, name);
  return Replicate();
}

Status ReplicatingStore::FlushBatch(std::span<store::ChannelStore* const> channels) {
  if (Status s = Replicate(); !s) return s;
  std::vector<store::ChannelStore*> inner;
  inner.reserve(channels.size());
  for (store::ChannelStore* c : channels) {
    auto it = inner_of_.find(c);
    inner.push_back(it == inner_of_.end() ? c : it->second);
  }
  return inner_->FlushBatch(inner);
}

Status ReplicatingStore::AddClient(const store::ClientInfo& info) {
  Status s = inner_->AddClient(info);
  if (!s) return s;
  OpWriter(ops_).AddClient(info);
  return Replicate();
}

Status ReplicatingStore::DeleteClient(std::string_view client_id) {
  Status s = inner_->DeleteClient(client_id);
  if (!s) return s;
  OpWriter(ops_).DeleteClient(client_id);
  return Replicate();
}

Status ReplicatingStore::Close() {
  if (!inner_) return Status::Ok();
  Status s = inner_->Close();
  return s;
}

}  // namespace gannet::streaming::cluster
