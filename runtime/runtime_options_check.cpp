#include "runtime/runtime_options_check.h"

#include <cmath>

#include <llvm/Support/FormatVariadic.h>

#include "cache/remote_settings.h"
#include "generator/variant_rules.h"
#include "runtime/cpu/cpu_isa.h"

namespace flashjit {
namespace {

Status invalid(std::string message) { return Status(ErrorCode::invalid_argument, std::move(message)); }

bool known_backend(Backend backend) {
  return backend == Backend::automatic || backend == Backend::cuda || backend == Backend::cpu;
}

bool known_variant(Variant variant) {
  for (Variant known : gen::variants_by_preference())
    if (known == variant) return true;
  return false;
}

// Zero takes the variant's default, so only a negative tile field is out of range.
Status check_tiles(const TileConfig& tiles) {
  const std::pair<const char*, int> fields[] = {
      {"block_m", tiles.block_m}, {"block_n", tiles.block_n}, {"warps", tiles.warps}, {"stages", tiles.stages}};
  for (auto [name, value] : fields)
    if (value < 0)
      return invalid(llvm::formatv("force_tiles.{0} must be 0 (the variant's default) or positive, got {1}", name,
                                   value));
  return Status::success();
}

// "force_variant mma_sm80", "force_tiles (block_m 64, ...)", or both joined by "and".
std::string forced_choices(const RuntimeOptions& options) {
  std::string text;
  if (options.force_variant) text = std::string("force_variant ") + variant_name(*options.force_variant);
  if (const auto& t = options.force_tiles) {
    if (!text.empty()) text += " and ";
    text += llvm::formatv("force_tiles (block_m {0}, block_n {1}, warps {2}, stages {3})", t->block_m, t->block_n,
                          t->warps, t->stages);
  }
  return text;
}

// The remote tier's fields. The URL is parsed, not echoed: it may hold the password. Whether its
// secret files can be read and its server reached is found when the GPU backend starts, and is
// never an error (the remote tier never fails a process).
Status check_remote_cache(const RemoteCacheOptions& remote) {
  if (!remote.url.empty())
    if (auto endpoint = cache::parse_remote_url(remote.url); !endpoint)
      return invalid("remote_cache.url (FLASHJIT_REMOTE_CACHE) is not a remote cache URL: " +
                     llvm::toString(endpoint.takeError()));
  const std::tuple<const char*, int, int, int> ranges[] = {
      {"timeout_ms (FLASHJIT_REMOTE_CACHE_TIMEOUT_MS)", remote.timeout_ms, 1, 60000},
      {"backoff_ms", remote.backoff_ms, 0, 86400000},
      {"single_flight_wait_ms", remote.single_flight_wait_ms, 0, 3600000}};
  for (auto [name, value, lowest, highest] : ranges)
    if (value < lowest || value > highest)
      return invalid(llvm::formatv("remote_cache.{0} must be between {1} and {2}, got {3}", name, lowest, highest, value));
  return Status::success();
}

}  // namespace

Status check_runtime_options(const RuntimeOptions& options) {
  // Enum values are printed as numbers: an out-of-range value has no name.
  if (!known_backend(options.backend))
    return invalid(llvm::formatv("backend {0} is not a known Backend (expected automatic, cuda or cpu)",
                                 static_cast<int>(options.backend)));
  if (options.device_index < 0)
    return invalid(llvm::formatv("device_index must be 0 or positive, got {0}", options.device_index));
  if (options.force_variant && !known_variant(*options.force_variant))
    return invalid(llvm::formatv("force_variant {0} is not a known Variant (expected {1})",
                                 static_cast<int>(*options.force_variant), gen::variant_names_text()));
  if (options.force_tiles)
    if (Status tiles = check_tiles(*options.force_tiles); !tiles.ok()) return tiles;
  if (options.cpu_threads < 0)
    return invalid(llvm::formatv("cpu_threads must be 0 (all cores) or positive, got {0}", options.cpu_threads));
  // The name is checked whatever the backend; whether this CPU runs it, when the CPU backend starts.
  if (!options.cpu_isa.empty() && !cpu::parse_cpu_isa(options.cpu_isa))
    return cpu::resolve_cpu_isa(options.cpu_isa).status();
  if (!std::isfinite(options.tune_budget_ms) || options.tune_budget_ms < 0)
    return invalid(llvm::formatv("tune_budget_ms must be a finite number of milliseconds, 0 or more, got {0}",
                                 options.tune_budget_ms));
  if (options.tune_max_candidates < 0)
    return invalid(llvm::formatv("tune_max_candidates must be 0 (every candidate) or positive, got {0}",
                                 options.tune_max_candidates));
  return check_remote_cache(options.remote_cache);
}

Status refuse_forced_choices_on_cpu(const RuntimeOptions& options, const std::string& fallback_reason) {
  if (!options.force_variant && !options.force_tiles) return Status::success();
  const std::string refusal = forced_choices(options) + " cannot be honoured by the CPU backend, which runs no kernel";
  if (fallback_reason.empty()) return invalid(refusal);
  return invalid(refusal + " (Backend::automatic fell back to it: no usable GPU: " + fallback_reason + ")");
}

}  // namespace flashjit
