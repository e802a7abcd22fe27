// Diagnostics on stderr. The level comes from FLASHJIT_LOG (error|warning|info|debug|off); the
// default shows warnings and errors only, so a library user sees nothing unless something is off.
#pragma once

#include <string>

namespace flashjit::log {

enum class Level { off = 0, error = 1, warning = 2, info = 3, debug = 4 };

Level current_level();
// Parses a FLASHJIT_LOG value; unknown values keep the default (warning).
Level parse_level(const char* text);
bool enabled(Level level);
void write(Level level, const std::string& message);

inline void error(const std::string& m) { write(Level::error, m); }
inline void warning(const std::string& m) { write(Level::warning, m); }
inline void info(const std::string& m) { write(Level::info, m); }
inline void debug(const std::string& m) { write(Level::debug, m); }

}  // namespace flashjit::log
