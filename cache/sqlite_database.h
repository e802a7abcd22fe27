// A thin RAII layer over the SQLite C API: one connection, prepared statements, and errors that say
// what failed. This header and its .cpp are the only places that know SQLite exists; sqlite3.h stays
// in the .cpp so that no header of the library drags it in.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

struct sqlite3;
struct sqlite3_stmt;

namespace flashjit::cache {

// SQLite said the file is not a database or is damaged (SQLITE_NOTADB, SQLITE_CORRUPT). Kept apart
// from other failures because only this one justifies moving the file aside: a busy or unreadable
// database is someone else's to fix and must not be thrown away.
class CorruptDatabaseError : public llvm::ErrorInfo<CorruptDatabaseError> {
 public:
  static char ID;
  explicit CorruptDatabaseError(std::string message) : message_(std::move(message)) {}
  void log(llvm::raw_ostream& os) const override;
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }

 private:
  std::string message_;
};

// SQLite could not get a lock within the busy timeout (SQLITE_BUSY, SQLITE_LOCKED), or, for a few
// operations such as switching the journal mode, at once (those never wait on their own).
class BusyDatabaseError : public llvm::ErrorInfo<BusyDatabaseError> {
 public:
  static char ID;
  explicit BusyDatabaseError(std::string message) : message_(std::move(message)) {}
  void log(llvm::raw_ostream& os) const override;
  std::error_code convertToErrorCode() const override { return llvm::inconvertibleErrorCode(); }

 private:
  std::string message_;
};

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in SQL. A failed bind is reported by the next step().
  void bind_text(int index, llvm::StringRef text);
  void bind_blob(int index, llvm::StringRef bytes);
  void bind_int64(int index, int64_t value);
  // An absent value (or NaN, which SQLite cannot store) becomes NULL.
  void bind_optional_double(int index, std::optional<double> value);

  // true: a row is ready to read; false: the statement is done.
  llvm::Expected<bool> step();
  // Steps until done; for statements that return no rows.
  llvm::Error run();

  int64_t column_int64(int index) const;
  std::string column_text(int index) const;
  std::string column_blob(int index) const;
  std::optional<double> column_optional_double(int index) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* statement, std::string sql) : statement_(statement), sql_(std::move(sql)) {}
  void note_bind_result(int result, int index);

  sqlite3_stmt* statement_;
  std::string sql_;
  int bind_failure_ = 0;  // the first failing sqlite3_bind_* result, reported by step()
  int bind_failure_index_ = 0;
};

class Database {
 public:
  enum class Mode {
    read_write,  // created when missing
    read_only,
    // Read-only without locks or a -shm file; the last resort for a database in a directory we
    // cannot write (SQLite cannot otherwise read a WAL database there).
    immutable,
  };

  static llvm::Expected<std::unique_ptr<Database>> open(const std::string& path, Mode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs SQL that returns no rows (may hold several statements).
  llvm::Error execute(llvm::StringRef sql);
  llvm::Expected<Statement> prepare(llvm::StringRef sql);
  // The single value a query such as "PRAGMA page_size" returns.
  llvm::Expected<int64_t> query_int64(llvm::StringRef sql);
  llvm::Expected<std::string> query_text(llvm::StringRef sql);

  llvm::Error set_busy_timeout(int milliseconds);
  int64_t last_insert_id() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  // A statement stepped to its first row; an error when there is none.
  llvm::Expected<Statement> query_one_row(llvm::StringRef sql);
  sqlite3* handle_;
  std::string path_;
};

// A "file:" URI for `path` with query parameters such as "immutable=1", escaping the characters a
// URI gives meaning to (a path may legally contain '?', '#' or '%').
std::string sqlite_file_uri(llvm::StringRef path, llvm::StringRef query);

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed. IMMEDIATE takes the write lock up front
// (waiting out the busy timeout), so what a writer reads inside the transaction is what it writes
// against: no other process can store the same key between the check and the write.
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
