#include "pageserver/pq/pq_message.h"

#include <algorithm>
#include <cstring>

#include "common/byte_io.h"
#include "pageserver/api/sql_state.h"
#include "pageserver/pq/command.h"

namespace zenith::pageserver::pq {
namespace {

// Reads big-endian fields from one message body. A short or malformed body
// sets a sticky failure; callers check ok() once at the end (and before
// using a count to size anything).
class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> in) : in_(in) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool AtEnd() const { return ok_ && pos_ == in_.size(); }

  uint8_t U8() { return static_cast<uint8_t>(Take(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Take(2)); }
  uint32_t U32() { return Take(4); }
  // A NUL-terminated string.
  std::string CString() {
    if (!ok_) return {};
    auto rest = in_.subspan(pos_);
    auto nul = std::find(rest.begin(), rest.end(), uint8_t{0});
    if (nul == rest.end()) return Fail();
    std::string s(reinterpret_cast<const char*>(rest.data()), static_cast<size_t>(nul - rest.begin()));
    pos_ += s.size() + 1;
    return s;
  }
  std::string Bytes(size_t n) {
    if (!ok_ || remaining() < n) return Fail();
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  uint32_t Take(size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return 0;
    }
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | in_[pos_ + i];
    pos_ += n;
    return v;
  }
  std::string Fail() {
    ok_ = false;
    return {};
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Builds one backend message in place: the type, a length word patched by
// the destructor, then the fields.
class MessageBuilder {
 public:
  MessageBuilder(std::string* out, char type) : out_(out) {
    out_->push_back(type);
    start_ = out_->size();
    U32(0);
  }
  MessageBuilder(const MessageBuilder&) = delete;
  MessageBuilder& operator=(const MessageBuilder&) = delete;
  ~MessageBuilder() {
    uint32_t len = static_cast<uint32_t>(out_->size() - start_);
    for (int i = 0; i < 4; ++i) (*out_)[start_ + i] = static_cast<char>(len >> (24 - 8 * i));
  }
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Be(v, 2); }
  void U32(uint32_t v) { Be(v, 4); }
  void CString(std::string_view s) {
    size_t at = out_->size();
    out_->append(s);
    std::replace(out_->begin() + static_cast<std::ptrdiff_t>(at), out_->end(), '\0', '?');
    out_->push_back('\0');
  }
  void Bytes(std::string_view s) { out_->append(s); }

 private:
  void Be(uint32_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_->push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string* out_;
  size_t start_;
};

Status Malformed(std::string_view what) {
  return ProtocolError("invalid " + std::string(what) + " message format");
}

Status DecodeStartupParams(WireReader& r, StartupPacket* packet) {
  for (;;) {
    std::string name = r.CString();
    if (!r.ok()) return ProtocolError("startup packet is missing its terminating zero byte");
    if (name.empty()) break;
    std::string value = r.CString();
    if (!r.ok()) return ProtocolError("startup packet has no value for parameter \"" + name + "\"");
    if (name.rfind("_pq_.", 0) == 0) {
      packet->protocol_options.push_back(name);
    } else {
      packet->params[name] = value;
    }
  }
  if (!r.AtEnd()) return ProtocolError("startup packet has bytes after its terminating zero byte");
  return Status::Ok();
}

bool IsParamToken(std::string_view token) {
  return token.size() >= 2 && token[0] == '$' &&
         std::all_of(token.begin() + 1, token.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The number in a `$n` token, or 0 when it is out of range.
int ParamNumber(std::string_view token) {
  if (token.size() > 6) return 0;
  int n = 0;
  for (char c : token.substr(1)) n = n * 10 + (c - '0');
  return n <= kMaxParams ? n : 0;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

// ---- Startup ---------------------------------------------------------------

Status CheckStartupLength(uint32_t length) {
  if (length < 8 || length > kMaxStartupPacketLength) {
    return ProtocolError("invalid length of startup packet: " + std::to_string(length));
  }
  return Status::Ok();
}

Result<StartupPacket> DecodeStartupPacket(std::span<const uint8_t> body) {
  WireReader r(body);
  StartupPacket packet;
  uint32_t code = r.U32();
  if (!r.ok()) return ProtocolError("startup packet is too short");
  if (code == kSslRequestCode || code == kGssEncRequestCode || code == kCancelRequestCode) {
    size_t expected = code == kCancelRequestCode ? 8 : 0;  // process id + secret key
    if (r.remaining() != expected) return ProtocolError("invalid length of startup packet");
    packet.kind = code == kSslRequestCode     ? StartupKind::kSslRequest
                  : code == kGssEncRequestCode ? StartupKind::kGssEncRequest
                                               : StartupKind::kCancelRequest;
    return packet;
  }
  packet.protocol = code;
  if ((code >> 16) != 3) return packet;  // the caller rejects the version
  ZENITH_RETURN_IF_ERROR(DecodeStartupParams(r, &packet));
  return packet;
}

// ---- Frontend messages ------------------------------------------------------

Status CheckMessageHeader(uint8_t type, uint32_t length) {
  static constexpr std::string_view kKnown = "QPBDECSHXdcfF";
  if (type == 0 || kKnown.find(static_cast<char>(type)) == std::string_view::npos) {
    return ProtocolError("invalid frontend message type " + HexByte(type));
  }
  uint32_t limit = type == 'd' ? kMaxCopyDataLength : kMaxMessageLength;
  if (length < 4 || length - 4 > limit) {
    return ProtocolError("invalid message length " + std::to_string(length) + " for message type " + HexByte(type));
  }
  return Status::Ok();
}

Status CheckAuthMessageHeader(uint8_t type, uint32_t length) {
  if (type != 'p') return ProtocolError("expected a SASL response during authentication, got message type " + HexByte(type));
  if (length < 4 || length - 4 > kMaxAuthMessageLength) {
    return ProtocolError("invalid SASL response length " + std::to_string(length));
  }
  return Status::Ok();
}

Result<std::string> DecodeQuery(std::span<const uint8_t> body) {
  WireReader r(body);
  std::string query = r.CString();
  if (!r.AtEnd()) return Malformed("Query");
  return query;
}

Result<ParseMessage> DecodeParse(std::span<const uint8_t> body) {
  WireReader r(body);
  ParseMessage m;
  m.statement = r.CString();
  m.query = r.CString();
  uint16_t n = r.U16();
  if (!r.ok() || r.remaining() != size_t{n} * 4) return Malformed("Parse");
  for (uint16_t i = 0; i < n; ++i) m.param_types.push_back(r.U32());
  if (!r.AtEnd()) return Malformed("Parse");
  return m;
}

Result<BindMessage> DecodeBind(std::span<const uint8_t> body) {
  WireReader r(body);
  BindMessage m;
  m.portal = r.CString();
  m.statement = r.CString();
  uint16_t nformats = r.U16();
  if (!r.ok() || r.remaining() < size_t{nformats} * 2) return Malformed("Bind");
  for (uint16_t i = 0; i < nformats; ++i) m.param_formats.push_back(static_cast<int16_t>(r.U16()));
  uint16_t nparams = r.U16();
  if (!r.ok() || r.remaining() < size_t{nparams} * 4) return Malformed("Bind");
  for (uint16_t i = 0; i < nparams; ++i) {
    uint32_t len = r.U32();
    if (len == 0xFFFFFFFFu) {
      m.params.emplace_back(std::nullopt);
      continue;
    }
    if (!r.ok() || len > r.remaining()) return Malformed("Bind");
    m.params.emplace_back(r.Bytes(len));
  }
  uint16_t nresults = r.U16();
  if (!r.ok() || r.remaining() != size_t{nresults} * 2) return Malformed("Bind");
  for (uint16_t i = 0; i < nresults; ++i) m.result_formats.push_back(static_cast<int16_t>(r.U16()));
  if (!r.AtEnd()) return Malformed("Bind");
  if (nformats > 1 && nformats != nparams) {
    return ProtocolError("bind message has " + std::to_string(nformats) + " parameter formats but " +
                         std::to_string(nparams) + " parameters");
  }
  return m;
}

Result<TargetMessage> DecodeTarget(std::span<const uint8_t> body) {
  WireReader r(body);
  TargetMessage m;
  m.kind = static_cast<char>(r.U8());
  m.name = r.CString();
  if (!r.AtEnd()) return Malformed("Describe/Close");
  if (m.kind != 'S' && m.kind != 'P') {
    return ProtocolError("invalid Describe/Close target type " + HexByte(static_cast<uint8_t>(m.kind)));
  }
  return m;
}

Result<ExecuteMessage> DecodeExecute(std::span<const uint8_t> body) {
  WireReader r(body);
  ExecuteMessage m;
  m.portal = r.CString();
  m.max_rows = static_cast<int32_t>(r.U32());
  if (!r.AtEnd()) return Malformed("Execute");
  return m;
}

Result<std::string> DecodeCopyFail(std::span<const uint8_t> body) {
  WireReader r(body);
  std::string reason = r.CString();
  if (!r.AtEnd()) return Malformed("CopyFail");
  return reason;
}

Status CheckEmptyBody(std::span<const uint8_t> body) {
  if (!body.empty()) return ProtocolError("invalid message format: unexpected bytes in an empty message");
  return Status::Ok();
}

Status CheckTextFormats(const BindMessage& bind) {
  auto check = [](const std::vector<int16_t>& formats, std::string_view what) -> Status {
    for (int16_t f : formats) {
      if (f == 1) {
        return InvalidArgument("binary " + std::string(what) +
                               " format is not supported by the page server; use text format");
      }
      if (f != 0) return ProtocolError("unsupported format code: " + std::to_string(f));
    }
    return Status::Ok();
  };
  ZENITH_RETURN_IF_ERROR(check(bind.param_formats, "parameter"));
  return check(bind.result_formats, "result");
}

// ---- Backend messages --------------------------------------------------------

void AppendAuthenticationOk(std::string* out) {
  MessageBuilder m(out, 'R');
  m.U32(0);
}

void AppendAuthenticationSasl(std::string* out, std::initializer_list<std::string_view> mechanisms) {
  MessageBuilder m(out, 'R');
  m.U32(10);
  for (std::string_view mechanism : mechanisms) m.CString(mechanism);
  m.CString("");
}

void AppendAuthenticationSaslContinue(std::string* out, std::string_view data) {
  MessageBuilder m(out, 'R');
  m.U32(11);
  m.Bytes(data);
}

void AppendAuthenticationSaslFinal(std::string* out, std::string_view data) {
  MessageBuilder m(out, 'R');
  m.U32(12);
  m.Bytes(data);
}

Result<SaslInitialResponse> DecodeSaslInitialResponse(std::span<const uint8_t> body) {
  WireReader r(body);
  SaslInitialResponse m;
  m.mechanism = r.CString();
  const uint32_t length = r.U32();
  if (r.ok() && length != 0xFFFFFFFFu) m.data = r.Bytes(length);
  if (!r.AtEnd()) return ProtocolError("malformed SASLInitialResponse message");
  return m;
}

void AppendParameterStatus(std::string* out, std::string_view name, std::string_view value) {
  MessageBuilder m(out, 'S');
  m.CString(name);
  m.CString(value);
}

void AppendBackendKeyData(std::string* out, uint32_t process_id, uint32_t secret_key) {
  MessageBuilder m(out, 'K');
  m.U32(process_id);
  m.U32(secret_key);
}

void AppendNegotiateProtocolVersion(std::string* out, uint32_t newest_minor,
                                    const std::vector<std::string>& unrecognized_options) {
  MessageBuilder m(out, 'v');
  m.U32(newest_minor);
  m.U32(static_cast<uint32_t>(unrecognized_options.size()));
  for (const auto& option : unrecognized_options) m.CString(option);
}

void AppendReadyForQuery(std::string* out) {
  MessageBuilder m(out, 'Z');
  m.U8('I');
}

void AppendErrorResponse(std::string* out, Severity severity, std::string_view sqlstate, std::string_view message) {
  std::string_view level = severity == Severity::kFatal ? "FATAL" : "ERROR";
  MessageBuilder m(out, 'E');
  m.U8('S');
  m.CString(level);
  m.U8('V');
  m.CString(level);
  m.U8('C');
  m.CString(sqlstate);
  m.U8('M');
  m.CString(message);
  m.U8(0);
}

void AppendRowDescription(std::string* out, const std::vector<std::string>& columns) {
  MessageBuilder m(out, 'T');
  m.U16(static_cast<uint16_t>(columns.size()));
  for (const auto& name : columns) {
    m.CString(name);
    m.U32(0);                            // table OID
    m.U16(0);                            // column number
    m.U32(kTextOid);                     // type OID
    m.U16(0xFFFF);                       // type size: -1, variable
    m.U32(0xFFFFFFFFu);                  // type modifier: -1
    m.U16(0);                            // text format
  }
}

void AppendParameterDescription(std::string* out, const std::vector<uint32_t>& type_oids) {
  MessageBuilder m(out, 't');
  m.U16(static_cast<uint16_t>(type_oids.size()));
  for (uint32_t oid : type_oids) m.U32(oid);
}

void AppendNoData(std::string* out) { MessageBuilder m(out, 'n'); }

bool EncodedDataRowFits(const std::vector<std::optional<std::string>>& row) {
  size_t total = 6;
  for (const auto& v : row) total += 4 + (v ? v->size() : 0);
  return row.size() <= 0xFFFF && total < (1u << 30);
}

void AppendDataRow(std::string* out, const std::vector<std::optional<std::string>>& row) {
  MessageBuilder m(out, 'D');
  m.U16(static_cast<uint16_t>(row.size()));
  for (const auto& v : row) {
    if (!v) {
      m.U32(0xFFFFFFFFu);
      continue;
    }
    m.U32(static_cast<uint32_t>(v->size()));
    m.Bytes(*v);
  }
}

void AppendCommandComplete(std::string* out, std::string_view tag) {
  MessageBuilder m(out, 'C');
  m.CString(tag);
}

void AppendEmptyQueryResponse(std::string* out) { MessageBuilder m(out, 'I'); }
void AppendParseComplete(std::string* out) { MessageBuilder m(out, '1'); }
void AppendBindComplete(std::string* out) { MessageBuilder m(out, '2'); }
void AppendCloseComplete(std::string* out) { MessageBuilder m(out, '3'); }

void AppendCopyResponse(std::string* out, char type) {
  MessageBuilder m(out, type);
  m.U8(1);   // binary: the bytes are the command's own format
  m.U16(0);  // no columns
}

void AppendCopyData(std::string* out, std::initializer_list<std::span<const uint8_t>> parts) {
  MessageBuilder m(out, 'd');
  for (std::span<const uint8_t> part : parts) m.Bytes(AsStringView(part));
}

void AppendCopyDone(std::string* out) { MessageBuilder m(out, 'c'); }

std::string_view SqlStateFor(const Status& status) {
  return SqlStateForCode(status.code());
}

// ---- Query text --------------------------------------------------------------

Result<Query> ParseQuery(std::string_view text) {
  while (!text.empty() && (IsSpace(text.back()) || text.back() == ';')) text.remove_suffix(1);
  if (text.find(';') != std::string_view::npos) {
    return SyntaxError("only one command per query is supported (found ';' before the end)");
  }
  if (text.find('\0') != std::string_view::npos) return SyntaxError("query contains a zero byte");
  Query q;
  size_t i = 0;
  while (i < text.size()) {
    if (IsSpace(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !IsSpace(text[end])) ++end;
    std::string_view token = text.substr(i, end - i);
    if (IsParamToken(token)) {
      int n = ParamNumber(token);
      if (n == 0) return SyntaxError("there is no parameter " + std::string(token));
      if (q.tokens.empty()) return SyntaxError("the command name cannot be a parameter");
      q.max_param = std::max(q.max_param, n);
    }
    q.tokens.emplace_back(token);
    i = end;
  }
  return q;
}

Result<std::vector<std::string>> BindArguments(const Query& query,
                                               const std::vector<std::optional<std::string>>& params) {
  std::vector<std::string> args;
  for (size_t i = 1; i < query.tokens.size(); ++i) {
    const std::string& token = query.tokens[i];
    if (!IsParamToken(token)) {
      args.push_back(token);
      continue;
    }
    size_t n = static_cast<size_t>(ParamNumber(token));
    if (n == 0 || n > params.size()) return SyntaxError("there is no parameter " + token);
    if (!params[n - 1]) return InvalidArgument("parameter " + token + " is NULL; commands take text arguments");
    args.push_back(*params[n - 1]);
  }
  return args;
}

}  // namespace zenith::pageserver::pq
