// Gannet's C++ client for NATS. Include this header; link gannet::client.
//
//   auto nc = gannet::client::Connection::Connect("nats://127.0.0.1:4222");
//   if (!nc) { std::cerr << nc.error() << "\n"; return 1; }
//   nc->Subscribe("greet.*", [](gannet::client::Message& m) { ... });
//   nc->Publish("greet.joe", "hello");
//   nc->Flush();
//
// The NATS Streaming client is gannet/client/streaming.h (link gannet::streaming_client).
#pragma once

#include "gannet/client/connection.h"
#include "gannet/client/headers.h"
#include "gannet/client/message.h"
#include "gannet/client/options.h"
#include "gannet/client/status.h"
