// When the process dies on an input (a crash, a sanitizer's report, an abort) or hangs on it, a
// line on stderr says which input it was, and its bytes are saved to a file, so that a failure in CI
// can be replayed. The driver names each input before running it; the note and the bytes are
// written from a signal handler (or the sanitizer's death callback), so nothing is formatted or
// allocated then, and nothing is written to disk for the inputs that pass.
#pragma once

#include <string>

namespace flashjit::fuzz {

// Installs the handlers once: SIGSEGV (on an alternate stack: a stack overflow is one), SIGBUS,
// SIGFPE, SIGILL and SIGABRT, or under a sanitizer its death callback instead (its own handlers
// write the report, and must stay installed); and SIGALRM, for a hang. Dying, the current input is
// saved to `save_path`.
void install_crash_note(const std::string& save_path);
// The input about to run: `line` is written if the process dies or hangs while it runs (cut to the
// buffer's size), and `bytes` (which must outlive the run) saved. A hang is `hang_seconds` in one
// input; then the process exits with status 124.
void set_current_input(const std::string& line, const std::string& bytes, unsigned hang_seconds);
// No input is running: dying now writes nothing.
void clear_current_input();

}  // namespace flashjit::fuzz
