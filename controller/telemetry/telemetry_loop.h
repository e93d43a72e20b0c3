// TelemetryLoop: closes the loop from measured port counters to re-placed flows.
//
//   port counters (FabricSync's handler, any thread)
//     -> Telemetry rates, per directed link load (a switch port's tx = the channel leaving it)
//     -> every period: CongestionDetector::Observe (hot links, with hold time and hysteresis)
//     -> measured per-flow demand (estimate below) -> CongestionDetector::Decide
//     -> Controller::MoveFlows (JOB_MOVED events; forwarding follows through the observers).
//
// Per-flow demand estimate (no flow stats are collected yet): each directed link's measured load
// is shared among the placed flows crossing it in proportion to their planned rates, and a flow's
// demand is the smallest of its shares along its path (its bottleneck share). Two flows colliding
// on a saturated spine link therefore each get half that link; traffic Pulse did not place still
// counts in the link load the detector sees.
//
// After a batch of moves no decision is made for one hold time, and once the controller has applied
// the batch every link must be hot again for a full hold time on later counters, so the next
// decision sees counters that include the moves (otherwise stale load on the old path, or none yet
// on the new one, moves the partner flow too).
//
// Threading: counters and timer ticks run on the loop's own thread (an io_context); the state
// (Telemetry, detector) is touched only there. Moves are sent to the controller asynchronously and
// no new decision is made while a batch is in flight, so the detector always decides on a
// placement that includes its previous moves. Metrics (optional) are updated from the loop thread
// and the controller's reply.
#ifndef PULSE_CONTROLLER_TELEMETRY_TELEMETRY_LOOP_H_
#define PULSE_CONTROLLER_TELEMETRY_TELEMETRY_LOOP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"
#include "controller/controller.h"
#include "controller/switches/switch_driver.h"
#include "controller/telemetry/congestion.h"
#include "controller/telemetry/job_bandwidth.h"
#include "controller/telemetry/metrics.h"
#include "controller/telemetry/telemetry.h"

namespace pulse::controller {

struct TelemetryLoopOptions {
  int64_t period_ms = 1000;  // how often congestion is evaluated and metrics refreshed
  TelemetryOptions telemetry;
  CongestionOptions congestion;
};

// Counters of what the loop did (read from any thread).
struct TelemetryLoopStats {
  uint64_t samples_ingested = 0;
  uint64_t samples_rejected = 0;  // Telemetry::Ingest errors (logged)
  uint64_t ticks = 0;
  uint64_t moves_requested = 0;
  uint64_t moves_applied = 0;
  uint64_t moves_refused = 0;
  int hot_links = 0;
};

class TelemetryLoop {
 public:
  // `controller` must outlive the loop; `metrics` may be null (no metrics) and must outlive it.
  // InvalidArgument for a period <= 0 or invalid congestion options.
  static absl::StatusOr<std::unique_ptr<TelemetryLoop>> Create(Controller* controller,
                                                               TelemetryLoopOptions options,
                                                               MetricsRegistry* metrics = nullptr);
  ~TelemetryLoop();
  TelemetryLoop(const TelemetryLoop&) = delete;
  TelemetryLoop& operator=(const TelemetryLoop&) = delete;

  // Starts the loop thread and the period timer.
  absl::Status Start();
  // Stops the timer and thread (counters arriving afterwards are dropped) and waits for a
  // MoveFlows reply still queued on the controller. Called by the destructor.
  void Stop();

  // FabricSync::CountersHandler: counters of switch `sw` (its fabric node, as the driver
  // translated it); any thread; posted to the loop thread, stamped on arrival.
  void OnPortCounters(switches::SwitchId sw, const std::vector<switches::PortCounters>& counters);
  // The same for counters that arrive already keyed and typed (the sFlow collector: 64-bit byte,
  // 32-bit packet counters); each sample is re-stamped on arrival. Feed one port from one source
  // only: two sources' counters interleaved make no rates.
  void OnPortCounterSamples(std::vector<PortCounterSample> samples);

  // --- The synchronous core, run by the loop thread; tests call it directly without Start(). ---
  // Ingests one switch's counters read at `now_ms` (monotonic).
  void Ingest(switches::SwitchId sw, const std::vector<switches::PortCounters>& counters,
              int64_t now_ms);
  // Ingests samples whose keys and times are set.
  void IngestSamples(const std::vector<PortCounterSample>& samples);
  // One evaluation at `now_ms`: observes utilisation, refreshes metrics, decides and sends moves
  // to the controller. Returns the moves requested (empty while a previous batch is in flight).
  std::vector<FlowMoveRequest> Tick(int64_t now_ms);

  // The per-flow demand estimate described above, for the current snapshot and link loads.
  static std::vector<MeasuredFlow> EstimateFlowDemand(const ControllerSnapshot& snapshot,
                                                      const std::vector<double>& link_load_bps);

  TelemetryLoopStats stats() const;
  // Measured load per directed link at the last tick (copy; any thread), indexed by
  // DirectedLinkId; NaN for a link no switch has reported on yet. Empty before the first tick.
  std::vector<double> MeasuredLinkLoadBps() const;
  // Measured bandwidth of every placed job at the last tick (job_bandwidth.h; time_ms is Unix
  // time in ms), from the link loads above and that tick's controller snapshot; any thread.
  // Never null (empty before the first tick).
  JobBandwidthPtr MeasuredJobBandwidth() const;

 private:
  TelemetryLoop(Controller* controller, TelemetryLoopOptions options, MetricsRegistry* metrics,
                CongestionDetector detector);
  void ScheduleTick();
  int64_t NowMs() const;
  void UpdateMetrics(const std::vector<double>& utilisation, const ControllerSnapshot& snapshot);

  Controller* const controller_;
  const TelemetryLoopOptions options_;
  std::unique_ptr<PulseMetrics> metrics_;

  // Loop-thread state.
  Telemetry telemetry_;
  CongestionDetector detector_;
  std::chrono::steady_clock::time_point tick_due_;
  int64_t settle_until_ms_ = 0;  // no new decision before this (the last batch settles)

  std::atomic<bool> moves_in_flight_{false};
  // Set by the MoveFlows reply when flows moved; the next tick restarts the hot links' holds.
  std::atomic<bool> batch_applied_{false};
  mutable std::mutex stats_mu_;
  TelemetryLoopStats stats_;           // guarded by stats_mu_
  std::vector<double> last_load_bps_;  // guarded by stats_mu_
  JobBandwidthPtr job_bandwidth_ = std::make_shared<const JobBandwidthMap>();  // by stats_mu_
  std::vector<std::string> job_series_;  // jobs with metric series (loop thread)
  void UpdateJobBandwidth(const std::vector<double>& load_with_gaps,
                          const ControllerSnapshot& snapshot);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_TELEMETRY_TELEMETRY_LOOP_H_
