// Server log (see logger.h).
#include "base/logger.h"

#include <sys/time.h>
#include <unistd.h>

#include <ctime>

namespace gannet {

Logger& Logger::Get() {
  static Logger logger;
  return logger;
}

bool Logger::Configure(const std::string& path, bool logtime, bool debug, bool trace) {
  std::lock_guard lock(mu_);
  logtime_ = logtime;
  g_log_debug = debug;
  g_log_trace = trace;
  path_ = path;
  if (!path.empty()) {
    FILE* f = std::fopen(path.c_str(), "a");
    if (!f) return false;
    if (out_ != stderr) std::fclose(out_);
    out_ = f;
    color_ = false;
  } else {
    color_ = isatty(STDERR_FILENO);
  }
  return true;
}

bool Logger::Reopen() {
  std::lock_guard lock(mu_);
  if (path_.empty()) return true;
  FILE* f = std::fopen(path_.c_str(), "a");
  if (!f) return false;
  if (out_ != stderr) std::fclose(out_);
  out_ = f;
  return true;
}

void Logger::Log(std::string_view label, std::string_view message) {
  char prefix[96];
  int n = std::snprintf(prefix, sizeof prefix, "[%d] ", static_cast<int>(getpid()));
  const bool color_on = color_.load(std::memory_order_relaxed);
  if (logtime_.load(std::memory_order_relaxed)) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    tm local;
    localtime_r(&tv.tv_sec, &local);
    n +=
        static_cast<int>(std::strftime(prefix + n, sizeof prefix - n, "%Y/%m/%d %H:%M:%S", &local));
    n += std::snprintf(prefix + n, sizeof prefix - n, ".%06ld ", static_cast<long>(tv.tv_usec));
  }
  const char* color = "";
  if (color_on) {
    if (label == "INF")
      color = "\x1b[32m";
    else if (label == "DBG")
      color = "\x1b[36m";
    else if (label == "WRN")
      color = "\x1b[0;93m";
    else if (label == "TRC")
      color = "\x1b[33m";
    else
      color = "\x1b[31m";
  }
  std::string line;
  line.reserve(static_cast<size_t>(n) + message.size() + 16);
  line.append(prefix, static_cast<size_t>(n));
  line += '[';
  if (color_on) line += color;
  line.append(label);
  if (color_on) line += "\x1b[0m";
  line += "] ";
  line.append(message);
  line += '\n';
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace gannet
