// The boundary between the kernel's FUSE protocol and FsCore: the table of
// low-level operations, the replies, and the one function that turns a
// Status into an errno.
//
// Thread-safety: the table is a constant; its handlers run on any FUSE
// worker thread with the FsCore passed to fuse_session_new() as userdata.
#pragma once

#include "common/status.h"
#include "fs/fuse_api.h"

namespace zenith::fs::internal {

// The operations of a DatadirFs session; userdata must be the FsCore.
const fuse_lowlevel_ops& FuseOperations();

// The errno a FUSE reply carries for `status` (0 when ok): the saved errno
// of a failed system call, else one chosen by status code (EIO for I/O and
// page server failures).
int ToErrno(const Status& status);

// Sends libfuse's own messages to spdlog instead of stderr.
void RouteFuseLogsToSpdlog();

}  // namespace zenith::fs::internal
