#include "gannet/client/status.h"

#include "gannet/client/connection.h"

namespace gannet::client {

const char* StatusText(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kTimeout:
      return "timeout";
    case Status::kNoResponders:
      return "no responders available for request";
    case Status::kConnectionClosed:
      return "connection closed";
    case Status::kNoServers:
      return "no servers available for connection";
    case Status::kAuthorization:
      return "authorization violation";
    case Status::kServerError:
      return "server error";
    case Status::kProtocolError:
      return "protocol error";
    case Status::kIoError:
      return "i/o error";
    case Status::kSlowConsumer:
      return "slow consumer, messages dropped";
    case Status::kInvalidSubject:
      return "invalid subject";
    case Status::kInvalidArgument:
      return "invalid argument";
    case Status::kMaxPayload:
      return "maximum payload exceeded";
    case Status::kBufferFull:
      return "reconnect buffer full";
    case Status::kDraining:
      return "connection draining";
    case Status::kInvalidSubscription:
      return "invalid subscription";
    case Status::kHeadersNotSupported:
      return "headers not supported by this server";
  }
  return "unknown status";
}

const char* ConnectionStateName(ConnectionState s) {
  switch (s) {
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kReconnecting:
      return "reconnecting";
    case ConnectionState::kDraining:
      return "draining";
    case ConnectionState::kClosed:
      return "closed";
  }
  return "unknown";
}

}  // namespace gannet::client
