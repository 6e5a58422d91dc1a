// protoc-gen-gannet-nrpc's code generator: for each service of a .proto file, a C++ server
// interface, a handler that serves it on a Gannet connection, and a client stub, in
// <file>.nrpc.h and <file>.nrpc.cc next to protoc's <file>.pb.h.
#pragma once

#include <google/protobuf/compiler/code_generator.h>

#include <string>

namespace gannet::nrpc_gen {

class NrpcGenerator : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;
  uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }
};

}  // namespace gannet::nrpc_gen
