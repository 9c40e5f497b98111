#include "pageserver/s3/s3_xml.h"

#include <charconv>

namespace zenith::s3 {
namespace {

std::string XmlUnescape(std::string_view text) {
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    bool replaced = false;
    if (text[i] == '&') {
      for (const auto& [entity, ch] : kEntities) {
        if (text.substr(i, entity.size()) == entity) {
          out.push_back(ch);
          i += entity.size() - 1;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(text[i]);
  }
  return out;
}

}  // namespace

std::vector<std::string> XmlElements(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t start = pos + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    out.push_back(XmlUnescape(xml.substr(start, end - start)));
    pos = end + close.size();
  }
  return out;
}

std::string XmlElement(std::string_view xml, std::string_view tag) {
  auto all = XmlElements(xml, tag);
  return all.empty() ? std::string() : all.front();
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

Result<ListResult> ParseListResult(std::string_view xml) {
  ListResult result;
  // <Contents> holds only leaf elements, so its raw text can be searched again.
  const std::string_view open = "<Contents>", close = "</Contents>";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t end = xml.find(close, pos);
    if (end == std::string_view::npos) return Corruption("truncated <Contents> in an S3 listing");
    std::string_view entry = xml.substr(pos, end - pos);
    ListedObject obj{XmlElement(entry, "Key"), 0};
    std::string size = XmlElement(entry, "Size");
    auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), obj.size);
    if (ec != std::errc() || p != size.data() + size.size()) {
      return Corruption("bad <Size> \"" + size + "\" of \"" + obj.key + "\" in an S3 listing");
    }
    result.objects.push_back(std::move(obj));
    pos = end + close.size();
  }
  if (XmlElement(xml, "IsTruncated") == "true") {
    result.next_token = XmlElement(xml, "NextContinuationToken");
    if (result.next_token.empty()) return Corruption("a truncated S3 listing without NextContinuationToken");
  }
  return result;
}

std::string DeleteRequestXml(const std::vector<std::string>& keys) {
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Quiet>true</Quiet>";
  for (const auto& k : keys) xml += "<Object><Key>" + XmlEscape(k) + "</Key></Object>";
  return xml + "</Delete>";
}

std::string CompleteMultipartXml(const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + XmlEscape(etags[i]) +
           "</ETag></Part>";
  }
  return xml + "</CompleteMultipartUpload>";
}

}  // namespace zenith::s3
