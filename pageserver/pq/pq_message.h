// PostgreSQL v3 wire-protocol messages, without I/O: decoding what a frontend
// (psql, libpq) sends, encoding what the page server answers, and turning a
// query string into a command line.
//
// Every decoder takes the bytes of one message body (after the type byte and
// the length word) and checks every count, length and terminator against
// them: malformed input is a kProtocol Status, never a read past the end or an
// allocation larger than the input. Encoders append one complete message,
// length word included, to a byte string. Integers on the wire are big-endian.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zenith::pageserver::pq {

inline constexpr uint32_t kProtocolVersion3 = 3u << 16;  // 3.0
inline constexpr uint32_t kCancelRequestCode = (1234u << 16) | 5678;
inline constexpr uint32_t kSslRequestCode = (1234u << 16) | 5679;
inline constexpr uint32_t kGssEncRequestCode = (1234u << 16) | 5680;
// PostgreSQL's MAX_STARTUP_PACKET_LENGTH; the length word counts itself.
inline constexpr uint32_t kMaxStartupPacketLength = 10000;
// Body limits (excluding type byte and length word).
inline constexpr uint32_t kMaxCopyDataLength = 64u << 20;
inline constexpr uint32_t kMaxMessageLength = 1u << 20;
inline constexpr uint32_t kTextOid = 25;
// The most parameters a statement may take ($1..$65535; counts are 16-bit).
inline constexpr int kMaxParams = 65535;

// ---- Startup ---------------------------------------------------------------

enum class StartupKind { kStartup, kSslRequest, kGssEncRequest, kCancelRequest };

struct StartupPacket {
  StartupKind kind = StartupKind::kStartup;
  uint32_t protocol = 0;                           // kStartup: major << 16 | minor
  std::map<std::string, std::string> params;       // kStartup: user, database, ...
  std::vector<std::string> protocol_options;       // kStartup: "_pq_.*" names, unsupported
};

// Checks the startup packet's length word: at least the length and the code,
// at most kMaxStartupPacketLength.
Status CheckStartupLength(uint32_t length);
// Decodes the packet after its length word.
Result<StartupPacket> DecodeStartupPacket(std::span<const uint8_t> body);

// ---- Frontend messages ------------------------------------------------------

// OK when `type` is a message a frontend may send after startup and `length`
// (the length word, counting itself) fits the type's limit.
Status CheckMessageHeader(uint8_t type, uint32_t length);

struct ParseMessage {
  std::string statement;
  std::string query;
  std::vector<uint32_t> param_types;  // 0 = unspecified
};
struct BindMessage {
  std::string portal;
  std::string statement;
  std::vector<int16_t> param_formats;
  std::vector<std::optional<std::string>> params;  // nullopt = NULL
  std::vector<int16_t> result_formats;
};
// Describe and Close: 'S' (statement) or 'P' (portal) and its name.
struct TargetMessage {
  char kind = 'S';
  std::string name;
};
struct ExecuteMessage {
  std::string portal;
  int32_t max_rows = 0;
};

Result<std::string> DecodeQuery(std::span<const uint8_t> body);     // 'Q'
Result<ParseMessage> DecodeParse(std::span<const uint8_t> body);    // 'P'
Result<BindMessage> DecodeBind(std::span<const uint8_t> body);      // 'B'
Result<TargetMessage> DecodeTarget(std::span<const uint8_t> body);  // 'D', 'C'
Result<ExecuteMessage> DecodeExecute(std::span<const uint8_t> body);
Result<std::string> DecodeCopyFail(std::span<const uint8_t> body);  // 'f'

// SASLInitialResponse ('p' during authentication): the mechanism chosen
// and the client's first message.
struct SaslInitialResponse {
  std::string mechanism;
  std::string data;
};
Result<SaslInitialResponse> DecodeSaslInitialResponse(std::span<const uint8_t> body);
// The header of a message during authentication: only 'p' (a password or
// SASL response), of at most kMaxAuthMessageLength bytes.
inline constexpr uint32_t kMaxAuthMessageLength = 8192;
Status CheckAuthMessageHeader(uint8_t type, uint32_t length);
// Sync, Flush, CopyDone and Terminate carry nothing.
Status CheckEmptyBody(std::span<const uint8_t> body);

// The page server speaks text only: kInvalidArgument when a Bind asks for a
// binary parameter or result format, or a format code that does not exist.
Status CheckTextFormats(const BindMessage& bind);

// ---- Backend messages --------------------------------------------------------
// Strings are sent NUL-terminated; an embedded NUL (which would break the
// framing) is replaced by '?'.

enum class Severity { kError, kFatal };

void AppendAuthenticationOk(std::string* out);
// AuthenticationSASL offering `mechanisms` (in order of preference), then
// SASLContinue and SASLFinal.
void AppendAuthenticationSasl(std::string* out, std::initializer_list<std::string_view> mechanisms);
void AppendAuthenticationSaslContinue(std::string* out, std::string_view data);
void AppendAuthenticationSaslFinal(std::string* out, std::string_view data);
void AppendParameterStatus(std::string* out, std::string_view name, std::string_view value);
void AppendBackendKeyData(std::string* out, uint32_t process_id, uint32_t secret_key);
void AppendNegotiateProtocolVersion(std::string* out, uint32_t newest_minor,
                                    const std::vector<std::string>& unrecognized_options);
void AppendReadyForQuery(std::string* out);  // always idle: no transactions here
void AppendErrorResponse(std::string* out, Severity severity, std::string_view sqlstate, std::string_view message);
void AppendRowDescription(std::string* out, const std::vector<std::string>& columns);  // all text
void AppendParameterDescription(std::string* out, const std::vector<uint32_t>& type_oids);
void AppendNoData(std::string* out);
// REQUIRES: every value is shorter than 1 GB (EncodedDataRowFits).
void AppendDataRow(std::string* out, const std::vector<std::optional<std::string>>& row);
bool EncodedDataRowFits(const std::vector<std::optional<std::string>>& row);
void AppendCommandComplete(std::string* out, std::string_view tag);
void AppendEmptyQueryResponse(std::string* out);
void AppendParseComplete(std::string* out);
void AppendBindComplete(std::string* out);
void AppendCloseComplete(std::string* out);
// 'H' CopyOutResponse, 'G' CopyInResponse, 'W' CopyBothResponse: binary, no columns.
void AppendCopyResponse(std::string* out, char type);
// REQUIRES: data.size() <= kMaxBackendCopyData.
inline constexpr size_t kMaxBackendCopyData = (1u << 30) - 5;
void AppendCopyData(std::string* out, std::initializer_list<std::span<const uint8_t>> parts);
void AppendCopyDone(std::string* out);

// The SQLSTATE for an error Status (the table: pageserver/api/sql_state.h).
std::string_view SqlStateFor(const Status& status);

// ---- Query text --------------------------------------------------------------

// A parsed query string: `name arg1 arg2 ...`.
struct Query {
  std::vector<std::string> tokens;  // empty: an empty query
  int max_param = 0;                // highest $n referenced (0 = none)
  bool empty() const { return tokens.empty(); }
  const std::string& name() const { return tokens.front(); }  // REQUIRES: !empty()
};

// Splits on whitespace after dropping trailing whitespace and ';'.
// Errors (SyntaxError): a ';' before the end (one command per query), a
// parameter reference out of range ($0, $70000), a parameter as the name.
Result<Query> ParseQuery(std::string_view text);
// The arguments (tokens after the name) with each `$n` token replaced by
// params[n-1]. Errors: a referenced parameter that is missing or NULL.
Result<std::vector<std::string>> BindArguments(const Query& query,
                                               const std::vector<std::optional<std::string>>& params);

}  // namespace zenith::pageserver::pq
