#include "controller/store/placement_record.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/placement/job_validation.h"
#include "controller/store/legacy_records.h"
#include "controller/store/records.pb.h"

namespace pulse::controller {
namespace {

namespace store = pulse::store::v1;

struct PatternValue {
  CollectivePattern pattern;
  store::Pattern stored;
};
constexpr PatternValue kPatterns[] = {
    {CollectivePattern::kExplicit, store::PATTERN_EXPLICIT},
    {CollectivePattern::kRing, store::PATTERN_RING},
    {CollectivePattern::kDoubleBinaryTree, store::PATTERN_DOUBLE_BINARY_TREE},
    {CollectivePattern::kAllToAll, store::PATTERN_ALL_TO_ALL},
    {CollectivePattern::kHalvingDoubling, store::PATTERN_HALVING_DOUBLING},
    {CollectivePattern::kRailAligned, store::PATTERN_RAIL_ALIGNED},
};

std::string Frame(const google::protobuf::MessageLite& message) {
  std::string out(kRecordMagic);
  out.push_back(static_cast<char>(kRecordFormatVersion));
  message.AppendToString(&out);
  return out;
}

// The message of a framed record, or (no marker) the legacy value translated by `translate`.
template <typename Message, typename Translate>
absl::Status Unframe(absl::string_view bytes, absl::string_view where, Translate translate,
                     Message* out) {
  if (!absl::StartsWith(bytes, kRecordMagic)) return translate(bytes, where, out);
  bytes.remove_prefix(kRecordMagic.size());
  if (bytes.empty()) return absl::DataLossError(absl::StrCat(where, ": record cut short"));
  const int version = static_cast<uint8_t>(bytes[0]);
  if (version != kRecordFormatVersion) {
    return absl::DataLossError(absl::StrCat(where, ": record format version ", version,
                                            " (this controller reads ", kRecordFormatVersion,
                                            "; written by a newer one?)"));
  }
  bytes.remove_prefix(1);
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat(where, ": not a ", out->GetTypeName(), " (damaged record)"));
  }
  return absl::OkStatus();
}

void SpecToRecord(const JobSpec& spec, store::JobSpec* out) {
  out->set_id(spec.id);
  for (const std::string& endpoint : spec.endpoints) out->add_endpoints(endpoint);
  for (const PatternValue& p : kPatterns) {
    if (p.pattern == spec.pattern) out->set_pattern(p.stored);
  }
  for (const ExplicitFlow& f : spec.explicit_flows) {
    store::ExplicitFlow* flow = out->add_flows();
    flow->set_src(f.src);
    flow->set_dst(f.dst);
    flow->set_rate_bps(f.rate_bps);
  }
  out->set_rate_bps(spec.rate_bps);
  out->set_traffic_class(spec.traffic_class);
  out->set_strict(spec.strict);
  out->set_max_subflows(spec.max_subflows);
  out->set_enforcement(spec.enforcement == Enforcement::kPin     ? store::ENFORCEMENT_PIN
                       : spec.enforcement == Enforcement::kSteer ? store::ENFORCEMENT_STEER
                                                                 : store::ENFORCEMENT_DEFAULT);
}

// The spec of a record, checked like any job from outside (a store is input too).
absl::StatusOr<JobSpec> SpecFromRecord(const store::JobSpec& record, absl::string_view where) {
  JobSpec spec;
  spec.id = record.id();
  spec.endpoints.assign(record.endpoints().begin(), record.endpoints().end());
  bool known = false;
  for (const PatternValue& p : kPatterns) {
    if (p.stored == record.pattern()) {
      spec.pattern = p.pattern;
      known = true;
    }
  }
  if (!known) {
    return absl::DataLossError(
        absl::StrCat(where, ": spec.pattern: unknown value ", record.pattern()));
  }
  for (const store::ExplicitFlow& f : record.flows()) {
    spec.explicit_flows.push_back({f.src(), f.dst(), f.rate_bps()});
  }
  spec.rate_bps = record.rate_bps();
  spec.traffic_class = record.traffic_class();
  spec.strict = record.strict();
  spec.max_subflows = record.max_subflows();
  switch (record.enforcement()) {
    case store::ENFORCEMENT_DEFAULT:
      spec.enforcement = Enforcement::kDefault;
      break;
    case store::ENFORCEMENT_PIN:
      spec.enforcement = Enforcement::kPin;
      break;
    case store::ENFORCEMENT_STEER:
      spec.enforcement = Enforcement::kSteer;
      break;
    default:
      return absl::DataLossError(
          absl::StrCat(where, ": spec.enforcement: unknown value ", record.enforcement()));
  }
  // A one-rank collective is allowed here: the record was accepted once; refusing it now would
  // lose the job.
  if (absl::Status valid = ValidateJobSpec(spec, kPlacementJobLimits, "spec."); !valid.ok()) {
    return absl::DataLossError(absl::StrCat(where, ": ", valid.message()));
  }
  return spec;
}

std::string Where(absl::string_view key, absl::string_view what) {
  return key.empty() ? std::string(what) : std::string(key);
}

}  // namespace

bool IsCurrentRecordFormat(absl::string_view bytes) {
  return absl::StartsWith(bytes, kRecordMagic) && bytes.size() > kRecordMagic.size() &&
         static_cast<uint8_t>(bytes[kRecordMagic.size()]) == kRecordFormatVersion;
}

std::string EncodeJobRecord(const JobSpec& spec) {
  store::JobRecord record;
  SpecToRecord(spec, record.mutable_spec());
  return Frame(record);
}

absl::StatusOr<JobSpec> DecodeJobRecord(absl::string_view bytes, absl::string_view key) {
  const std::string where = Where(key, "job record");
  store::JobRecord record;
  auto legacy = [](absl::string_view b, absl::string_view w, store::JobRecord* r) {
    return TranslateLegacyJobSpec(b, w, r->mutable_spec());
  };
  if (absl::Status s = Unframe(bytes, where, legacy, &record); !s.ok()) return s;
  return SpecFromRecord(record.spec(), where);
}

std::string EncodePlacementRecord(const topology::Fabric& fabric, const JobPlacement& job) {
  store::PlacementRecord record;
  SpecToRecord(job.spec, record.mutable_spec());
  record.set_lower_bound(job.lower_bound);
  for (const PlacedFlow& f : job.flows) {
    store::PlacedFlow* flow = record.add_flows();
    flow->set_src(fabric.node(f.src).name);
    flow->set_dst(fabric.node(f.dst).name);
    flow->set_rate_bps(f.rate_bps);
    flow->set_subflow(f.subflow);
    flow->set_phase(f.phase);
    flow->set_udp_src_port(f.udp_src_port);
    for (topology::DirectedLinkId d : f.path.hops) {
      store::Hop* hop = flow->add_hops();
      hop->set_node(fabric.node(fabric.Tail(d)).name);
      hop->set_port(fabric.TailPort(d));
    }
  }
  return Frame(record);
}

absl::StatusOr<JobPlacement> DecodePlacementRecord(const topology::Fabric& fabric,
                                                   absl::string_view bytes, absl::string_view key) {
  const std::string where = Where(key, "placement record");
  store::PlacementRecord record;
  if (absl::Status s = Unframe(bytes, where, TranslateLegacyPlacement, &record); !s.ok()) return s;
  absl::StatusOr<JobSpec> spec = SpecFromRecord(record.spec(), where);
  if (!spec.ok()) return spec.status();
  JobPlacement job;
  job.spec = *std::move(spec);
  job.lower_bound = record.lower_bound();
  for (int i = 0; i < record.flows_size(); ++i) {
    const store::PlacedFlow& flow = record.flows(i);
    const std::string at = absl::StrCat(where, " (job '", job.spec.id, "') flow ", i);
    PlacedFlow f;
    absl::StatusOr<topology::NodeId> src = fabric.FindNode(flow.src());
    absl::StatusOr<topology::NodeId> dst = fabric.FindNode(flow.dst());
    if (!src.ok() || !dst.ok()) {
      return absl::DataLossError(
          absl::StrCat(at, ": unknown endpoint '", src.ok() ? flow.dst() : flow.src(), "'"));
    }
    f.src = *src;
    f.dst = *dst;
    f.rate_bps = flow.rate_bps();
    f.subflow = flow.subflow();
    f.phase = flow.phase();
    if (flow.udp_src_port() > 65535) {
      return absl::DataLossError(absl::StrCat(at, ": udp_src_port out of range"));
    }
    f.udp_src_port = static_cast<uint16_t>(flow.udp_src_port());
    for (const store::Hop& hop : flow.hops()) {
      const std::string name = absl::StrCat(hop.node(), ":", hop.port());
      absl::StatusOr<topology::NodeId> tail = fabric.FindNode(hop.node());
      if (!tail.ok()) {
        return absl::DataLossError(absl::StrCat(at, ": hop '", name, "': unknown node"));
      }
      std::optional<topology::LinkId> link = fabric.LinkAtPort(*tail, hop.port());
      if (!link.has_value()) {
        return absl::DataLossError(absl::StrCat(at, ": hop '", name, "': no link at that port"));
      }
      f.path.hops.push_back(fabric.DirectedFrom(*link, *tail));
    }
    job.flows.push_back(std::move(f));
  }
  return job;
}

}  // namespace pulse::controller
