#include "southbound/sonic/sonic_switch_driver.h"

#include "absl/strings/str_cat.h"

namespace pulse::southbound::sonic {

void SonicSwitchDriver::OnConnection(switches::SwitchId sw, bool up) {
  auto ports = ports_.find(sw);
  if (ports == ports_.end()) return;  // not a switch of this driver
  std::lock_guard<std::mutex> lock(mu_);
  bool& was_up = up_[sw];
  if (was_up == up) return;
  was_up = up;
  if (sink_ == nullptr) return;
  if (up) {
    sink_->OnSwitchConnected(sw, ports->second);
  } else {
    sink_->OnSwitchLost(sw);
  }
}

absl::Status SonicSwitchDriver::Start(switches::FabricEventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  sink_ = sink;
  for (const auto& [sw, up] : up_) {
    if (up) sink_->OnSwitchConnected(sw, ports_.at(sw));
  }
  return absl::OkStatus();
}

void SonicSwitchDriver::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  sink_ = nullptr;  // nothing reaches the sink after Stop
}

void SonicSwitchDriver::ApplyForwarding(const switches::SwitchForwarding& desired,
                                        switches::DoneCallback done) {
  if (done) {
    done(absl::UnimplementedError(
        absl::StrCat("node ", desired.node, ": SONiC switches route by their own control plane")));
  }
}

}  // namespace pulse::southbound::sonic
