// A socket address as the text address and port the logs and monitoring show.
#pragma once

#include <sys/socket.h>

#include <string>

namespace gannet {

// The numeric IP (v4 or v6) and port of `addr`.
void SplitSocketAddress(const sockaddr_storage& addr, std::string& ip, int& port);

}  // namespace gannet
