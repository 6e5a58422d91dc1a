// protoc-gen-gannet-nrpc: protoc's plugin for nRPC services in C++ on Gannet's client library.
//   protoc -I <gannet>/src/nrpc/proto -I . --cpp_out=OUT --gannet-nrpc_out=OUT foo.proto
#include <google/protobuf/compiler/plugin.h>

#include "generator.h"

int main(int argc, char** argv) {
  gannet::nrpc_gen::NrpcGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
