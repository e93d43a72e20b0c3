#include "controller/events.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pulse::controller {

absl::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kLinkDown:
      return "link-down";
    case EventType::kLinkUp:
      return "link-up";
    case EventType::kSwitchConnected:
      return "switch-connected";
    case EventType::kSwitchLost:
      return "switch-lost";
    case EventType::kJobPlaced:
      return "job-placed";
    case EventType::kJobMoved:
      return "job-moved";
    case EventType::kJobDeleted:
      return "job-deleted";
    case EventType::kSwitchDrained:
      return "switch-drained";
    case EventType::kSwitchUndrained:
      return "switch-undrained";
    case EventType::kDiscoveryMismatch:
      return "discovery-mismatch";
    case EventType::kHostLearned:
      return "host-learned";
    case EventType::kHostMoved:
      return "host-moved";
    case EventType::kHostConflict:
      return "host-conflict";
    case EventType::kLinkIsolated:
      return "link-isolated";
    case EventType::kLinkReturned:
      return "link-returned";
    case EventType::kHealthIncident:
      return "health-incident";
    case EventType::kSwitchNotSteerable:
      return "switch-not-steerable";
    case EventType::kSwitchSteerable:
      return "switch-steerable";
  }
  return "unknown";
}

EventLog::EventLog(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

uint64_t EventLog::Append(EventType type, std::string subject, std::string detail, int flows_moved,
                          std::vector<FlowPortChange> port_changes) {
  uint64_t sequence;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sequence = ++last_sequence_;
    Event event;
    event.sequence = sequence;
    event.time_unix_ms = absl::ToUnixMillis(absl::Now());
    event.type = type;
    event.subject = std::move(subject);
    event.detail = std::move(detail);
    event.flows_moved = flows_moved;
    event.port_changes = std::move(port_changes);
    ring_.push_back(std::move(event));
    while (ring_.size() > capacity_) ring_.pop_front();
  }
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (auto& [id, listener] : listeners_) listener();
  return sequence;
}

absl::StatusOr<std::vector<Event>> EventLog::ReadFrom(uint64_t from_sequence,
                                                      size_t max_events) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t oldest = ring_.empty() ? last_sequence_ + 1 : ring_.front().sequence;
  if (from_sequence < oldest && from_sequence <= last_sequence_) {
    return absl::OutOfRangeError(absl::StrCat("from_sequence ", from_sequence,
                                              " is older than the oldest event still held (",
                                              oldest, "); re-read state and resume from there"));
  }
  std::vector<Event> out;
  if (from_sequence > last_sequence_) return out;
  size_t index = from_sequence - oldest;
  for (; index < ring_.size() && out.size() < max_events; ++index) out.push_back(ring_[index]);
  return out;
}

uint64_t EventLog::last_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_sequence_;
}

void EventLog::ResumeAfter(uint64_t sequence) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ring_.empty() && sequence > last_sequence_) last_sequence_ = sequence;
}

uint64_t EventLog::oldest_sequence() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ring_.empty() ? last_sequence_ + 1 : ring_.front().sequence;
}

int EventLog::Subscribe(Listener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  int id = next_listener_id_++;
  listeners_[id] = std::move(listener);
  return id;
}

void EventLog::Unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(id);
}

}  // namespace pulse::controller
