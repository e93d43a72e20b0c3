// DSCP classification into a port's HTB queues with kernel u32 filters.
//
// On Open vSwitch's userspace datapath an OpenFlow set_queue never reaches the kernel HTB
// classes that a linux-htb QoS row creates, but a u32 filter on the port's root qdisc does
// (shared/notes/environment.md): `tc filter add dev PORT parent 1: protocol ip prio 1 u32
// match ip dsfield 0x68 0xfc flowid 1:2` sends DSCP 26 to OVS queue 1 (class 1:(queue+1)).
// This is how a switch applies its DSCP_TO_TC_MAP on this datapath.
//
// The classifier runs the `tc` binary (no shell; argv only) through a CommandRunner so tests can
// feed captured output, parses `tc filter show`, and audits/repairs the installed set.
#ifndef PULSE_SOUTHBOUND_OVSDB_TC_DSCP_CLASSIFIER_H_
#define PULSE_SOUTHBOUND_OVSDB_TC_DSCP_CLASSIFIER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::southbound::ovsdb {

// One DSCP -> HTB class rule: packets with `dscp` go to class 1:class_minor.
struct DscpFilter {
  int dscp = 0;
  uint32_t class_minor = 0;
  bool operator==(const DscpFilter& o) const {
    return dscp == o.dscp && class_minor == o.class_minor;
  }
  bool operator<(const DscpFilter& o) const {
    return dscp != o.dscp ? dscp < o.dscp : class_minor < o.class_minor;
  }
};

// The HTB class of OVS queue `queue` on the userspace datapath: 1:(queue+1).
inline uint32_t HtbClassMinorOfQueue(int queue) { return static_cast<uint32_t>(queue) + 1; }

// Runs argv[0] with the arguments and returns its stdout; a non-zero exit is an error carrying
// stderr.
using CommandRunner = std::function<absl::StatusOr<std::string>(const std::vector<std::string>&)>;
CommandRunner SystemCommandRunner();

// Parses `tc filter show dev D parent 1:` (or without parent) output into the DSCP filters it
// holds: u32 filters whose single match is the IP dsfield (mask 00fc0000 at 0). Other filters
// are ignored. Malformed flowid/match lines are errors naming the line.
absl::StatusOr<std::vector<DscpFilter>> ParseTcFilterShow(absl::string_view text);

class TcDscpClassifier {
 public:
  static constexpr int kFilterPrio = 1;  // the tc priority (pref) Pulse owns on parent 1:

  explicit TcDscpClassifier(CommandRunner runner = SystemCommandRunner(),
                            std::string tc_binary = "tc")
      : run_(std::move(runner)), tc_(std::move(tc_binary)) {}

  // Replaces Pulse's filters on `dev` with `filters` (delete prio 1 on parent 1:, then add).
  // Errors: bad device name, DSCP outside 0..63, class 0, or a failing tc command.
  absl::Status Install(absl::string_view dev, const std::vector<DscpFilter>& filters);
  absl::StatusOr<std::vector<DscpFilter>> Read(absl::string_view dev);
  // "dev p0 dscp 26: want class 1:2, have none" lines; empty when they agree.
  absl::StatusOr<std::vector<std::string>> Audit(absl::string_view dev,
                                                 const std::vector<DscpFilter>& want);
  // Audit, and Install if anything differs. Returns the differences repaired.
  absl::StatusOr<std::vector<std::string>> Repair(absl::string_view dev,
                                                  const std::vector<DscpFilter>& want);

 private:
  CommandRunner run_;
  std::string tc_;
};

}  // namespace pulse::southbound::ovsdb

#endif  // PULSE_SOUTHBOUND_OVSDB_TC_DSCP_CLASSIFIER_H_
