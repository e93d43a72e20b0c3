// Start-up checks of how the API is exposed, and the first-start admin token.
//
// SecurityWarnings names what an operator should fix but that still lets the daemon run
// (plaintext with tokens, secret files others can read, an open API beyond loopback).
// EnsureAdminToken gives an image a safe default: when the tokens file does not exist yet, it is
// created (owner-only, 0600) holding one random admin token, so the API is never open to
// whoever reaches the port.
#ifndef PULSE_DAEMON_SECURITY_H_
#define PULSE_DAEMON_SECURITY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/config.h"

namespace pulse::northbound {

// Warnings for `config` as it will run (after flags), one sentence each, naming the key or file.
std::vector<std::string> SecurityWarnings(const DaemonConfig& config);

// Creates `path` with one admin token (name "admin", 32 random bytes as hex) when it does not
// exist, mode 0600 and its directory created 0700 if missing. Returns true when it created the
// file, false when a file was already there (left untouched). Errors name the path.
absl::StatusOr<bool> EnsureAdminToken(const std::string& path);

// True when `host` (of host:port) is a loopback address or "localhost".
bool IsLoopbackHost(const std::string& host);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_SECURITY_H_
