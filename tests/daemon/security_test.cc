// Start-up security warnings and the first-start admin token (daemon/security.h).
#include "daemon/security.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "northbound/auth.h"

namespace pulse::northbound {
namespace {

bool AnyContains(const std::vector<std::string>& warnings, const std::string& part) {
  for (const std::string& w : warnings) {
    if (w.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(SecurityTest, WarnsForPlaintextTokensOpenApiAndReadableSecrets) {
  const std::string dir = ::testing::TempDir() + "/security_test";
  ::mkdir(dir.c_str(), 0700);
  const std::string tokens = dir + "/tokens.yaml";
  std::ofstream(tokens) << "tokens: []\n";
  ::chmod(tokens.c_str(), 0644);
  DaemonConfig config;
  config.listen = "0.0.0.0:50051";
  config.insecure = true;
  config.tokens_file = tokens;
  std::vector<std::string> warnings = SecurityWarnings(config);
  EXPECT_TRUE(AnyContains(warnings, "plaintext")) << warnings.size();
  EXPECT_TRUE(AnyContains(warnings, "readable by group or others (mode 0644)"));
  ::chmod(tokens.c_str(), 0600);
  EXPECT_FALSE(AnyContains(SecurityWarnings(config), "readable by group"));

  config.tokens_file.clear();
  EXPECT_TRUE(AnyContains(SecurityWarnings(config), "without tokens beyond loopback"));
  config.listen = "127.0.0.1:50051";
  EXPECT_TRUE(SecurityWarnings(config).empty());
}

TEST(SecurityTest, AdminTokenCreatedOnceOwnerOnlyAndLoadable) {
  const std::string dir = ::testing::TempDir() + "/security_token_test";
  const std::string path = dir + "/state/tokens.yaml";
  ::unlink(path.c_str());
  ::mkdir(dir.c_str(), 0700);
  absl::StatusOr<bool> created = EnsureAdminToken(path);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<std::vector<Token>> tokens = LoadTokensFile(path);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ((*tokens)[0].role, Role::kAdmin);
  EXPECT_EQ((*tokens)[0].secret.size(), 64u);
  const std::string first = (*tokens)[0].secret;
  // A second start keeps the file (and the token operators already use).
  created = EnsureAdminToken(path);
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(*created);
  EXPECT_EQ((*LoadTokensFile(path))[0].secret, first);
}

}  // namespace
}  // namespace pulse::northbound
