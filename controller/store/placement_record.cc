#include "controller/store/placement_record.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/controller.h"
#include "pulse/v1/pulse.pb.h"

namespace pulse::controller {

std::string EncodePlacementRecord(const topology::Fabric& fabric, const JobPlacement& job) {
  pulse::v1::Job proto;
  JobSpecToProto(job.spec, proto.mutable_spec());
  proto.set_lower_bound(job.lower_bound);
  for (const PlacedFlow& f : job.flows) {
    pulse::v1::Flow* flow = proto.add_flows();
    flow->set_src(fabric.node(f.src).name);
    flow->set_dst(fabric.node(f.dst).name);
    flow->set_rate_bps(f.rate_bps);
    flow->set_subflow(f.subflow);
    flow->set_phase(f.phase);
    flow->set_udp_src_port(f.udp_src_port);
    for (topology::DirectedLinkId d : f.path.hops) {
      flow->add_links(absl::StrCat(fabric.node(fabric.Tail(d)).name, ":", fabric.TailPort(d)));
    }
  }
  return proto.SerializeAsString();
}

absl::StatusOr<JobPlacement> DecodePlacementRecord(const topology::Fabric& fabric,
                                                   absl::string_view bytes) {
  pulse::v1::Job proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("placement record: not a pulse.v1.Job");
  }
  absl::StatusOr<JobSpec> spec = JobSpecFromProto(proto.spec());
  if (!spec.ok()) {
    return absl::DataLossError(absl::StrCat("placement record: ", spec.status().message()));
  }
  JobPlacement job;
  job.spec = *std::move(spec);
  job.lower_bound = proto.lower_bound();
  for (int i = 0; i < proto.flows_size(); ++i) {
    const pulse::v1::Flow& flow = proto.flows(i);
    const std::string where = absl::StrCat("placement record '", job.spec.id, "' flow ", i);
    PlacedFlow f;
    absl::StatusOr<topology::NodeId> src = fabric.FindNode(flow.src());
    absl::StatusOr<topology::NodeId> dst = fabric.FindNode(flow.dst());
    if (!src.ok() || !dst.ok()) {
      return absl::DataLossError(
          absl::StrCat(where, ": unknown endpoint '", src.ok() ? flow.dst() : flow.src(), "'"));
    }
    f.src = *src;
    f.dst = *dst;
    f.rate_bps = flow.rate_bps();
    f.subflow = flow.subflow();
    f.phase = flow.phase();
    if (flow.udp_src_port() > 65535) {
      return absl::DataLossError(absl::StrCat(where, ": udp_src_port out of range"));
    }
    f.udp_src_port = static_cast<uint16_t>(flow.udp_src_port());
    for (const std::string& hop : flow.links()) {
      size_t colon = hop.rfind(':');
      int32_t port = 0;
      if (colon == std::string::npos || !absl::SimpleAtoi(hop.substr(colon + 1), &port)) {
        return absl::DataLossError(absl::StrCat(where, ": bad hop '", hop, "'"));
      }
      absl::StatusOr<topology::NodeId> tail = fabric.FindNode(hop.substr(0, colon));
      if (!tail.ok()) {
        return absl::DataLossError(absl::StrCat(where, ": hop '", hop, "': unknown node"));
      }
      std::optional<topology::LinkId> link = fabric.LinkAtPort(*tail, port);
      if (!link.has_value()) {
        return absl::DataLossError(absl::StrCat(where, ": hop '", hop, "': no link at that port"));
      }
      f.path.hops.push_back(fabric.DirectedFrom(*link, *tail));
    }
    job.flows.push_back(std::move(f));
  }
  return job;
}

}  // namespace pulse::controller
