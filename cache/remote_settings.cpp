#include "cache/remote_settings.h"

#include <llvm/ADT/StringExtras.h>
#include <llvm/Support/FormatVariadic.h>

namespace flashjit::cache {
namespace {

llvm::Error url_error(const llvm::Twine& why) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", why.str().c_str());
}

// RFC 3986 percent-decoding; an error for a '%' not followed by two hex digits.
llvm::Expected<std::string> percent_decoded(llvm::StringRef text, const char* part) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size() || !llvm::isHexDigit(text[i + 1]) || !llvm::isHexDigit(text[i + 2]) ||
        text.substr(i + 1, 2).getAsInteger(16, value))
      return url_error(llvm::formatv("the {0} holds a '%' not followed by two hex digits", part));
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

llvm::Error parse_userinfo(llvm::StringRef userinfo, RemoteEndpoint& endpoint) {
  auto [user, password] = userinfo.split(':');
  auto decoded_user = percent_decoded(user, "user name");
  if (!decoded_user) return decoded_user.takeError();
  auto decoded_password = percent_decoded(password, "password");
  if (!decoded_password) return decoded_password.takeError();
  endpoint.user = std::move(*decoded_user);
  endpoint.password = std::move(*decoded_password);
  if (!endpoint.user.empty() && endpoint.password.empty())
    return url_error("a user name needs a password (redis://user:password@host, or the password file)");
  return llvm::Error::success();
}

// host, host:port, [v6], [v6]:port
llvm::Error parse_host_port(llvm::StringRef hostport, RemoteEndpoint& endpoint) {
  llvm::StringRef port_text;
  if (hostport.startswith("[")) {
    const size_t close = hostport.find(']');
    if (close == llvm::StringRef::npos) return url_error("an IPv6 address opened with '[' is not closed with ']'");
    endpoint.host = hostport.substr(1, close - 1).str();
    llvm::StringRef rest = hostport.substr(close + 1);
    if (!rest.empty() && !rest.consume_front(":")) return url_error("an IPv6 address in brackets must be followed by :port or nothing");
    port_text = rest;
  } else {
    auto [host, port] = hostport.split(':');
    endpoint.host = host.str();
    port_text = port;
    if (hostport.contains(':') && port.empty()) return url_error("the port after ':' is missing");
  }
  if (endpoint.host.empty()) return url_error("the host is missing (redis://host:port)");
  for (char c : endpoint.host)
    if (!(llvm::isAlnum(c) || c == '.' || c == '-' || c == '_' || c == ':'))
      return url_error("the host holds a character a host name or address cannot hold");
  if (port_text.empty()) return llvm::Error::success();
  unsigned port = 0;
  if (port_text.getAsInteger(10, port) || port < 1 || port > 65535)
    return url_error("the port is not a number from 1 to 65535");
  endpoint.port = static_cast<int>(port);
  return llvm::Error::success();
}

llvm::Expected<RemoteEndpoint> parse_redis_url(llvm::StringRef rest) {
  RemoteEndpoint endpoint;
  auto [authority, path] = rest.split('/');
  if (authority.contains('?') || path.contains('?') || authority.contains('#') || path.contains('#'))
    return url_error("query strings and fragments are not understood (redis://[user:password@]host[:port][/db])");
  // The last '@' ends the userinfo: an unencoded '@' in a password still parses.
  const size_t at = authority.rfind('@');
  if (at != llvm::StringRef::npos) {
    if (llvm::Error error = parse_userinfo(authority.substr(0, at), endpoint)) return error;
    authority = authority.substr(at + 1);
  }
  if (llvm::Error error = parse_host_port(authority, endpoint)) return error;
  if (!path.empty()) {
    unsigned db = 0;
    if (path.getAsInteger(10, db) || db > 9999) return url_error("the database after '/' is not a number from 0 to 9999");
    endpoint.db = static_cast<int>(db);
  }
  return endpoint;
}

llvm::Expected<RemoteEndpoint> parse_unix_url(llvm::StringRef path) {
  if (!path.startswith("/")) return url_error("a unix socket URL needs an absolute path: unix:///path/to/redis.sock");
  // sockaddr_un's sun_path holds 108 bytes with the terminating zero.
  if (path.size() > 107) return url_error("the socket path is longer than the 107 bytes a unix socket address holds");
  if (path.contains('\0')) return url_error("the socket path holds a zero byte");
  RemoteEndpoint endpoint;
  endpoint.unix_socket = true;
  endpoint.socket_path = path.str();
  return endpoint;
}

}  // namespace

std::string RemoteEndpoint::describe() const {
  if (unix_socket) return "unix://" + socket_path + (password.empty() ? "" : " (with a password)");
  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string text = "redis://" + (user.empty() ? std::string() : user + "@") + shown_host + ":" + std::to_string(port) +
                     "/" + std::to_string(db);
  if (!password.empty()) text += " (with a password)";
  return text;
}

llvm::Expected<RemoteEndpoint> parse_remote_url(llvm::StringRef url) {
  llvm::StringRef rest = url.trim();
  if (rest.consume_front("redis://")) return parse_redis_url(rest);
  if (rest.consume_front("unix://")) return parse_unix_url(rest);
  if (rest.startswith("rediss://"))
    return url_error("rediss:// (TLS) is not supported: the hiredis FlashJIT links has no TLS; reach the server "
                     "through a local TLS tunnel (stunnel, spiped) and give its redis:// or unix:// address");
  return url_error("the URL must start with redis:// or unix:// (redis://[user:password@]host[:port][/db], "
                   "unix:///path/to/redis.sock)");
}

std::string RemoteSettings::signing() const {
  if (key && allow_unsigned) return "signed with fleet key " + key->id() + "; unsigned entries accepted (unsigned mode)";
  if (key) return "signed with fleet key " + key->id();
  if (allow_unsigned) return "unsigned mode: no fleet key, entries are neither signed nor verified";
  return "no fleet key: remote entries are not read (set FLASHJIT_REMOTE_CACHE_KEY_FILE, or "
         "FLASHJIT_REMOTE_CACHE_UNSIGNED=1 to accept unsigned entries)";
}

llvm::Expected<RemoteSettings> resolve_remote_settings(const RemoteCacheOptions& options) {
  RemoteSettings settings;
  auto endpoint = parse_remote_url(options.url);
  if (!endpoint)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "FLASHJIT_REMOTE_CACHE (remote_cache.url): %s",
                                   llvm::toString(endpoint.takeError()).c_str());
  settings.endpoint = std::move(*endpoint);
  if (!options.password_file.empty()) {
    auto password = read_secret_file(options.password_file, "the remote cache password file");
    if (!password) return password.takeError();
    settings.endpoint.password = std::move(*password);
  }
  if (!options.key_file.empty()) {
    auto key = FleetKey::from_file(options.key_file);
    if (!key) return key.takeError();
    settings.key = std::move(*key);
  }
  settings.allow_unsigned = options.allow_unsigned;
  settings.timeout_ms = options.timeout_ms;
  settings.backoff_ms = options.backoff_ms;
  settings.single_flight_wait_ms = options.single_flight_wait_ms;
  return settings;
}

}  // namespace flashjit::cache
