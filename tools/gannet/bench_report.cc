// The reports of the bench commands (bench_report.h).
#include "bench_report.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace gannet::cli {

GroupStats Summarize(const std::vector<ClientResult>& rs) {
  GroupStats g;
  if (rs.empty()) return g;
  Clock::time_point start = rs[0].start, end = rs[0].end;
  double sum = 0;
  g.min = rs[0].rate();
  for (const auto& r : rs) {
    g.msgs += r.msgs;
    start = std::min(start, r.start);
    end = std::max(end, r.end);
    sum += r.rate();
    g.min = std::min(g.min, r.rate());
    g.max = std::max(g.max, r.rate());
  }
  g.secs = std::chrono::duration<double>(end - start).count();
  g.rate = g.secs > 0 ? static_cast<double>(g.msgs) / g.secs : 0;
  g.avg = sum / static_cast<double>(rs.size());
  double var = 0;
  for (const auto& r : rs) var += (r.rate() - g.avg) * (r.rate() - g.avg);
  g.stddev = std::sqrt(var / static_cast<double>(rs.size()));
  return g;
}

std::string Commas(double v) {
  auto n = static_cast<int64_t>(std::llround(v));
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out = n < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double MiB(double rate, int64_t size) {
  return rate * static_cast<double>(size) / (1024.0 * 1024.0);
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  i = i == 0 ? 0 : i - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

void PrintGroup(const char* name, const GroupStats& g, const std::vector<ClientResult>& rs,
                int64_t size) {
  std::printf(" %s stats: %s msgs/sec ~ %.2f MiB/sec\n", name, Commas(g.rate).c_str(),
              MiB(g.rate, size));
  if (rs.size() > 1) {
    for (size_t i = 0; i < rs.size(); ++i) {
      std::printf("  [%zu] %s msgs/sec ~ %.2f MiB/sec (%s msgs)\n", i + 1,
                  Commas(rs[i].rate()).c_str(), MiB(rs[i].rate(), size),
                  Commas(static_cast<double>(rs[i].msgs)).c_str());
    }
    std::printf("  min %s | avg %s | max %s | stddev %s msgs\n", Commas(g.min).c_str(),
                Commas(g.avg).c_str(), Commas(g.max).c_str(), Commas(g.stddev).c_str());
  }
}

std::string JsonClients(const std::vector<ClientResult>& rs) {
  std::string s = "[";
  for (size_t i = 0; i < rs.size(); ++i) {
    char buf[128];
    std::snprintf(buf, sizeof(buf), "%s{\"msgs\":%" PRId64 ",\"msgs_per_sec\":%.1f,\"secs\":%.4f}",
                  i ? "," : "", rs[i].msgs, rs[i].rate(), rs[i].secs());
    s += buf;
  }
  return s + "]";
}

void PrintCsv(const std::vector<ClientResult>& pubs, const std::vector<ClientResult>& subs,
              int64_t size) {
  std::printf("#RunID, ClientID, MsgCount, MsgBytes, MsgsPerSec, BytesPerSec, DurationSecs\n");
  auto rows = [&](const char* kind, const std::vector<ClientResult>& rs) {
    for (size_t i = 0; i < rs.size(); ++i) {
      std::printf("%d, %s%zu, %" PRId64 ", %" PRId64 ", %.0f, %.0f, %.6f\n", getpid(), kind, i + 1,
                  rs[i].msgs, rs[i].msgs * size, rs[i].rate(),
                  rs[i].rate() * static_cast<double>(size), rs[i].secs());
    }
  };
  rows("P", pubs);
  rows("S", subs);
}

Progress::Progress(bool enabled, const char* label, int64_t total, const std::atomic<int64_t>& done)
    : enabled_(enabled && isatty(2) && total > 0), label_(label), total_(total), done_(done) {
  if (enabled_) thread_ = std::thread([this] { Run(); });
}

void Progress::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Draw();
  std::fputc('\n', stderr);
}

void Progress::Run() {
  std::unique_lock lk(mu_);
  while (!cv_.wait_for(lk, std::chrono::milliseconds(200), [&] { return stop_; })) Draw();
}

void Progress::Draw() {
  int64_t d = std::min(done_.load(), total_);
  int width = 40;
  int filled = static_cast<int>(width * d / total_);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(static_cast<size_t>(width), ' ');
  std::fprintf(stderr, "\r%-5s [%s] %3d%% %s/%s", label_, bar.c_str(),
               static_cast<int>(100 * d / total_), Commas(static_cast<double>(d)).c_str(),
               Commas(static_cast<double>(total_)).c_str());
  std::fflush(stderr);
}

}  // namespace gannet::cli
