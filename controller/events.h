// The controller's event log: every change a scheduler or operator may care about (links, switches,
// jobs, drains), numbered 1, 2, 3... so a watcher that reconnects resumes where it stopped.
//
// The log is a bounded in-memory ring: once full, the oldest events are forgotten. A watcher asking
// for a forgotten sequence gets OutOfRange and must re-read state (the snapshot carries the last
// sequence folded into it) and resume from there.
//
// Appends come from the controller thread; readers and listeners live on gRPC threads, so the log
// is internally synchronised.
#ifndef PULSE_CONTROLLER_EVENTS_H_
#define PULSE_CONTROLLER_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pulse::controller {

enum class EventType {
  kLinkDown,
  kLinkUp,
  kSwitchConnected,
  kSwitchLost,
  kJobPlaced,
  kJobMoved,
  kJobDeleted,
  kSwitchDrained,
  kSwitchUndrained,
  kDiscoveryMismatch,  // subject "fabric"; detail: the discovery diff's description
  // Host discovery (controller/paths/hosts.h); subject: the NIC; detail: address, MAC, port, why.
  kHostLearned,
  kHostMoved,
  kHostConflict,
  // Lossless health (controller/health/): subject the link or incident, detail what and why.
  kLinkIsolated,    // taken out of placement by the supervisor (physically up)
  kLinkReturned,    // back in service after a clean window
  kHealthIncident,  // an incident opened or closed (dry-run or not); subject "incident <id>"
  // Path oracle (controller/oracle/): subject the switch, detail why it is not steered (its
  // flows are pinned) or that it is steerable again.
  kSwitchNotSteerable,
  kSwitchSteerable,
};

absl::string_view EventTypeName(EventType type);  // "link-down", "job-placed", ...

// A steered flow's new UDP source port, as WatchEvents reports it (see PortChange).
struct FlowPortChange {
  size_t flow_index = 0;
  std::string src;  // NIC names
  std::string dst;
  uint32_t src_ip = 0;  // host byte order; 0 when unknown
  uint32_t dst_ip = 0;
  uint16_t old_udp_src_port = 0;
  uint16_t new_udp_src_port = 0;  // 0: the flow is pinned by a switch rule now
};

struct Event {
  uint64_t sequence = 0;
  int64_t time_unix_ms = 0;
  EventType type = EventType::kLinkDown;
  std::string subject;  // the link, switch or job
  std::string detail;   // human-readable
  int flows_moved = 0;
  std::vector<FlowPortChange> port_changes;  // JOB_MOVED of a steered job
};

class EventLog {
 public:
  // Keeps the last `capacity` events (at least 1).
  explicit EventLog(size_t capacity);
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends an event stamped with the next sequence and the current time; returns the sequence.
  // Then calls every listener (outside the log's data lock).
  uint64_t Append(EventType type, std::string subject, std::string detail, int flows_moved = 0,
                  std::vector<FlowPortChange> port_changes = {});

  // Up to `max_events` events with sequence >= `from_sequence`, in order; empty when none yet.
  // OutOfRange (giving the oldest held sequence) when `from_sequence` was already forgotten.
  absl::StatusOr<std::vector<Event>> ReadFrom(uint64_t from_sequence, size_t max_events) const;

  uint64_t last_sequence() const;    // 0 before the first event
  uint64_t oldest_sequence() const;  // oldest still held; last_sequence() + 1 when empty
  size_t capacity() const { return capacity_; }
  // After a restart: the next event gets a sequence above `sequence` (the persisted high-water
  // mark), so sequences never go backwards. Only raises; call before anyone watches.
  void ResumeAfter(uint64_t sequence);

  // Listeners are told "something was appended" (they then ReadFrom). Called on the appending
  // thread; must not block and must not call Subscribe/Unsubscribe.
  using Listener = std::function<void()>;
  int Subscribe(Listener listener);
  // After it returns, the listener is not running and will not be called again.
  void Unsubscribe(int id);

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Event> ring_;
  uint64_t last_sequence_ = 0;

  std::mutex listeners_mu_;  // held while listeners run, so Unsubscribe waits for them
  std::map<int, Listener> listeners_;
  int next_listener_id_ = 1;
};

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_EVENTS_H_
