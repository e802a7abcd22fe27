// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed. IMMEDIATE takes the write lock up front
// (waiting out the busy timeout), so what a writer reads inside the transaction is what it writes
// against: no other process can store the same key between the check and the write.
#pragma once

#include <llvm/Support/Error.h>

#include "cache/sqlite_database.h"

namespace flashjit::cache {

class WriteTransaction {
 public:
  static llvm::Expected<WriteTransaction> begin(Database& db);
  WriteTransaction(WriteTransaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  WriteTransaction& operator=(WriteTransaction&&) = delete;
  WriteTransaction(const WriteTransaction&) = delete;
  ~WriteTransaction();

  llvm::Error commit();

 private:
  explicit WriteTransaction(Database& db) : db_(&db) {}
  Database* db_;  // null once committed or rolled back
};

}  // namespace flashjit::cache
