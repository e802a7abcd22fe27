#include "runtime/kernel_dump.h"

#include <cstdlib>
#include <fstream>

#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Path.h>
#include <nlohmann/json.hpp>

#include "generator/spec_json.h"
#include "support/log.h"

namespace flashjit {
namespace {

void write_file(const std::string& directory, const std::string& name, const std::string& text) {
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(path, name);
  std::ofstream out(std::string(path), std::ios::binary);
  out << text;
  if (!out) log::warning("FLASHJIT_DUMP_DIR: cannot write " + std::string(path));
}

}  // namespace

std::string dump_directory() {
  const char* dir = std::getenv("FLASHJIT_DUMP_DIR");
  return dir ? dir : "";
}

void dump_kernel(const std::string& directory, const gen::KernelSpec& spec,
                 const gen::EmittedKernel& emitted, const cuda::CompiledKernel* compiled,
                 const std::string& compile_error) {
  if (std::error_code ec = llvm::sys::fs::create_directories(directory)) {
    log::warning("FLASHJIT_DUMP_DIR: cannot create " + directory + ": " + ec.message());
    return;
  }
  const std::string& key = emitted.key;
  write_file(directory, key + ".cu", emitted.source);

  nlohmann::json meta;
  meta["spec"] = gen::spec_to_json(spec);
  meta["name_expression"] = emitted.name_expression;
  meta["generator_hash"] = gen::generator_hash();
  if (compiled == nullptr) {
    meta["status"] = "compile failed";
    meta["error"] = compile_error;
    write_file(directory, key + ".log", compile_error);
  } else {
    meta["status"] = "compiled";
    meta["options"] = compiled->options;
    meta["lowered_name"] = compiled->lowered_name;
    meta["compile_ms"] = compiled->compile_ms;
    const cuda::ResourceUsage& r = compiled->resources;
    meta["resources"] = {{"registers", r.registers},         {"barriers", r.barriers},
                         {"static_shared_bytes", r.shared_bytes},
                         {"dynamic_shared_bytes", gen::shared_memory_bytes(spec)},
                         {"stack_bytes", r.stack_bytes},     {"spill_store_bytes", r.spill_store_bytes},
                         {"spill_load_bytes", r.spill_load_bytes}};
    write_file(directory, key + ".ptx", compiled->ptx);
    write_file(directory, key + ".log", compiled->log);
  }
  write_file(directory, key + ".json", meta.dump(2) + "\n");
  log::info("dumped " + key + " to " + directory);
}

}  // namespace flashjit
