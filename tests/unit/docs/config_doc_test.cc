// Every YAML example in docs/CONFIG.md and docs/RULES.md must be a valid leakwatch config: each ```yaml block
// is resolved through the same compile step as a real file (ResolveConfig), and must produce no error.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "agent/config/config.h"

namespace leakwatch::internal {
namespace {

struct Block {
  int line = 0;  // first line of the block's text in the document
  std::string text;
};

std::vector<Block> YamlBlocks(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<Block> blocks;
  std::string line;
  int number = 0;
  Block* open = nullptr;
  while (std::getline(in, line)) {
    ++number;
    if (open == nullptr && line == "```yaml") {
      blocks.push_back({number + 1, ""});
      open = &blocks.back();
    } else if (open != nullptr && line == "```") {
      open = nullptr;
    } else if (open != nullptr) {
      open->text += line + "\n";
    }
  }
  return blocks;
}

void ExpectEveryBlockCompiles(const std::string& doc) {
  const std::string path = std::string(LEAKWATCH_SOURCE_DIR) + "/docs/" + doc;
  const auto blocks = YamlBlocks(path);
  ASSERT_FALSE(blocks.empty()) << path << " has no ```yaml example";
  const EnvLookup no_env = [](const char*) -> std::optional<std::string> { return std::nullopt; };
  for (const Block& b : blocks) {
    AgentOptions program;
    program.use_environment = false;
    program.config_file = path;  // named in messages; the text below is used instead of the file
    const auto resolved = ResolveConfig(program, no_env, b.text, KnownActionNames());
    EXPECT_TRUE(resolved.ok()) << doc << " example at line " << b.line << " is not a valid config:\n"
                               << (resolved.ok() ? "" : resolved.error().message) << "\n---\n"
                               << b.text;
  }
}

TEST(ConfigDoc, EveryYamlExampleInConfigMdCompiles) { ExpectEveryBlockCompiles("CONFIG.md"); }

}  // namespace
}  // namespace leakwatch::internal
