// How a CacheEntry maps onto the rows of the entries and cubins tables: the SQL text and the
// binding and reading of columns, kept in one place so that the column order is written once.
#pragma once

#include <string>

#include <llvm/ADT/StringRef.h>

#include "cache/cache_entry.h"
#include "cache/sqlite_database.h"

namespace flashjit::cache {

// "SELECT <every entry column>[, cubin bytes] FROM entries e LEFT JOIN cubins c ... <tail>".
// The LEFT JOIN makes a row that lost its cubin visible (as an empty cubin that fails the check).
std::string select_entries_sql(bool with_cubin, llvm::StringRef tail);

// The WHERE clause matching every key column against ?1..?8 (see bind_key).
extern const char* const kMatchKeySql;
// INSERT of an entry row from ?1..?18 (see bind_entry).
extern const char* const kInsertEntrySql;
// UPDATE of every column of row ?19 from ?1..?18.
extern const char* const kUpdateEntrySql;
// The cubin of row ?1 set to ?2, whether or not it had one.
extern const char* const kPutCubinSql;

void bind_key(Statement& statement, const CacheKey& key);
// ?1..?8 the key, ?9.. the rest, with cubin_sha256, cubin_size and created_unix as given.
void bind_entry(Statement& statement, const CacheEntry& entry);

// The current row of a select_entries_sql() statement.
CacheEntry read_entry(const Statement& statement, bool with_cubin);

}  // namespace flashjit::cache
