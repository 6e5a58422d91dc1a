// A listening TCP socket and the thread that accepts on it: the client port and the cluster
// port each have one. Every accepted socket (non-blocking, TCP_NODELAY) goes to `on_accept`,
// which hands it to a worker.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gannet {

class Listener {
 public:
  using AcceptFn = std::function<void(int fd, const sockaddr_storage& addr)>;

  // `what` names the port in log lines ("Client", "Route"), as the reference's accept loops.
  explicit Listener(std::string what) : what_(std::move(what)) {}
  ~Listener() { Stop(); }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds host:port (port 0: any free one); the error text is the reference's startup line.
  // Not yet listening: the server lets clients in only once everything else is up.
  bool Bind(const std::string& host, int port, std::string& error);
  // Starts listening and the accept thread.
  bool Listen(AcceptFn on_accept, std::string& error);
  // Stops accepting (the socket is closed, the thread joined). Idempotent; any thread but the
  // accept thread.
  void Stop();
  int port() const { return port_; }

 private:
  void AcceptLoop();

  const std::string what_;
  int fd_ = -1;
  int port_ = 0;
  AcceptFn on_accept_;
  std::thread thread_;
  std::mutex stop_mu_;
  bool stopping_ = false;
};

}  // namespace gannet
