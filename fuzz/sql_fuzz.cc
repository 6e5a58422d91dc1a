// The SQL store's text formats (src/streaming/store/sql_text.h): the MySQL source given by an
// operator and SubsPending's JSON arrays read from a database another server wrote. Neither may
// crash, and a JSON array that parses formats back to the same set of sequences.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "streaming/store/sql_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  using namespace gannet::streaming::store::sql;
  auto dsn = ParseMysqlDsn(input);
  if (dsn.ok() && dsn->port == 0) std::abort();  // a parsed port is 1..65535

  std::vector<uint64_t> seqs;
  if (ParseSeqArray(input, seqs)) {
    const std::set<uint64_t> set(seqs.begin(), seqs.end());
    std::vector<uint64_t> again;
    if (!ParseSeqArray(FormatSeqArray(set), again)) std::abort();
    if (std::set<uint64_t>(again.begin(), again.end()) != set) std::abort();
  }
  return 0;
}
