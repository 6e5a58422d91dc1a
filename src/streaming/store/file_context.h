// What every part of one FILE store shares: its options, the CRC table made from
// file_crc_poly, the root directory and the runner of slice archive scripts. Read-only once the
// store is open, so any thread may read it.
#pragma once

#include <string>

#include "streaming/store/file_archive.h"
#include "streaming/store/file_format.h"
#include "streaming/store/store.h"

namespace gannet::streaming::store::file {

struct FileContext {
  FileContext(const FileStoreOptions& o, std::string root_dir)
      : opts(o),
        crc(static_cast<uint32_t>(o.crc_polynomial)),
        root(std::move(root_dir)),
        archive(o.slice_archive_script) {}

  FileStoreOptions opts;
  Crc32 crc;
  std::string root;
  mutable ArchiveRunner archive;  // runs scripts; thread-safe
};

}  // namespace gannet::streaming::store::file
