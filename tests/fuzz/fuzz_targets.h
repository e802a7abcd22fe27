// The fuzz targets: the parsers of FlashJIT that read untrusted bytes, each behind one
// function that takes the bytes and returns a Verdict (verdict.h), checking on the way what FlashJIT
// promises: a rejected input gets a specific error, an accepted one satisfies the invariants named
// below. Shared by the deterministic replay (replay_main.cpp, in CTest) and the libFuzzer entry
// points (libfuzzer_<target>.cpp).
#pragma once

#include <string>
#include <vector>

#include <llvm/ADT/StringRef.h>

#include "fuzz/verdict.h"

namespace flashjit::fuzz {

// The deployment manifest (tuner::parse_manifest). Rejected: an invalid_argument error starting
// "manifest: ". Accepted: at least one problem, each one a valid problem (features, shape) whose key
// reads back (parse_problem_key) as itself.
Verdict manifest_target(llvm::StringRef bytes);

// The export/import document (cache::import_from_json) into an empty cache opened as FlashJIT opens
// one. Rejected: an error starting "import: ". Accepted: one result per entry of the document;
// every stored entry passes accepted_entry_problem (cache_invariants.h); the cache exports and
// imports again, entry for entry.
Verdict cache_import_target(llvm::StringRef bytes);

// One cache row (row_encoding.h) stored without the entry check and looked up with it. Rejected:
// lookup missed it and the check names a reason. Accepted: lookup returned it, the check names
// none, it is the row stored, passes accepted_entry_problem and exports and imports again. The
// entry check and spec_from_json also run on it directly, and must not throw or give a vague error.
Verdict cache_row_target(llvm::StringRef bytes);

// The remote cache's URL (cache::parse_remote_url). Rejected: a specific error that does not
// depend on the letters of the URL's user and password (so it cannot show them). Accepted: an endpoint in range (host and port, or an absolute socket
// path; a user only with a password) whose describe() does not show the password.
Verdict remote_url_target(llvm::StringRef bytes);

// An entry as a reader finds it in Redis (cache::check_stored_entry), framed as
// "<redis key>\n<tuned>\n<signer>\n<signature>\n<entry JSON>" (a missing line: that field is
// absent), read with the key fuzz_fleet_key_bytes() and unsigned mode on. Rejected: a specific
// reason. Accepted: the entry passes accepted_entry_problem, is the entry of the Redis key, agrees
// with its tuned flag and, unless unsigned, its signature verifies.
Verdict remote_entry_target(llvm::StringRef bytes);
const std::string& fuzz_fleet_key_bytes();

struct Target {
  const char* name;  // "manifest", "cache_import", "cache_row": also the corpus directory's name
  Verdict (*run)(llvm::StringRef bytes);
};

const std::vector<Target>& all_targets();
// nullptr when there is no target of that name.
const Target* find_target(llvm::StringRef name);

// target.run(bytes), with an exception that escapes it turned into a violation: the library reports
// bad input through llvm::Error and never throws it at its caller.
Verdict run_target(const Target& target, llvm::StringRef bytes);

// Keeps FlashJIT's warnings (lookup deleting a bad row, thousands of times) off stderr unless
// FLASHJIT_LOG asks for them. Call before any FlashJIT function.
void quiet_flashjit_log();

}  // namespace flashjit::fuzz
