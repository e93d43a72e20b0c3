#include "northbound/auth.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/yaml_fields.h"
#include "yaml-cpp/yaml.h"

namespace pulse::northbound {
namespace {

struct MethodRole {
  absl::string_view method;
  Role role;
};

// The one table of who may call what.
constexpr MethodRole kMethodRoles[] = {
    {"/pulse.v1.TopologyService/GetTopology", Role::kViewer},
    {"/pulse.v1.TopologyService/GetDiscovery", Role::kViewer},
    {"/pulse.v1.JobService/PlaceJob", Role::kScheduler},
    {"/pulse.v1.JobService/GetJob", Role::kViewer},
    {"/pulse.v1.JobService/ListJobs", Role::kViewer},
    {"/pulse.v1.JobService/DeleteJob", Role::kScheduler},
    {"/pulse.v1.LinkService/ListLinks", Role::kViewer},
    {"/pulse.v1.LinkService/TopLinks", Role::kViewer},
    {"/pulse.v1.EventService/WatchEvents", Role::kViewer},
    {"/pulse.v1.MaintenanceService/DrainSwitch", Role::kAdmin},
    {"/pulse.v1.MaintenanceService/UndrainSwitch", Role::kAdmin},
    {"/pulse.v1.QosService/GetQosPolicy", Role::kViewer},
    {"/pulse.v1.QosService/SetQosPolicy", Role::kAdmin},
    {"/pulse.v1.QosService/GetQosPlan", Role::kViewer},
    {"/pulse.v1.QosService/ExportSonic", Role::kViewer},
    {"/pulse.v1.QosService/AuditQos", Role::kViewer},
    {"/pulse.v1.SteeringService/GetJobSteering", Role::kViewer},
    {"/pulse.v1.LosslessHealthService/ListIncidents", Role::kViewer},
    {"/pulse.v1.SchedulerService/ExportTopology", Role::kViewer},
    {"/pulse.v1.SchedulerService/SuggestServers", Role::kViewer},
    {"/pulse.v1.SchedulerService/WhatIfFailure", Role::kViewer},
    {"/pulse.v1.HostService/ListHosts", Role::kViewer},
};

// Compares without an early exit so response time does not reveal how much of a guess matched.
bool SecretEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % (b.empty() ? 1 : b.size())];
  return diff == 0 && !b.empty();
}

}  // namespace

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  if (name == "viewer") return Role::kViewer;
  if (name == "scheduler") return Role::kScheduler;
  if (name == "admin") return Role::kAdmin;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "' (expected viewer, scheduler or admin)"));
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kScheduler:
      return "scheduler";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";
}

absl::StatusOr<std::vector<Token>> ParseTokens(absl::string_view yaml_text,
                                               absl::string_view source_name) {
  const yaml::YamlFields fields(source_name);
  std::vector<Token> tokens;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    absl::Status status = fields.ReadSlots(
        root, "", {}, {"tokens"},
        [&](const std::string&, const std::string& list_field, const YAML::Node& list) {
          return fields.ReadList(
              list, list_field,
              [&](size_t, const std::string& where, const YAML::Node& item) -> absl::Status {
                Token token;
                std::string role_name;
                if (absl::Status s = fields.ReadSlots(
                        item, where,
                        {{"name", &token.name}, {"token", &token.secret}, {"role", &role_name}});
                    !s.ok()) {
                  return s;
                }
                if (token.secret.size() < 16) {
                  return fields.Error(item, yaml::Field(where, "token"),
                                      "missing or shorter than 16 characters");
                }
                if (role_name.empty())
                  return fields.Error(item, yaml::Field(where, "role"), "missing");
                absl::StatusOr<Role> role = ParseRole(role_name);
                if (!role.ok()) {
                  return fields.Error(item["role"], yaml::Field(where, "role"),
                                      role.status().message());
                }
                token.role = *role;
                if (token.name.empty()) token.name = where;
                for (const Token& other : tokens) {
                  if (other.secret == token.secret) {
                    return fields.Error(item["token"], yaml::Field(where, "token"),
                                        "same secret as an earlier token");
                  }
                }
                tokens.push_back(std::move(token));
                return absl::OkStatus();
              });
        });
    if (!status.ok()) return status;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", e.what()));
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": tokens: empty list (omit the tokens file to turn auth off)"));
  }
  return tokens;
}

absl::StatusOr<std::vector<Token>> LoadTokensFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read tokens file '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseTokens(text.str(), path);
}

std::optional<Role> RequiredRole(absl::string_view full_method) {
  for (const auto& entry : kMethodRoles) {
    if (entry.method == full_method) return entry.role;
  }
  return std::nullopt;
}

grpc::Status Authorizer::Check(const grpc::CallbackServerContext& context,
                               absl::string_view full_method) const {
  return Check(context.client_metadata(), full_method);
}

grpc::Status Authorizer::Check(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                               absl::string_view full_method) const {
  std::optional<Role> needed = RequiredRole(full_method);
  if (!needed) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("method ", full_method, " is not in the access table"));
  }
  if (!enabled()) return grpc::Status::OK;
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata must be 'Bearer <token>'");
  }
  const Token* found = nullptr;
  for (const Token& token : tokens_) {
    if (SecretEquals(value, token.secret)) found = &token;
  }
  if (found == nullptr) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown bearer token");
  }
  if (static_cast<int>(found->role) < static_cast<int>(*needed)) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(full_method, " needs role ", RoleName(*needed), "; token '",
                                     found->name, "' has role ", RoleName(found->role)));
  }
  return grpc::Status::OK;
}

absl::Status Authorizer::CheckBearer(absl::string_view bearer, Role needed) const {
  if (!enabled()) return absl::OkStatus();
  if (bearer.empty()) return absl::UnauthenticatedError("missing bearer token");
  const Token* found = nullptr;
  for (const Token& token : tokens_) {
    if (SecretEquals(bearer, token.secret)) found = &token;
  }
  if (found == nullptr) return absl::UnauthenticatedError("unknown bearer token");
  if (static_cast<int>(found->role) < static_cast<int>(needed)) {
    return absl::PermissionDeniedError(absl::StrCat("needs role ", RoleName(needed), "; token '",
                                                    found->name, "' has role ",
                                                    RoleName(found->role)));
  }
  return absl::OkStatus();
}

}  // namespace pulse::northbound
