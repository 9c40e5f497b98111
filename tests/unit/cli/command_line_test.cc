// cli/command_line.h: every form of the command line parses to the command
// it names, and usage errors are exit codes, never a run.
#include "cli/command_line.h"

#include <gtest/gtest.h>

#include <initializer_list>

namespace zenith::cli {
namespace {

Parsed Parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"zenith"};
  argv.insert(argv.end(), args);
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

// A copy: the Parsed it comes from is a temporary.
template <typename T>
T CommandOf(const Parsed& p) {
  EXPECT_TRUE(p.invocation.has_value());
  if (!p.invocation) return T{};
  const T* c = std::get_if<T>(&p.invocation->command);
  EXPECT_NE(c, nullptr) << "parsed as another command (index " << p.invocation->command.index() << ")";
  return c ? *c : T{};
}

TEST(CommandLine, BranchFormsListCreateDeleteAndVerbose) {
  EXPECT_FALSE(CommandOf<BranchListCmd>(Parse({"branch"})).verbose);
  EXPECT_TRUE(CommandOf<BranchListCmd>(Parse({"branch", "-v"})).verbose);
  const auto create = CommandOf<BranchCreateCmd>(Parse({"branch", "exp", "main@0/16B3A28"}));
  EXPECT_EQ(create.name, "exp");
  EXPECT_EQ(create.parent, "main@0/16B3A28");
  EXPECT_EQ(CommandOf<BranchDeleteCmd>(Parse({"branch", "delete", "exp"})).name, "exp");
}

TEST(CommandLine, JsonGoesWithTheListingsOnly) {
  EXPECT_TRUE(CommandOf<BranchListCmd>(Parse({"branch", "--json"})).json);
  const auto verbose = CommandOf<BranchListCmd>(Parse({"branch", "-v", "--json"}));
  EXPECT_TRUE(verbose.verbose && verbose.json);
  EXPECT_FALSE(CommandOf<BranchListCmd>(Parse({"branch"})).json);
  EXPECT_TRUE(CommandOf<StatusCmd>(Parse({"status", "--json"})).json);
  EXPECT_FALSE(CommandOf<StatusCmd>(Parse({"status"})).json);
  EXPECT_TRUE(CommandOf<PageServerCmd>(Parse({"pageserver", "status", "--json"})).json);
  for (auto p : {Parse({"branch", "exp", "main", "--json"}), Parse({"pageserver", "start", "--json"})}) {
    EXPECT_FALSE(p.invocation.has_value());
    EXPECT_NE(p.exit_code, kExitOk);
  }
}

TEST(CommandLine, IncompleteBranchFormsAreUsageErrors) {
  for (auto p : {Parse({"branch", "exp"}), Parse({"branch", "delete"})}) {
    EXPECT_FALSE(p.invocation.has_value());
    EXPECT_EQ(p.exit_code, kExitFailure);
  }
}

TEST(CommandLine, MountStartStopAndTheRestCarryTheirArguments) {
  const auto mount = CommandOf<MountCmd>(Parse({"mount", "main", "/tmp/d"}));
  EXPECT_EQ(mount.branch, "main");
  EXPECT_EQ(mount.dir, "/tmp/d");
  EXPECT_FALSE(mount.read_only);
  const auto past = CommandOf<MountCmd>(Parse({"mount", "--read-only", "main@2026-11-29 10:00:00+00", "/tmp/p"}));
  EXPECT_TRUE(past.read_only);
  EXPECT_EQ(past.branch, "main@2026-11-29 10:00:00+00");
  EXPECT_EQ(past.dir, "/tmp/p");
  EXPECT_EQ(CommandOf<UmountCmd>(Parse({"umount", "/tmp/d"})).dir, "/tmp/d");
  const auto exported = CommandOf<ExportCmd>(Parse({"export", "main@0/16B3A28", "/tmp/e"}));
  EXPECT_EQ(exported.target, "main@0/16B3A28");
  EXPECT_EQ(exported.dir, "/tmp/e");
  const auto start = CommandOf<StartCmd>(Parse({"start", "main", "--", "-o", "-p 5444"}));
  EXPECT_EQ(start.branch, "main");
  EXPECT_EQ(start.pg_ctl_args, (std::vector<std::string>{"-o", "-p 5444"}));
  EXPECT_EQ(CommandOf<StopCmd>(Parse({"stop", "main"})).branch, "main");
  EXPECT_EQ(CommandOf<GcCmd>(Parse({"gc"})).window, "");
  EXPECT_EQ(CommandOf<GcCmd>(Parse({"gc", "--window", "2h"})).window, "2h");
  EXPECT_EQ(CommandOf<PageServerCmd>(Parse({"pageserver", "status"})).action, "status");
  EXPECT_EQ(CommandOf<InitCmd>(Parse({"init"})).from_datadir, "");
  EXPECT_EQ(CommandOf<InitCmd>(Parse({"init", "--from-datadir", "/srv/pg"})).from_datadir, "/srv/pg");
  EXPECT_EQ(CommandOf<InitCmd>(Parse({"init", "--from", "host=db1"})).from_server, "host=db1");
  EXPECT_FALSE(Parse({"init", "--from", "host=db1", "--from-datadir", "/srv/pg"}).invocation.has_value())
      << "one source at a time";
  EXPECT_FALSE(CommandOf<InitCmd>(Parse({"init"})).trust) << "peer and scram-sha-256 unless asked";
  EXPECT_FALSE(CommandOf<InitCmd>(Parse({"init", "--auth", "peer-scram"})).trust);
  EXPECT_TRUE(CommandOf<InitCmd>(Parse({"init", "--auth", "trust"})).trust);
  for (auto bad : {Parse({"init", "--auth", "md5"}), Parse({"init", "--auth", "trust", "--from", "host=db1"}),
                   Parse({"init", "--auth", "trust", "--from-datadir", "/srv/pg"})}) {
    EXPECT_FALSE(bad.invocation.has_value()) << "an unknown method, or one for an import (which keeps its own)";
  }
  CommandOf<StatusCmd>(Parse({"status"}));
}

TEST(CommandLine, RemoteMountsNameThePageServer) {
  const char* url = "postgresql://zenith@db1:6400";
  const auto mount = CommandOf<MountCmd>(Parse({"mount", "main", "/tmp/d", "--pageserver", url, "--scratch", "/tmp/s"}));
  EXPECT_EQ(mount.pageserver, url);
  EXPECT_EQ(mount.scratch, "/tmp/s");
  EXPECT_EQ(CommandOf<MountCmd>(Parse({"mount", "main", "/tmp/d"})).pageserver, "") << "local by default";
  EXPECT_EQ(CommandOf<StartCmd>(Parse({"start", "main", "--pageserver", url})).pageserver, url);
  EXPECT_EQ(CommandOf<StopCmd>(Parse({"stop", "main", "--pageserver", url})).pageserver, url);
  EXPECT_FALSE(Parse({"mount", "main", "/tmp/d", "--scratch", "/tmp/s"}).invocation.has_value())
      << "--scratch only with --pageserver";
  EXPECT_FALSE(Parse({"mount", "--read-only", "main", "/tmp/d", "--pageserver", url}).invocation.has_value())
      << "read-only mounts are local";
}

TEST(CommandLine, RemoteCommandsTakeTheCaToTrust) {
  const char* url = "postgresql://zenith@pages:6400";
  EXPECT_EQ(CommandOf<MountCmd>(Parse({"mount", "main", "/tmp/d", "--pageserver", url, "--ca", "/x/ca.crt"})).ca, "/x/ca.crt");
  EXPECT_EQ(CommandOf<StartCmd>(Parse({"start", "main", "--pageserver", url, "--ca", "/x/ca.crt"})).ca, "/x/ca.crt");
  EXPECT_EQ(CommandOf<StopCmd>(Parse({"stop", "main", "--pageserver", url, "--ca", "/x/ca.crt"})).ca, "/x/ca.crt");
  EXPECT_FALSE(Parse({"mount", "main", "/tmp/d", "--ca", "/x/ca.crt"}).invocation.has_value()) << "--ca only with --pageserver";
}

TEST(CommandLine, TheRepositoryOptionGoesBeforeTheCommand) {
  auto p = Parse({"--repo", "/srv/repo/.zenith", "status"});
  ASSERT_TRUE(p.invocation.has_value());
  EXPECT_EQ(p.invocation->global.repo, "/srv/repo/.zenith");
  EXPECT_EQ(Parse({"status"}).invocation->global.repo, "") << "empty: $ZENITH_REPO or ./.zenith";
}

TEST(CommandLine, BadCommandLinesAreExitCodesNotRuns) {
  for (auto p : {Parse({}), Parse({"frobnicate"}), Parse({"mount", "main"}), Parse({"pageserver", "restart"}),
                 Parse({"status", "extra"}), Parse({"gc", "--window"}), Parse({"init", "status"})}) {
    EXPECT_FALSE(p.invocation.has_value());
    EXPECT_NE(p.exit_code, kExitOk);
  }
  auto help = Parse({"--help"});
  EXPECT_FALSE(help.invocation.has_value());
  EXPECT_EQ(help.exit_code, kExitOk) << "--help is not an error";
}

}  // namespace
}  // namespace zenith::cli
