#include "cache/write_transaction.h"

namespace flashjit::cache {

llvm::Expected<WriteTransaction> WriteTransaction::begin(Database& db) {
  if (llvm::Error error = db.execute("BEGIN IMMEDIATE")) return error;
  return WriteTransaction(db);
}

WriteTransaction::~WriteTransaction() {
  if (db_ == nullptr) return;
  // Nothing to report to: the error that made us skip commit() is already on its way to the caller.
  llvm::consumeError(db_->execute("ROLLBACK"));
}

llvm::Error WriteTransaction::commit() {
  Database* db = db_;
  db_ = nullptr;
  if (llvm::Error error = db->execute("COMMIT")) {
    llvm::consumeError(db->execute("ROLLBACK"));
    return error;
  }
  return llvm::Error::success();
}

}  // namespace flashjit::cache
