#include "daemon/security.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace pulse::northbound {
namespace {

// A warning when `path` can be read by group or others (a secret must be owner-only).
void CheckSecretFile(const std::string& key, const std::string& path,
                     std::vector<std::string>* warnings) {
  if (path.empty()) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // reading it later reports the problem
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    warnings->push_back(absl::StrCat(key, ": '", path, "' is readable by group or others (mode ",
                                     mode, "); make it owner-only: chmod 600 '", path, "'"));
  }
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

std::vector<std::string> SecurityWarnings(const DaemonConfig& config) {
  std::vector<std::string> warnings;
  absl::StatusOr<std::pair<std::string, uint16_t>> listen = SplitHostPort(config.listen);
  const bool loopback = listen.ok() && IsLoopbackHost(listen->first);
  if (config.insecure && !config.tokens_file.empty()) {
    warnings.push_back(
        "insecure: true with tokens_file: bearer tokens cross the network in plaintext; give "
        "tls.cert and tls.key");
  }
  if (config.insecure && config.tokens_file.empty() && !loopback) {
    warnings.push_back(absl::StrCat(
        "listen: ", config.listen,
        " serves a plaintext API without tokens beyond loopback: anyone who reaches the port "
        "can place, drain and change QoS; give tokens_file (and TLS) or listen on 127.0.0.1"));
  }
  CheckSecretFile("tokens_file", config.tokens_file, &warnings);
  CheckSecretFile("tls.key", config.tls.key_file, &warnings);
  return warnings;
}

absl::StatusOr<bool> EnsureAdminToken(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return false;
  if (errno != ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("tokens_file: cannot stat '", path, "': ", std::strerror(errno)));
  }
  if (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("tokens_file: cannot create directory '", dir, "': ", std::strerror(errno)));
    }
  }
  unsigned char random[32];
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  if (!urandom.read(reinterpret_cast<char*>(random), sizeof(random))) {
    return absl::InternalError("tokens_file: cannot read /dev/urandom for a new admin token");
  }
  std::string secret;
  for (unsigned char b : random) absl::StrAppend(&secret, absl::Hex(b, absl::kZeroPad2));
  const std::string text = absl::StrCat(
      "# Created by pulse-controller on first start: the admin token of this controller.\n"
      "# Use it with pulsectl --token (or PULSE_TOKEN); add scheduler/viewer tokens here.\n"
      "tokens:\n  - {name: admin, token: \"",
      secret, "\", role: admin}\n");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("tokens_file: cannot create '", path, "': ", std::strerror(errno)));
  }
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::fsync(fd) == 0 && written;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return absl::InternalError(absl::StrCat("tokens_file: cannot write '", path, "'"));
  }
  return true;
}

}  // namespace pulse::northbound
