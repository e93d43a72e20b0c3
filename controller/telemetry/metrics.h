// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format (version 0.0.4) for the /metrics endpoint.
//
// Families are registered once (name, help, type, label names); samples are then updated by label
// values. Every call is thread-safe (one mutex: updates are rare compared with a scrape's cost and
// the controller updates from its event loop). Invalid names, wrong label counts or updating a
// family as the wrong type return errors instead of producing an unparseable exposition.
#ifndef PULSE_CONTROLLER_TELEMETRY_METRICS_H_
#define PULSE_CONTROLLER_TELEMETRY_METRICS_H_

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pulse::controller {

enum class MetricType { kCounter, kGauge, kHistogram };

class MetricsRegistry {
 public:
  // Registers a family. InvalidArgument for a bad metric or label name (Prometheus grammar),
  // a reserved label ("le" on histograms, names starting "__"), unsorted or empty buckets;
  // AlreadyExists when the name is taken with a different type/labels (same definition is OK).
  absl::Status RegisterCounter(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names = {});
  absl::Status RegisterGauge(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names = {});
  // `bucket_bounds` are the finite upper bounds, strictly increasing; +Inf is implicit.
  absl::Status RegisterHistogram(const std::string& name, const std::string& help,
                                 std::vector<double> bucket_bounds,
                                 std::vector<std::string> label_names = {});

  // Updates. NotFound for an unregistered name, FailedPrecondition for a type mismatch,
  // InvalidArgument for a wrong number of label values or a negative/NaN counter increment.
  absl::Status IncrementCounter(const std::string& name, const std::vector<std::string>& labels,
                                double delta = 1);
  absl::Status SetGauge(const std::string& name, const std::vector<std::string>& labels,
                        double value);
  absl::Status ObserveHistogram(const std::string& name, const std::vector<std::string>& labels,
                                double value);
  // Forgets one labelled series (e.g. a link that left the fabric). No error if absent.
  void RemoveSeries(const std::string& name, const std::vector<std::string>& labels);

  // Current value of a counter or gauge series (tests, the API's link view). NotFound if absent.
  absl::Status GetValue(const std::string& name, const std::vector<std::string>& labels,
                        double* value) const;

  // The whole registry in the text exposition format, families sorted by name.
  std::string RenderText() const;

 private:
  struct Series {
    double value = 0;                     // counter/gauge
    std::vector<uint64_t> bucket_counts;  // histogram, per finite bound (non-cumulative)
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    MetricType type = MetricType::kCounter;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<std::vector<std::string>, Series> series;
  };
  absl::Status Register(const std::string& name, Family family);
  absl::Status Lookup(const std::string& name, MetricType type,
                      const std::vector<std::string>& labels, Series** series);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Escapes a label value for the exposition format (backslash, double quote, newline).
std::string EscapeLabelValue(absl::string_view value);
// Formats a sample value: shortest round-trip decimal, "+Inf", "-Inf", "NaN".
std::string FormatMetricValue(double value);

// Metric names Pulse exports, with their label names, registered by RegisterPulseMetrics.
inline constexpr char kLinkUtilisation[] = "pulse_link_utilisation";  // gauge {link}
inline constexpr char kLinkDropsTotal[] = "pulse_link_drops_total";   // counter {link}
inline constexpr char kPfcPauseFramesTotal[] =
    "pulse_pfc_pause_frames_total";  // counter {link,priority}
inline constexpr char kEcnMarkedPacketsTotal[] =
    "pulse_ecn_marked_packets_total";                                      // counter {link}
inline constexpr char kRpcLatencySeconds[] = "pulse_rpc_latency_seconds";  // histogram {method}
inline constexpr char kFlowModsTotal[] = "pulse_flow_mods_total";          // counter {switch}
inline constexpr char kEventLoopLagSeconds[] = "pulse_event_loop_lag_seconds";  // gauge
inline constexpr char kConnectedSwitches[] = "pulse_connected_switches";        // gauge
inline constexpr char kFlowMovesTotal[] = "pulse_flow_moves_total";             // counter {reason}
inline constexpr char kSflowDatagramsTotal[] = "pulse_sflow_datagrams_total";   // counter {result}
inline constexpr char kOpenflowRefusalsTotal[] =
    "pulse_openflow_refusals_total";  // counter {reason}

// Per placed job (controller/telemetry/job_bandwidth.h, set by the telemetry loop each period;
// a deleted job's series go): delivered / planned rate, the measured bus-bandwidth fraction and
// the predicted one next to it.
inline constexpr char kJobDeliveredFraction[] = "pulse_job_delivered_fraction";  // gauge {job}
inline constexpr char kJobMeasuredBusbwFraction[] =
    "pulse_job_measured_busbw_fraction";  // gauge {job}
inline constexpr char kJobPredictedBusbwFraction[] =
    "pulse_job_predicted_busbw_fraction";  // gauge {job}

// Registers the families above in `registry`.
absl::Status RegisterPulseMetrics(MetricsRegistry& registry);

// Typed hooks over a registry holding the Pulse families, so callers cannot misspell a name or
// a label. Link labels are readable channel names ("leaf-1:3 -> spine-2:1").
class PulseMetrics {
 public:
  explicit PulseMetrics(MetricsRegistry* registry) : registry_(registry) {}
  absl::Status SetLinkUtilisation(const std::string& link, double utilisation);
  absl::Status AddLinkDrops(const std::string& link, double drops);
  absl::Status AddPfcPauseFrames(const std::string& link, int priority, double frames);
  absl::Status AddEcnMarkedPackets(const std::string& link, double packets);
  absl::Status ObserveRpcLatency(const std::string& method, double seconds);
  absl::Status AddFlowMods(const std::string& switch_name, double count = 1);
  absl::Status SetEventLoopLag(double seconds);
  absl::Status SetConnectedSwitches(int count);
  absl::Status AddFlowMoves(const std::string& reason, double count = 1);
  absl::Status AddSflowDatagrams(const std::string& result, double count);  // "ok" / "malformed"
  // OpenFlow peers refused or cut, by reason (southbound/openflow/connection.h's kRefused* names).
  absl::Status AddOpenflowRefusals(const std::string& reason, double count);
  // The three job gauges; `predicted` < 0 leaves the predicted series out (not simulated).
  absl::Status SetJobBandwidth(const std::string& job, double delivered_fraction,
                               double measured_busbw_fraction, double predicted_busbw_fraction);
  void RemoveJobBandwidth(const std::string& job);

 private:
  MetricsRegistry* registry_;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_TELEMETRY_METRICS_H_
