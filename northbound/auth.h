// Who may call what: bearer tokens with roles, checked against one per-method table.
//
// A client sends "authorization: Bearer <token>". Roles are ordered: viewer (reads) < scheduler
// (jobs) < admin (maintenance, QoS); a role may call every method of the roles below it. Every
// method of the pulse.v1 services is in the table in auth.cc; a method missing from it is refused
// (deny by default). The gRPC health and reflection services are not pulse.v1 methods and stay
// open, so probes and tooling work without a token.
#ifndef PULSE_NORTHBOUND_AUTH_H_
#define PULSE_NORTHBOUND_AUTH_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace pulse::northbound {

enum class Role { kViewer = 1, kScheduler = 2, kAdmin = 3 };

absl::StatusOr<Role> ParseRole(absl::string_view name);  // "viewer", "scheduler", "admin"
absl::string_view RoleName(Role role);

struct Token {
  std::string name;  // who holds it, for logs (never log the secret)
  std::string secret;
  Role role = Role::kViewer;
};

// A tokens file:
//   tokens:
//     - {name: slurm, token: "long-random-secret", role: scheduler}
// Errors name the file and the key ("tokens.yaml: tokens[2].role: unknown role 'root'").
absl::StatusOr<std::vector<Token>> ParseTokens(absl::string_view yaml_text,
                                               absl::string_view source_name);
absl::StatusOr<std::vector<Token>> LoadTokensFile(const std::string& path);

// The role a pulse.v1 method needs, by full method name ("/pulse.v1.JobService/PlaceJob");
// nullopt for a method not in the table.
std::optional<Role> RequiredRole(absl::string_view full_method);

// Checks calls. With no tokens, authentication is off and every call of the table passes. The
// API server runs it once per call, in the auth interceptor (auth_gate.h).
class Authorizer {
 public:
  Authorizer() = default;
  explicit Authorizer(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  bool enabled() const { return !tokens_.empty(); }
  // OK, UNAUTHENTICATED (no or unknown token) or PERMISSION_DENIED (role too low, or a method not
  // in the table).
  grpc::Status Check(const grpc::CallbackServerContext& context,
                     absl::string_view full_method) const;
  // The same check for callers outside gRPC (the web view's HTTP API): `bearer` is the token
  // itself (no "Bearer " prefix; empty when none was sent). OK, Unauthenticated (none or
  // unknown) or PermissionDenied (role below `needed`).
  absl::Status CheckBearer(absl::string_view bearer, Role needed) const;
  // The same on a call's metadata (the auth interceptor, auth_gate.h, sees no context yet).
  grpc::Status Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                     absl::string_view full_method) const;

 private:
  std::vector<Token> tokens_;
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_AUTH_H_
