// pg_authid: the name of a cluster's bootstrap superuser (the role initdb
// made, oid 10, whatever it has been renamed to since), read from the heap
// pages of pg_authid (global/1260) with no server running. A remote mount
// needs it to map its OS user to that role (fs/remote_compute.h).
//
// A heap page holds line pointers (ItemIdData) after its header; each
// normal one points at a tuple: HeapTupleHeaderData (xmin, xmax, infomask,
// t_hoff), then the columns from t_hoff: oid, then rolname (a 64-byte
// `name`). An UPDATE (ALTER ROLE ... RENAME) leaves the old version with
// its xmax set beside the new one: the live version is the one whose xmax
// is invalid (0, hinted invalid, or only a row lock); of several, the
// newest xmin. Layouts come from the server headers (pg_abi.h).
//
// Thread-safety: pure functions over caller-owned bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace zenith {

// One tuple version of pg_authid.
struct AuthIdTuple {
  uint32_t oid = 0;
  std::string name;
  uint32_t xmin = 0;
  bool live = false;  // xmax invalid: not deleted or updated (as far as the page says)
};

// The tuples of one pg_authid page (BLCKSZ bytes); an all-zero page has
// none. kCorruption when a line pointer or tuple lies outside the page.
Result<std::vector<AuthIdTuple>> DecodeAuthIdPage(std::span<const uint8_t> page);

// The live name of the bootstrap superuser among `tuples` (every page's);
// kNotFound if none is there.
Result<std::string> BootstrapSuperuser(const std::vector<AuthIdTuple>& tuples);

// Reads block `block` of pg_authid into `page` (BLCKSZ bytes).
using AuthIdBlockReader = std::function<Status(uint32_t block, std::span<uint8_t> page)>;

// BootstrapSuperuser over the relation's first `blocks` blocks.
Result<std::string> ReadBootstrapSuperuser(uint32_t blocks, const AuthIdBlockReader& read);

}  // namespace zenith
