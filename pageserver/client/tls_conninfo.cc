#include "pageserver/client/tls_conninfo.h"

#include <arpa/inet.h>
#include <libpq-fe.h>

#include <map>
#include <vector>
#include <memory>

namespace zenith::pageserver {
namespace {

struct ConnInfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// libpq's host list: comma-separated.
std::vector<std::string> Hosts(const std::string& host) {
  std::vector<std::string> out;
  for (size_t start = 0;;) {
    const size_t comma = host.find(',', start);
    out.push_back(host.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// Whether libpq would reach the server over TCP: a hostaddr, or a host that
// is not a socket directory. No host at all is the default Unix socket.
bool IsTcp(const std::map<std::string, std::string>& params) {
  auto get = [&](const char* k) {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  };
  if (!get("hostaddr").empty()) return true;
  for (const std::string& h : Hosts(get("host"))) {
    if (!h.empty() && h[0] != '/' && h[0] != '@') return true;
  }
  return false;
}

bool AllHostsAreAddresses(const std::map<std::string, std::string>& params) {
  auto host = params.find("host");
  if (host == params.end() || host->second.empty()) return true;  // hostaddr only
  for (const std::string& h : Hosts(host->second)) {
    if (!IsIpAddress(h)) return false;
  }
  return true;
}

std::string Quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

bool plain_tcp_allowed = false;  // AllowPlainTcpForBenchmarks

}  // namespace

void AllowPlainTcpForBenchmarks() { plain_tcp_allowed = true; }

Result<std::string> SecurePageServerConnInfo(std::string_view conninfo, const std::string& ca_file) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConnInfoFree> options(PQconninfoParse(std::string(conninfo).c_str(), &error));
  if (!options) {
    std::string why = error != nullptr ? error : "out of memory";
    PQfreemem(error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return InvalidArgument("bad page server connection string: " + why);
  }
  std::map<std::string, std::string> params;
  for (PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr && *o->val != '\0') params[o->keyword] = o->val;
  }
  if (!IsTcp(params)) return std::string(conninfo);
  const std::string sslmode = params.count("sslmode") ? params["sslmode"] : "";
  if (plain_tcp_allowed && sslmode == "disable") return std::string(conninfo);
  if (!sslmode.empty() && sslmode != "verify-ca" && sslmode != "verify-full") {
    return InvalidArgument("sslmode=" + sslmode + " is refused for a page server over TCP: zenith connects only with "
                           "TLS and a verified certificate (sslmode=verify-full, or verify-ca for an IP address; "
                           "leave sslmode out to get that, with sslrootcert naming the repository's ca.crt)");
  }
  const std::string binding = params.count("channel_binding") ? params["channel_binding"] : "";
  if (!binding.empty() && binding != "require") {
    return InvalidArgument("channel_binding=" + binding + " is refused for a page server over TCP: zenith requires "
                           "SCRAM-SHA-256-PLUS (leave channel_binding out)");
  }
  if (sslmode.empty()) params["sslmode"] = AllHostsAreAddresses(params) ? "verify-ca" : "verify-full";
  params["channel_binding"] = "require";
  if (!ca_file.empty() && !params.count("sslrootcert")) params["sslrootcert"] = ca_file;
  std::string out;
  for (const auto& [key, value] : params) out += (out.empty() ? "" : " ") + key + "=" + Quoted(value);
  return out;
}

}  // namespace zenith::pageserver
