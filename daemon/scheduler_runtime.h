// Daemon wiring of the scheduler integration: the SchedulerService (exports, node advice,
// what-if) with the intent's fabric name and node-name map, and discovery when switches are
// attached.
#ifndef PULSE_DAEMON_SCHEDULER_RUNTIME_H_
#define PULSE_DAEMON_SCHEDULER_RUNTIME_H_

#include <memory>
#include <vector>

#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "northbound/scheduler_service.h"
#include "topology/intent.h"

namespace pulse::northbound {

// `controller` and `fabric_sync` (null in planning mode) must outlive the service; register it
// with the API server (ApiServerOptions::extra_services) and destroy it after the server.
std::unique_ptr<SchedulerServiceImpl> StartScheduler(controller::Controller* controller,
                                                     const topology::Intent& intent,
                                                     controller::FabricSync* fabric_sync);

}  // namespace pulse::northbound

#endif  // PULSE_DAEMON_SCHEDULER_RUNTIME_H_
