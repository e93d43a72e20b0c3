// Programs a switch port's queues in Open vSwitch through OVSDB, reads them back, audits them
// and watches for changes made behind the controller's back.
//
// One port gets one linux-htb QoS row (other_config:max-rate = line rate) whose queues map
// queue id -> Queue row (other_config min-rate / max-rate). The PFC/ECN parameters of the plan
// that the userspace datapath cannot enforce (xon/xoff, ECN thresholds, lossless priorities)
// are recorded in external_ids ("pulse-xoff-bytes", ...) so the switch's own config store holds
// the whole intent and an audit compares all of it. On the userspace datapath queue N is the
// HTB class 1:(N+1) of the port (see tc_dscp_classifier.h for classification).
#ifndef PULSE_SOUTHBOUND_OVSDB_QOS_PROGRAMMER_H_
#define PULSE_SOUTHBOUND_OVSDB_QOS_PROGRAMMER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "southbound/ovsdb/ovsdb_client.h"

namespace pulse::southbound::ovsdb {

using StringMap = std::map<std::string, std::string>;

struct QueueConfig {
  int64_t min_rate_bps = 0;  // 0: not set
  int64_t max_rate_bps = 0;  // 0: not set
  StringMap external_ids;
  bool operator==(const QueueConfig& o) const {
    return min_rate_bps == o.min_rate_bps && max_rate_bps == o.max_rate_bps &&
           external_ids == o.external_ids;
  }
};

struct PortQosConfig {
  std::string port;                   // OVS Port name
  std::string type = "linux-htb";     // QoS type
  int64_t max_rate_bps = 0;           // QoS other_config:max-rate (0: not set)
  std::map<int, QueueConfig> queues;  // OVS queue id (0..) -> queue
  StringMap external_ids;             // e.g. LosslessExternalIds(...)
};

// The external_ids Pulse records on a port's QoS row for one lossless plan.
StringMap LosslessExternalIds(int64_t xon_bytes, int64_t xoff_bytes, int64_t ecn_kmin_bytes,
                              int64_t ecn_kmax_bytes, int ecn_pmax_percent,
                              absl::string_view pfc_enable);

// Replaces the port's QoS with `config` in one transaction: insert the Queue rows and the QoS
// row, point the Port at it, and delete the port's previous QoS row and its queues (QoS and
// Queue are root tables, so ovsdb-server does not collect them). A wait on the port's qos column
// makes the transaction fail if the port changed since it was read. Nothing changes on any
// error: NotFound naming the port when it does not exist, Aborted when the server refused.
absl::Status ProgramPortQos(OvsdbClient& client, const PortQosConfig& config);

// Detaches and deletes the port's QoS and its queues in one transaction (no-op without QoS).
absl::Status ClearPortQos(OvsdbClient& client, absl::string_view port);

// Reads the port's QoS and queues back. NotFound if the port does not exist; a port without QoS
// gives an empty type and no queues.
absl::StatusOr<PortQosConfig> ReadPortQos(OvsdbClient& client, absl::string_view port);

// Differences between what should be and what is, one readable line each ("port p queue 1
// max-rate: want 500000000, have 100000000"); empty when they agree.
std::vector<std::string> AuditPortQos(const PortQosConfig& want, const PortQosConfig& have);

// Read + audit.
absl::StatusOr<std::vector<std::string>> AuditPort(OvsdbClient& client, const PortQosConfig& want);

// Audits and reprograms the port if it drifted. Returns the differences that were repaired.
absl::StatusOr<std::vector<std::string>> RepairPortQos(OvsdbClient& client,
                                                       const PortQosConfig& want);

// Monitors the Port, QoS and Queue tables and counts changes, so a caller can wait for "someone
// changed something" and then audit (the audit itself must run off the client's thread).
class QosChangeWatcher {
 public:
  // Starts the monitor on `client` (db Open_vSwitch). The watcher must outlive the client's
  // connection or the client must be closed first.
  absl::Status Start(OvsdbClient& client);
  // Number of update notifications seen so far.
  int64_t updates() const;
  // Waits until updates() > `seen` or `timeout` passes; returns true if it changed.
  bool WaitForUpdateAfter(int64_t seen, absl::Duration timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t updates_ = 0;
};

}  // namespace pulse::southbound::ovsdb

#endif  // PULSE_SOUTHBOUND_OVSDB_QOS_PROGRAMMER_H_
