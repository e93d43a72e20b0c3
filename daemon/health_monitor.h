// HealthMonitor: the daemon's health, from the parts that can stop it serving correctly.
//
// Each check is polled on the monitor's own thread every `period` (the daemon: 100 ms, so a
// lost lease or a failing disk shows within a tenth of a second) and names a gRPC health
// service: "pulse.store" (the embedded store's writes work; a full disk makes it NOT_SERVING
// until space is back, see EmbeddedStore::ProbeWrites), "pulse.cluster.ready" (the replica's
// state is a complete read of etcd), "pulse.cluster.leader" (this replica holds an unexpired
// lease). The overall service "" is SERVING only while every check marked part_of_overall is OK;
// GET /healthz (daemon/metrics_http.h) answers from overall() too. Changes are logged once each.
#ifndef PULSE_DAEMON_HEALTH_MONITOR_H_
#define PULSE_DAEMON_HEALTH_MONITOR_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pulse::daemon {

struct HealthCheck {
  std::string service;                  // gRPC health service name
  std::function<absl::Status()> check;  // OK: serving; called on the monitor thread
  bool part_of_overall = true;          // counts towards service "" and /healthz
};

class HealthMonitor {
 public:
  // `publish(service, serving)` is called for every check's service and for "" whenever a value
  // changes (and once for each at Start).
  using Publisher = std::function<void(const std::string& service, bool serving)>;

  HealthMonitor(std::vector<HealthCheck> checks, Publisher publish,
                absl::Duration period = absl::Milliseconds(500));
  ~HealthMonitor();  // Stop()

  void Start();
  void Stop();
  // Runs every check once now (also what the thread does each period).
  void PollOnce();
  // OK, or the first failing overall check as "service: message".
  absl::Status overall() const;

 private:
  std::vector<HealthCheck> checks_;
  Publisher publish_;
  absl::Duration period_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool published_ = false;
  std::vector<absl::Status> last_;  // by check
  absl::Status overall_;
  std::thread thread_;
};

}  // namespace pulse::daemon

#endif  // PULSE_DAEMON_HEALTH_MONITOR_H_
