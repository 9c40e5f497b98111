// The page server's roles: what a session may do (docs/design.md §2).
//
//   zenith   the repository's owner: every command. A client of the Unix
//            socket (the owner, by peer credentials) or a TCP client that
//            knows .zenith/password.
//   compute  a mount on another machine: a TCP client that knows
//            .zenith/compute-password. Only what a mount needs (read-write,
//            read-only, export): basebackups, pages, WAL, its lease, and
//            snapshots of the timeline whose lease it holds.
//
// On TCP a role's user name is its name (`postgresql://compute@HOST:PORT`).
// Each entry of the page service's command table names the roles that may
// run it (page_service.cc).
//
// Thread-safety: constants and pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace zenith::pageserver {

enum class Role : uint8_t { kZenith = 1, kCompute = 2 };

// A set of roles: the bits of its members.
using RoleSet = uint8_t;
inline constexpr RoleSet kOwnerOnly = static_cast<RoleSet>(Role::kZenith);
inline constexpr RoleSet kOwnerAndCompute = static_cast<RoleSet>(Role::kZenith) | static_cast<RoleSet>(Role::kCompute);

constexpr bool RoleIn(Role role, RoleSet set) { return (set & static_cast<RoleSet>(role)) != 0; }

// "zenith" or "compute": the role's name, and its user name on TCP.
constexpr std::string_view RoleName(Role role) { return role == Role::kZenith ? "zenith" : "compute"; }

}  // namespace zenith::pageserver
