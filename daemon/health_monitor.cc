#include "daemon/health_monitor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::daemon {

HealthMonitor::HealthMonitor(std::vector<HealthCheck> checks, Publisher publish,
                             absl::Duration period)
    : checks_(std::move(checks)),
      publish_(std::move(publish)),
      period_(period),
      last_(checks_.size()) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  PollOnce();
  thread_ = std::thread([this] {
    pulse::NameThisThread("pulse-health");
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      wake_.wait_for(lock, absl::ToChronoMilliseconds(period_));
      if (stopping_) break;
      lock.unlock();
      PollOnce();
      lock.lock();
    }
  });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::PollOnce() {
  std::vector<absl::Status> now;
  now.reserve(checks_.size());
  for (const HealthCheck& check : checks_) now.push_back(check.check());
  absl::Status overall;
  for (size_t i = 0; i < checks_.size(); ++i) {
    if (checks_[i].part_of_overall && !now[i].ok() && overall.ok()) {
      overall =
          absl::Status(now[i].code(), absl::StrCat(checks_[i].service, ": ", now[i].message()));
    }
  }
  std::vector<std::pair<std::string, bool>> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < checks_.size(); ++i) {
      if (!published_ || now[i].ok() != last_[i].ok()) {
        changes.emplace_back(checks_[i].service, now[i].ok());
        if (published_ && checks_[i].part_of_overall) {
          if (now[i].ok()) {
            Log(LogLevel::kInfo, "health: ", checks_[i].service, " SERVING again");
          } else {
            Log(LogLevel::kError, "health: ", checks_[i].service,
                " NOT_SERVING: ", now[i].message());
          }
        }
      }
      last_[i] = now[i];
    }
    if (!published_ || overall.ok() != overall_.ok()) changes.emplace_back("", overall.ok());
    overall_ = overall;
    published_ = true;
  }
  for (const auto& [service, serving] : changes) publish_(service, serving);
}

absl::Status HealthMonitor::overall() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overall_;
}

}  // namespace pulse::daemon
