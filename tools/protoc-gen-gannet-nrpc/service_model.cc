// Reading a .proto file's services and nRPC options into the generator's model.
#include "service_model.h"

#include <cctype>

#include "nrpc.pb.h"

namespace gannet::nrpc_gen {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsIdentifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string Namespace(const std::string& package) {
  std::string ns;
  for (char c : package) {
    if (c == '.') {
      ns += "::";
    } else {
      ns += c;
    }
  }
  return ns;
}

template <typename Options, typename Ext>
std::vector<std::string> Repeated(const Options& options, const Ext& ext) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(options.ExtensionSize(ext)));
  for (int i = 0; i < options.ExtensionSize(ext); ++i) out.push_back(options.GetExtension(ext, i));
  return out;
}

bool CheckParams(const std::vector<std::string>& params, const std::string& where,
                 std::string* error) {
  for (const std::string& p : params) {
    if (!IsIdentifier(p)) {
      *error = where;
      *error += ": subject parameter \"" + p + "\" is not an identifier";
      return false;
    }
  }
  return true;
}

}  // namespace

std::string CppTypeName(const google::protobuf::Descriptor* d) {
  std::string name = d->name();
  for (const auto* outer = d->containing_type(); outer; outer = outer->containing_type()) {
    name.insert(0, outer->name() + "_");
  }
  const std::string ns = Namespace(d->file()->package());
  return ns.empty() ? "::" + name : "::" + ns + "::" + name;
}

bool BuildModel(const google::protobuf::FileDescriptor* file, FileModel* model,
                std::string* error) {
  const auto& fopts = file->options();
  model->proto_name = file->name();
  model->base = file->name().substr(0, file->name().size() - 6);  // without ".proto"
  model->cpp_namespace = Namespace(file->package());
  model->package_subject = fopts.HasExtension(::nrpc::packageSubject)
                               ? fopts.GetExtension(::nrpc::packageSubject)
                               : file->package();
  model->package_params = Repeated(fopts, ::nrpc::packageSubjectParams);
  if (!CheckParams(model->package_params, file->name(), error)) return false;
  const bool lower_services =
      fopts.GetExtension(::nrpc::serviceSubjectRule) == ::nrpc::SubjectRule::TOLOWER;
  const bool lower_methods =
      fopts.GetExtension(::nrpc::methodSubjectRule) == ::nrpc::SubjectRule::TOLOWER;

  for (int s = 0; s < file->service_count(); ++s) {
    const google::protobuf::ServiceDescriptor* sd = file->service(s);
    ServiceModel svc;
    svc.name = sd->name();
    const auto& sopts = sd->options();
    if (sopts.HasExtension(::nrpc::serviceSubject) &&
        !sopts.GetExtension(::nrpc::serviceSubject).empty()) {
      svc.subject = sopts.GetExtension(::nrpc::serviceSubject);
    } else {
      svc.subject = lower_services ? Lower(sd->name()) : sd->name();
    }
    svc.params = Repeated(sopts, ::nrpc::serviceSubjectParams);
    if (!CheckParams(svc.params, sd->full_name(), error)) return false;

    for (int m = 0; m < sd->method_count(); ++m) {
      const google::protobuf::MethodDescriptor* md = sd->method(m);
      const auto& mopts = md->options();
      MethodModel method;
      method.name = md->name();
      if (mopts.HasExtension(::nrpc::methodSubject) &&
          !mopts.GetExtension(::nrpc::methodSubject).empty()) {
        method.subject = mopts.GetExtension(::nrpc::methodSubject);
        if (method.subject.find('.') != std::string::npos) {
          *error = md->full_name() + ": methodSubject may not contain dots";
          return false;
        }
      } else {
        method.subject = lower_methods ? Lower(md->name()) : md->name();
      }
      method.params = Repeated(mopts, ::nrpc::methodSubjectParams);
      if (!CheckParams(method.params, md->full_name(), error)) return false;
      method.input_type = CppTypeName(md->input_type());
      method.output_type = CppTypeName(md->output_type());
      method.void_input = md->input_type()->full_name() == "nrpc.Void";
      method.no_request = md->input_type()->full_name() == "nrpc.NoRequest";
      method.no_reply = md->output_type()->full_name() == "nrpc.NoReply";
      method.streamed_reply = mopts.GetExtension(::nrpc::streamedReply);
      svc.methods.push_back(std::move(method));
    }
    model->services.push_back(std::move(svc));
  }
  return true;
}

}  // namespace gannet::nrpc_gen
