// The few XML documents of the S3 API zenith reads and writes: error bodies,
// ListObjectsV2 results, multipart uploads, DeleteObjects. S3's XML is flat
// and regular; this reads elements by name without a general XML parser.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace zenith::s3 {

// The text of every <tag>...</tag> in `xml`, in order, entities decoded.
// Elements nested in another of the same name are not supported (S3 has none).
std::vector<std::string> XmlElements(std::string_view xml, std::string_view tag);
// The first such text, or "".
std::string XmlElement(std::string_view xml, std::string_view tag);
// `text` with & < > " ' escaped.
std::string XmlEscape(std::string_view text);

struct ListedObject {
  std::string key;
  uint64_t size = 0;
};
struct ListResult {
  std::vector<ListedObject> objects;
  std::string next_token;  // "" when this was the last page
};
// A ListObjectsV2 response body; Corruption when a <Size> is not a number.
Result<ListResult> ParseListResult(std::string_view xml);

// <Delete><Quiet>true</Quiet><Object><Key>..</Key></Object>...</Delete>
std::string DeleteRequestXml(const std::vector<std::string>& keys);
// <CompleteMultipartUpload> with one <Part> per ETag, numbered from 1.
std::string CompleteMultipartXml(const std::vector<std::string>& etags);

}  // namespace zenith::s3
