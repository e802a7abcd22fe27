#include "support/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace flashjit::log {

Level parse_level(const char* text) {
  if (text == nullptr || *text == '\0') return Level::warning;
  struct Name {
    const char* name;
    Level level;
  };
  static const Name names[] = {{"off", Level::off},         {"none", Level::off},
                               {"error", Level::error},     {"warning", Level::warning},
                               {"warn", Level::warning},    {"info", Level::info},
                               {"debug", Level::debug},     {"trace", Level::debug}};
  for (const Name& n : names)
    if (std::strcmp(text, n.name) == 0) return n.level;
  return Level::warning;
}

Level current_level() {
  static const Level level = parse_level(std::getenv("FLASHJIT_LOG"));
  return level;
}

bool enabled(Level level) { return level != Level::off && level <= current_level(); }

void write(Level level, const std::string& message) {
  if (!enabled(level)) return;
  static const char* const prefix[] = {"", "error", "warning", "info", "debug"};
  static std::mutex mutex;  // one line at a time from many threads
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "flashjit: %s: %s\n", prefix[static_cast<int>(level)], message.c_str());
}

}  // namespace flashjit::log
