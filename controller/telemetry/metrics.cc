#include "controller/telemetry/metrics.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace pulse::controller {
namespace {

bool IsMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

bool IsLabelName(const std::string& name) {
  if (name.empty() || name.find(':') != std::string::npos) return false;
  return IsMetricName(name) && name.rfind("__", 0) != 0;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

absl::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} with an optional extra label (for histogram buckets); "" when there are none.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extra_name = "", const std::string& extra_value = "") {
  std::vector<std::string> parts;
  for (size_t i = 0; i < names.size(); ++i) {
    parts.push_back(absl::StrCat(names[i], "=\"", EscapeLabelValue(values[i]), "\""));
  }
  if (!extra_name.empty()) parts.push_back(absl::StrCat(extra_name, "=\"", extra_value, "\""));
  if (parts.empty()) return "";
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

}  // namespace

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

absl::Status MetricsRegistry::Register(const std::string& name, Family family) {
  if (!IsMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("metrics: invalid metric name '", name, "'"));
  }
  for (const std::string& label : family.label_names) {
    if (!IsLabelName(label) || (family.type == MetricType::kHistogram && label == "le")) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: invalid or reserved label name '", label, "' on ", name));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    const Family& old = it->second;
    if (old.type == family.type && old.label_names == family.label_names &&
        old.bounds == family.bounds) {
      return absl::OkStatus();
    }
    return absl::AlreadyExistsError(
        absl::StrCat("metrics: ", name, " is already registered with another definition"));
  }
  families_.emplace(name, std::move(family));
  return absl::OkStatus();
}

absl::Status MetricsRegistry::RegisterCounter(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names) {
  Family f;
  f.type = MetricType::kCounter;
  f.help = help;
  f.label_names = std::move(label_names);
  return Register(name, std::move(f));
}

absl::Status MetricsRegistry::RegisterGauge(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names) {
  Family f;
  f.type = MetricType::kGauge;
  f.help = help;
  f.label_names = std::move(label_names);
  return Register(name, std::move(f));
}

absl::Status MetricsRegistry::RegisterHistogram(const std::string& name, const std::string& help,
                                                std::vector<double> bucket_bounds,
                                                std::vector<std::string> label_names) {
  if (bucket_bounds.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("metrics: histogram ", name, " has no buckets"));
  }
  for (size_t i = 0; i < bucket_bounds.size(); ++i) {
    if (!std::isfinite(bucket_bounds[i]) || (i > 0 && !(bucket_bounds[i] > bucket_bounds[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metrics: histogram ", name, " buckets must be finite and strictly increasing"));
    }
  }
  Family f;
  f.type = MetricType::kHistogram;
  f.help = help;
  f.label_names = std::move(label_names);
  f.bounds = std::move(bucket_bounds);
  return Register(name, std::move(f));
}

absl::Status MetricsRegistry::Lookup(const std::string& name, MetricType type,
                                     const std::vector<std::string>& labels, Series** series) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    return absl::NotFoundError(absl::StrCat("metrics: ", name, " is not registered"));
  }
  Family& f = it->second;
  if (f.type != type) {
    return absl::FailedPreconditionError(
        absl::StrCat("metrics: ", name, " is a ", TypeName(f.type), ", not a ", TypeName(type)));
  }
  if (labels.size() != f.label_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics: ", name, " takes ", f.label_names.size(), " label values, got ", labels.size()));
  }
  auto [s, inserted] = f.series.try_emplace(labels);
  if (inserted && type == MetricType::kHistogram)
    s->second.bucket_counts.assign(f.bounds.size(), 0);
  *series = &s->second;
  return absl::OkStatus();
}

absl::Status MetricsRegistry::IncrementCounter(const std::string& name,
                                               const std::vector<std::string>& labels,
                                               double delta) {
  if (!(delta >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics: counter ", name, " increment ", delta, " is negative or NaN"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = nullptr;
  absl::Status st = Lookup(name, MetricType::kCounter, labels, &s);
  if (!st.ok()) return st;
  s->value += delta;
  return absl::OkStatus();
}

absl::Status MetricsRegistry::SetGauge(const std::string& name,
                                       const std::vector<std::string>& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = nullptr;
  absl::Status st = Lookup(name, MetricType::kGauge, labels, &s);
  if (!st.ok()) return st;
  s->value = value;
  return absl::OkStatus();
}

absl::Status MetricsRegistry::ObserveHistogram(const std::string& name,
                                               const std::vector<std::string>& labels,
                                               double value) {
  if (std::isnan(value)) {
    return absl::InvalidArgumentError(absl::StrCat("metrics: NaN observed on ", name));
  }
  std::lock_guard<std::mutex> lock(mu_);
  Series* s = nullptr;
  absl::Status st = Lookup(name, MetricType::kHistogram, labels, &s);
  if (!st.ok()) return st;
  const std::vector<double>& bounds = families_[name].bounds;
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++s->bucket_counts[i];
      break;
    }
  }
  ++s->count;
  s->sum += value;
  return absl::OkStatus();
}

void MetricsRegistry::RemoveSeries(const std::string& name,
                                   const std::vector<std::string>& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.series.erase(labels);
}

absl::Status MetricsRegistry::GetValue(const std::string& name,
                                       const std::vector<std::string>& labels,
                                       double* value) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type == MetricType::kHistogram) {
    return absl::NotFoundError(absl::StrCat("metrics: no counter or gauge named ", name));
  }
  auto s = it->second.series.find(labels);
  if (s == it->second.series.end()) {
    return absl::NotFoundError(absl::StrCat("metrics: ", name, " has no such series"));
  }
  *value = s->second.value;
  return absl::OkStatus();
}

std::string MetricsRegistry::RenderText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(f.help), "\n");
    absl::StrAppend(&out, "# TYPE ", name, " ", TypeName(f.type), "\n");
    for (const auto& [labels, s] : f.series) {
      if (f.type != MetricType::kHistogram) {
        absl::StrAppend(&out, name, LabelSet(f.label_names, labels), " ",
                        FormatMetricValue(s.value), "\n");
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += s.bucket_counts[i];
        absl::StrAppend(&out, name, "_bucket",
                        LabelSet(f.label_names, labels, "le", FormatMetricValue(f.bounds[i])), " ",
                        cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_bucket", LabelSet(f.label_names, labels, "le", "+Inf"), " ",
                      s.count, "\n");
      absl::StrAppend(&out, name, "_sum", LabelSet(f.label_names, labels), " ",
                      FormatMetricValue(s.sum), "\n");
      absl::StrAppend(&out, name, "_count", LabelSet(f.label_names, labels), " ", s.count, "\n");
    }
  }
  return out;
}

absl::Status RegisterPulseMetrics(MetricsRegistry& r) {
  for (absl::Status st : {
           r.RegisterGauge(kLinkUtilisation,
                           "Measured load of a directed link as a fraction of its capacity.",
                           {"link"}),
           r.RegisterCounter(kLinkDropsTotal, "Packets dropped on a directed link.", {"link"}),
           r.RegisterCounter(kPfcPauseFramesTotal,
                             "PFC pause frames on a link, where the switch reports them.",
                             {"link", "priority"}),
           r.RegisterCounter(kEcnMarkedPacketsTotal,
                             "ECN congestion-experienced marks on a link, where reported.",
                             {"link"}),
           r.RegisterHistogram(
               kRpcLatencySeconds, "Northbound RPC handling latency.",
               {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
               {"method"}),
           r.RegisterCounter(kFlowModsTotal, "OpenFlow flow-mods sent to a switch.", {"switch"}),
           r.RegisterGauge(kEventLoopLagSeconds,
                           "Delay between a timer's due time and when the event loop ran it."),
           r.RegisterGauge(kConnectedSwitches, "Switches with a live OpenFlow session."),
           r.RegisterCounter(kFlowMovesTotal, "Flows re-placed by the controller.", {"reason"}),
           r.RegisterCounter(kSflowDatagramsTotal, "sFlow datagrams received by the collector.",
                             {"result"}),
           r.RegisterGauge(kJobDeliveredFraction,
                           "Delivered over planned rate of a job's flows, from port counters.",
                           {"job"}),
           r.RegisterGauge(kJobMeasuredBusbwFraction,
                           "Measured bus bandwidth of a job over line rate (its slowest flow's "
                           "delivered fraction).",
                           {"job"}),
           r.RegisterGauge(kJobPredictedBusbwFraction,
                           "Bus bandwidth of a job over line rate predicted by the fluid model "
                           "on its placed paths.",
                           {"job"}),
           r.RegisterCounter(kOpenflowRefusalsTotal,
                             "OpenFlow peers refused or disconnected by the listener's limits.",
                             {"reason"}),
       }) {
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status PulseMetrics::SetLinkUtilisation(const std::string& link, double utilisation) {
  return registry_->SetGauge(kLinkUtilisation, {link}, utilisation);
}
absl::Status PulseMetrics::AddLinkDrops(const std::string& link, double drops) {
  return registry_->IncrementCounter(kLinkDropsTotal, {link}, drops);
}
absl::Status PulseMetrics::AddPfcPauseFrames(const std::string& link, int priority, double frames) {
  return registry_->IncrementCounter(kPfcPauseFramesTotal, {link, absl::StrCat(priority)}, frames);
}
absl::Status PulseMetrics::AddEcnMarkedPackets(const std::string& link, double packets) {
  return registry_->IncrementCounter(kEcnMarkedPacketsTotal, {link}, packets);
}
absl::Status PulseMetrics::ObserveRpcLatency(const std::string& method, double seconds) {
  return registry_->ObserveHistogram(kRpcLatencySeconds, {method}, seconds);
}
absl::Status PulseMetrics::AddFlowMods(const std::string& switch_name, double count) {
  return registry_->IncrementCounter(kFlowModsTotal, {switch_name}, count);
}
absl::Status PulseMetrics::SetEventLoopLag(double seconds) {
  return registry_->SetGauge(kEventLoopLagSeconds, {}, seconds);
}
absl::Status PulseMetrics::SetConnectedSwitches(int count) {
  return registry_->SetGauge(kConnectedSwitches, {}, count);
}
absl::Status PulseMetrics::AddFlowMoves(const std::string& reason, double count) {
  return registry_->IncrementCounter(kFlowMovesTotal, {reason}, count);
}
absl::Status PulseMetrics::AddSflowDatagrams(const std::string& result, double count) {
  return registry_->IncrementCounter(kSflowDatagramsTotal, {result}, count);
}
absl::Status PulseMetrics::AddOpenflowRefusals(const std::string& reason, double count) {
  return registry_->IncrementCounter(kOpenflowRefusalsTotal, {reason}, count);
}

absl::Status PulseMetrics::SetJobBandwidth(const std::string& job, double delivered_fraction,
                                           double measured_busbw_fraction,
                                           double predicted_busbw_fraction) {
  if (absl::Status s = registry_->SetGauge(kJobDeliveredFraction, {job}, delivered_fraction);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          registry_->SetGauge(kJobMeasuredBusbwFraction, {job}, measured_busbw_fraction);
      !s.ok()) {
    return s;
  }
  if (predicted_busbw_fraction < 0) {
    registry_->RemoveSeries(kJobPredictedBusbwFraction, {job});
    return absl::OkStatus();
  }
  return registry_->SetGauge(kJobPredictedBusbwFraction, {job}, predicted_busbw_fraction);
}
void PulseMetrics::RemoveJobBandwidth(const std::string& job) {
  for (const char* name :
       {kJobDeliveredFraction, kJobMeasuredBusbwFraction, kJobPredictedBusbwFraction}) {
    registry_->RemoveSeries(name, {job});
  }
}

}  // namespace pulse::controller
