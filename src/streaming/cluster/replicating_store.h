// The leader's store in a cluster: a store::Store over the node's own FILE store that applies
// every change locally at once (the server reads its own writes, as standalone) and also records
// it as a replicated op (cluster/commands.h). Flushes are where the ops go through Raft: a flush
// (FlushBatch, MsgStore::Flush, SubStore::Flush) first waits until the ops recorded so far are
// committed by a majority, then flushes the local store, so a PubAck (sent after the batch's
// flush) means "in the Raft log of a majority". Changes that are answered at once (a client's
// connect and close, subscription create/update/delete, channel create/delete, Init) are
// replicated before they return.
//
// Threading: the server's I/O loop only, like any store. Replicate blocks that thread while the
// Raft thread does the work.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "streaming/store/store.h"

namespace gannet::streaming::cluster {

class ReplicatingStore : public store::Store {
 public:
  // `replicate` proposes one entry body (ops) and waits for its commit; an error when it could
  // not be committed (this node is no longer the leader).
  using ReplicateFn = std::function<store::Status(const std::string& ops)>;

  ReplicatingStore(std::unique_ptr<store::Store> inner, ReplicateFn replicate);
  ~ReplicatingStore() override;

  std::string_view Name() const override { return inner_->Name(); }
  store::Result<bool> GetExclusiveLock() override { return inner_->GetExclusiveLock(); }
  store::Status Init(const store::ServerInfo& info) override;
  store::Result<std::optional<store::RecoveredState>> Recover() override;
  store::Status SetLimits(const store::StoreLimits& limits) override {
    return inner_->SetLimits(limits);
  }
  store::ChannelLimits GetChannelLimits(std::string_view channel) const override {
    return inner_->GetChannelLimits(channel);
  }
  store::Result<store::ChannelStore*> CreateChannel(std::string_view name) override;
  store::ChannelStore* LookupChannel(std::string_view name) override;
  store::Status DeleteChannel(std::string_view name) override;
  store::Status FlushBatch(std::span<store::ChannelStore* const> channels) override;
  std::chrono::milliseconds SubFlushInterval() const override {
    // Acks with no publish after them still reach the other nodes within this.
    return std::chrono::milliseconds(200);
  }
  store::Status AddClient(const store::ClientInfo& info) override;
  store::Status DeleteClient(std::string_view client_id) override;
  store::Status Close() override;

  // For the wrappers of the per-channel stores.
  std::string& ops() { return ops_; }
  store::Status Replicate();

 private:
  store::ChannelStore* Wrap(store::ChannelStore* inner);

  std::unique_ptr<store::Store> inner_;
  ReplicateFn replicate_;
  std::string ops_;  // recorded, not yet replicated
  std::map<std::string, std::unique_ptr<store::ChannelStore>, std::less<>> channels_;
  std::map<store::ChannelStore*, store::ChannelStore*> inner_of_;  // ours -> inner
};

}  // namespace gannet::streaming::cluster
