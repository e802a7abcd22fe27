#include "cache/entry_rows.h"

namespace flashjit::cache {
namespace {

// Column positions in select_entries_sql(), shared by read_entry().
enum Column {
  kId, kDeviceName, kComputeCapability, kSmCount, kDriverVersion, kNvrtcVersion, kGeneratorHash,
  kCompileOptions, kProblemKey, kSpecJson, kKernelSymbol, kCubinSha256, kCubinSize, kMedianMs, kP20Ms,
  kP80Ms, kCandidatesTried, kTuned, kCreatedUnix, kCubinBytes,
};

constexpr const char* kEntryColumns =
    "e.id, e.device_name, e.compute_capability, e.sm_count, e.driver_version, e.nvrtc_version, "
    "e.generator_hash, e.compile_options, e.problem_key, e.spec_json, e.kernel_symbol, "
    "e.cubin_sha256, e.cubin_size, e.median_ms, e.p20_ms, e.p80_ms, e.candidates_tried, e.tuned, "
    "e.created_unix";

}  // namespace

const char* const kMatchKeySql =
    "e.device_name = ?1 AND e.compute_capability = ?2 AND e.sm_count = ?3 AND "
    "e.driver_version = ?4 AND e.nvrtc_version = ?5 AND e.generator_hash = ?6 AND "
    "e.compile_options = ?7 AND e.problem_key = ?8";

const char* const kInsertEntrySql =
    "INSERT INTO entries (device_name, compute_capability, sm_count, driver_version, nvrtc_version, "
    "generator_hash, compile_options, problem_key, spec_json, kernel_symbol, cubin_sha256, cubin_size, "
    "median_ms, p20_ms, p80_ms, candidates_tried, tuned, created_unix) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

const char* const kUpdateEntrySql =
    "UPDATE entries SET device_name = ?1, compute_capability = ?2, sm_count = ?3, "
    "driver_version = ?4, nvrtc_version = ?5, generator_hash = ?6, compile_options = ?7, "
    "problem_key = ?8, spec_json = ?9, kernel_symbol = ?10, cubin_sha256 = ?11, cubin_size = ?12, "
    "median_ms = ?13, p20_ms = ?14, p80_ms = ?15, candidates_tried = ?16, tuned = ?17, "
    "created_unix = ?18 WHERE id = ?19";

const char* const kPutCubinSql = "INSERT OR REPLACE INTO cubins (entry_id, bytes) VALUES (?1, ?2)";

std::string select_entries_sql(bool with_cubin, llvm::StringRef tail) {
  std::string sql = std::string("SELECT ") + kEntryColumns;
  if (with_cubin) sql += ", c.bytes";
  sql += " FROM entries e";
  if (with_cubin) sql += " LEFT JOIN cubins c ON c.entry_id = e.id";
  sql += " ";
  sql += tail.str();
  return sql;
}

void bind_key(Statement& statement, const CacheKey& key) {
  statement.bind_text(1, key.device_name);
  statement.bind_int64(2, key.compute_capability);
  statement.bind_int64(3, key.sm_count);
  statement.bind_int64(4, key.driver_version);
  statement.bind_int64(5, key.nvrtc_version);
  statement.bind_text(6, key.generator_hash);
  statement.bind_text(7, key.compile_options);
  statement.bind_text(8, key.problem_key);
}

void bind_entry(Statement& statement, const CacheEntry& entry) {
  bind_key(statement, entry.key);
  statement.bind_text(9, entry.spec_json);
  statement.bind_text(10, entry.kernel_symbol);
  statement.bind_text(11, entry.cubin_sha256);
  statement.bind_int64(12, static_cast<int64_t>(entry.cubin_size));
  statement.bind_optional_double(13, entry.median_ms);
  statement.bind_optional_double(14, entry.p20_ms);
  statement.bind_optional_double(15, entry.p80_ms);
  statement.bind_int64(16, entry.candidates_tried);
  statement.bind_int64(17, entry.tuned ? 1 : 0);
  statement.bind_int64(18, entry.created_unix);
}

CacheEntry read_entry(const Statement& statement, bool with_cubin) {
  CacheEntry entry;
  entry.id = statement.column_int64(kId);
  entry.key.device_name = statement.column_text(kDeviceName);
  entry.key.compute_capability = static_cast<int>(statement.column_int64(kComputeCapability));
  entry.key.sm_count = static_cast<int>(statement.column_int64(kSmCount));
  entry.key.driver_version = static_cast<int>(statement.column_int64(kDriverVersion));
  entry.key.nvrtc_version = static_cast<int>(statement.column_int64(kNvrtcVersion));
  entry.key.generator_hash = statement.column_text(kGeneratorHash);
  entry.key.compile_options = statement.column_text(kCompileOptions);
  entry.key.problem_key = statement.column_text(kProblemKey);
  entry.spec_json = statement.column_text(kSpecJson);
  entry.kernel_symbol = statement.column_text(kKernelSymbol);
  entry.cubin_sha256 = statement.column_text(kCubinSha256);
  entry.cubin_size = static_cast<uint64_t>(statement.column_int64(kCubinSize));
  entry.median_ms = statement.column_optional_double(kMedianMs);
  entry.p20_ms = statement.column_optional_double(kP20Ms);
  entry.p80_ms = statement.column_optional_double(kP80Ms);
  entry.candidates_tried = static_cast<int>(statement.column_int64(kCandidatesTried));
  entry.tuned = statement.column_int64(kTuned) != 0;
  entry.created_unix = statement.column_int64(kCreatedUnix);
  if (with_cubin) entry.cubin = statement.column_blob(kCubinBytes);
  return entry;
}

}  // namespace flashjit::cache
