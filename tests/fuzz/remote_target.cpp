// The remote tier's targets (fuzz_targets.h): the URL of the remote cache, and an entry as a
// reader finds it in Redis.
#include "fuzz/fuzz_targets.h"

#include <string>

#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringExtras.h>

#include "cache/remote_cache.h"
#include "cache/remote_settings.h"
#include "fuzz/cache_invariants.h"
#include "runtime/cache_entry_check.h"

namespace flashjit::fuzz {
namespace {

// `url` with the letters g..z of its userinfo (where the password is) changed to others, or empty
// when it has no userinfo or none of those letters. They take no part in parsing (percent-encoding
// uses hex digits), so an error that does not show the password is the same for both.
std::string password_letters_changed(llvm::StringRef url) {
  const size_t scheme = url.find("://");
  if (scheme == llvm::StringRef::npos) return {};
  const size_t start = scheme + 3;
  const size_t slash = url.find('/', start);
  const size_t at = url.substr(0, slash).rfind('@');
  if (at == llvm::StringRef::npos || at < start) return {};
  std::string changed = url.str();
  bool any = false;
  for (size_t i = start; i < at; ++i) {
    const char c = changed[i];
    if ((c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z')) {
      changed[i] = c == 'q' ? 'r' : 'q';
      any = true;
    }
  }
  return any ? changed : std::string();
}

std::string endpoint_defect(const cache::RemoteEndpoint& e) {
  if (e.unix_socket) {
    if (e.socket_path.empty() || e.socket_path[0] != '/' || e.socket_path.size() > 107)
      return "socket path '" + e.socket_path + "' is not an absolute path of at most 107 bytes";
    return {};
  }
  if (e.host.empty()) return "accepted without a host";
  for (char c : e.host)
    if (!(llvm::isAlnum(c) || c == '.' || c == '-' || c == '_' || c == ':')) return "host holds a character out of place";
  if (e.port < 1 || e.port > 65535) return "port " + std::to_string(e.port) + " out of range";
  if (e.db < 0 || e.db > 9999) return "db " + std::to_string(e.db) + " out of range";
  if (!e.user.empty() && e.password.empty()) return "a user without a password";
  return {};
}

}  // namespace

Verdict remote_url_target(llvm::StringRef bytes) {
  auto endpoint = cache::parse_remote_url(bytes);
  if (!endpoint) {
    const std::string message = llvm::toString(endpoint.takeError());
    if (std::string vague = vague_error_problem(message, "", bytes); !vague.empty()) return Verdict::violation(vague);
    // The password is in the userinfo: no error depends on it.
    if (std::string other = password_letters_changed(bytes); !other.empty()) {
      auto again = cache::parse_remote_url(other);
      const std::string other_message = again ? std::string("(accepted)") : llvm::toString(again.takeError());
      if (other_message != message)
        return Verdict::violation("the error depends on the URL's user and password: '" + message + "' vs '" +
                                  other_message + "'");
    }
    return Verdict::rejected(message);
  }
  if (std::string defect = endpoint_defect(*endpoint); !defect.empty()) return Verdict::violation(defect);
  const std::string described = endpoint->describe();
  const std::string& password = endpoint->password;
  const std::string shown_parts = endpoint->host + endpoint->user + endpoint->socket_path;
  if (password.size() >= 6 && shown_parts.find(password) == std::string::npos &&
      described.find(password) != std::string::npos)
    return Verdict::violation("describe() shows the password: " + described);
  return Verdict::accepted();
}

const std::string& fuzz_fleet_key_bytes() {
  static const std::string key = "the-fuzz-targets-fleet-key-0123456789";
  return key;
}

Verdict remote_entry_target(llvm::StringRef bytes) {
  // "<redis key>\n<tuned>\n<signer>\n<signature>\n<entry JSON>": a line missing is a field absent.
  llvm::SmallVector<llvm::StringRef, 5> parts;
  bytes.split(parts, '\n', /*MaxSplit=*/4);
  const std::string entry_key = parts.empty() ? std::string() : parts[0].str();
  cache::StoredFields fields;
  std::optional<std::string>* slots[] = {&fields.tuned, &fields.signer, &fields.signature, &fields.entry};
  for (size_t i = 1; i < parts.size(); ++i) *slots[i - 1] = parts[i].str();

  cache::RemoteSettings settings;
  settings.key = *cache::FleetKey::from_bytes(fuzz_fleet_key_bytes());
  settings.allow_unsigned = true;  // both paths: signed entries verified, unsigned ones parsed
  const cache::EntryProblems problems_of = [](const cache::CacheEntry& e) {
    return llvm::join(cache_entry_problems(e), "; ");
  };
  cache::RemoteFetch checked = cache::check_stored_entry(settings, entry_key, std::nullopt, fields, problems_of);
  if (checked.status == cache::RemoteStatus::miss) {
    if (fields.entry || fields.tuned || fields.signer || fields.signature)
      return Verdict::violation("a miss for fields that are there");
    return Verdict::rejected("miss");
  }
  if (checked.status == cache::RemoteStatus::rejected) {
    if (std::string vague = vague_error_problem(checked.why, "", bytes); !vague.empty()) return Verdict::violation(vague);
    return Verdict::rejected(checked.why);
  }
  if (checked.status != cache::RemoteStatus::hit || !checked.entry) return Verdict::violation("neither hit, miss nor rejected");
  const cache::CacheEntry& entry = *checked.entry;
  if (std::string problem = accepted_entry_problem(entry); !problem.empty()) return Verdict::violation(problem);
  if (cache::RemoteCache::entry_key(entry.key) != entry_key) return Verdict::violation("accepted the entry of another key");
  if (entry.tuned != (*fields.tuned == "1")) return Verdict::violation("accepted an entry its tuned flag disagrees with");
  if (*fields.signer != "unsigned" &&
      !settings.key->verifies(cache::RemoteCache::signed_text(entry_key, *fields.tuned, *fields.entry), *fields.signature))
    return Verdict::violation("accepted a signed entry whose signature does not verify");
  return Verdict::accepted();
}

}  // namespace flashjit::fuzz
