#include "cache/sqlite_database.h"

#include <cmath>

#include <sqlite3.h>

#include <llvm/Support/raw_ostream.h>

namespace flashjit::cache {

char CorruptDatabaseError::ID = 0;

void CorruptDatabaseError::log(llvm::raw_ostream& os) const { os << message_; }

char BusyDatabaseError::ID = 0;

void BusyDatabaseError::log(llvm::raw_ostream& os) const { os << message_; }

namespace {

bool means_corruption(int result) {
  const int primary = result & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

bool means_busy(int result) {
  const int primary = result & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

llvm::Error make_error(int result, const std::string& message) {
  if (means_corruption(result)) return llvm::make_error<CorruptDatabaseError>(message);
  if (means_busy(result)) return llvm::make_error<BusyDatabaseError>(message);
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

// The connection's message is more specific than sqlite3_errstr(): "no such table: entries".
llvm::Error error_from(sqlite3* handle, int result, llvm::StringRef context) {
  const char* detail = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(result);
  return make_error(result, (context + ": " + detail).str());
}

// Enough of a statement to recognise it in a message without quoting a whole schema.
std::string sql_head(llvm::StringRef sql) {
  sql = sql.trim();
  if (sql.size() <= 48) return sql.str();
  return (sql.take_front(45) + "...").str();
}

}  // namespace

// ---- Statement ---------------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : statement_(other.statement_),
      sql_(std::move(other.sql_)),
      bind_failure_(other.bind_failure_),
      bind_failure_index_(other.bind_failure_index_) {
  other.statement_ = nullptr;
}

Statement::~Statement() { sqlite3_finalize(statement_); }

void Statement::note_bind_result(int result, int index) {
  if (result == SQLITE_OK || bind_failure_ != 0) return;
  bind_failure_ = result;
  bind_failure_index_ = index;
}

void Statement::bind_text(int index, llvm::StringRef text) {
  // An empty StringRef may hold a null pointer, which SQLite would store as NULL, not as "".
  const char* data = text.data() != nullptr ? text.data() : "";
  note_bind_result(sqlite3_bind_text64(statement_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
                   index);
}

void Statement::bind_blob(int index, llvm::StringRef bytes) {
  // A zero-length blob must still be a blob, not NULL: sqlite3_bind_blob64 with a null pointer
  // would store NULL.
  if (bytes.empty()) {
    note_bind_result(sqlite3_bind_zeroblob(statement_, index, 0), index);
    return;
  }
  note_bind_result(sqlite3_bind_blob64(statement_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT),
                   index);
}

void Statement::bind_int64(int index, int64_t value) {
  note_bind_result(sqlite3_bind_int64(statement_, index, value), index);
}

void Statement::bind_optional_double(int index, std::optional<double> value) {
  if (!value || std::isnan(*value)) {
    note_bind_result(sqlite3_bind_null(statement_, index), index);
    return;
  }
  note_bind_result(sqlite3_bind_double(statement_, index, *value), index);
}

llvm::Expected<bool> Statement::step() {
  sqlite3* handle = sqlite3_db_handle(statement_);
  if (bind_failure_ != 0)
    return make_error(bind_failure_, "binding parameter " + std::to_string(bind_failure_index_) +
                                         " of '" + sql_head(sql_) + "': " + sqlite3_errstr(bind_failure_));
  const int result = sqlite3_step(statement_);
  if (result == SQLITE_ROW) return true;
  if (result == SQLITE_DONE) return false;
  return error_from(handle, result, "'" + sql_head(sql_) + "'");
}

llvm::Error Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return row.takeError();
    if (!*row) return llvm::Error::success();
  }
}

int64_t Statement::column_int64(int index) const { return sqlite3_column_int64(statement_, index); }

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(statement_, index);
  const int size = sqlite3_column_bytes(statement_, index);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::column_blob(int index) const {
  const void* bytes = sqlite3_column_blob(statement_, index);
  const int size = sqlite3_column_bytes(statement_, index);
  if (bytes == nullptr) return std::string();
  return std::string(static_cast<const char*>(bytes), static_cast<size_t>(size));
}

std::optional<double> Statement::column_optional_double(int index) const {
  if (sqlite3_column_type(statement_, index) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(statement_, index);
}

// ---- Database ----------------------------------------------------------------------------------

std::string sqlite_file_uri(llvm::StringRef path, llvm::StringRef query) {
  // An absolute path gets an empty authority ("file:///tmp/x"), so that a path starting with "//"
  // is not read as a host name.
  std::string uri = path.startswith("/") ? "file://" : "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      static const char hex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      uri += '%';
      uri += hex[byte >> 4];
      uri += hex[byte & 0xf];
      continue;
    }
    uri += c;
  }
  if (!query.empty()) uri += ("?" + query).str();
  return uri;
}

llvm::Expected<std::unique_ptr<Database>> Database::open(const std::string& path, Mode mode) {
  // FULLMUTEX: a TuningCache serialises its own calls, but SQLite's own checks are cheap insurance.
  int flags = SQLITE_OPEN_FULLMUTEX;
  std::string name = path;
  switch (mode) {
    case Mode::read_write:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case Mode::read_only:
      flags |= SQLITE_OPEN_READONLY;
      break;
    case Mode::immutable:
      flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
      name = sqlite_file_uri(path, "immutable=1");
      break;
  }
  sqlite3* handle = nullptr;
  const int result = sqlite3_open_v2(name.c_str(), &handle, flags, nullptr);
  if (result != SQLITE_OK) {
    llvm::Error error = error_from(handle, result, "cannot open " + path);
    sqlite3_close_v2(handle);  // SQLite allocates a handle even when opening fails
    return error;
  }
  sqlite3_extended_result_codes(handle, 1);
  return std::unique_ptr<Database>(new Database(handle, path));
}

Database::~Database() { sqlite3_close_v2(handle_); }

llvm::Error Database::execute(llvm::StringRef sql) {
  const std::string text = sql.str();
  const int result = sqlite3_exec(handle_, text.c_str(), nullptr, nullptr, nullptr);
  if (result == SQLITE_OK) return llvm::Error::success();
  return error_from(handle_, result, "'" + sql_head(sql) + "'");
}

llvm::Expected<Statement> Database::prepare(llvm::StringRef sql) {
  sqlite3_stmt* statement = nullptr;
  const int result = sqlite3_prepare_v2(handle_, sql.data(), static_cast<int>(sql.size()), &statement,
                                        nullptr);
  if (result != SQLITE_OK) {
    sqlite3_finalize(statement);
    return error_from(handle_, result, "'" + sql_head(sql) + "'");
  }
  return Statement(statement, sql.str());
}

llvm::Expected<Statement> Database::query_one_row(llvm::StringRef sql) {
  auto statement = prepare(sql);
  if (!statement) return statement.takeError();
  auto row = statement->step();
  if (!row) return row.takeError();
  if (!*row)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "'%s' returned no row",
                                   sql_head(sql).c_str());
  return std::move(*statement);
}

llvm::Expected<int64_t> Database::query_int64(llvm::StringRef sql) {
  auto statement = query_one_row(sql);
  if (!statement) return statement.takeError();
  return statement->column_int64(0);
}

llvm::Expected<std::string> Database::query_text(llvm::StringRef sql) {
  auto statement = query_one_row(sql);
  if (!statement) return statement.takeError();
  return statement->column_text(0);
}

llvm::Error Database::set_busy_timeout(int milliseconds) {
  const int result = sqlite3_busy_timeout(handle_, milliseconds);
  if (result == SQLITE_OK) return llvm::Error::success();
  return error_from(handle_, result, "setting the busy timeout");
}

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(handle_); }

int64_t Database::changes() const { return sqlite3_changes64(handle_); }

// ---- WriteTransaction ----


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
