// The `gannet` command-line tool: shared pieces of its commands (arguments, connecting).
#pragma once

#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gannet/client.h"

namespace gannet::cli {

// Parsed command line: long options (--name value, --name=value, or -x value for the
// one-letter aliases a command declares), repeated options kept in order, and positionals.
class Args {
 public:
  // `flags` are options that take no value (e.g. "json", "queue-bench").
  // Returns false with *error set on an unknown option or a missing value.
  bool Parse(int argc, char** argv, int first, const std::vector<std::string>& with_value,
             const std::vector<std::string>& flags, const std::map<char, std::string>& aliases,
             std::string* error);
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& def = "") const;
  std::vector<std::string> All(const std::string& name) const;
  // Integer with an optional k/m suffix (1k = 1000, as nats bench reads counts).
  bool GetCount(const std::string& name, int64_t def, int64_t* out, std::string* error) const;
  // Go-style duration ("500ms", "2s", "1m"); a bare number is seconds.
  bool GetDuration(const std::string& name, std::chrono::milliseconds def,
                   std::chrono::milliseconds* out, std::string* error) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// Options every command takes: which server and how to authenticate.
extern const std::vector<std::string> kConnectOptions;  // server, user, password, token, ...
extern const std::map<char, std::string> kConnectAliases;

// Builds client options from the common flags (and $NATS_URL when --server is absent).
client::Options ConnectOptionsFrom(const Args& args, const std::string& default_name);
// Connects or prints a clear error naming the server(s) and returns an invalid Connection.
client::Connection ConnectOrReport(const client::Options& opts);

// Blocks SIGINT and SIGTERM in the constructing thread (and the threads it starts later);
// Wait() returns on one of them or on Notify(), from any thread.
class StopSignal {
 public:
  StopSignal();
  void Notify();
  void Wait();

 private:
  sigset_t set_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

int RunPub(int argc, char** argv);
int RunSub(int argc, char** argv);
int RunRequest(int argc, char** argv);
int RunReply(int argc, char** argv);
int RunBench(int argc, char** argv);
// gannet stream pub|sub|bench: NATS Streaming (stream.cc, stream_bench.cc).
int RunStream(int argc, char** argv);
int RunStreamBench(int argc, char** argv);
// gannet server list|info|ping|report: the system account (server_commands.cc).
int RunServer(int argc, char** argv);

// "12:04:05" local time, as the nats tool prefixes its log lines.
std::string TimeStamp();

}  // namespace gannet::cli
