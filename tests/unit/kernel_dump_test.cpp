// FLASHJIT_DUMP_DIR output: source, PTX, log and metadata of a real NVRTC compile.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <nlohmann/json.hpp>

#include "helpers/problems.h"
#include "generator/selector.h"
#include "cuda/nvrtc_compiler.h"
#include "runtime/kernel_dump.h"

namespace flashjit {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(KernelDump, WritesSourcePtxLogAndMetadata) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("flashjit-dump", dir));
  const std::string nested = std::string(dir) + "/nested/dir";  // created on demand
  auto spec = gen::default_spec(Variant::generic, gen::DeviceDescription::for_arch(90),
                                flashjit::testing::problem_with(DType::f16, 64, MaskKind::causal));
  ASSERT_TRUE(bool(spec));
  auto emitted = gen::emit(*spec);
  ASSERT_TRUE(bool(emitted));
  auto compiled = cuda::compile_kernel(*emitted, *spec);
  ASSERT_TRUE(bool(compiled)) << llvm::toString(compiled.takeError());
  dump_kernel(nested, *spec, *emitted, &*compiled, "");

  const std::string base = nested + "/" + emitted->key;
  EXPECT_EQ(read(base + ".cu"), emitted->source);
  EXPECT_NE(read(base + ".ptx").find(".entry " + compiled->lowered_name), std::string::npos);
  EXPECT_NE(read(base + ".log").find("ptxas info"), std::string::npos);
  const nlohmann::json meta = nlohmann::json::parse(read(base + ".json"));
  EXPECT_EQ(meta["status"], "compiled");
  EXPECT_EQ(meta["spec"]["key"], emitted->key);
  EXPECT_EQ(meta["resources"]["spill_store_bytes"], 0);
  EXPECT_EQ(meta["resources"]["registers"], compiled->resources.registers);
  llvm::sys::fs::remove_directories(dir);
}

TEST(KernelDump, AFailedCompileLeavesTheSourceAndTheError) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("flashjit-dump", dir));
  gen::KernelSpec spec;
  gen::EmittedKernel broken{"broken_key", "this is not CUDA", "&nothing"};
  dump_kernel(std::string(dir), spec, broken, nullptr, "nvrtc compile failed for broken_key");
  EXPECT_EQ(read(std::string(dir) + "/broken_key.cu"), "this is not CUDA");
  EXPECT_EQ(read(std::string(dir) + "/broken_key.log"), "nvrtc compile failed for broken_key");
  const nlohmann::json meta = nlohmann::json::parse(read(std::string(dir) + "/broken_key.json"));
  EXPECT_EQ(meta["status"], "compile failed");
  llvm::sys::fs::remove_directories(dir);
}

}  // namespace
}  // namespace flashjit
