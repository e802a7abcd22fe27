// Where FlashJIT looks for NVRTC (cuda/nvrtc_discovery.h): FLASHJIT_NVRTC's entries first, each
// refused with its reason where it is no library; sonames and directories; one library found
// twice listed once; two of one version, the first serving.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "cuda/nvrtc_discovery.h"
#include "unit/nvrtc_test_support.h"

namespace flashjit::cuda {
namespace {

namespace fs = std::filesystem;
using flashjit::testing::fake_nvrtc;

NvrtcSearch listing(const std::string& nvrtc_list) {
  NvrtcSearch search;
  search.nvrtc_list = nvrtc_list;
  return search;
}

// A scratch folder removed at the end of the test.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) : path_(::testing::TempDir() + "/" + name) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Sets an environment variable for the test's scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(NvrtcDiscovery, FlashjitNvrtcPointingAtATextFileIsRefused) {
  ScratchDir dir("nvrtc_discovery_text");
  const std::string text = dir.path() + "/libnvrtc.so.12";
  std::ofstream(text) << std::string(100, '#') << " not a library\n";
  const std::vector<NvrtcLibrary> found = discover_nvrtc(listing(text));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, text);
  EXPECT_EQ(found[0].rejected, "cannot be loaded as a shared library: " + text + ": invalid ELF header");
}

TEST(NvrtcDiscovery, FlashjitNvrtcPointingAtAMissingPathIsRefused) {
  const std::vector<NvrtcLibrary> found = discover_nvrtc(listing("/nonexistent/flashjit/libnvrtc.so.12"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, "/nonexistent/flashjit/libnvrtc.so.12");
  EXPECT_EQ(found[0].rejected, "FLASHJIT_NVRTC names it, but it does not exist");
}

TEST(NvrtcDiscovery, FlashjitNvrtcPointingAtADirectoryIsRefused) {
  ScratchDir dir("nvrtc_discovery_directory");
  const std::vector<NvrtcLibrary> found = discover_nvrtc(listing(dir.path()));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rejected, "FLASHJIT_NVRTC names it, but it is a directory, not a libnvrtc.so file");
}

// Several paths separated by ':' (empty entries ignored), each loaded in order.
TEST(NvrtcDiscovery, FlashjitNvrtcListsSeveralLibraries) {
  const std::string list = fake_nvrtc("fake_nvrtc_14_0") + "::" + fake_nvrtc("fake_nvrtc_12_4") + ":" +
                           fake_nvrtc("fake_nvrtc_version_fails") + ":/nonexistent/libnvrtc.so.11.2:";
  const std::vector<NvrtcLibrary> found = discover_nvrtc(listing(list));
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0].describe(), "NVRTC 14.0 (" + fake_nvrtc("fake_nvrtc_14_0") + ")");
  EXPECT_TRUE(found[0].usable());
  EXPECT_EQ(found[1].describe(), "NVRTC 12.4 (" + fake_nvrtc("fake_nvrtc_12_4") + ")");
  EXPECT_TRUE(found[1].usable());
  EXPECT_EQ(found[2].rejected, "nvrtcVersion failed: NVRTC_ERROR_INTERNAL_ERROR");
  EXPECT_EQ(found[3].rejected, "FLASHJIT_NVRTC names it, but it does not exist");
}

// A link to a library already found is the same library: listed once, as first found.
TEST(NvrtcDiscovery, OneLibraryFoundTwiceIsListedOnce) {
  ScratchDir dir("nvrtc_discovery_link");
  const std::string link = dir.path() + "/libnvrtc.so.12";
  fs::create_symlink(fake_nvrtc("fake_nvrtc_12_4"), link);
  const std::vector<NvrtcLibrary> found = discover_nvrtc(listing(fake_nvrtc("fake_nvrtc_12_4") + ":" + link));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, fake_nvrtc("fake_nvrtc_12_4"));
}

// Two libraries of one version: the first found serves, the second is listed as not used.
TEST(NvrtcDiscovery, TheFirstLibraryOfAVersionServes) {
  const std::vector<NvrtcLibrary> found =
      discover_nvrtc(listing(fake_nvrtc("fake_nvrtc_12_4_again") + ":" + fake_nvrtc("fake_nvrtc_12_4")));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_TRUE(found[0].usable()) << found[0].rejected;
  EXPECT_EQ(found[0].targets.archs, (std::vector<int>{50, 61, 90}));
  EXPECT_EQ(found[1].rejected,
            "another NVRTC 12.4 was found first and serves: " + fake_nvrtc("fake_nvrtc_12_4_again"));
  EXPECT_EQ(found[1].api, nullptr);
}

// Sonames are looked for in each directory; a directory or soname holding nothing is not news.
TEST(NvrtcDiscovery, SonamesAreLookedForInEachDirectory) {
  ScratchDir empty("nvrtc_discovery_empty");
  ScratchDir toolkit("nvrtc_discovery_toolkit");
  const std::string soname = "libflashjit-test-nvrtc.so.7";
  fs::create_symlink(fake_nvrtc("fake_nvrtc_14_0"), toolkit.path() + "/" + soname);
  NvrtcSearch search;
  search.sonames = {soname, "libflashjit-test-nvrtc-absent.so.1"};
  search.directories = {empty.path(), "/nonexistent/flashjit", toolkit.path()};
  const std::vector<NvrtcLibrary> found = discover_nvrtc(search);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].path, toolkit.path() + "/" + soname);
  EXPECT_EQ(found[0].real_path, fs::canonical(fake_nvrtc("fake_nvrtc_14_0")).string());
  EXPECT_EQ(found[0].targets.version(), "14.0");
}

// A broken file where a soname is looked for is listed with its reason (it would fail anyone).
TEST(NvrtcDiscovery, ABrokenLibraryInADirectoryIsListed) {
  ScratchDir toolkit("nvrtc_discovery_broken");
  const std::string soname = "libflashjit-test-nvrtc.so.8";
  fs::create_symlink(fake_nvrtc("fake_nvrtc_without_get_cubin"), toolkit.path() + "/" + soname);
  NvrtcSearch search;
  search.sonames = {soname};
  search.directories = {toolkit.path()};
  const std::vector<NvrtcLibrary> found = discover_nvrtc(search);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rejected,
            "it lacks nvrtcGetCUBIN, which FlashJIT calls (not an NVRTC, or one older than CUDA 11.2)");
}

TEST(NvrtcDiscovery, TheDefaultSearchReadsTheEnvironment) {
  ScopedEnv nvrtc("FLASHJIT_NVRTC", "/a/libnvrtc.so.12:/b/libnvrtc.so.11.2");
  ScopedEnv home("CUDA_HOME", "/opt/cuda-home");
  ScopedEnv path("CUDA_PATH", "/opt/cuda-path");
  const NvrtcSearch search = default_nvrtc_search();
  EXPECT_EQ(search.nvrtc_list, "/a/libnvrtc.so.12:/b/libnvrtc.so.11.2");
  EXPECT_EQ(search.sonames, (std::vector<std::string>{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}));
  ASSERT_GE(search.directories.size(), 10u);
  const std::vector<std::string> first(search.directories.begin(), search.directories.begin() + 9);
  EXPECT_EQ(first, (std::vector<std::string>{
                       "/opt/cuda-home/lib64", "/opt/cuda-home/lib", "/opt/cuda-home/targets/x86_64-linux/lib",
                       "/opt/cuda-path/lib64", "/opt/cuda-path/lib", "/opt/cuda-path/targets/x86_64-linux/lib",
                       "/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/local/cuda/targets/x86_64-linux/lib"}));
  EXPECT_EQ(search.directories.back(), "/usr/lib/x86_64-linux-gnu");
  // Every installed /usr/local/cuda-X.Y toolkit is searched too.
  for (const fs::directory_entry& entry : fs::directory_iterator("/usr/local")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("cuda-", 0) != 0 || !entry.is_directory()) continue;
    EXPECT_NE(std::find(search.directories.begin(), search.directories.end(), entry.path().string() + "/lib64"),
              search.directories.end())
        << name;
  }
}

TEST(NvrtcDiscovery, TheDefaultSearchWithoutEnvironmentStartsAtTheToolkit) {
  ScopedEnv nvrtc("FLASHJIT_NVRTC", nullptr);
  ScopedEnv home("CUDA_HOME", nullptr);
  ScopedEnv path("CUDA_PATH", nullptr);
  const NvrtcSearch search = default_nvrtc_search();
  EXPECT_EQ(search.nvrtc_list, "");
  ASSERT_FALSE(search.directories.empty());
  EXPECT_EQ(search.directories.front(), "/usr/local/cuda/lib64");
}

// `pip install nvidia-cuda-nvrtc-cu12` into the active virtual environment (a wheel's layout, its
// lib folder a link to the real 12.9 that scripts/setup.sh installs) is found with no FLASHJIT_NVRTC,
// and so is a CUDA 13 wheel's folder; both before the system's library folder.
TEST(NvrtcDiscovery, TheDefaultSearchLooksInPythonEnvironments) {
  FLASHJIT_REQUIRE_OLD_NVRTC(cu12, 12);
  ScratchDir venv("nvrtc_discovery_venv");
  const std::string packages = venv.path() + "/lib/python3.11/site-packages/nvidia";
  fs::create_directories(packages + "/cu13/lib");
  fs::create_directories(packages + "/cuda_nvrtc");
  fs::create_directory_symlink(fs::path(cu12->path).parent_path(), packages + "/cuda_nvrtc/lib");
  ScopedEnv nvrtc("FLASHJIT_NVRTC", nullptr);
  ScopedEnv virtual_env("VIRTUAL_ENV", venv.path().c_str());
  const NvrtcSearch search = default_nvrtc_search();
  const auto wheel13 = std::find(search.directories.begin(), search.directories.end(), packages + "/cu13/lib");
  const auto wheel12 = std::find(search.directories.begin(), search.directories.end(), packages + "/cuda_nvrtc/lib");
  ASSERT_NE(wheel13, search.directories.end());
  ASSERT_NE(wheel12, search.directories.end());
  EXPECT_LT(wheel12 - search.directories.begin(),
            static_cast<std::ptrdiff_t>(search.directories.size()) - 1);  // before /usr/lib/x86_64-linux-gnu
  EXPECT_EQ(search.directories.back(), "/usr/lib/x86_64-linux-gnu");

  // Found by its real path: this process may hold the same library already (loaded above), which
  // the dynamic loader's soname search then returns first.
  const std::string wheel_library = fs::canonical(packages + "/cuda_nvrtc/lib/libnvrtc.so.12").string();
  const std::vector<NvrtcLibrary> found = discover_nvrtc(search);
  const auto pip12 = std::find_if(found.begin(), found.end(), [&](const NvrtcLibrary& library) {
    return library.real_path == wheel_library;
  });
  ASSERT_NE(pip12, found.end());
  EXPECT_TRUE(pip12->usable()) << pip12->rejected;
  EXPECT_EQ(pip12->targets.nvrtc_major, 12);
  EXPECT_TRUE(pip12->targets.supports(61)) << pip12->targets.range();
}

// This process's search (no FLASHJIT_NVRTC in the unit tests' environment) finds the toolkit's
// NVRTC 13 on its own, as the rest of the suite relies on; once, whoever asks.
TEST(NvrtcDiscovery, TheProcessFindsTheToolkitsNvrtc) {
  const std::vector<NvrtcLibrary>& found = nvrtc_libraries();
  EXPECT_EQ(&found, &nvrtc_libraries());
  const auto toolkit = std::find_if(found.begin(), found.end(), [](const NvrtcLibrary& library) {
    return library.usable() && library.targets.nvrtc_major == 13;
  });
  ASSERT_NE(toolkit, found.end());
  EXPECT_TRUE(toolkit->targets.supports(90)) << toolkit->targets.range();
}

}  // namespace
}  // namespace flashjit::cuda
