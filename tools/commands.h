// The `flashjit` subcommands. Each returns the process exit code; only main() exits.
#pragma once

namespace flashjit::tools {

int run_doctor();
int run_emit();
int run_main_job();
int run_tune();
int run_cache();
int run_warm();
int run_bench();

}  // namespace flashjit::tools
