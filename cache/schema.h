// The database schema: a schema_version table and the migrations that build the schema up, one
// function per version. Adding a version means appending one function to schema_migrations().
#pragma once

#include <string>
#include <vector>

#include <llvm/Support/Error.h>

#include "cache/sqlite_database.h"

namespace flashjit::cache {

// The file holds a schema this build does not know: newer than the last migration, or tables
// without a schema_version (some other program's database). Such a file is moved aside, not
// migrated or trusted.
class UnsupportedSchemaError : public llvm::ErrorInfo<UnsupportedSchemaError> {
 public:
  static char ID;
  explicit UnsupportedSchemaError(std::string message) : message_(std::move(message)) {}
  void log(llvm::raw_ostream& os) const override;
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }

 private:
  std::string message_;
};

// Takes the database from version i to i + 1, where i is its position in the list. Runs inside
// the migration's write transaction.
using Migration = llvm::Error (*)(Database& db);

const std::vector<Migration>& schema_migrations();
int latest_schema_version();

// 0 for an empty database. An UnsupportedSchemaError when the version is above
// `supported_version`, or when there are tables but no schema_version table.
llvm::Expected<int> read_schema_version(Database& db, int supported_version = latest_schema_version());

// Brings the database to the version at the end of `migrations`. Cheap when it is already there
// (one read); otherwise one write transaction that re-reads the version first, since another
// process may have migrated the file meanwhile.
llvm::Error migrate(Database& db, const std::vector<Migration>& migrations = schema_migrations());

}  // namespace flashjit::cache
