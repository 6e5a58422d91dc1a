// The Streaming server's log lines: the server's logger, with the reference's "STREAM: " prefix
// and its own debug/trace switches (-SD, -SV, -SDV), independent of the NATS server's -D/-V.
#pragma once

#include <atomic>
#include <string>

#include "base/logger.h"

namespace gannet::streaming {

inline std::atomic<bool> g_stan_debug{false};
inline std::atomic<bool> g_stan_trace{false};

inline bool StanDebug() { return g_stan_debug.load(std::memory_order_relaxed); }
inline bool StanTrace() { return g_stan_trace.load(std::memory_order_relaxed); }

inline void StanLog(const char* label, const std::string& message) {
  ::gannet::Logger::Get().Log(label, "STREAM: " + message);
}

}  // namespace gannet::streaming

#define STAN_INFO(...) ::gannet::streaming::StanLog("INF", ::gannet::Format(__VA_ARGS__))
#define STAN_WARN(...) ::gannet::streaming::StanLog("WRN", ::gannet::Format(__VA_ARGS__))
#define STAN_ERROR(...) ::gannet::streaming::StanLog("ERR", ::gannet::Format(__VA_ARGS__))
#define STAN_FATAL(...) ::gannet::streaming::StanLog("FTL", ::gannet::Format(__VA_ARGS__))
#define STAN_DEBUG(...)                                                   \
  do {                                                                    \
    if (::gannet::streaming::StanDebug())                                 \
      ::gannet::streaming::StanLog("DBG", ::gannet::Format(__VA_ARGS__)); \
  } while (0)
#define STAN_TRACE(...)                                                   \
  do {                                                                    \
    if (::gannet::streaming::StanTrace())                                 \
      ::gannet::streaming::StanLog("TRC", ::gannet::Format(__VA_ARGS__)); \
  } while (0)
