#include "daemon/scheduler_runtime.h"

#include <utility>

#include "common/log.h"

namespace pulse::northbound {

std::unique_ptr<SchedulerServiceImpl> StartScheduler(controller::Controller* controller,
                                                     const topology::Intent& intent,
                                                     controller::FabricSync* fabric_sync) {
  SchedulerServiceOptions options;
  options.fabric_name = intent.name;
  options.node_names = intent.node_names;
  if (fabric_sync != nullptr) {
    options.discovery = [fabric_sync]() -> absl::StatusOr<controller::DiscoveryReport> {
      return fabric_sync->Discovery();
    };
  }
  Log(LogLevel::kInfo, "scheduler service: ", intent.node_names.size(),
      " servers with scheduler node names");
  return std::make_unique<SchedulerServiceImpl>(controller, std::move(options));
}

}  // namespace pulse::northbound
