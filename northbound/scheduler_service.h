// pulse.v1 SchedulerService (proto/pulse/v1/scheduler.proto) on the gRPC callback API:
// topology exports for schedulers (northbound/topology_export.h), node advice
// (controller/placement/node_advice.h) and failure what-ifs (controller/placement/what_if.h).
//
// Exports read the latest snapshot on the gRPC thread. Advice and what-ifs need a copy of the
// state they may change: the controller thread makes it (Controller::CopyState), and the work
// runs on the service's own worker thread, so neither the controller nor gRPC threads wait on a
// search. Roles come from the northbound auth table (all three calls are viewer: nothing
// changes).
#ifndef PULSE_NORTHBOUND_SCHEDULER_SERVICE_H_
#define PULSE_NORTHBOUND_SCHEDULER_SERVICE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/asio/thread_pool.hpp"
#include "controller/controller.h"
#include "controller/fabric_sync/fabric_sync.h"
#include "northbound/auth.h"
#include "pulse/v1/scheduler.grpc.pb.h"
#include "topology/tiers.h"

namespace pulse::northbound {

struct SchedulerServiceOptions {
  std::string fabric_name;
  std::map<std::string, std::string> node_names;  // server -> scheduler node name (the intent's)
  // LLDP discovery's report for exports; unset in planning mode. Called on gRPC threads.
  std::function<absl::StatusOr<controller::DiscoveryReport>()> discovery;
};

class SchedulerServiceImpl final : public pulse::v1::SchedulerService::CallbackService {
 public:
  // `controller` must outlive the service.
  SchedulerServiceImpl(controller::Controller* controller, SchedulerServiceOptions options);
  ~SchedulerServiceImpl() override;  // waits for work in flight

  // The export of the latest snapshot (what ExportTopology answers).
  pulse::v1::ExportTopologyResponse Export(pulse::v1::TopologyFormat format) const;
  // A server by server name or scheduler node name. InvalidArgument naming `field` otherwise.
  absl::StatusOr<topology::ServerId> ResolveServer(const std::string& name,
                                                   const std::string& field) const;

  grpc::ServerUnaryReactor* ExportTopology(grpc::CallbackServerContext* context,
                                           const pulse::v1::ExportTopologyRequest* request,
                                           pulse::v1::ExportTopologyResponse* response) override;
  grpc::ServerUnaryReactor* SuggestServers(grpc::CallbackServerContext* context,
                                           const pulse::v1::SuggestServersRequest* request,
                                           pulse::v1::SuggestServersResponse* response) override;
  grpc::ServerUnaryReactor* WhatIfFailure(grpc::CallbackServerContext* context,
                                          const pulse::v1::WhatIfFailureRequest* request,
                                          pulse::v1::WhatIfFailureResponse* response) override;

 private:
  controller::Controller* controller_;
  SchedulerServiceOptions options_;
  topology::FabricTiers tiers_;
  std::map<std::string, topology::ServerId> server_by_node_name_;
  boost::asio::thread_pool worker_{1};
};

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_SCHEDULER_SERVICE_H_
