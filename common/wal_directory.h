// WAL in a directory of segment files (a pg_wal, or a timeline's wal/): the
// one place WAL decoding meets the filesystem. Everything else reads WAL
// through the WalReadFn made here (or one a test builds over bytes).
//
// On disk: 16 MB files named <tli><log><seg> (WalSegmentFileName), written
// in place by PostgreSQL, usually preallocated with zeros. A missing file or
// bytes past a file's end read as absent: that is where the WAL ends, never
// an error.
//
// Thread-safety: the WalReadFn returned is thread-safe (its cache of open
// files is guarded by a mutex, reads happen outside it).
#pragma once

#include <string>

#include "common/lsn.h"
#include "common/status.h"
#include "common/wal_reader.h"

namespace zenith {

// A read function over `<dir>/<WalSegmentFileName(tli, segno)>`. Reads that
// cross a segment boundary continue in the next file. It keeps a few
// segment files open: a file replaced (renamed over) after it was first read
// is not noticed, so make a new reader after rewriting segments (zenith never
// lets PostgreSQL recycle them). A file that did not exist is looked for
// again on every read. Errors only for real I/O failures (open or read).
WalReadFn MakeWalDirectoryReader(std::string dir, TimeLineId tli);

// The end of WAL of timeline `tli` in `dir`, reading from `start` (a record
// boundary, see WalReader). If `start` is invalid, from the first record of
// the oldest segment of `tli` present. Errors: kNotFound if there is no
// segment of `tli` to start from; kCorruption if the oldest one does not
// begin with a valid page; I/O failures.
Result<Lsn> FindEndOfWalInDirectory(const std::string& dir, TimeLineId tli, uint64_t system_id, Lsn start);

}  // namespace zenith
