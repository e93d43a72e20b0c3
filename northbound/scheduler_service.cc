#include "northbound/scheduler_service.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/post.hpp"
#include "common/thread_name.h"
#include "controller/placement/job_validation.h"
#include "controller/placement/node_advice.h"
#include "controller/placement/what_if.h"
#include "grpcpp/grpcpp.h"
#include "northbound/convert.h"
#include "northbound/topology_export.h"

namespace pulse::northbound {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

ServerUnaryReactor* Finish(CallbackServerContext* context, const grpc::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

absl::StatusOr<controller::CollectivePattern> PatternFromProto(pulse::v1::CollectivePattern p) {
  using controller::CollectivePattern;
  switch (p) {
    case pulse::v1::COLLECTIVE_PATTERN_UNSPECIFIED:
    case pulse::v1::COLLECTIVE_PATTERN_RING:
      return CollectivePattern::kRing;
    case pulse::v1::COLLECTIVE_PATTERN_DOUBLE_BINARY_TREE:
      return CollectivePattern::kDoubleBinaryTree;
    case pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL:
      return CollectivePattern::kAllToAll;
    case pulse::v1::COLLECTIVE_PATTERN_HALVING_DOUBLING:
      return CollectivePattern::kHalvingDoubling;
    case pulse::v1::COLLECTIVE_PATTERN_RAIL_ALIGNED:
      return CollectivePattern::kRailAligned;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      "pattern: give a collective (ring, double binary tree, all-to-all, halving-doubling, "
      "rail-aligned)");
}

ExportFormat FormatFromProto(pulse::v1::TopologyFormat format) {
  switch (format) {
    case pulse::v1::TOPOLOGY_FORMAT_SLURM:
      return ExportFormat::kSlurm;
    case pulse::v1::TOPOLOGY_FORMAT_K8S_LABELS:
      return ExportFormat::kK8sLabels;
    case pulse::v1::TOPOLOGY_FORMAT_VOLCANO:
      return ExportFormat::kVolcano;
    default:
      return ExportFormat::kJson;
  }
}

// A link by one end "NODE:PORT" or by its name "A:p <-> B:q".
absl::StatusOr<topology::LinkId> ResolveLink(const topology::Fabric& fabric,
                                             const std::string& text, const std::string& field) {
  std::string end = std::string(
      absl::StripAsciiWhitespace(std::vector<std::string>(absl::StrSplit(text, "<->"))[0]));
  size_t colon = end.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(end.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", text, "' is not NODE:PORT or 'A:p <-> B:q'"));
  }
  absl::StatusOr<topology::NodeId> node = fabric.FindNode(end.substr(0, colon));
  if (!node.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": no node '", end.substr(0, colon), "'"));
  }
  std::optional<topology::LinkId> link = fabric.LinkAtPort(*node, port);
  if (!link) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": no link at ", end));
  }
  return *link;
}

}  // namespace

SchedulerServiceImpl::SchedulerServiceImpl(controller::Controller* controller,
                                           SchedulerServiceOptions options)
    : controller_(controller), options_(std::move(options)) {
  tiers_ = topology::ComputeTiers(controller_->fabric());
  const auto& servers = controller_->fabric().servers();
  for (size_t s = 0; s < servers.size(); ++s) {
    server_by_node_name_[NodeNameOf(&options_.node_names, servers[s].name)] =
        static_cast<topology::ServerId>(s);
  }
  // The pool's one thread runs node advice and what-if simulations off the controller thread.
  boost::asio::post(worker_, [] { pulse::NameThisThread("pulse-advice"); });
}

SchedulerServiceImpl::~SchedulerServiceImpl() { worker_.join(); }

absl::StatusOr<topology::ServerId> SchedulerServiceImpl::ResolveServer(
    const std::string& name, const std::string& field) const {
  absl::StatusOr<topology::ServerId> server = controller_->fabric().FindServer(name);
  if (server.ok()) return server;
  auto it = server_by_node_name_.find(name);
  if (it != server_by_node_name_.end()) return it->second;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": '", name, "' is neither a server nor a node name"));
}

pulse::v1::ExportTopologyResponse SchedulerServiceImpl::Export(
    pulse::v1::TopologyFormat format) const {
  controller::SnapshotPtr snapshot = controller_->snapshot();
  ExportInput input;
  input.snapshot = snapshot.get();
  input.tiers = &tiers_;
  input.node_names = &options_.node_names;
  input.fabric_name = options_.fabric_name;
  if (options_.discovery) {
    absl::StatusOr<controller::DiscoveryReport> report = options_.discovery();
    if (report.ok() && !report->description.empty()) {
      input.discovery_description = report->description;
      input.discovery_matches_intent = report->diff.missing.empty() &&
                                       report->diff.unexpected.empty() &&
                                       report->diff.miswired.empty();
    }
  }
  pulse::v1::ExportTopologyResponse response;
  int degraded = 0;
  response.set_text(northbound::ExportTopology(input, FormatFromProto(format), &degraded));
  response.set_event_sequence(snapshot->event_sequence);
  response.set_degraded_blocks(degraded);
  return response;
}

ServerUnaryReactor* SchedulerServiceImpl::ExportTopology(
    CallbackServerContext* context, const pulse::v1::ExportTopologyRequest* request,
    pulse::v1::ExportTopologyResponse* response) {
  if (!pulse::v1::TopologyFormat_IsValid(request->format())) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        absl::StrCat("format: unknown value ", request->format())));
  }
  *response = Export(request->format());
  return Finish(context, grpc::Status::OK);
}

ServerUnaryReactor* SchedulerServiceImpl::SuggestServers(
    CallbackServerContext* context, const pulse::v1::SuggestServersRequest* request,
    pulse::v1::SuggestServersResponse* response) {
  controller::NodeAdviceRequest advice;
  advice.gpu_count = request->gpu_count();
  advice.server_count = request->server_count();
  absl::StatusOr<controller::CollectivePattern> pattern = PatternFromProto(request->pattern());
  if (!pattern.ok()) return Finish(context, ToGrpcStatus(pattern.status()));
  advice.pattern = *pattern;
  // The job rules every entry shares (controller/placement/job_validation.h).
  if (absl::Status s = controller::ValidateRateBps(request->rate_bps(), "rate_bps"); !s.ok()) {
    return Finish(context, ToGrpcStatus(s));
  }
  advice.rate_bps = request->rate_bps();
  if (absl::Status s =
          controller::ValidateTrafficClass(request->traffic_class(), "traffic_class (0: 3)");
      !s.ok()) {
    return Finish(context, ToGrpcStatus(s));
  }
  advice.traffic_class =
      request->traffic_class() == 0 ? controller::kDefaultTrafficClass : request->traffic_class();
  advice.max_leaves = request->max_leaves();
  advice.all_unused = request->free_servers().empty();
  for (int i = 0; i < request->free_servers_size(); ++i) {
    absl::StatusOr<topology::ServerId> s =
        ResolveServer(request->free_servers(i), absl::StrCat("free_servers[", i, "]"));
    if (!s.ok()) return Finish(context, ToGrpcStatus(s.status()));
    advice.free.push_back(*s);
  }
  for (int i = 0; i < request->exclude_servers_size(); ++i) {
    absl::StatusOr<topology::ServerId> s =
        ResolveServer(request->exclude_servers(i), absl::StrCat("exclude_servers[", i, "]"));
    if (!s.ok()) return Finish(context, ToGrpcStatus(s.status()));
    advice.exclude.push_back(*s);
  }
  const bool require_non_blocking = request->require_non_blocking();
  ServerUnaryReactor* reactor = context->DefaultReactor();
  controller_->CopyState(
      [this, reactor, response, advice = std::move(advice),
       require_non_blocking](absl::StatusOr<std::shared_ptr<controller::ControllerSnapshot>> copy) {
        if (!copy.ok()) {
          reactor->Finish(ToGrpcStatus(copy.status()));
          return;
        }
        boost::asio::post(worker_, [this, reactor, response, advice, require_non_blocking,
                                    copy = *std::move(copy)] {
          absl::StatusOr<controller::NodeAdvice> result =
              controller::SuggestServers(&copy->placement, tiers_, advice);
          if (!result.ok()) {
            reactor->Finish(ToGrpcStatus(result.status()));
            return;
          }
          if (require_non_blocking && !result->non_blocking) {
            reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                         absl::StrCat("require_non_blocking: ", result->reason)));
            return;
          }
          const topology::Fabric& fabric = *copy->fabric;
          for (topology::ServerId s : result->servers) {
            response->add_servers(fabric.servers()[s].name);
            response->add_node_names(NodeNameOf(&options_.node_names, fabric.servers()[s].name));
          }
          for (const std::string& e : result->endpoints) response->add_endpoints(e);
          response->set_non_blocking(result->non_blocking);
          response->set_max_link_load(result->max_link_load);
          response->set_leaves(result->leaves);
          response->set_candidates_evaluated(result->candidates_evaluated);
          response->set_reason(result->reason);
          reactor->Finish(grpc::Status::OK);
        });
      });
  return reactor;
}

ServerUnaryReactor* SchedulerServiceImpl::WhatIfFailure(
    CallbackServerContext* context, const pulse::v1::WhatIfFailureRequest* request,
    pulse::v1::WhatIfFailureResponse* response) {
  const topology::Fabric& fabric = controller_->fabric();
  std::vector<topology::LinkId> links;
  for (int i = 0; i < request->links_size(); ++i) {
    absl::StatusOr<topology::LinkId> link =
        ResolveLink(fabric, request->links(i), absl::StrCat("links[", i, "]"));
    if (!link.ok()) return Finish(context, ToGrpcStatus(link.status()));
    links.push_back(*link);
  }
  for (int i = 0; i < request->switches_size(); ++i) {
    absl::StatusOr<topology::NodeId> node = fabric.FindNode(request->switches(i));
    if (!node.ok() || !fabric.node(*node).is_switch()) {
      return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                          absl::StrCat("switches[", i, "]: no switch '",
                                                       request->switches(i), "'")));
    }
    for (topology::LinkId l : fabric.LinksOf(*node)) links.push_back(l);
  }
  if (links.empty()) {
    return Finish(context, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                        "links, switches: name at least one"));
  }
  ServerUnaryReactor* reactor = context->DefaultReactor();
  controller_->CopyState([this, reactor, response, links = std::move(links)](
                             absl::StatusOr<std::shared_ptr<controller::ControllerSnapshot>> copy) {
    if (!copy.ok()) {
      reactor->Finish(ToGrpcStatus(copy.status()));
      return;
    }
    boost::asio::post(worker_, [reactor, response, links, copy = *std::move(copy)] {
      absl::StatusOr<controller::FailureImpact> impact =
          controller::WhatIfLinksFail(&copy->placement, links);
      if (!impact.ok()) {
        reactor->Finish(ToGrpcStatus(impact.status()));
        return;
      }
      for (const controller::JobFailureImpact& j : impact->jobs) {
        pulse::v1::JobImpact* out = response->add_affected_jobs();
        out->set_job_id(j.job_id);
        out->set_flows_moved(j.flows_moved);
        out->set_flows_unplaced(j.flows_unplaced);
        out->set_max_link_load_before(j.max_link_load_before);
        out->set_max_link_load_after(j.max_link_load_after);
        out->set_loses_non_blocking(j.loses_non_blocking);
      }
      response->set_flows_moved(impact->flows_moved);
      response->set_flows_unplaced(impact->flows_unplaced);
      response->set_max_link_load_before(impact->max_link_load_before);
      response->set_max_link_load_after(impact->max_link_load_after);
      for (const std::string& id : impact->jobs_losing_non_blocking) {
        response->add_jobs_losing_non_blocking(id);
      }
      for (topology::LinkId l : impact->failed_links) {
        response->add_failed_links(copy->fabric->DescribeLink(l));
      }
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

}  // namespace pulse::northbound
