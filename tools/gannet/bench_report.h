// The reports of `gannet bench` and `gannet stream bench`: per-client rates and their summary,
// latency percentiles, a progress bar, and the text, JSON and CSV output pieces both share.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gannet::cli {

using Clock = std::chrono::steady_clock;

// One client's share of a run.
struct ClientResult {
  int64_t msgs = 0;
  Clock::time_point start{};
  Clock::time_point end{};
  double secs() const { return std::chrono::duration<double>(end - start).count(); }
  double rate() const { return secs() > 0 ? static_cast<double>(msgs) / secs() : 0; }
};

struct GroupStats {
  int64_t msgs = 0;
  double secs = 0;
  double rate = 0;
  double min = 0, avg = 0, max = 0, stddev = 0;  // per-client msgs/s
};

// The whole group's rate (messages over the span from the first start to the last end) and
// the spread of the per-client rates.
GroupStats Summarize(const std::vector<ClientResult>& rs);
// 1234567.8 -> "1,234,568".
std::string Commas(double v);
double MiB(double rate, int64_t size);
// The p-th percentile (0-100) of sorted samples, nearest rank; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);

// " Pub stats: 1,234 msgs/sec ~ 0.15 MiB/sec", then each client's rate when there are several.
void PrintGroup(const char* name, const GroupStats& g, const std::vector<ClientResult>& rs,
                int64_t size);
// [{"msgs":..,"msgs_per_sec":..,"secs":..},...]
std::string JsonClients(const std::vector<ClientResult>& rs);
// The nats tool's CSV: one row per publisher (P1..) and subscriber (S1..).
void PrintCsv(const std::vector<ClientResult>& pubs, const std::vector<ClientResult>& subs,
              int64_t size);

// A progress bar on stderr while `done` runs from 0 to `total` (only on a terminal).
class Progress {
 public:
  Progress(bool enabled, const char* label, int64_t total, const std::atomic<int64_t>& done);
  ~Progress() { Stop(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Draws the final state and ends the line; idempotent.
  void Stop();

 private:
  void Run();
  void Draw();
  bool enabled_;
  const char* label_;
  int64_t total_;
  const std::atomic<int64_t>& done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gannet::cli
