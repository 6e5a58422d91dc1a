// Small blocking-with-deadline helpers over TCP sockets, for the connect handshake and the
// last flush at close. The I/O loop itself uses poll directly.
#pragma once

#include <chrono>
#include <string>

namespace gannet::client::detail {

using Deadline = std::chrono::steady_clock::time_point;

// Resolves and connects (each address in turn) before the deadline. Returns a blocking socket
// with TCP_NODELAY whose blocking sends give up after send_timeout, or -1 with *error set.
// Calls that must not block pass MSG_DONTWAIT (as WriteAll and ReadSome do).
int ConnectTcp(const std::string& host, int port, Deadline deadline,
               std::chrono::milliseconds send_timeout, std::string* error);
// Writes everything before the deadline; false with *error set otherwise.
bool WriteAll(int fd, const char* data, size_t len, Deadline deadline, std::string* error);
// Reads what is available, waiting until the deadline for something. Returns bytes read, 0 on
// EOF, -1 on error or timeout (*error set).
long ReadSome(int fd, char* buf, size_t len, Deadline deadline, std::string* error);
// Milliseconds from now to the deadline for poll(), rounded up: 0 only if past; capped.
int PollTimeout(Deadline deadline);

}  // namespace gannet::client::detail
