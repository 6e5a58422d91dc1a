# gannet_nrpc_generate(TARGET PROTO...): protoc's C++ classes and protoc-gen-gannet-nrpc's
# services for each .proto file, compiled into TARGET (a library, typically: each .proto is
# generated once per folder), which then links gannet::nrpc and gives its users the generated
# headers. The files import "nrpc.proto" for nRPC's options and types. Works in Gannet's tree
# and after find_package(gannet) (which includes this file): GANNET_NRPC_PLUGIN names the
# plugin's target, GANNET_NRPC_PROTO_DIR the folder of nrpc.proto.
if(NOT DEFINED GANNET_NRPC_PLUGIN)
  set(GANNET_NRPC_PLUGIN protoc-gen-gannet-nrpc)
endif()

function(gannet_nrpc_generate target)
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/nrpc_gen)
  set(sources)
  foreach(proto ${ARGN})
    get_filename_component(proto ${proto} ABSOLUTE)
    get_filename_component(dir ${proto} DIRECTORY)
    get_filename_component(name ${proto} NAME_WE)
    add_custom_command(
      OUTPUT ${gen}/${name}.pb.cc ${gen}/${name}.pb.h ${gen}/${name}.nrpc.cc ${gen}/${name}.nrpc.h
      COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}
      COMMAND protobuf::protoc -I ${GANNET_NRPC_PROTO_DIR} -I ${dir} --cpp_out=${gen}
              --plugin=protoc-gen-gannet-nrpc=$<TARGET_FILE:${GANNET_NRPC_PLUGIN}>
              --gannet-nrpc_out=${gen} ${proto}
      DEPENDS ${proto} ${GANNET_NRPC_PLUGIN} protobuf::protoc
      COMMENT "protoc ${name}.proto (C++ and nRPC)"
      VERBATIM)
    list(APPEND sources ${gen}/${name}.pb.cc ${gen}/${name}.nrpc.cc)
  endforeach()
  target_sources(${target} PRIVATE ${sources})
  target_include_directories(${target} SYSTEM PUBLIC ${gen})
  target_link_libraries(${target} PUBLIC gannet::nrpc)
endfunction()
