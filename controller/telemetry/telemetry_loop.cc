#include "controller/telemetry/telemetry_loop.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::controller {

absl::StatusOr<std::unique_ptr<TelemetryLoop>> TelemetryLoop::Create(Controller* controller,
                                                                     TelemetryLoopOptions options,
                                                                     MetricsRegistry* metrics) {
  if (controller == nullptr) return absl::InvalidArgumentError("telemetry loop: no controller");
  if (options.period_ms <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry loop: period_ms must be > 0, got ", options.period_ms));
  }
  absl::StatusOr<CongestionDetector> detector =
      CongestionDetector::Create(controller->snapshot()->fabric, options.congestion);
  if (!detector.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry loop: ", detector.status().message()));
  }
  if (metrics != nullptr) {
    if (absl::Status status = RegisterPulseMetrics(*metrics); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("telemetry loop: ", status.message()));
    }
    // Exported from the start (a scrape shows 0 rather than nothing before the first move).
    (void)PulseMetrics(metrics).AddFlowMoves("congestion", 0);
  }
  return std::unique_ptr<TelemetryLoop>(
      new TelemetryLoop(controller, std::move(options), metrics, *std::move(detector)));
}

TelemetryLoop::TelemetryLoop(Controller* controller, TelemetryLoopOptions options,
                             MetricsRegistry* metrics, CongestionDetector detector)
    : controller_(controller),
      options_(std::move(options)),
      metrics_(metrics != nullptr ? std::make_unique<PulseMetrics>(metrics) : nullptr),
      telemetry_(options_.telemetry, controller->snapshot()->fabric),
      detector_(std::move(detector)),
      work_(boost::asio::make_work_guard(io_)),
      timer_(io_) {}

TelemetryLoop::~TelemetryLoop() { Stop(); }

absl::Status TelemetryLoop::Start() {
  if (running_.exchange(true)) {
    return absl::FailedPreconditionError("telemetry loop: already started");
  }
  tick_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.period_ms);
  ScheduleTick();
  thread_ = std::thread([this] {
    pulse::NameThisThread("pulse-telemetry");
    io_.run();
  });
  return absl::OkStatus();
}

void TelemetryLoop::Stop() {
  if (running_.exchange(false)) {
    boost::asio::post(io_, [this] { timer_.cancel(); });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  alive_->store(false);
  // A MoveFlows reply still queued on the controller thread must not touch this object.
  controller_->Sync().wait();
}

int64_t TelemetryLoop::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TelemetryLoop::ScheduleTick() {
  timer_.expires_at(tick_due_);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || !running_.load()) return;
    const auto now = std::chrono::steady_clock::now();
    // How late the loop ran this tick: the event-loop lag the metrics export.
    const double lag_s = std::chrono::duration<double>(now - tick_due_).count();
    if (metrics_ != nullptr) (void)metrics_->SetEventLoopLag(std::max(0.0, lag_s));
    Tick(NowMs());
    tick_due_ += std::chrono::milliseconds(options_.period_ms);
    if (tick_due_ < now) tick_due_ = now + std::chrono::milliseconds(options_.period_ms);
    ScheduleTick();
  });
}

void TelemetryLoop::OnPortCounters(switches::SwitchId sw,
                                   const std::vector<switches::PortCounters>& counters) {
  if (!running_.load()) return;
  const int64_t now_ms = NowMs();
  boost::asio::post(io_, [this, sw, counters, now_ms] { Ingest(sw, counters, now_ms); });
}

void TelemetryLoop::OnPortCounterSamples(std::vector<PortCounterSample> samples) {
  if (!running_.load()) return;
  const int64_t now_ms = NowMs();
  boost::asio::post(io_, [this, samples = std::move(samples), now_ms]() mutable {
    for (PortCounterSample& sample : samples) sample.time_ms = now_ms;
    IngestSamples(samples);
  });
}

void TelemetryLoop::Ingest(switches::SwitchId sw,
                           const std::vector<switches::PortCounters>& counters, int64_t now_ms) {
  std::vector<PortCounterSample> samples;
  samples.reserve(counters.size());
  for (const switches::PortCounters& c : counters) {
    PortCounterSample sample;
    sample.key = PortKey{sw, c.port};
    sample.time_ms = now_ms;
    sample.rx_bytes = c.rx_bytes;
    sample.tx_bytes = c.tx_bytes;
    sample.rx_packets = c.rx_packets;
    sample.tx_packets = c.tx_packets;
    sample.rx_drops = c.rx_drops;
    sample.tx_drops = c.tx_drops;
    sample.rx_errors = c.rx_errors;
    sample.tx_errors = c.tx_errors;
    samples.push_back(sample);
  }
  IngestSamples(samples);
}

void TelemetryLoop::IngestSamples(const std::vector<PortCounterSample>& samples) {
  uint64_t ok = 0;
  uint64_t rejected = 0;
  for (const PortCounterSample& sample : samples) {
    absl::StatusOr<IngestOutcome> outcome = telemetry_.Ingest(sample);
    if (outcome.ok()) {
      ++ok;
    } else {
      ++rejected;
      Log(LogLevel::kWarning, outcome.status().message());
    }
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.samples_ingested += ok;
  stats_.samples_rejected += rejected;
}

std::vector<MeasuredFlow> TelemetryLoop::EstimateFlowDemand(
    const ControllerSnapshot& snapshot, const std::vector<double>& link_load_bps) {
  const size_t num_links = link_load_bps.size();
  // Planned rate of all placed flows per directed link: the denominator of each flow's share.
  std::vector<double> planned_bps(num_links, 0);
  std::vector<int> flows_on(num_links, 0);
  for (const auto& [id, job] : snapshot.placement.jobs()) {
    for (const PlacedFlow& flow : job.flows) {
      for (topology::DirectedLinkId hop : flow.path.hops) {
        if (hop < 0 || static_cast<size_t>(hop) >= num_links) continue;
        planned_bps[hop] += flow.rate_bps;
        ++flows_on[hop];
      }
    }
  }
  std::vector<MeasuredFlow> out;
  for (const auto& [id, job] : snapshot.placement.jobs()) {
    for (size_t i = 0; i < job.flows.size(); ++i) {
      const PlacedFlow& flow = job.flows[i];
      double demand = -1;
      for (topology::DirectedLinkId hop : flow.path.hops) {
        if (hop < 0 || static_cast<size_t>(hop) >= num_links) continue;
        const double share = planned_bps[hop] > 0 ? flow.rate_bps / planned_bps[hop]
                                                  : 1.0 / std::max(1, flows_on[hop]);
        const double on_hop = link_load_bps[hop] * share;
        demand = demand < 0 ? on_hop : std::min(demand, on_hop);
      }
      MeasuredFlow measured;
      measured.job_id = id;
      measured.flow_index = i;
      measured.src = flow.src;
      measured.dst = flow.dst;
      measured.path = flow.path;
      measured.demand_bps = std::max(0.0, demand);
      measured.strict = job.spec.strict;
      out.push_back(std::move(measured));
    }
  }
  return out;
}

void TelemetryLoop::UpdateMetrics(const std::vector<double>& utilisation,
                                  const ControllerSnapshot& snapshot) {
  if (metrics_ == nullptr) return;
  const topology::Fabric& fabric = *snapshot.fabric;
  for (size_t d = 0; d < utilisation.size(); ++d) {
    const auto link = static_cast<topology::DirectedLinkId>(d);
    // Only channels leaving a switch are measured (a NIC reports nothing).
    if (!fabric.node(fabric.Tail(link)).is_switch() && !fabric.node(fabric.Head(link)).is_switch())
      continue;
    (void)metrics_->SetLinkUtilisation(fabric.DescribeDirected(link), utilisation[d]);
  }
  int connected = 0;
  for (bool c : snapshot.switch_connected) connected += c ? 1 : 0;
  (void)metrics_->SetConnectedSwitches(connected);
}

void TelemetryLoop::UpdateJobBandwidth(const std::vector<double>& load_with_gaps,
                                       const ControllerSnapshot& snapshot) {
  auto measured = std::make_shared<const JobBandwidthMap>(
      MeasureJobBandwidth(snapshot.placement, load_with_gaps, absl::ToUnixMillis(absl::Now())));
  if (metrics_ != nullptr) {
    std::vector<std::string> series;
    for (const auto& [id, m] : *measured) {
      if (!m.measured) continue;
      const JobPlacement* job = snapshot.placement.FindJob(id);
      const double predicted =
          job != nullptr && job->bandwidth.computed ? job->bandwidth.predicted_busbw_fraction : -1;
      (void)metrics_->SetJobBandwidth(id, m.delivered_fraction, m.measured_busbw_fraction,
                                      predicted);
      series.push_back(id);
    }
    for (const std::string& id : job_series_) {  // both sorted (map order)
      if (!std::binary_search(series.begin(), series.end(), id)) metrics_->RemoveJobBandwidth(id);
    }
    job_series_ = std::move(series);
  }
  std::lock_guard<std::mutex> lock(stats_mu_);
  job_bandwidth_ = std::move(measured);
}

JobBandwidthPtr TelemetryLoop::MeasuredJobBandwidth() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return job_bandwidth_;
}

std::vector<FlowMoveRequest> TelemetryLoop::Tick(int64_t now_ms) {
  const std::vector<double> load = telemetry_.DirectedLinkLoadBps();
  const std::vector<double> utilisation = telemetry_.DirectedLinkUtilisation();
  // A batch was applied since the last tick: hot links must prove themselves again on counters
  // taken after it (a settle time counted from the decision is too short when applying and
  // re-pinning take a while: the stale load then moves the partner flow too).
  if (batch_applied_.exchange(false)) detector_.RestartHold();
  detector_.Observe(utilisation, now_ms);
  const SnapshotPtr snapshot = controller_->snapshot();
  UpdateMetrics(utilisation, *snapshot);
  const int hot = static_cast<int>(detector_.HotLinks().size());
  std::vector<double> load_with_gaps = load;  // NaN where no switch reported
  {
    const std::vector<bool> measured = telemetry_.DirectedLinkMeasured();
    for (size_t d = 0; d < load_with_gaps.size() && d < measured.size(); ++d) {
      if (!measured[d]) load_with_gaps[d] = std::numeric_limits<double>::quiet_NaN();
    }
  }
  UpdateJobBandwidth(load_with_gaps, *snapshot);
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.ticks;
    stats_.hot_links = hot;
    last_load_bps_ = std::move(load_with_gaps);
  }
  std::vector<FlowMoveRequest> requests;
  // After a batch, counters need a hold time to show its effect: deciding earlier would see the
  // moved flows' old load still on other hot links of their old paths and move their partners too.
  if (hot == 0 || moves_in_flight_.load() || now_ms < settle_until_ms_) return requests;

  const std::vector<MoveDecision> decisions = detector_.Decide(
      EstimateFlowDemand(*snapshot, load), load, snapshot->placement.link_status(), now_ms);
  if (decisions.empty()) return requests;
  std::string reason = "congestion on";
  std::vector<topology::DirectedLinkId> hot_links;
  for (const MoveDecision& decision : decisions) {
    requests.push_back(FlowMoveRequest{decision.job_id, decision.flow_index, decision.new_path});
    if (std::find(hot_links.begin(), hot_links.end(), decision.hot_link) == hot_links.end()) {
      hot_links.push_back(decision.hot_link);
      absl::StrAppend(&reason, hot_links.size() > 1 ? ", " : " ",
                      snapshot->fabric->DescribeDirected(decision.hot_link));
    }
    Log(LogLevel::kInfo, "congestion: moving ", decision.job_id, "#", decision.flow_index,
        " (demand ", decision.demand_bps / 1e6, " Mb/s) off ",
        snapshot->fabric->DescribeDirected(decision.hot_link), ": bottleneck ",
        decision.old_bottleneck_utilisation, " -> ", decision.new_bottleneck_utilisation);
  }
  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.moves_requested += requests.size();
  }
  settle_until_ms_ = now_ms + options_.congestion.hold_ms;
  moves_in_flight_.store(true);
  controller_->MoveFlows(
      requests, reason, [this, alive = alive_](absl::StatusOr<MoveFlowsResult> result) {
        // Runs on the controller thread. Stop() waits for queued replies, and after it they
        // touch nothing.
        if (!alive->load()) return;
        if (!result.ok()) {
          Log(LogLevel::kWarning, "congestion moves refused: ", result.status().message());
        } else {
          for (const std::string& refused : result->refused) {
            Log(LogLevel::kWarning, "congestion move refused: ", refused);
          }
          if (metrics_ != nullptr && !result->moved.empty()) {
            (void)metrics_->AddFlowMoves("congestion", static_cast<double>(result->moved.size()));
          }
          std::lock_guard<std::mutex> lock(stats_mu_);
          stats_.moves_applied += result->moved.size();
          stats_.moves_refused += result->refused.size();
          if (!result->moved.empty()) batch_applied_.store(true);
        }
        moves_in_flight_.store(false);
      });
  return requests;
}

TelemetryLoopStats TelemetryLoop::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

std::vector<double> TelemetryLoop::MeasuredLinkLoadBps() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return last_load_bps_;
}

}  // namespace pulse::controller
