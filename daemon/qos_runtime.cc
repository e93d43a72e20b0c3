#include "daemon/qos_runtime.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/log.h"

namespace pulse::northbound {

absl::StatusOr<std::unique_ptr<QosRuntime>> StartQos(const topology::Fabric* fabric,
                                                     QosRuntimeOptions options) {
  std::string yaml;
  std::string source = "defaults";
  int64_t store_revision = 0;  // the policy below is read at this revision; watched after it
  if (options.store != nullptr) {
    absl::StatusOr<controller::StoreSnapshot> snapshot = options.store->LoadAll();
    if (snapshot.ok()) {
      store_revision = snapshot->revision;
      auto it = snapshot->entries.find(std::string(kQosPolicyStoreKey));
      if (it != snapshot->entries.end()) {
        yaml = it->second;
        source = absl::StrCat("store key ", kQosPolicyStoreKey);
      }
    }
  }
  if (yaml.empty() && !options.policy_file.empty()) {
    std::ifstream in(options.policy_file);
    if (!in)
      return absl::NotFoundError(
          absl::StrCat("qos.policy_file: cannot read ", options.policy_file));
    std::stringstream text;
    text << in.rdbuf();
    yaml = text.str();
    source = options.policy_file;
  }
  controller::QosPolicy policy = controller::DefaultQosPolicy();
  if (!yaml.empty()) {
    absl::StatusOr<controller::QosPolicy> parsed = controller::ParseQosPolicyYaml(yaml);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("qos policy from ", source, ": ", parsed.status().message()));
    }
    policy = *std::move(parsed);
  }
  auto runtime = std::make_unique<QosRuntime>();
  QosServiceOptions service_options;
  service_options.tokens = std::move(options.tokens);
  service_options.store = options.store;
  if (!options.ovsdb_endpoint.empty()) {
    runtime->driver = std::make_unique<southbound::ovsdb::OvsQosDriver>();
    absl::Status connected = runtime->driver->Connect(options.ovsdb_endpoint);
    if (!connected.ok()) {
      return absl::Status(connected.code(), absl::StrCat("qos.ovsdb ", options.ovsdb_endpoint, ": ",
                                                         connected.message()));
    }
    southbound::ovsdb::OvsQosDriver* driver = runtime->driver.get();
    service_options.on_plan_changed = [driver](const controller::QosPlan& plan) {
      absl::StatusOr<int> pushed = driver->Apply(plan);
      if (!pushed.ok()) pulse::Log(pulse::LogLevel::kError, pushed.status().message());
    };
    service_options.audit = [driver](const controller::QosPlan&) -> absl::StatusOr<QosAuditReport> {
      QosAuditReport report;
      absl::StatusOr<std::vector<southbound::ovsdb::OvsQosFinding>> findings =
          driver->Audit(&report.ports_audited);
      if (!findings.ok()) return findings.status();
      for (auto& f : *findings) {
        report.differences.push_back({f.switch_name, f.port, std::move(f.difference)});
      }
      return report;
    };
  }
  absl::StatusOr<std::unique_ptr<QosServiceImpl>> service =
      QosServiceImpl::Create(fabric, policy, source == "defaults" ? "" : yaml, service_options);
  if (!service.ok()) return service.status();
  runtime->service = *std::move(service);
  pulse::Log(pulse::LogLevel::kInfo, "qos: policy from ", source);
  if (runtime->driver != nullptr) {
    absl::StatusOr<int> pushed = runtime->driver->Apply(*runtime->service->plan());
    if (!pushed.ok()) return pushed.status();
    absl::Status watching = runtime->driver->Watch(options.ovsdb_endpoint, absl::Seconds(2));
    if (!watching.ok()) return watching;
  }
  if (options.store != nullptr) {
    QosServiceImpl* service_ptr = runtime->service.get();
    absl::StatusOr<std::unique_ptr<controller::StoreWatch>> watch = options.store->Watch(
        kQosPolicyStoreKey, store_revision, [service_ptr](const controller::StoreWatchUpdate& u) {
          if (!u.status.ok()) {
            pulse::Log(pulse::LogLevel::kError, "qos: policy watch ended: ", u.status.message());
            return;
          }
          for (const controller::StoreWatchUpdate::Change& change : u.changes) {
            if (change.key != kQosPolicyStoreKey ||
                change.kind != controller::StoreWrite::Kind::kPut) {
              continue;
            }
            if (absl::Status adopted = service_ptr->AdoptStoredPolicy(change.value);
                !adopted.ok()) {
              pulse::Log(pulse::LogLevel::kError, adopted.message());
            }
          }
        });
    if (absl::IsUnimplemented(watch.status())) {
      // A store that cannot be watched has no other writer to follow.
    } else if (!watch.ok()) {
      return absl::Status(
          watch.status().code(),
          absl::StrCat("qos: cannot watch the stored policy: ", watch.status().message()));
    } else {
      runtime->policy_watch = *std::move(watch);
    }
  }
  return runtime;
}

}  // namespace pulse::northbound
