#include "controller/paths/steering.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pulse::controller {

absl::StatusOr<uint16_t> FindSteeringPort(EcmpGroups& groups, const HashModels& models,
                                          const Path& path, const SteeringOptions& options) {
  const Fabric& f = groups.fabric();
  if (options.port_min > options.port_max) {
    return absl::InvalidArgumentError(absl::StrCat("steering: port range ", options.port_min, "-",
                                                   options.port_max, " is empty"));
  }
  if (path.hops.empty() || path.hops.front() < 0 || path.hops.front() >= f.num_directed_links() ||
      path.hops.back() < 0 || path.hops.back() >= f.num_directed_links()) {
    return absl::InvalidArgumentError("steering: path has no valid hops");
  }
  const NodeId src = f.Tail(path.hops.front()), dst = f.Head(path.hops.back());
  if (!f.node(src).is_nic() || !f.node(dst).is_nic() || !IsValleyFree(f, path, src, dst)) {
    return absl::InvalidArgumentError("steering: path is not a valley-free walk between two NICs");
  }
  // Each hashed hop: the switch's model, its members, and the bucket that must be chosen.
  struct Constraint {
    EcmpSelector selector;
    size_t wanted;
  };
  std::vector<Constraint> constraints;
  std::string learned_switch;  // the first switch on the path modelled by probing
  for (size_t i = 1; i < path.hops.size(); ++i) {
    const NodeId sw = f.Tail(path.hops[i]);
    auto members = groups.NextHops(sw, dst);
    if (!members.ok()) return members.status();
    size_t wanted = members->size();
    for (size_t m = 0; m < members->size(); ++m) {
      if ((*members)[m].link == path.hops[i]) wanted = m;
    }
    if (wanted == members->size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "steering: planned hop ", f.DescribeDirected(path.hops[i]),
          " is not in the ECMP group of '", f.node(sw).name, "' towards '", f.node(dst).name, "'"));
    }
    if (members->size() > 1) {
      const EcmpHashModel& model = models.For(sw);
      if (model.learned != nullptr && !model.learned->failure.empty()) {
        return absl::UnavailableError(absl::StrCat("steering: switch '", f.node(sw).name,
                                                   "' is not steered: ", model.learned->failure));
      }
      if (!HashesSourcePort(model)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "steering: switch '", f.node(sw).name, "' hashes without the UDP source port (",
            HashAlgorithmName(model.algorithm), "), so no source port can choose its uplink"));
      }
      if (model.algorithm == HashAlgorithm::kLearned && learned_switch.empty())
        learned_switch = f.node(sw).name;
      constraints.push_back({EcmpSelector(model, *members), wanted});
    }
  }
  auto tuple = RoceTuple(f, src, dst, 0);
  if (!tuple.ok()) return tuple.status();
  auto steers = [&](uint32_t port) {
    tuple->src_port = static_cast<uint16_t>(port);
    for (const Constraint& c : constraints) {
      if (!c.selector.Selects(*tuple, c.wanted)) return false;
    }
    return true;
  };
  if (options.preferred_port != 0 && options.preferred_port >= options.port_min &&
      options.preferred_port <= options.port_max && steers(options.preferred_port)) {
    return options.preferred_port;
  }
  for (uint32_t port = options.port_min; port <= options.port_max; ++port) {
    if (steers(port)) return static_cast<uint16_t>(port);
  }
  if (!learned_switch.empty()) {
    return absl::UnavailableError(
        absl::StrCat("steering: no probed UDP source port steers '", f.node(src).name, "' -> '",
                     f.node(dst).name, "' onto the planned path (switch '", learned_switch,
                     "' is known from probes only, and none of them went that way)"));
  }
  return absl::NotFoundError(absl::StrCat("steering: no UDP source port in ", options.port_min, "-",
                                          options.port_max, " steers '", f.node(src).name, "' -> '",
                                          f.node(dst).name, "' onto the planned path"));
}

}  // namespace pulse::controller
