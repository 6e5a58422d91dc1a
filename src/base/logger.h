// Server log in the reference's format: "[pid] YYYY/MM/DD HH:MM:SS.uuuuuu [INF] message".
//
// Thread-safe; one write per line. Debug and trace lines cost one branch when disabled.
#pragma once

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace gannet {

// Checked on the message path: plain globals, so a disabled level costs one relaxed load.
inline std::atomic<bool> g_log_debug{false};
inline std::atomic<bool> g_log_trace{false};

class Logger {
 public:
  static Logger& Get();

  // Sends output to `path` (appending), or stderr when empty. Returns false if unopenable.
  bool Configure(const std::string& path, bool logtime, bool debug, bool trace);
  // Reopens the log file (after rotation).
  bool Reopen();

  static bool debug() { return g_log_debug.load(std::memory_order_relaxed); }
  static bool trace() { return g_log_trace.load(std::memory_order_relaxed); }

  void Log(std::string_view label, std::string_view message);

 private:
  Logger() = default;
  std::mutex mu_;
  FILE* out_ = stderr;
  std::string path_;
  // Read by every line outside the lock; a config reload may change them.
  std::atomic<bool> logtime_{true};
  std::atomic<bool> color_{false};
};

template <typename... Args>
std::string Format(const char* fmt, Args&&... args) {
  int n = std::snprintf(nullptr, 0, fmt, args...);
  std::string s(static_cast<size_t>(n > 0 ? n : 0), '\0');
  std::snprintf(s.data(), s.size() + 1, fmt, args...);
  return s;
}

#define GANNET_LOG(label, ...) ::gannet::Logger::Get().Log(label, ::gannet::Format(__VA_ARGS__))
#define LOG_INFO(...) GANNET_LOG("INF", __VA_ARGS__)
#define LOG_WARN(...) GANNET_LOG("WRN", __VA_ARGS__)
#define LOG_ERROR(...) GANNET_LOG("ERR", __VA_ARGS__)
#define LOG_FATAL(...) GANNET_LOG("FTL", __VA_ARGS__)
#define LOG_DEBUG(...)                                             \
  do {                                                             \
    if (::gannet::Logger::debug()) GANNET_LOG("DBG", __VA_ARGS__); \
  } while (0)
#define LOG_TRACE(...)                                             \
  do {                                                             \
    if (::gannet::Logger::trace()) GANNET_LOG("TRC", __VA_ARGS__); \
  } while (0)

}  // namespace gannet
