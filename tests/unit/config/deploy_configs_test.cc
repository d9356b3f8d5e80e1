// The agent configs shipped in deploy/ (Kubernetes and systemd) are real configs: each goes through the same
// ResolveConfig the agent runs at start-up (file, environment, validation, rule compilation) and holds the
// values the deployment around it relies on.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/rules/rule_compiler.h"
#include "leakwatch/agent.h"
#include "leakwatch/rules.h"

namespace leakwatch::internal {
namespace {

using namespace std::chrono_literals;

const std::string kSourceDir = LEAKWATCH_SOURCE_DIR;
constexpr uint64_t kMiB = 1024 * 1024;

// A directory with a valid debug token file, removed at the end of the test.
class TokenFile {
 public:
  TokenFile() {
    char dir_template[] = "/tmp/leakwatch-deploy-token-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) return;  // the resolve then fails, naming the missing file
    dir_ = dir_template;
    std::ofstream(path()) << "0123456789abcdef0123456789abcdef\n";
  }
  ~TokenFile() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  std::string path() const { return dir_.empty() ? "" : dir_ + "/token"; }

 private:
  std::string dir_;
};

// What the agent resolves at start-up for `config` (a path under the source tree): the program's defaults,
// the file as LEAKWATCH_CONFIG names it, then `env`. The token file the deployment mounts (a Kubernetes
// Secret, a systemd credential) does not exist here: LEAKWATCH_DEBUG_TOKEN_FILE points at a stand-in, as
// the systemd unit does for the real one.
Result<ResolvedConfig> Resolve(const std::string& config, const std::string& token_file) {
  const std::map<std::string, std::string> env{{"LEAKWATCH_CONFIG", kSourceDir + "/" + config},
                                               {"LEAKWATCH_DEBUG_TOKEN_FILE", token_file}};
  const EnvLookup lookup = [env](const char* name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return ResolveConfig(AgentOptions{}, lookup, std::nullopt, KnownActionNames());
}

// The file alone over the defaults (what the file itself sets, before the environment).
AgentOptions FileOnly(const std::string& config) {
  AgentOptions options;
  const auto st = ApplyConfigFile(kSourceDir + "/" + config, &options);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return options;
}

TEST(DeployConfigs, KubernetesConfigResolvesWithTheValuesTheManifestsUse) {
  const TokenFile token;
  const auto resolved = Resolve("deploy/kubernetes/leakwatch.yaml", token.path());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  const AgentOptions& o = resolved->options;

  // deployment.yaml: container port `leakwatch` 9860 on the pod IP.
  EXPECT_EQ(o.http.listen, "0.0.0.0:9860");
  const auto listen = ParseListen(o.http.listen);
  ASSERT_TRUE(listen.ok());
  EXPECT_EQ(listen->port, 9860);
  // The monitors' scrapeTimeout (10s) stays above it.
  EXPECT_EQ(o.http.request_timeout_ms, 3000);
  EXPECT_EQ(o.http.metrics_path, "/metrics");
  // The `bundles` emptyDir (sizeLimit 1Gi): retention keeps well under half of it.
  EXPECT_EQ(o.bundle.dir, "/var/lib/leakwatch/bundles");
  EXPECT_LE(o.bundle.max_bytes, 512 * kMiB);
  EXPECT_GT(o.bundle.min_free_disk_bytes, 0u);
  EXPECT_EQ(o.bundle.capture_signal, 0);
  EXPECT_TRUE(o.log.json);
  EXPECT_EQ(o.config_check_period, 5s);
  EXPECT_EQ(resolved->rules.rules.size(), DefaultRules().size());

  // The Secret mounted at /run/secrets/leakwatch (deployment.yaml), named by the file itself.
  EXPECT_EQ(FileOnly("deploy/kubernetes/leakwatch.yaml").http.debug_token_file,
            "/run/secrets/leakwatch/token");
}

TEST(DeployConfigs, SystemdConfigResolvesWithTheValuesTheUnitUses) {
  const TokenFile token;
  const auto resolved = Resolve("deploy/systemd/leakwatch.yaml", token.path());
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  const AgentOptions& o = resolved->options;

  EXPECT_EQ(o.http.listen, "0.0.0.0:9860");
  EXPECT_EQ(o.http.request_timeout_ms, 3000);
  // Under the unit's StateDirectory=leakwatch.
  EXPECT_EQ(o.bundle.dir, "/var/lib/leakwatch/bundles");
  EXPECT_EQ(o.bundle.max_bytes, 512 * kMiB);
  EXPECT_EQ(o.bundle.min_free_disk_bytes, 1024 * kMiB);
  EXPECT_EQ(o.bundle.capture_signal, 0);
  EXPECT_FALSE(o.log.json);
  EXPECT_EQ(o.log.sink, "stderr");
  EXPECT_EQ(resolved->rules.rules.size(), DefaultRules().size());

  // The token comes from the unit (LEAKWATCH_DEBUG_TOKEN_FILE=%d/leakwatch-debug-token), not from the file.
  EXPECT_EQ(FileOnly("deploy/systemd/leakwatch.yaml").http.debug_token_file, "");
  EXPECT_EQ(o.http.debug_token, "0123456789abcdef0123456789abcdef");
}

}  // namespace
}  // namespace leakwatch::internal
