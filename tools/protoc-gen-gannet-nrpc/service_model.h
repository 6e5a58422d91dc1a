// What protoc-gen-gannet-nrpc generates from: a .proto file's services as nRPC sees them
// (subjects after the nrpc options and rules, parameters, special types), read from protoc's
// descriptors.
#pragma once

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

namespace gannet::nrpc_gen {

struct MethodModel {
  std::string name;     // as in the .proto (the C++ method name)
  std::string subject;  // the subject token: methodSubject, or the name after the rule
  std::vector<std::string> params;
  std::string input_type;  // C++ qualified names
  std::string output_type;
  bool void_input = false;      // nrpc.Void: no request argument
  bool no_reply = false;        // nrpc.NoReply: published, not answered
  bool no_request = false;      // nrpc.NoRequest: a stream the server publishes, not a call
  bool streamed_reply = false;  // option streamedReply: many replies, then the end of stream
};

struct ServiceModel {
  std::string name;
  std::string subject;
  std::vector<std::string> params;
  std::vector<MethodModel> methods;
};

struct FileModel {
  std::string proto_name;       // "dir/foo.proto"
  std::string base;             // "dir/foo"
  std::string cpp_namespace;    // "a::b" (empty: the global namespace)
  std::string package_subject;  // packageSubject, or the package (may be empty, may hold dots)
  std::vector<std::string> package_params;
  std::vector<ServiceModel> services;
};

// The model of `file`; false and *error set if nRPC's rules are broken (a methodSubject with a
// dot, a parameter name that is not a C++ identifier).
bool BuildModel(const google::protobuf::FileDescriptor* file, FileModel* model, std::string* error);

// The C++ name of a message type: ::pkg::Outer_Inner.
std::string CppTypeName(const google::protobuf::Descriptor* d);

}  // namespace gannet::nrpc_gen
