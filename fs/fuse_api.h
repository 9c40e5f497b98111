// The one place the libfuse API version is chosen: every file of this
// library that needs libfuse includes this header instead of libfuse's own.
// Version 3.12 of the low-level API (Debian 12 ships libfuse 3.14): its loop
// configuration is the one that can raise the number of worker threads.
//
// Thread-safety: declarations only.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
