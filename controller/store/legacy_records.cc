#include "controller/store/legacy_records.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pulse/v1/pulse.pb.h"

namespace pulse::controller {
namespace {

namespace store = pulse::store::v1;

absl::Status TranslateSpec(const pulse::v1::JobSpec& in, absl::string_view where,
                           store::JobSpec* out) {
  out->set_id(in.id());
  for (const std::string& endpoint : in.endpoints()) out->add_endpoints(endpoint);
  switch (in.pattern()) {
    case pulse::v1::COLLECTIVE_PATTERN_UNSPECIFIED:  // the old decoder's default
    case pulse::v1::COLLECTIVE_PATTERN_RING:
      out->set_pattern(store::PATTERN_RING);
      break;
    case pulse::v1::COLLECTIVE_PATTERN_EXPLICIT:
      out->set_pattern(store::PATTERN_EXPLICIT);
      break;
    case pulse::v1::COLLECTIVE_PATTERN_DOUBLE_BINARY_TREE:
      out->set_pattern(store::PATTERN_DOUBLE_BINARY_TREE);
      break;
    case pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL:
      out->set_pattern(store::PATTERN_ALL_TO_ALL);
      break;
    case pulse::v1::COLLECTIVE_PATTERN_HALVING_DOUBLING:
      out->set_pattern(store::PATTERN_HALVING_DOUBLING);
      break;
    case pulse::v1::COLLECTIVE_PATTERN_RAIL_ALIGNED:
      out->set_pattern(store::PATTERN_RAIL_ALIGNED);
      break;
    default:
      return absl::DataLossError(
          absl::StrCat(where, ": spec.pattern: unknown value ", in.pattern()));
  }
  for (const pulse::v1::ExplicitFlow& f : in.flows()) {
    store::ExplicitFlow* flow = out->add_flows();
    flow->set_src(f.src());
    flow->set_dst(f.dst());
    flow->set_rate_bps(f.rate_bps());
  }
  out->set_rate_bps(in.rate_bps());
  out->set_traffic_class(in.has_traffic_class() ? in.traffic_class() : 3);  // the old default
  out->set_strict(in.strict());
  out->set_max_subflows(in.max_subflows() == 0 ? 1 : in.max_subflows());
  switch (in.enforcement()) {
    case pulse::v1::ENFORCEMENT_UNSPECIFIED:
      out->set_enforcement(store::ENFORCEMENT_DEFAULT);
      break;
    case pulse::v1::ENFORCEMENT_PIN:
      out->set_enforcement(store::ENFORCEMENT_PIN);
      break;
    case pulse::v1::ENFORCEMENT_STEER:
      out->set_enforcement(store::ENFORCEMENT_STEER);
      break;
    default:
      return absl::DataLossError(
          absl::StrCat(where, ": spec.enforcement: unknown value ", in.enforcement()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TranslateLegacyJobSpec(absl::string_view bytes, absl::string_view where,
                                    pulse::store::v1::JobSpec* out) {
  pulse::v1::JobSpec legacy;
  if (!legacy.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat(where, ": neither a record nor a pulse.v1.JobSpec (old format)"));
  }
  return TranslateSpec(legacy, where, out);
}

absl::Status TranslateLegacyPlacement(absl::string_view bytes, absl::string_view where,
                                      pulse::store::v1::PlacementRecord* out) {
  pulse::v1::Job legacy;
  if (!legacy.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat(where, ": neither a record nor a pulse.v1.Job (old format)"));
  }
  if (absl::Status s = TranslateSpec(legacy.spec(), where, out->mutable_spec()); !s.ok()) return s;
  out->set_lower_bound(legacy.lower_bound());
  for (int i = 0; i < legacy.flows_size(); ++i) {
    const pulse::v1::Flow& in = legacy.flows(i);
    store::PlacedFlow* flow = out->add_flows();
    flow->set_src(in.src());
    flow->set_dst(in.dst());
    flow->set_rate_bps(in.rate_bps());
    flow->set_subflow(in.subflow());
    flow->set_phase(in.phase());
    flow->set_udp_src_port(in.udp_src_port());
    for (const std::string& hop : in.links()) {
      const size_t colon = hop.rfind(':');
      int32_t port = 0;
      if (colon == std::string::npos || !absl::SimpleAtoi(hop.substr(colon + 1), &port)) {
        return absl::DataLossError(absl::StrCat(where, ": flow ", i, ": bad hop '", hop, "'"));
      }
      store::Hop* h = flow->add_hops();
      h->set_node(hop.substr(0, colon));
      h->set_port(port);
    }
  }
  return absl::OkStatus();
}

}  // namespace pulse::controller
