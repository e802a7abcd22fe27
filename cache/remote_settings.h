// Where the fleet's remote tuning cache is and how to talk to it: the URL parsed
// (redis://[user[:password]@]host[:port][/db], unix:///path/to/redis.sock), the password and the
// fleet key read from their files, and the timeouts. Nothing here connects.
//
// The password is a secret: it is held only in RemoteEndpoint::password, and describe() and every
// error leave it out, so it cannot reach a log, `flashjit doctor` or a message.
#pragma once

#include <optional>
#include <string>

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/Error.h>

#include "cache/fleet_signature.h"
#include "flashjit/runtime.h"

namespace flashjit::cache {

struct RemoteEndpoint {
  bool unix_socket = false;
  std::string host;         // a name, an IPv4 address or an IPv6 one (without brackets)
  int port = 6379;
  std::string socket_path;  // unix_socket only
  std::string user;         // empty: the default user (AUTH with the password alone)
  std::string password;     // empty: no AUTH
  int db = 0;
  // "redis://user@10.0.0.5:6379/2 (with a password)", "unix:///run/redis.sock": never the password.
  std::string describe() const;
};

// Errors say what is wrong without echoing the URL (it may hold the password): "the port is not a
// number from 1 to 65535". User and password may be percent-encoded (RFC 3986), so that a password
// may hold '@', ':' or '/'.
llvm::Expected<RemoteEndpoint> parse_remote_url(llvm::StringRef url);

struct RemoteSettings {
  RemoteEndpoint endpoint;
  std::optional<FleetKey> key;  // none: entries are neither signed nor verified
  bool allow_unsigned = false;
  int timeout_ms = 50;
  int backoff_ms = 30000;
  int single_flight_wait_ms = 20000;
  // How long a tuner's lock lives when it is not released: a crashed tuner holds the problem no longer.
  int lock_ms = 60000;

  // Without a key, entries cannot be verified: reads are refused unless unsigned mode was chosen.
  bool reads_allowed() const { return key.has_value() || allow_unsigned; }
  // "signed (fleet key 0123456789abcdef)", "unsigned mode (no fleet key: entries are not verified)", ...
  std::string signing() const;
};

// The public options resolved: the URL parsed, the password file (when given) read over the URL's
// password, the key file read. Errors name the option ("FLASHJIT_REMOTE_CACHE: ...",
// "FLASHJIT_REMOTE_CACHE_KEY_FILE ...").
llvm::Expected<RemoteSettings> resolve_remote_settings(const RemoteCacheOptions& options);

}  // namespace flashjit::cache
