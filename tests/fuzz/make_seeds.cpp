// flashjit_fuzz_make_seeds: writes the seed corpus of every fuzz target (tests/fuzz/corpus/), or
// with --check says whether the committed files are what it writes. Deterministic: the same bytes
// on every run and machine. The valid export documents are real exports (cache::export_to_json)
// of a scratch cache holding entries the selector chose, with small cubins (minimal_cubin); the
// invalid seeds are those with one thing wrong each.
//
//   flashjit_fuzz_make_seeds --corpus tests/fuzz/corpus [--check]
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <llvm/Support/FileSystem.h>
#include <nlohmann/json.hpp>

#include "cache/cache_json.h"
#include "cache/codec.h"
#include "cache/entry_json.h"
#include "cache/remote_cache.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/row_encoding.h"
#include "generator/compiler_targets.h"
#include "generator/device_description.h"
#include "generator/selector.h"
#include "generator/spec_json.h"
#include "helpers/minimal_cubin.h"
#include "problem/problem.h"
#include "runtime/open_cache.h"

namespace flashjit::fuzz {
namespace {

using nlohmann::json;

struct SeedSet {
  std::vector<std::pair<std::string, std::string>> files;  // (path under the corpus, bytes)
  void add(const std::string& target, const std::string& name, const std::string& bytes) {
    files.emplace_back(target + "/" + name, bytes);
  }
};

[[noreturn]] void fail(const std::string& why) {
  std::cerr << "flashjit_fuzz_make_seeds: " << why << "\n";
  std::exit(1);
}

template <typename T>
T checked(llvm::Expected<T> value, const char* what) {
  if (!value) fail(std::string(what) + ": " + llvm::toString(value.takeError()));
  return std::move(*value);
}

// An entry FlashJIT's entry check accepts: the kernel the selector picks for the key's problem on
// the nominal device of its architecture, in a minimal cubin holding its symbol.
cache::CacheEntry valid_entry(const std::string& device, int cc, const std::string& problem_key, bool tuned) {
  cache::CacheEntry entry;
  entry.key.device_name = device;
  entry.key.compute_capability = cc;
  entry.key.sm_count = cc >= 90 ? 132 : cc >= 80 ? 108 : 40;
  entry.key.driver_version = 13000;
  entry.key.nvrtc_version = 13000;
  entry.key.generator_hash = "1-0123456789abcdef";
  entry.key.problem_key = problem_key;
  const ProblemKey key = checked(parse_problem_key(problem_key), "problem key");
  gen::CompilerTargets targets;
  targets.nvrtc_major = 13;
  targets.archs = {cc};
  const gen::Selection selection = checked(
      gen::select_variant(gen::DeviceDescription::for_arch(cc), Problem::of_key(key), targets), "selection");
  entry.key.compile_options = "--std=c++17 -arch=" + gen::target_name(selection.spec) + " -default-device";
  entry.spec_json = gen::spec_to_json(selection.spec).dump();
  entry.kernel_symbol = "flashjit_" + gen::canonical_key(selection.spec);
  entry.cubin = flashjit::testing::minimal_cubin(cc, {entry.kernel_symbol});
  entry.tuned = tuned;
  if (tuned) {
    entry.median_ms = 1.25;
    entry.p20_ms = 1.125;
    entry.p80_ms = 1.5;
    entry.candidates_tried = 12;
  } else {
    entry.candidates_tried = 1;
  }
  entry.created_unix = 1700000000;
  return entry;
}

cache::CacheEntry hopper_entry() {
  return valid_entry("NVIDIA H100 80GB HBM3", 90, "bf16_d128_causal_gqa4_len4096", true);
}
cache::CacheEntry ampere_entry() { return valid_entry("NVIDIA A100-SXM4-80GB", 80, "f16_d64_none_gqa1_len1024", false); }
cache::CacheEntry turing_entry() { return valid_entry("Tesla T4", 75, "f32_d32_causal_gqa1_len128", true); }
// Issue 14's specializations: a ragged batch with every score modifier, and a window alone.
cache::CacheEntry modified_hopper_entry() {
  return valid_entry("NVIDIA H200", 90, "bf16_d128_causal_window_softcap_alibi_varlen_gqa4_len4096", true);
}
// Issue 15's KV caches: a GQA-packed paged decode (its key names the page size), a dense cache with
// appends.
cache::CacheEntry paged_decode_entry() {
  return valid_entry("NVIDIA H200", 90, "bf16_d128_none_kvcache_paged_page16_gqa1_len8192", true);
}
// A batch-1 decode on the H200, whose key carries its split count and whose spec the tuned count.
cache::CacheEntry split_decode_entry() {
  cache::CacheEntry entry = valid_entry("NVIDIA H200", 90, "bf16_d128_none_kvcache_paged_page16_gqa4_len32768_split16", true);
  json spec = json::parse(entry.spec_json);
  spec["splits"] = 32;
  entry.spec_json = spec.dump();
  return entry;
}
cache::CacheEntry appending_ampere_entry() {
  return valid_entry("NVIDIA A100-SXM4-80GB", 80, "f16_d64_causal_kvcache_append_gqa1_len1024", false);
}
cache::CacheEntry windowed_ampere_entry() {
  return valid_entry("NVIDIA A100-SXM4-80GB", 80, "f16_d64_none_window_gqa1_len8192", false);
}

// A real export of a scratch cache holding `entries`, in the order given.
std::string exported(const std::vector<cache::CacheEntry>& entries) {
  std::string directory = "/tmp/flashjit-seeds-XXXXXX";
  if (::mkdtemp(directory.data()) == nullptr) fail("cannot create a scratch directory");
  std::string document;
  {
    auto cache = checked(open_tuning_cache(directory + "/cache.sqlite"), "scratch cache");
    for (const cache::CacheEntry& entry : entries) checked(cache->store(entry), "store");
    cache::ExportSummary summary;
    document = checked(cache::export_to_json(*cache, &summary), "export");
    if (summary.exported != entries.size()) fail("the export left out a seed entry");
  }
  llvm::sys::fs::remove_directories(directory);
  return document;
}

// The one-entry export with `change` made to its parsed document.
std::string edited(const std::string& document, const std::function<void(json&)>& change) {
  json root = json::parse(document);
  change(root);
  return root.dump(2) + "\n";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  if (at == std::string::npos) fail("seed text has no '" + from + "'");
  return text.replace(at, from.size(), to);
}

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

void add_import_seeds(SeedSet& seeds) {
  const std::string one = exported({hopper_entry()});
  seeds.add("cache_import", "valid-one-entry.json", one);
  seeds.add("cache_import", "valid-three-entries.json", exported({hopper_entry(), ampere_entry(), turing_entry()}));
  seeds.add("cache_import", "valid-no-entries.json", exported({}));
  seeds.add("cache_import", "valid-score-modifiers.json", exported({modified_hopper_entry(), windowed_ampere_entry()}));
  seeds.add("cache_import", "valid-kv-cache.json", exported({paged_decode_entry(), appending_ampere_entry(), split_decode_entry()}));
  // The same key twice, untuned then tuned: the import merges them by store()'s rule.
  seeds.add("cache_import", "valid-duplicate-key.json", edited(exported({ampere_entry()}), [](json& root) {
    json tuned = root["entries"][0];
    tuned["tuned"] = true;
    tuned["median_ms"] = 0.5;
    root["entries"].push_back(tuned);
  }));
  auto entry_edit = [&](const char* name, const std::function<void(json&)>& change) {
    seeds.add("cache_import", name, edited(one, [&](json& root) { change(root["entries"][0]); }));
  };
  entry_edit("invalid-sha-mismatch.json", [](json& e) { e["cubin_sha256"] = std::string(64, '0'); });
  entry_edit("invalid-spec-for-another-problem.json", [](json& e) { e["spec"]["head_dim"] = 64; });
  entry_edit("invalid-wrong-type.json", [](json& e) { e["compute_capability"] = "90"; });
  entry_edit("invalid-negative-timing.json", [](json& e) { e["median_ms"] = -1.0; });
  entry_edit("invalid-nul-in-device-name.json", [](json& e) { e["device_name"] = std::string("H100\0x", 6); });
  entry_edit("invalid-unknown-field.json", [](json& e) { e["extra"] = 1; });
  entry_edit("invalid-bad-base64.json", [](json& e) { e["cubin_base64"] = "!!!!"; });
  entry_edit("invalid-cubin-for-another-arch.json", [](json& e) {
    const std::string cubin = flashjit::testing::minimal_cubin(80, {e["kernel_symbol"].get<std::string>()});
    e["cubin_base64"] = cache::base64_encode(cubin);
    e["cubin_sha256"] = cache::sha256_hex(cubin);
  });
  seeds.add("cache_import", "invalid-huge-number.json",
            replaced(one, "\"sm_count\": 132", "\"sm_count\": 99999999999999999999999"));
  seeds.add("cache_import", "invalid-deep-nesting.json",
            replaced(one, "\"spec\": {", "\"spec\": " + nested_arrays(100) + ", \"x\": {"));
  seeds.add("cache_import", "invalid-raw-nul-byte.json", replaced(one, "\"tuned\"", std::string("\"tu\0ned\"", 8)));
  seeds.add("cache_import", "invalid-truncated.json", one.substr(0, one.size() / 2));
  seeds.add("cache_import", "invalid-format-version.json", edited(one, [](json& root) { root["format_version"] = 2; }));
  seeds.add("cache_import", "invalid-not-an-object.json", "[]\n");
}

// The remote cache's URL: every form the README gives, and mistakes (one with a password in it).
void add_remote_url_seeds(SeedSet& seeds) {
  auto add = [&](const char* name, const std::string& text) { seeds.add("remote_url", name, text); };
  add("valid-host.txt", "redis://cache.internal");
  add("valid-full.txt", "redis://tuner:s3cret-pass@10.0.0.5:6380/2");
  add("valid-password-only.txt", "redis://:pa%40ss%2Fw0rd@localhost:7000");
  add("valid-ipv6.txt", "redis://[::1]:6390/1");
  add("valid-unix.txt", "unix:///run/redis/redis.sock");
  add("invalid-scheme.txt", "http://cache:6379");
  add("invalid-tls.txt", "rediss://user:s3cret-pass@cache");
  add("invalid-port.txt", "redis://user:s3cret-pass@cache:99999");
  add("invalid-percent.txt", "redis://:s3cret%zzpass@cache");
  add("invalid-relative-socket.txt", "unix://redis.sock");
}

// An entry as a reader finds it in Redis, framed as remote_entry_target reads it.
std::string remote_frame(const std::string& entry_key, const std::string& tuned, const std::string& signer,
                         const std::string& signature, const std::string& text) {
  return entry_key + "\n" + tuned + "\n" + signer + "\n" + signature + "\n" + text;
}

void add_remote_entry_seeds(SeedSet& seeds) {
  auto add = [&](const char* name, const std::string& bytes) { seeds.add("remote_entry", name, bytes); };
  const cache::FleetKey key = checked(cache::FleetKey::from_bytes(fuzz_fleet_key_bytes()), "fleet key");
  const cache::FleetKey other = checked(cache::FleetKey::from_bytes("another-fleet-key-for-the-fuzz-seeds"), "key");
  auto signed_frame = [&](const cache::CacheEntry& entry, const cache::FleetKey& by, const std::string& text) {
    const std::string redis_key = cache::RemoteCache::entry_key(entry.key);
    const std::string tuned = entry.tuned ? "1" : "0";
    return remote_frame(redis_key, tuned, by.id(), by.sign(cache::RemoteCache::signed_text(redis_key, tuned, text)), text);
  };
  auto text_of = [](cache::CacheEntry entry) {
    entry.cubin_sha256 = cache::sha256_hex(entry.cubin);
    return checked(cache::entry_to_json(entry), "entry JSON").dump();
  };
  const cache::CacheEntry hopper = hopper_entry();
  const std::string text = text_of(hopper);
  const std::string redis_key = cache::RemoteCache::entry_key(hopper.key);
  add("valid-signed.txt", signed_frame(hopper, key, text));
  add("valid-signed-untuned.txt", signed_frame(ampere_entry(), key, text_of(ampere_entry())));
  add("valid-signed-kv-cache.txt", signed_frame(paged_decode_entry(), key, text_of(paged_decode_entry())));
  add("valid-unsigned.txt", remote_frame(redis_key, "1", "unsigned", "unsigned", text));
  add("invalid-other-key.txt", signed_frame(hopper, other, text));
  add("invalid-wrong-signature.txt", remote_frame(redis_key, "1", key.id(), std::string(64, '0'), text));
  add("invalid-truncated.txt", signed_frame(hopper, key, text).substr(0, redis_key.size() + 200));
  add("invalid-tuned-flag.txt", remote_frame(redis_key, "0", "unsigned", "unsigned", text));
  add("invalid-another-key.txt", remote_frame(cache::RemoteCache::entry_key(ampere_entry().key), "1", "unsigned",
                                              "unsigned", text));
  add("invalid-missing-fields.txt", redis_key + "\n1\n");
  json tampered = json::parse(text);
  tampered["cubin_base64"] = cache::base64_encode(flashjit::testing::minimal_cubin(90, {"other_symbol"}));
  add("invalid-tampered-cubin-signed.txt", signed_frame(hopper, key, tampered.dump()));
}

void add_manifest_seeds(SeedSet& seeds) {
  auto add = [&](const char* name, const std::string& text) { seeds.add("manifest", name, text); };
  add("valid-deploy.json",
      "{\n  \"version\": 1,\n  \"problems\": [\n"
      "    { \"dtype\": \"bf16\", \"head_dim\": 128, \"causal\": true,  \"num_heads\": 32, \"num_kv_heads\": 8, "
      "\"batch\": 4, \"seqlen\": [1024, 4096] },\n"
      "    { \"dtype\": \"bf16\", \"head_dim\": 128, \"causal\": false, \"num_heads\": 32, \"num_kv_heads\": 8, "
      "\"batch\": 1, \"seqlen\": 16384 },\n"
      "    { \"dtype\": \"f16\",  \"head_dim\": 64,  \"causal\": true,  \"num_heads\": 16, \"batch\": 8, "
      "\"seqlen\": [2048] }\n  ]\n}\n");
  add("valid-minimal.json", "{\"version\": 1, \"problems\": [{\"dtype\": \"f32\", \"head_dim\": 8, \"seqlen\": 1}]}\n");
  add("valid-limits.json",
      "{\"version\": 1, \"problems\": [{\"dtype\": \"f16\", \"head_dim\": 256, \"causal\": false, \"num_heads\": 64, "
      "\"num_kv_heads\": 1, \"batch\": 1, \"seqlen\": [16777216, 1, 128]}]}\n");
  add("valid-score-modifiers.json",
      "{\"version\": 1, \"problems\": [\n"
      "  {\"dtype\": \"bf16\", \"head_dim\": 128, \"causal\": true, \"num_heads\": 8, \"seqlen\": 4096, "
      "\"window\": [256, 0]},\n"
      "  {\"dtype\": \"bf16\", \"head_dim\": 128, \"num_heads\": 8, \"seqlen\": 4096, \"softcap\": 50, "
      "\"alibi\": true},\n"
      "  {\"dtype\": \"f16\", \"head_dim\": 64, \"causal\": true, \"num_heads\": 32, \"num_kv_heads\": 8, "
      "\"batch\": 16, \"seqlen\": [3000, 4096], \"varlen\": true, \"window\": [-1, 0]}\n]}\n");
  add("valid-kv-cache.json",
      "{\"version\": 1, \"problems\": [\n"
      "  {\"dtype\": \"bf16\", \"head_dim\": 128, \"num_heads\": 32, \"num_kv_heads\": 8, \"batch\": 32, "
      "\"seqlen\": [8192, 32768], \"seqlen_q\": 1, \"page_size\": 16},\n"
      "  {\"dtype\": \"f16\", \"head_dim\": 64, \"causal\": true, \"seqlen\": 1000, \"seqlen_q\": 4, "
      "\"kv_cache\": true, \"append\": 4}\n]}\n");
  const std::string prefix = "{\"version\": 1, \"problems\": [{\"dtype\": \"bf16\", \"head_dim\": ";
  add("invalid-page-size.json", prefix + "64, \"seqlen\": 128, \"page_size\": 12}]}\n");
  add("invalid-append-past-the-keys.json", prefix + "64, \"seqlen\": 128, \"append\": 200}]}\n");
  add("invalid-kv-cache-not-bool.json", prefix + "64, \"seqlen\": 128, \"kv_cache\": \"yes\"}]}\n");
  add("invalid-window-one-bound.json", prefix + "64, \"seqlen\": 128, \"window\": [4]}]}\n");
  add("invalid-window-below-minus-one.json", prefix + "64, \"seqlen\": 128, \"window\": [1, -2]}]}\n");
  add("invalid-softcap-negative.json", prefix + "64, \"seqlen\": 128, \"softcap\": -3}]}\n");
  add("invalid-varlen-not-bool.json", prefix + "64, \"seqlen\": 128, \"varlen\": 1}]}\n");
  add("invalid-head-dim.json", prefix + "100, \"seqlen\": 128}]}\n");
  add("invalid-huge-numbers.json", prefix + "64, \"batch\": 99999999999999999999, \"seqlen\": 128}]}\n");
  add("invalid-negative-seqlen.json", prefix + "64, \"seqlen\": [128, -4]}]}\n");
  add("invalid-seqlen-too-long.json", prefix + "64, \"seqlen\": 16777217}]}\n");
  add("invalid-float-head-dim.json", prefix + "64.5, \"seqlen\": 128}]}\n");
  add("invalid-kv-heads.json", prefix + "64, \"num_heads\": 6, \"num_kv_heads\": 4, \"seqlen\": 8}]}\n");
  add("invalid-wrong-types.json", "{\"version\": 1, \"problems\": [{\"dtype\": 16, \"head_dim\": \"64\", "
                                  "\"causal\": \"yes\", \"seqlen\": {}}]}\n");
  add("invalid-unknown-field.json", prefix + "64, \"seqlen\": 128, \"heads\": 2}]}\n");
  add("invalid-unknown-dtype.json", "{\"version\": 1, \"problems\": [{\"dtype\": \"fp8\", \"head_dim\": 64, "
                                    "\"seqlen\": 1}]}\n");
  // An escaped NUL inside the dtype, and a raw NUL byte after the document.
  add("invalid-nul-bytes.json", "{\"version\": 1, \"problems\": [{\"dtype\": \"f1\\u00006\", \"head_dim\": 64, "
                                "\"seqlen\": 1}]}" + std::string("\0\n", 2));
  add("invalid-deep-nesting.json", "{\"version\": " + nested_arrays(100) + ", \"problems\": []}\n");
  add("invalid-version.json", "{\"version\": 2, \"problems\": [{\"dtype\": \"f16\", \"head_dim\": 64, \"seqlen\": 1}]}\n");
  add("invalid-no-problems.json", "{\"version\": 1, \"problems\": []}\n");
  add("invalid-truncated.json", "{\"version\": 1, \"problems\": [{\"dtype\": \"f16\", \"head_");
  add("invalid-not-an-object.json", "[1]\n");
  add("invalid-empty.json", "");
}

// `entry` with `change` made to it, encoded.
std::string row(cache::CacheEntry entry, const std::function<void(cache::CacheEntry&)>& change = nullptr) {
  if (change) change(entry);
  return encode_row(entry);
}

void add_row_seeds(SeedSet& seeds) {
  auto add = [&](const char* name, const std::string& bytes) { seeds.add("cache_row", name, bytes); };
  add("valid-hopper-tuned.bin", row(hopper_entry()));
  add("valid-ampere-untuned.bin", row(ampere_entry()));
  add("valid-turing-tuned.bin", row(turing_entry()));
  add("valid-hopper-score-modifiers.bin", row(modified_hopper_entry()));
  add("valid-hopper-paged-decode.bin", row(paged_decode_entry()));
  // A KV-cache key holding the kernel of a problem without a cache, and a paged key without its size.
  add("invalid-dense-spec-for-kv-key.bin", row(paged_decode_entry(), [](cache::CacheEntry& e) {
        e.spec_json = hopper_entry().spec_json;
      }));
  add("valid-hopper-tuned-split-count.bin", row(split_decode_entry()));
  // A tuned split count beyond what the key's heuristic count lets the tuner try (a workspace sized
  // by workspace_size would be too small), and a split count on a key without a cache.
  add("invalid-split-count-beyond-the-key.bin", row(split_decode_entry(), [](cache::CacheEntry& e) {
        json spec = json::parse(e.spec_json);
        spec["splits"] = 33;
        e.spec_json = spec.dump();
      }));
  add("invalid-split-key-without-a-cache.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.key.problem_key = "bf16_d128_causal_gqa4_len4096_split4";
      }));
  add("invalid-paged-key-without-page-size.bin", row(paged_decode_entry(), [](cache::CacheEntry& e) {
        e.key.problem_key = "bf16_d128_none_kvcache_paged_gqa1_len8192";
      }));
  // The dense kernel stored under a key with modifiers: the spec is not the key's problem's kernel.
  add("invalid-dense-spec-for-modified-key.bin", row(modified_hopper_entry(), [](cache::CacheEntry& e) {
        e.spec_json = hopper_entry().spec_json;
      }));
  // NaN is stored as no timing; an empty device name is a compile-only warm-up's entry.
  add("valid-nan-timing.bin", row(turing_entry(), [](cache::CacheEntry& e) {
        e.median_ms = std::numeric_limits<double>::quiet_NaN();
      }));
  add("valid-no-device-name.bin", row(ampere_entry(), [](cache::CacheEntry& e) { e.key.device_name.clear(); }));
  add("invalid-spec-for-another-problem.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.key.problem_key = "bf16_d64_causal_gqa4_len4096";
      }));
  add("invalid-spec-for-another-arch.bin", row(ampere_entry(), [](cache::CacheEntry& e) {
        e.key.compute_capability = 86;
        e.cubin = flashjit::testing::minimal_cubin(86, {e.kernel_symbol});
      }));
  add("invalid-cubin-for-another-arch.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.cubin = flashjit::testing::minimal_cubin(80, {e.kernel_symbol});
      }));
  add("invalid-symbol-not-in-cubin.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.kernel_symbol += "_x"; }));
  add("invalid-empty-symbol.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.kernel_symbol.clear(); }));
  add("invalid-nul-in-device-name.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.key.device_name = std::string("H100\0x", 6);
      }));
  add("invalid-problem-key-huge-number.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.key.problem_key = "bf16_d128_causal_gqa99999999999999999999_len4096";
      }));
  add("invalid-problem-key-trailing-nul.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.key.problem_key += '\0';
      }));
  add("invalid-compute-capability-negative.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.key.compute_capability = -90;
      }));
  add("invalid-spec-deep-nesting.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.spec_json = nested_arrays(100);
      }));
  add("invalid-spec-wrong-type.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        json spec = json::parse(e.spec_json);
        spec["block_m"] = "64";
        e.spec_json = spec.dump();
      }));
  add("invalid-spec-not-json.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.spec_json.resize(20); }));
  add("invalid-garbage-cubin.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.cubin = "\x7f" "ELF garbage"; }));
  const std::string hopper = row(hopper_entry());
  add("invalid-truncated.bin", hopper.substr(0, kRowHeaderBytes + 40));
  add("invalid-empty.bin", "");

  // What the replay found (tests/fuzz/README.md, "Findings"): rows lookup returned although export
  // could not carry them (one overflowed the stack of the JSON writer). cache::entry_field_problems
  // refuses them now.
  add("invalid-empty-cubin.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.cubin.clear(); }));
  add("invalid-empty-generator-hash.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.key.generator_hash.clear(); }));
  add("invalid-negative-created-unix.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.created_unix = -1; }));
  add("invalid-negative-median.bin", row(hopper_entry(), [](cache::CacheEntry& e) { e.median_ms = -1.0; }));
  add("invalid-spec-field-70-deep.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.spec_json.insert(e.spec_json.size() - 1, ",\"x\":" + nested_arrays(70));
      }));
  add("invalid-symbol-not-utf8.bin", row(hopper_entry(), [](cache::CacheEntry& e) {
        e.kernel_symbol = "\xff\xfe" + e.kernel_symbol;
        e.cubin = flashjit::testing::minimal_cubin(90, {e.kernel_symbol});
      }));
}

std::string read_file(const std::string& path, bool& exists) {
  std::ifstream in(path, std::ios::binary);
  exists = static_cast<bool>(in);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

int make_seeds_main(int argc, char** argv) {
  std::string corpus;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--check") check = true;
    else if (arg == "--corpus" && i + 1 < argc) corpus = argv[++i];
    else fail("usage: flashjit_fuzz_make_seeds --corpus DIR [--check]");
  }
  if (corpus.empty()) fail("usage: flashjit_fuzz_make_seeds --corpus DIR [--check]");
  ::setenv("FLASHJIT_LOG", "error", 0);

  SeedSet seeds;
  add_manifest_seeds(seeds);
  add_import_seeds(seeds);
  add_row_seeds(seeds);
  add_remote_url_seeds(seeds);
  add_remote_entry_seeds(seeds);
  size_t differing = 0;
  for (const auto& [name, bytes] : seeds.files) {
    const std::string path = corpus + "/" + name;
    if (check) {
      bool exists = false;
      if (read_file(path, exists) != bytes) {
        std::cout << (exists ? "differs from what flashjit_fuzz_make_seeds writes: " : "missing: ") << path << "\n";
        ++differing;
      }
      continue;
    }
    llvm::sys::fs::create_directories(corpus + "/" + name.substr(0, name.find('/')));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail("cannot write " + path);
  }
  if (check && differing > 0) {
    std::cout << differing << " of " << seeds.files.size() << " seed files differ; run flashjit_fuzz_make_seeds "
              << "--corpus tests/fuzz/corpus to write them again\n";
    return 1;
  }
  std::cout << seeds.files.size() << " seed files " << (check ? "are what flashjit_fuzz_make_seeds writes" : "written")
            << "\n";
  return 0;
}

}  // namespace
}  // namespace flashjit::fuzz

int main(int argc, char** argv) { return flashjit::fuzz::make_seeds_main(argc, argv); }
