#include "cli/object_storage.h"

#include "common/file_util.h"
#include "pageserver/api/repo_config.h"
#include "pageserver/api/repo_layout.h"
#include "pageserver/s3/remote_repository.h"
#include "pageserver/s3/s3_client.h"

namespace zenith::cli {

Result<RemoteTarget> PrepareRemote(const std::string& url) {
  auto parsed = s3::ParseS3Url(url);
  if (!parsed.ok()) return parsed.status();
  auto settings = s3::LoadS3Settings(s3::ProcessEnvironment());
  if (!settings.ok()) return settings.status();
  RemoteTarget target{*parsed, settings->endpoint, settings->region, nullptr};
  target.store = std::make_unique<s3::S3Client>(std::move(settings).value(), parsed->bucket);
  Status st = s3::CheckPrefixIsFree(*target.store, target.url);
  if (st.code() == StatusCode::kAlreadyExists) {
    return AlreadyExists(st.message() + "; give a prefix of its own to each repository");
  }
  if (!st.ok()) return st;
  return target;
}

Status ClaimRemote(const std::string& repo, RemoteTarget& target) {
  const pageserver::RepoLayout layout{repo};
  auto config = pageserver::RepoConfig::Load(layout.config());
  if (!config.ok()) return config.status();
  s3::RemoteRepositoryInfo info{config->format, config->system_id, config->pg_version};
  auto generation = s3::ClaimNewRepository(*target.store, target.url, info);
  if (!generation.ok()) return generation.status();
  config->remote = {target.url.ToString(), target.endpoint, target.region};
  ZENITH_RETURN_IF_ERROR(WriteFileDurably(layout.generation_file(), std::to_string(*generation) + "\n", 0644));
  return config->Save(layout.config());
}

}  // namespace zenith::cli
