#include "fuzz/crash_note.h"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(FLASHJIT_SANITIZE_UNDEFINED)
#define FLASHJIT_FUZZ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define FLASHJIT_FUZZ_SANITIZED 1
#endif
#endif

#ifdef FLASHJIT_FUZZ_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

namespace flashjit::fuzz {
namespace {

char note[1024];
volatile size_t note_length = 0;
const char* volatile input_data = nullptr;
volatile size_t input_size = 0;
char save_path[4096];

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, size);
    if (written <= 0) return;
    data += written;
    size -= static_cast<size_t>(written);
  }
}

// Async-signal-safe: write(), open() and close() only.
void write_note_and_input() {
  if (note_length == 0) return;
  write_all(STDERR_FILENO, note, note_length);
  const int fd = ::open(save_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  write_all(fd, input_data, input_size);
  ::close(fd);
}

void on_hang(int) {
  static const char hung[] = "flashjit_fuzz_replay: an input hung; it is this one:\n";
  write_all(STDERR_FILENO, hung, sizeof hung - 1);
  write_note_and_input();
  ::_exit(124);
}

#ifndef FLASHJIT_FUZZ_SANITIZED
alignas(16) char alternate_stack[64 * 1024];

void on_fatal_signal(int signal_number) {
  write_note_and_input();
  // The default action (SA_RESETHAND restored it), so that the exit status says which signal it was.
  ::raise(signal_number);
}
#endif

}  // namespace

void install_crash_note(const std::string& path) {
  static bool installed = false;
  if (installed) return;
  installed = true;
  const size_t length = std::min(path.size(), sizeof save_path - 1);
  std::memcpy(save_path, path.data(), length);
  save_path[length] = '\0';

  struct sigaction hang {};
  hang.sa_handler = on_hang;
  sigemptyset(&hang.sa_mask);
  ::sigaction(SIGALRM, &hang, nullptr);
#ifdef FLASHJIT_FUZZ_SANITIZED
  __sanitizer_set_death_callback(write_note_and_input);
#else
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof alternate_stack;
  ::sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  action.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(signal_number, &action, nullptr);
#endif
}

void set_current_input(const std::string& line, const std::string& bytes, unsigned hang_seconds) {
  note_length = 0;  // a signal arriving meanwhile writes nothing rather than half a note
  const size_t length = std::min(line.size(), sizeof note - 1);
  std::memcpy(note, line.data(), length);
  note[length] = '\n';
  input_data = bytes.data();
  input_size = bytes.size();
  note_length = length + 1;
  ::alarm(hang_seconds);
}

void clear_current_input() {
  ::alarm(0);
  note_length = 0;
}

}  // namespace flashjit::fuzz
