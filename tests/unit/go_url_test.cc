// Go's url.Parse, net.SplitHostPort, the reference's parseHostPort and strconv.Atoi as
// server/config/go_url.h reads them: each row is what a Go 1.19 program (the toolchain
// nats-server 2.9.10 is built with) printed for the input, and the C++ must print the same.
// (The same comparison passed on 20,000 random inputs over URL characters when written.)
#include "server/config/go_url.h"

#include <gtest/gtest.h>

#include <string>

namespace gannet {
namespace {

struct Row {
  const char* input;
  const char* url;        // url.Parse: its fields, or its error
  const char* split;      // net.SplitHostPort
  const char* host_port;  // parseHostPort(input, 4222)
  const char* atoi;       // strconv.Atoi
};

// The Go program's output format.
std::string Bool(bool b) { return b ? "true" : "false"; }
std::string UrlLine(const std::string& in) {
  std::string error;
  std::optional<GoUrl> u = ParseGoUrl(in, &error);
  if (!u) return "URL ERR " + error;
  return "URL s=" + GoQuote(u->scheme) + " o=" + GoQuote(u->opaque) + " hu=" + Bool(u->has_user) +
         " u=" + GoQuote(u->user) + " hp=" + Bool(u->has_password) + " p=" + GoQuote(u->password) +
         " h=" + GoQuote(u->host) + " hn=" + GoQuote(u->Hostname()) + " pt=" + GoQuote(u->Port()) +
         " path=" + GoQuote(u->path) + " q=" + GoQuote(u->raw_query) +
         " fq=" + Bool(u->force_query) + " f=" + GoQuote(u->fragment);
}
std::string SplitLine(const std::string& in) {
  std::string host, port, error;
  if (!GoSplitHostPort(in, host, port, &error)) return "SHP ERR " + error;
  return "SHP " + GoQuote(host) + " " + GoQuote(port);
}
std::string HostPortLine(const std::string& in) {
  std::string host, error;
  int port = 0;
  if (!GoParseHostPort(in, 4222, host, port, &error)) return "PHP ERR " + error;
  return "PHP " + GoQuote(host) + " " + std::to_string(port);
}
std::string AtoiLine(const std::string& in) {
  std::string error;
  std::optional<int64_t> n = GoAtoi(in, &error);
  if (!n) return "ATOI ERR " + error;
  return "ATOI " + std::to_string(*n);
}

const Row kRows[] = {
    {"nats://a:1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"a:1\" hn=\"a\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://a:1: too many colons in address",
     "PHP ERR address nats://a:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://a:1\": invalid syntax"},
    {"nats-route://ruser:rpass@127.0.0.1:6222",
     "URL s=\"nats-route\" o=\"\" hu=true u=\"ruser\" hp=true p=\"rpass\" h=\"127.0.0.1:6222\" "
     "hn=\"127.0.0.1\" pt=\"6222\" path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats-route://ruser:rpass@127.0.0.1:6222: too many colons in address",
     "PHP ERR address nats-route://ruser:rpass@127.0.0.1:6222: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats-route://ruser:rpass@127.0.0.1:6222\": invalid syntax"},
    {"nats-route://10.0.0.1:6222/",
     "URL s=\"nats-route\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"10.0.0.1:6222\" "
     "hn=\"10.0.0.1\" pt=\"6222\" path=\"/\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats-route://10.0.0.1:6222/: too many colons in address",
     "PHP ERR address nats-route://10.0.0.1:6222/: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats-route://10.0.0.1:6222/\": invalid syntax"},
    {"nats://[::1]:5",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"[::1]:5\" hn=\"::1\" pt=\"5\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://[::1]:5: too many colons in address",
     "PHP ERR address nats://[::1]:5: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://[::1]:5\": invalid syntax"},
    {"nats://[::1]",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"[::1]\" hn=\"::1\" pt=\"\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://[::1]: too many colons in address",
     "PHP ERR address nats://[::1]: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://[::1]\": invalid syntax"},
    {"nats://[::1", "URL ERR parse \"nats://[::1\": missing ']' in host",
     "SHP ERR address nats://[::1: too many colons in address",
     "PHP ERR address nats://[::1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://[::1\": invalid syntax"},
    {"nats://[fe80::1%25en0]:8",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"[fe80::1%en0]:8\" "
     "hn=\"fe80::1%en0\" pt=\"8\" path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://[fe80::1%25en0]:8: too many colons in address",
     "PHP ERR address nats://[fe80::1%25en0]:8: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://[fe80::1%25en0]:8\": invalid syntax"},
    {"nats://[fe80::1%en0]:8",
     "URL ERR parse \"nats://[fe80::1%en0]:8\": invalid URL escape \"%en\"",
     "SHP ERR address nats://[fe80::1%en0]:8: too many colons in address",
     "PHP ERR address nats://[fe80::1%en0]:8: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://[fe80::1%en0]:8\": invalid syntax"},
    {"a:1",
     "URL s=\"a\" o=\"1\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"\" q=\"\" "
     "fq=false f=\"\"",
     "SHP \"a\" \"1\"", "PHP \"a\" 1", "ATOI ERR strconv.Atoi: parsing \"a:1\": invalid syntax"},
    {"127.0.0.1:6222",
     "URL ERR parse \"127.0.0.1:6222\": first path segment in URL cannot contain colon",
     "SHP \"127.0.0.1\" \"6222\"", "PHP \"127.0.0.1\" 6222",
     "ATOI ERR strconv.Atoi: parsing \"127.0.0.1:6222\": invalid syntax"},
    {"nats://127.0.0.1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"127.0.0.1\" hn=\"127.0.0.1\" "
     "pt=\"\" path=\"\" q=\"\" fq=false f=\"\"",
     "SHP \"nats\" \"//127.0.0.1\"",
     "PHP ERR strconv.Atoi: parsing \"//127.0.0.1\": invalid syntax",
     "ATOI ERR strconv.Atoi: parsing \"nats://127.0.0.1\": invalid syntax"},
    {"nats://127.0.0.1:",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"127.0.0.1:\" hn=\"127.0.0.1\" "
     "pt=\"\" path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://127.0.0.1:: too many colons in address",
     "PHP ERR address nats://127.0.0.1:: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://127.0.0.1:\": invalid syntax"},
    {"nats://127.0.0.1:abc",
     "URL ERR parse \"nats://127.0.0.1:abc\": invalid port \":abc\" after host",
     "SHP ERR address nats://127.0.0.1:abc: too many colons in address",
     "PHP ERR address nats://127.0.0.1:abc: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://127.0.0.1:abc\": invalid syntax"},
    {"nats://a b:1", "URL ERR parse \"nats://a b:1\": invalid character \" \" in host name",
     "SHP ERR address nats://a b:1: too many colons in address",
     "PHP ERR address nats://a b:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://a b:1\": invalid syntax"},
    {"nats://%41:1", "URL ERR parse \"nats://%41:1\": invalid URL escape \"%41\"",
     "SHP ERR address nats://%41:1: too many colons in address",
     "PHP ERR address nats://%41:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://%41:1\": invalid syntax"},
    {"nats://%c3%a9:1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\xc3"
     "\xa9"
     ":1\" hn=\"\xc3"
     "\xa9"
     "\" pt=\"1\" path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://%c3%a9:1: too many colons in address",
     "PHP ERR address nats://%c3%a9:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://%c3%a9:1\": invalid syntax"},
    {"://x", "URL ERR parse \"://x\": missing protocol scheme", "SHP \"\" \"//x\"",
     "PHP ERR strconv.Atoi: parsing \"//x\": invalid syntax",
     "ATOI ERR strconv.Atoi: parsing \"://x\": invalid syntax"},
    {"nats://u@h:1",
     "URL s=\"nats\" o=\"\" hu=true u=\"u\" hp=false p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://u@h:1: too many colons in address",
     "PHP ERR address nats://u@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u@h:1\": invalid syntax"},
    {"nats://u:@h:1",
     "URL s=\"nats\" o=\"\" hu=true u=\"u\" hp=true p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://u:@h:1: too many colons in address",
     "PHP ERR address nats://u:@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u:@h:1\": invalid syntax"},
    {"nats://:p@h:1",
     "URL s=\"nats\" o=\"\" hu=true u=\"\" hp=true p=\"p\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://:p@h:1: too many colons in address",
     "PHP ERR address nats://:p@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://:p@h:1\": invalid syntax"},
    {"nats://u:p%zz@h:1", "URL ERR parse \"nats://u:p%zz@h:1\": invalid URL escape \"%zz\"",
     "SHP ERR address nats://u:p%zz@h:1: too many colons in address",
     "PHP ERR address nats://u:p%zz@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u:p%zz@h:1\": invalid syntax"},
    {"nats://u:p%41@h:1",
     "URL s=\"nats\" o=\"\" hu=true u=\"u\" hp=true p=\"pA\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://u:p%41@h:1: too many colons in address",
     "PHP ERR address nats://u:p%41@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u:p%41@h:1\": invalid syntax"},
    {"nats://u p@h:1", "URL ERR parse \"nats://u p@h:1\": net/url: invalid userinfo",
     "SHP ERR address nats://u p@h:1: too many colons in address",
     "PHP ERR address nats://u p@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u p@h:1\": invalid syntax"},
    {"nats://h:1#frag",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"frag\"",
     "SHP ERR address nats://h:1#frag: too many colons in address",
     "PHP ERR address nats://h:1#frag: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h:1#frag\": invalid syntax"},
    {"nats://h:1#fr%zz", "URL ERR parse \"nats://h:1#fr%zz\": invalid URL escape \"%zz\"",
     "SHP ERR address nats://h:1#fr%zz: too many colons in address",
     "PHP ERR address nats://h:1#fr%zz: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h:1#fr%zz\": invalid syntax"},
    {"nats://h:1?x=1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"x=1\" fq=false f=\"\"",
     "SHP ERR address nats://h:1?x=1: too many colons in address",
     "PHP ERR address nats://h:1?x=1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h:1?x=1\": invalid syntax"},
    {"nats://h:1?",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=true f=\"\"",
     "SHP ERR address nats://h:1?: too many colons in address",
     "PHP ERR address nats://h:1?: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h:1?\": invalid syntax"},
    {"nats://h:1/p%zz", "URL ERR parse \"nats://h:1/p%zz\": invalid URL escape \"%zz\"",
     "SHP ERR address nats://h:1/p%zz: too many colons in address",
     "PHP ERR address nats://h:1/p%zz: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h:1/p%zz\": invalid syntax"},
    {"*",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"*\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR address *: missing port in address", "PHP \"*\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"*\": invalid syntax"},
    {"",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR missing port in address", "PHP ERR no hostport specified",
     "ATOI ERR strconv.Atoi: parsing \"\": invalid syntax"},
    {"nats:///path",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"/path\" "
     "q=\"\" fq=false f=\"\"",
     "SHP \"nats\" \"///path\"", "PHP ERR strconv.Atoi: parsing \"///path\": invalid syntax",
     "ATOI ERR strconv.Atoi: parsing \"nats:///path\": invalid syntax"},
    {"///x",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"///x\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address ///x: missing port in address", "PHP \"///x\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"///x\": invalid syntax"},
    {"//h:1",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP \"//h\" \"1\"", "PHP \"//h\" 1",
     "ATOI ERR strconv.Atoi: parsing \"//h:1\": invalid syntax"},
    {"/x:y",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"/x:y\" "
     "q=\"\" fq=false f=\"\"",
     "SHP \"/x\" \"y\"", "PHP ERR strconv.Atoi: parsing \"y\": invalid syntax",
     "ATOI ERR strconv.Atoi: parsing \"/x:y\": invalid syntax"},
    {"x/y:z",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"x/y:z\" "
     "q=\"\" fq=false f=\"\"",
     "SHP \"x/y\" \"z\"", "PHP ERR strconv.Atoi: parsing \"z\": invalid syntax",
     "ATOI ERR strconv.Atoi: parsing \"x/y:z\": invalid syntax"},
    {"NATS://H:1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"H:1\" hn=\"H\" pt=\"1\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP ERR address NATS://H:1: too many colons in address",
     "PHP ERR address NATS://H:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"NATS://H:1\": invalid syntax"},
    {"nats://h:-1", "URL ERR parse \"nats://h:-1\": invalid port \":-1\" after host",
     "SHP ERR address nats://h:-1: too many colons in address",
     "PHP ERR address nats://h:-1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h:-1\": invalid syntax"},
    {"nats://a:b:1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"a:b:1\" hn=\"a:b\" pt=\"1\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://a:b:1: too many colons in address",
     "PHP ERR address nats://a:b:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://a:b:1\": invalid syntax"},
    {"[::1]:80", "URL ERR parse \"[::1]:80\": first path segment in URL cannot contain colon",
     "SHP \"::1\" \"80\"", "PHP \"::1\" 80",
     "ATOI ERR strconv.Atoi: parsing \"[::1]:80\": invalid syntax"},
    {"[::1]80", "URL ERR parse \"[::1]80\": first path segment in URL cannot contain colon",
     "SHP ERR address [::1]80: missing port in address",
     "PHP ERR address [::1]80:4222: missing port in address",
     "ATOI ERR strconv.Atoi: parsing \"[::1]80\": invalid syntax"},
    {"[::1]:8:0", "URL ERR parse \"[::1]:8:0\": first path segment in URL cannot contain colon",
     "SHP ERR address [::1]:8:0: too many colons in address",
     "PHP ERR address [::1]:8:0: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"[::1]:8:0\": invalid syntax"},
    {"a[b:1", "URL ERR parse \"a[b:1\": first path segment in URL cannot contain colon",
     "SHP ERR address a[b:1: unexpected '[' in address",
     "PHP ERR address a[b:1: unexpected '[' in address",
     "ATOI ERR strconv.Atoi: parsing \"a[b:1\": invalid syntax"},
    {"a]b:1", "URL ERR parse \"a]b:1\": first path segment in URL cannot contain colon",
     "SHP ERR address a]b:1: unexpected ']' in address",
     "PHP ERR address a]b:1: unexpected ']' in address",
     "ATOI ERR strconv.Atoi: parsing \"a]b:1\": invalid syntax"},
    {"h:0",
     "URL s=\"h\" o=\"0\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"\" q=\"\" "
     "fq=false f=\"\"",
     "SHP \"h\" \"0\"", "PHP \"h\" 4222", "ATOI ERR strconv.Atoi: parsing \"h:0\": invalid syntax"},
    {"h:-1",
     "URL s=\"h\" o=\"-1\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"\" q=\"\" "
     "fq=false f=\"\"",
     "SHP \"h\" \"-1\"", "PHP \"h\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"h:-1\": invalid syntax"},
    {"h",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"h\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR address h: missing port in address", "PHP \"h\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"h\": invalid syntax"},
    {"h: 5 ",
     "URL s=\"h\" o=\" 5 \" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP \"h\" \" 5 \"", "PHP \"h\" 5",
     "ATOI ERR strconv.Atoi: parsing \"h: 5 \": invalid syntax"},
    {"+5",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"+5\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR address +5: missing port in address", "PHP \"+5\" 4222", "ATOI 5"},
    {"-5",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"-5\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR address -5: missing port in address", "PHP \"-5\" 4222", "ATOI -5"},
    {"9223372036854775807",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" "
     "path=\"9223372036854775807\" q=\"\" fq=false f=\"\"",
     "SHP ERR address 9223372036854775807: missing port in address",
     "PHP \"9223372036854775807\" 4222", "ATOI 9223372036854775807"},
    {"9223372036854775808",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" "
     "path=\"9223372036854775808\" q=\"\" fq=false f=\"\"",
     "SHP ERR address 9223372036854775808: missing port in address",
     "PHP \"9223372036854775808\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"9223372036854775808\": value out of range"},
    {"-9223372036854775809",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" "
     "path=\"-9223372036854775809\" q=\"\" fq=false f=\"\"",
     "SHP ERR address -9223372036854775809: missing port in address",
     "PHP \"-9223372036854775809\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"-9223372036854775809\": value out of range"},
    {"+",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"+\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR address +: missing port in address", "PHP \"+\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"+\": invalid syntax"},
    {"1_0",
     "URL s=\"\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"1_0\" q=\"\" "
     "fq=false f=\"\"",
     "SHP ERR address 1_0: missing port in address", "PHP \"1_0\" 4222",
     "ATOI ERR strconv.Atoi: parsing \"1_0\": invalid syntax"},
    {"nats://u:p@h:1@x:2",
     "URL s=\"nats\" o=\"\" hu=true u=\"u\" hp=true p=\"p@h:1\" h=\"x:2\" hn=\"x\" pt=\"2\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://u:p@h:1@x:2: too many colons in address",
     "PHP ERR address nats://u:p@h:1@x:2: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u:p@h:1@x:2\": invalid syntax"},
    {"nats://h\x7f"
     ":1",
     "URL ERR parse \"nats://h\\x7f:1\": net/url: invalid control character in URL",
     "SHP ERR address nats://h\x7f"
     ":1: too many colons in address",
     "PHP ERR address nats://h\x7f"
     ":1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h\\x7f:1\": invalid syntax"},
    {"nats://<h>:1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"<h>:1\" hn=\"<h>\" pt=\"1\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://<h>:1: too many colons in address",
     "PHP ERR address nats://<h>:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://<h>:1\": invalid syntax"},
    {"nats://h\":1",
     "URL s=\"nats\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"h\\\":1\" hn=\"h\\\"\" pt=\"1\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://h\":1: too many colons in address",
     "PHP ERR address nats://h\":1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://h\\\":1\": invalid syntax"},
    {"nats://u:p:q@h:1",
     "URL s=\"nats\" o=\"\" hu=true u=\"u\" hp=true p=\"p:q\" h=\"h:1\" hn=\"h\" pt=\"1\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address nats://u:p:q@h:1: too many colons in address",
     "PHP ERR address nats://u:p:q@h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"nats://u:p:q@h:1\": invalid syntax"},
    {"http://[::1]:80/x?y#z",
     "URL s=\"http\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"[::1]:80\" hn=\"::1\" pt=\"80\" "
     "path=\"/x\" q=\"y\" fq=false f=\"z\"",
     "SHP ERR address http://[::1]:80/x?y#z: too many colons in address",
     "PHP ERR address http://[::1]:80/x?y#z: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"http://[::1]:80/x?y#z\": invalid syntax"},
    {"mailto:a@b",
     "URL s=\"mailto\" o=\"a@b\" hu=false u=\"\" hp=false p=\"\" h=\"\" hn=\"\" pt=\"\" path=\"\" "
     "q=\"\" fq=false f=\"\"",
     "SHP \"mailto\" \"a@b\"", "PHP ERR strconv.Atoi: parsing \"a@b\": invalid syntax",
     "ATOI ERR strconv.Atoi: parsing \"mailto:a@b\": invalid syntax"},
    {"1nats://h:1", "URL ERR parse \"1nats://h:1\": first path segment in URL cannot contain colon",
     "SHP ERR address 1nats://h:1: too many colons in address",
     "PHP ERR address 1nats://h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"1nats://h:1\": invalid syntax"},
    {"n+a.t-s://h:1",
     "URL s=\"n+a.t-s\" o=\"\" hu=false u=\"\" hp=false p=\"\" h=\"h:1\" hn=\"h\" pt=\"1\" "
     "path=\"\" q=\"\" fq=false f=\"\"",
     "SHP ERR address n+a.t-s://h:1: too many colons in address",
     "PHP ERR address n+a.t-s://h:1: too many colons in address",
     "ATOI ERR strconv.Atoi: parsing \"n+a.t-s://h:1\": invalid syntax"},
};

TEST(GoUrl, SameAsGo) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.input);
    EXPECT_EQ(UrlLine(row.input), row.url);
    EXPECT_EQ(SplitLine(row.input), row.split);
    EXPECT_EQ(HostPortLine(row.input), row.host_port);
    EXPECT_EQ(AtoiLine(row.input), row.atoi);
  }
}

TEST(GoUrl, QuoteAsGo) {
  EXPECT_EQ(GoQuote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(GoQuote("\t\n\x01\x7f"), R"("\t\n\x01\x7f")");
  EXPECT_EQ(GoQuote("\xc3\xa9"), "\"\xc3\xa9\"");  // printable UTF-8 as it is
  EXPECT_EQ(GoQuote("\xff"), R"("\xff")");
}

}  // namespace
}  // namespace gannet
