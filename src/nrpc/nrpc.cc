// nRPC's runtime for the generated services and clients (include/gannet/nrpc.h): subjects,
// error replies, calls and answers, as nats-rpc/nrpc's nrpc.go does them on the wire.
#include "gannet/nrpc.h"

#include <google/protobuf/message.h>
#include <google/protobuf/message_lite.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "nrpc.pb.h"

namespace gannet::nrpc {

namespace {

std::string_view Find(const std::vector<std::pair<std::string, std::string>>& params,
                      std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    out.emplace_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

const char* TypeName(Error::Type t) {
  switch (t) {
    case Error::Type::kClient:
      return "CLIENT";
    case Error::Type::kServer:
      return "SERVER";
    case Error::Type::kEos:
      return "EOS";
    case Error::Type::kServerTooBusy:
      return "SERVERTOOBUSY";
  }
  return "UNKNOWN";
}

const google::protobuf::Message* Full(const google::protobuf::MessageLite& m) {
  return dynamic_cast<const google::protobuf::Message*>(&m);
}

::nrpc::Error ToProto(const Error& error) {
  ::nrpc::Error e;
  e.set_type(static_cast<::nrpc::Error_Type>(static_cast<int>(error.type)));
  e.set_message(error.message);
  e.set_msgcount(error.msg_count);
  return e;
}

// The JSON nrpc's Go code writes for an nrpc.Error (encoding/json on the generated struct: zero
// fields left out, the type as a number), inside {"__error__": ...}.
std::string EncodeJsonError(const Error& e) {
  nlohmann::json inner = nlohmann::json::object();
  if (e.type != Error::Type::kClient) inner["type"] = static_cast<int>(e.type);
  if (!e.message.empty()) inner["message"] = e.message;
  if (e.msg_count != 0) inner["msgCount"] = e.msg_count;
  // A message that is not UTF-8 (a handler's own text) is sent with U+FFFD, not thrown over.
  return nlohmann::json{{"__error__", inner}}.dump(-1, ' ', false,
                                                   nlohmann::json::error_handler_t::replace);
}

constexpr std::string_view kJsonErrorPrefix = "{\"__error__\":";

}  // namespace

std::string Error::ToString() const { return std::string(TypeName(type)) + " error: " + message; }

std::string_view Request::package_param(std::string_view name) const {
  return Find(package_params, name);
}
std::string_view Request::service_param(std::string_view name) const {
  return Find(service_params, name);
}
std::string_view Request::method_param(std::string_view name) const {
  return Find(method_params, name);
}

std::string JoinSubject(std::initializer_list<std::string_view> parts, std::string_view encoding) {
  std::string s;
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) s += '.';
    s += p;
    first = false;
  }
  if (encoding != kProtobuf) {
    s += '.';
    s += encoding;
  }
  return s;
}

std::optional<ParsedSubject> ParseSubject(std::string_view package_subject, size_t package_params,
                                          std::string_view service_subject, size_t service_params,
                                          std::string_view subject, std::string* why) {
  std::vector<std::string> pkg =
      package_subject.empty() ? std::vector<std::string>{} : Split(package_subject);
  std::vector<std::string> svc = Split(service_subject);
  std::vector<std::string> tokens = Split(subject);
  const size_t min = pkg.size() + package_params + svc.size() + service_params + 1;
  if (tokens.size() < min) {
    *why = "Invalid subject len. Expects number of parts >= " + std::to_string(min) + ", got " +
           std::to_string(tokens.size());
    return std::nullopt;
  }
  size_t i = 0;
  for (const std::string& part : pkg) {
    if (tokens[i] != part) {
      *why = "Invalid subject prefix. Expected '" + part + "', got '" + tokens[i] + "'";
      return std::nullopt;
    }
    ++i;
  }
  ParsedSubject p;
  for (size_t n = 0; n < package_params; ++n) p.package_params.push_back(tokens[i++]);
  for (const std::string& part : svc) {
    if (tokens[i] != part) {
      *why = "Invalid subject. Service should be '" + part + "', got '" + tokens[i] + "'";
      return std::nullopt;
    }
    ++i;
  }
  for (size_t n = 0; n < service_params; ++n) p.service_params.push_back(tokens[i++]);
  p.method = tokens[i++];
  p.tail.assign(tokens.begin() + static_cast<std::ptrdiff_t>(i), tokens.end());
  return p;
}

bool ParseSubjectTail(size_t method_params, const std::vector<std::string>& tail,
                      std::vector<std::string>* params, std::string* encoding, std::string* why) {
  if (tail.size() < method_params || tail.size() > method_params + 1) {
    *why = "Invalid subject tail length. Expects " + std::to_string(method_params) + " or " +
           std::to_string(method_params + 1) + " parts, got " + std::to_string(tail.size());
    return false;
  }
  params->assign(tail.begin(), tail.begin() + static_cast<std::ptrdiff_t>(method_params));
  *encoding = tail.size() > method_params ? tail.back() : std::string(kProtobuf);
  return true;
}

bool Marshal(std::string_view encoding, const google::protobuf::MessageLite& message,
             std::string* out) {
  out->clear();
  if (encoding == kProtobuf) return message.SerializeToString(out);
  if (encoding != kJson || !Full(message)) return false;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  return google::protobuf::util::MessageToJsonString(*Full(message), out, options).ok();
}

bool Unmarshal(std::string_view encoding, std::string_view data,
               google::protobuf::MessageLite* message) {
  if (encoding == kProtobuf) {
    return message->ParseFromArray(data.data(), static_cast<int>(data.size()));
  }
  auto* full = dynamic_cast<google::protobuf::Message*>(message);
  if (encoding != kJson || !full) return false;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // as Go's encoding/json
  return google::protobuf::util::JsonStringToMessage(
             google::protobuf::StringPiece(data.data(), data.size()), full, options)
      .ok();
}

std::string EncodeError(const Error& error, std::string_view encoding) {
  if (encoding == kJson) return EncodeJsonError(error);
  std::string out(1, '\0');
  ToProto(error).AppendToString(&out);
  return out;
}

bool DecodeError(std::string_view data, Error* error, std::string_view encoding) {
  ::nrpc::Error e;
  bool parsed;
  if (encoding == kJson) {
    // As nrpc's UnmarshalResponse: an error reply starts with {"__error__":.
    if (data.size() <= kJsonErrorPrefix.size() ||
        data.substr(0, kJsonErrorPrefix.size()) != kJsonErrorPrefix) {
      return false;
    }
    nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
    parsed =
        j.is_object() && j.contains("__error__") && Unmarshal(kJson, j["__error__"].dump(), &e);
  } else {
    if (data.empty() || data[0] != '\0') return false;
    parsed = e.ParseFromArray(data.data() + 1, static_cast<int>(data.size() - 1));
  }
  if (!parsed) {
    *error = Error{Error::Type::kServer, "malformed nrpc.Error in the reply", 0};
    return true;
  }
  *error = Error{static_cast<Error::Type>(e.type()), e.message(), e.msgcount()};
  return true;
}

Result<bool> Call(client::Connection& nc, const std::string& subject, std::string_view encoding,
                  const google::protobuf::MessageLite& request,
                  google::protobuf::MessageLite* reply, std::chrono::milliseconds timeout) {
  std::string data;
  if (!Marshal(encoding, request, &data)) {
    return Result<bool>(client::Status::kInvalidArgument,
                        "the request does not encode in " + std::string(encoding));
  }
  client::Result<client::Message> msg = nc.Request(
      encoding == kProtobuf ? subject : subject + "." + std::string(encoding), data, timeout);
  if (!msg.ok()) return Result<bool>(msg.status(), msg.detail());
  Error error;
  if (DecodeError(msg->data(), &error, encoding)) return error;
  if (!Unmarshal(encoding, msg->data(), reply)) {
    return Error{Error::Type::kServer, "the reply does not decode as " + reply->GetTypeName(), 0};
  }
  return true;
}

client::Status Publish(client::Connection& nc, const std::string& subject,
                       std::string_view encoding, const google::protobuf::MessageLite& request) {
  std::string data;
  if (!Marshal(encoding, request, &data)) return client::Status::kInvalidArgument;
  return nc.Publish(encoding == kProtobuf ? subject : subject + "." + std::string(encoding), data);
}

bool ParseRequest(std::string_view encoding, std::string_view data,
                  google::protobuf::MessageLite* request, Error* error) {
  if (encoding != kProtobuf && encoding != kJson) {
    *error = Error{Error::Type::kClient,
                   "bad request received: Invalid encoding: " + std::string(encoding), 0};
    return false;
  }
  if (!Unmarshal(encoding, data, request)) {
    *error = Error{Error::Type::kClient,
                   "bad request received: not a valid " + request->GetTypeName() + " in " +
                       std::string(encoding),
                   0};
    return false;
  }
  return true;
}

void Respond(client::Connection& nc, const client::Message& request, std::string_view encoding,
             const google::protobuf::MessageLite* reply, const Error* error) {
  if (request.reply().empty()) return;
  std::string data;
  if (error) {
    data = EncodeError(*error, encoding);
  } else if (reply && !Marshal(encoding, *reply, &data)) {
    data = EncodeError(Error{Error::Type::kServer, "the reply does not encode", 0}, encoding);
  }
  nc.Publish(request.reply(), data);
}

void RespondError(client::Connection& nc, const client::Message& request, std::string_view encoding,
                  const Error& error) {
  Respond(nc, request, encoding, nullptr, &error);
}

}  // namespace gannet::nrpc
