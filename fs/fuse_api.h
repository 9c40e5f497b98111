// The one place the libfuse API version is chosen: every file of this
// library that needs libfuse includes this header instead of libfuse's own.
// Version 3.4 of the low-level API is what Debian 12's libfuse 3.14 serves
// without the 3.12 loop-configuration changes.
//
// Thread-safety: declarations only.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
