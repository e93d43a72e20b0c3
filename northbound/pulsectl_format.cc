#include "northbound/pulsectl_format.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace pulse::northbound {
namespace {

std::string YesNo(bool value) { return value ? "yes" : "no"; }

// "%.3g" without the exponent form for the magnitudes rates have once scaled (< 1000).
std::string Compact(double value) {
  std::string text = absl::StrFormat("%.4g", value);
  return text;
}

std::string RoleName(pulse::v1::SwitchRole role) {
  switch (role) {
    case pulse::v1::SWITCH_ROLE_LEAF:
      return "leaf";
    case pulse::v1::SWITCH_ROLE_SPINE:
      return "spine";
    case pulse::v1::SWITCH_ROLE_SUPER_SPINE:
      return "super-spine";
    default:
      return "?";
  }
}

std::string GroupKindName(pulse::v1::GroupKind kind) {
  switch (kind) {
    case pulse::v1::GROUP_KIND_LEAF:
      return "leaf";
    case pulse::v1::GROUP_KIND_RAIL:
      return "rail";
    case pulse::v1::GROUP_KIND_POD:
      return "pod";
    case pulse::v1::GROUP_KIND_PLANE:
      return "plane";
    default:
      return "?";
  }
}

// A long GPU list shortened to its ends, so a 512-GPU group stays one readable line.
std::string AbbreviatedList(const google::protobuf::RepeatedPtrField<std::string>& names) {
  if (names.size() <= 4) return absl::StrJoin(names, ",");
  return absl::StrCat(names.Get(0), ",", names.Get(1), ",..,", names.Get(names.size() - 1));
}

std::string HopsText(const pulse::v1::Flow& flow) {
  std::vector<std::string> hops;
  hops.reserve(flow.hops_size());
  for (const pulse::v1::Hop& hop : flow.hops()) hops.push_back(hop.switch_name());
  return hops.empty() ? "-" : absl::StrJoin(hops, " > ");
}

}  // namespace

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  auto append_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < widths.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      if (c + 1 < widths.size()) {
        absl::StrAppend(&line, cell,
                        std::string(widths[c] - std::min(widths[c], cell.size()) + 2, ' '));
      } else {
        absl::StrAppend(&line, cell);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  };
  append_row(header);
  for (const auto& row : rows) append_row(row);
  return out;
}

std::string FormatBps(double bps) {
  if (!std::isfinite(bps)) return "?";
  const double magnitude = std::fabs(bps);
  if (magnitude >= 1e12) return absl::StrCat(Compact(bps / 1e12), "T");
  if (magnitude >= 1e9) return absl::StrCat(Compact(bps / 1e9), "G");
  if (magnitude >= 1e6) return absl::StrCat(Compact(bps / 1e6), "M");
  if (magnitude >= 1e3) return absl::StrCat(Compact(bps / 1e3), "K");
  return Compact(bps);
}

std::string FormatPercent(double fraction) {
  if (!std::isfinite(fraction)) return "?";
  return absl::StrFormat("%.1f%%", fraction * 100.0);
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message, bool one_line) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = !one_line;
  options.always_print_primitive_fields = true;
  std::string json;
  google::protobuf::util::Status status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON output of ", message.GetTypeName(), ": ", status.ToString()));
  }
  if (!json.empty() && json.back() != '\n') json.push_back('\n');
  return json;
}

std::string FormatTopology(const pulse::v1::Topology& topology) {
  int links_up = 0, links_usable = 0;
  for (const pulse::v1::Link& link : topology.links()) {
    links_up += link.up() ? 1 : 0;
    links_usable += link.usable() ? 1 : 0;
  }
  std::string out =
      absl::StrCat("switches: ", topology.switches_size(), "  links: ", topology.links_size(), " (",
                   links_up, " up, ", links_usable, " usable)  servers: ", topology.servers_size(),
                   "  nics: ", topology.nics_size(), "  gpus: ", topology.gpus_size(),
                   "  rails: ", topology.rails_size(), "  planes: ", topology.planes_size(),
                   "  event sequence: ", topology.event_sequence(), "\n\n");

  std::vector<std::vector<std::string>> rows;
  for (const pulse::v1::Switch& sw : topology.switches()) {
    int cabled = 0;
    for (const pulse::v1::Port& port : sw.ports()) cabled += port.peer().empty() ? 0 : 1;
    rows.push_back({sw.name(), RoleName(sw.role()), absl::StrCat(sw.level()),
                    sw.pod() < 0 ? "-" : absl::StrCat(sw.pod()),
                    sw.rail() < 0 ? "-" : absl::StrCat(sw.rail()), absl::StrCat(sw.plane()),
                    absl::StrCat(cabled, "/", sw.ports_size()), YesNo(sw.connected()),
                    YesNo(sw.drained())});
  }
  absl::StrAppend(&out,
                  FormatTable({"SWITCH", "ROLE", "LEVEL", "POD", "RAIL", "PLANE",
                               "PORTS(CABLED/ALL)", "CONNECTED", "DRAINED"},
                              rows),
                  "\n");

  // Links down or drained are the ones an operator looks for; a healthy fabric lists none.
  rows.clear();
  for (const pulse::v1::Link& link : topology.links()) {
    if (link.up() && link.usable()) continue;
    rows.push_back({absl::StrCat(link.id()), absl::StrCat(link.a_node(), ":", link.a_port()),
                    absl::StrCat(link.b_node(), ":", link.b_port()), FormatBps(link.capacity_bps()),
                    YesNo(link.up()), YesNo(link.usable())});
  }
  if (rows.empty()) {
    absl::StrAppend(&out, "links: all ", topology.links_size(), " up and usable\n\n");
  } else {
    absl::StrAppend(&out, "links not usable:\n",
                    FormatTable({"ID", "A", "B", "CAPACITY", "UP", "USABLE"}, rows), "\n");
  }

  rows.clear();
  for (const pulse::v1::Server& server : topology.servers()) {
    rows.push_back({server.name(), server.pod() < 0 ? "-" : absl::StrCat(server.pod()),
                    absl::StrCat(server.nics_size()), absl::StrCat(server.gpus_size())});
  }
  absl::StrAppend(&out, FormatTable({"SERVER", "POD", "NICS", "GPUS"}, rows), "\n");

  rows.clear();
  for (const pulse::v1::GpuGroup& group : topology.groups()) {
    rows.push_back({GroupKindName(group.kind()), group.key(), absl::StrCat(group.gpus_size()),
                    AbbreviatedList(group.gpus())});
  }
  absl::StrAppend(&out, "scheduler view (GPU groups):\n",
                  FormatTable({"KIND", "KEY", "GPUS", "MEMBERS"}, rows));
  return out;
}

std::string PatternName(pulse::v1::CollectivePattern pattern) {
  switch (pattern) {
    case pulse::v1::COLLECTIVE_PATTERN_EXPLICIT:
      return "explicit";
    case pulse::v1::COLLECTIVE_PATTERN_UNSPECIFIED:
    case pulse::v1::COLLECTIVE_PATTERN_RING:
      return "ring";
    case pulse::v1::COLLECTIVE_PATTERN_DOUBLE_BINARY_TREE:
      return "double-binary-tree";
    case pulse::v1::COLLECTIVE_PATTERN_ALL_TO_ALL:
      return "all-to-all";
    case pulse::v1::COLLECTIVE_PATTERN_HALVING_DOUBLING:
      return "halving-doubling";
    case pulse::v1::COLLECTIVE_PATTERN_RAIL_ALIGNED:
      return "rail-aligned";
    default:
      return "?";
  }
}

std::string FormatJob(const pulse::v1::Job& job) {
  const pulse::v1::JobSpec& spec = job.spec();
  std::string out = absl::StrCat("job ", spec.id(), ": ", PatternName(spec.pattern()), ", ",
                                 spec.endpoints_size(), " endpoints, ",
                                 job.flows_omitted() ? job.flow_count() : job.flows_size(),
                                 " flows, max link load ", FormatPercent(job.max_link_load()),
                                 " (lower bound ", FormatPercent(job.lower_bound()), ")\n");
  if (job.bandwidth_predicted()) {
    absl::StrAppend(&out, "predicted bus bandwidth ", FormatPercent(job.predicted_busbw_fraction()),
                    " of line rate (ECMP with ", job.ecmp_qps(),
                    " QPs: ", FormatPercent(job.ecmp_busbw_fraction()), "); completion ",
                    absl::StrFormat("%.3f", job.predicted_completion_seconds()), " s vs ideal ",
                    absl::StrFormat("%.3f", job.ideal_completion_seconds()), " s, ECMP ",
                    absl::StrFormat("%.3f", job.ecmp_completion_seconds()), " s\n");
  } else {
    absl::StrAppend(&out, "predicted bus bandwidth: not computed\n");
  }
  if (job.bandwidth_measured()) {
    absl::StrAppend(&out, "measured bus bandwidth ", FormatPercent(job.measured_busbw_fraction()),
                    " of line rate (slowest flow); delivered ", FormatBps(job.delivered_rate_bps()),
                    " of ", FormatBps(job.planned_rate_bps()), " planned (",
                    FormatPercent(job.delivered_fraction()), ") over ", job.flows_measured(),
                    " of ", job.flows_on_fabric(), " flows, ",
                    absl::StrFormat("%.1f", job.measured_age_seconds()), " s ago\n");
  } else {
    absl::StrAppend(&out, "measured bus bandwidth: no counters yet\n");
  }
  if (job.flows_omitted()) {
    absl::StrAppend(&out, "(flows not shown: too many for one reply; pulsectl jobs show ",
                    spec.id(), " pages them)\n");
  }
  if (job.flows_size() == 0) return out;
  std::vector<std::vector<std::string>> rows;
  rows.reserve(job.flows_size());
  for (const pulse::v1::Flow& flow : job.flows()) {
    rows.push_back({flow.src(), flow.dst(), FormatBps(flow.rate_bps()), absl::StrCat(flow.phase()),
                    absl::StrCat(flow.subflow()), HopsText(flow),
                    flow.udp_src_port() == 0 ? "-" : absl::StrCat(flow.udp_src_port())});
  }
  absl::StrAppend(
      &out, FormatTable({"SRC", "DST", "RATE", "PHASE", "SUBFLOW", "PATH", "UDP_SRC_PORT"}, rows));
  return out;
}

std::string FormatJobList(const pulse::v1::ListJobsResponse& jobs) {
  std::vector<std::vector<std::string>> rows;
  for (const pulse::v1::Job& job : jobs.jobs()) {
    rows.push_back({job.spec().id(), PatternName(job.spec().pattern()),
                    absl::StrCat(job.spec().endpoints_size()),
                    job.spec().rate_bps() > 0 ? FormatBps(job.spec().rate_bps()) : "line",
                    FormatPercent(job.max_link_load()), FormatPercent(job.lower_bound())});
  }
  return FormatTable({"ID", "PATTERN", "ENDPOINTS", "RATE", "MAX_LOAD", "LOWER_BOUND"}, rows);
}

std::string FormatRate(double bps) {
  const std::string scaled = FormatBps(bps);
  return scaled == "?" ? scaled : absl::StrCat(scaled, "bps");
}

std::string FormatCount(uint64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e12) return absl::StrCat(Compact(v / 1e12), "T");
  if (v >= 1e9) return absl::StrCat(Compact(v / 1e9), "G");
  if (v >= 1e6) return absl::StrCat(Compact(v / 1e6), "M");
  if (v >= 1e3) return absl::StrCat(Compact(v / 1e3), "K");
  return absl::StrCat(n);
}

std::string FormatLinkLoads(const google::protobuf::RepeatedPtrField<pulse::v1::LinkLoad>& links) {
  std::vector<std::vector<std::string>> rows;
  for (const pulse::v1::LinkLoad& link : links) {
    rows.push_back(
        {link.name(), FormatRate(link.capacity_bps()), FormatRate(link.planned_load_bps()),
         FormatPercent(link.planned_utilisation()),
         link.has_measured_load_bps() ? FormatRate(link.measured_load_bps()) : "-",
         link.has_measured_utilisation() ? FormatPercent(link.measured_utilisation()) : "-",
         YesNo(link.up()), YesNo(link.usable()),
         link.has_pfc_pause_rx_frames() ? FormatCount(link.pfc_pause_rx_frames()) : "-",
         link.has_pfc_pause_tx_frames() ? FormatCount(link.pfc_pause_tx_frames()) : "-",
         link.has_ecn_marked_packets() ? FormatCount(link.ecn_marked_packets()) : "-"});
  }
  return FormatTable({"LINK", "CAPACITY", "PLANNED", "PLANNED_UTIL", "MEASURED", "MEASURED_UTIL",
                      "UP", "USABLE", "PFC_RX", "PFC_TX", "ECN_MARKED"},
                     rows);
}

std::string FormatEvent(const pulse::v1::Event& event) {
  std::string type(absl::StripPrefix(pulse::v1::EventType_Name(event.type()), "EVENT_TYPE_"));
  if (type.empty()) type = absl::StrCat("TYPE_", static_cast<int>(event.type()));
  const std::string time = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(event.time_unix_ms()), absl::UTCTimeZone());
  std::string line = absl::StrCat(event.sequence(), "  ", time, "  ", type, "  ", event.subject());
  if (!event.detail().empty()) absl::StrAppend(&line, "  ", event.detail());
  absl::StrAppend(&line, "\n");
  return line;
}

}  // namespace pulse::northbound

namespace pulse::northbound {

absl::StatusOr<std::string> FormatSteering(const pulse::v1::GetJobSteeringResponse& steering,
                                           const std::string& format) {
  if (format == "json") return ToJson(steering, false);
  if (format == "nccl") {
    const pulse::v1::NcclSettings& nccl = steering.nccl();
    std::string out = absl::StrCat("NCCL_IB_QPS_PER_CONNECTION=", nccl.ib_qps_per_connection(),
                                   "\nNCCL_IB_GID_INDEX=", nccl.ib_gid_index(), "\n");
    if (nccl.dscp() >= 0) absl::StrAppend(&out, "NCCL_IB_TC=", nccl.ib_tc(), "\n");
    return out;
  }
  if (format != "hccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format: '", format.substr(0, 32), "' (expected json, hccl or nccl)"));
  }
  constexpr size_t kHcclMaxPortsPerPair = 32;
  constexpr size_t kHcclMaxLines = 131072;
  if (!steering.steered()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", steering.job_id(), " is pinned, not steered: its flows need no source ports"));
  }
  // One line per address pair, in first-seen order, ports in flow order.
  std::vector<std::pair<std::string, std::vector<uint32_t>>> lines;
  std::map<std::string, size_t> line_of;
  for (const pulse::v1::SteeredFlow& flow : steering.flows()) {
    if (flow.src_ip().empty() || flow.dst_ip().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "flow ", flow.flow_index(), " (", flow.src(), " -> ", flow.dst(), ") has no address"));
    }
    if (flow.udp_src_port() == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("flow ", flow.flow_index(), " (", flow.src(), " -> ", flow.dst(),
                       ") has no steering port (a switch rule pins it)"));
    }
    std::string key = absl::StrCat(flow.src_ip(), ",", flow.dst_ip());
    auto [it, added] = line_of.emplace(key, lines.size());
    if (added) lines.push_back({key, {}});
    std::vector<uint32_t>& ports = lines[it->second].second;
    if (std::find(ports.begin(), ports.end(), flow.udp_src_port()) == ports.end())
      ports.push_back(flow.udp_src_port());
    if (ports.size() > kHcclMaxPortsPerPair) {
      return absl::FailedPreconditionError(absl::StrCat(
          "pair ", key, " has more than ", kHcclMaxPortsPerPair, " ports (HCCL's limit per pair)"));
    }
  }
  if (lines.size() > kHcclMaxLines) {
    return absl::FailedPreconditionError(
        absl::StrCat(lines.size(), " address pairs: over HCCL's ", kHcclMaxLines, " lines"));
  }
  std::string out;
  for (const auto& [pair, ports] : lines)
    absl::StrAppend(&out, pair, "=", absl::StrJoin(ports, ","), "\n");
  return out;
}

}  // namespace pulse::northbound
