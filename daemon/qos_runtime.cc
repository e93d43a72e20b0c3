#include "daemon/qos_runtime.h"

#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "common/log.h"
#include "common/thread_name.h"

namespace pulse::northbound {

// The thread that talks to the switches for QoS. Work posted after Stop() is dropped.
class QosWorker {
 public:
  explicit QosWorker(southbound::ovsdb::OvsQosDriver* driver)
      : driver_(driver), work_(boost::asio::make_work_guard(io_)), thread_([this] {
          pulse::NameThisThread("pulse-qos");
          io_.run();
        }) {}
  ~QosWorker() { Stop(); }

  void Stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  // Pushes `plan` unless a newer one arrives before the worker gets to it. `done` (optional)
  // gets the result of the push, or of the newer push that replaced it.
  void Push(std::shared_ptr<const controller::QosPlan> plan,
            std::function<void(absl::StatusOr<int>)> done = nullptr) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = std::move(plan);
      if (done) waiting_.push_back(std::move(done));
    }
    boost::asio::post(io_, [this] {
      std::shared_ptr<const controller::QosPlan> plan;
      std::vector<std::function<void(absl::StatusOr<int>)>> waiting;
      {
        std::lock_guard<std::mutex> lock(mu_);
        plan = std::move(pending_);
        waiting.swap(waiting_);
      }
      if (plan == nullptr) return;  // a later post took it
      absl::StatusOr<int> pushed = driver_->Apply(*plan);
      if (!pushed.ok()) {
        pulse::Log(pulse::LogLevel::kError, "qos push: ", pushed.status().message());
      } else {
        pulse::Log(pulse::LogLevel::kInfo, "qos push: ", *pushed, " ports programmed");
      }
      for (auto& done : waiting) done(pushed);
    });
  }

  void Audit(QosServiceOptions::AuditDone done) {
    boost::asio::post(io_, [this, done = std::move(done)] {
      QosAuditReport report;
      absl::StatusOr<std::vector<southbound::ovsdb::OvsQosFinding>> findings =
          driver_->Audit(&report.ports_audited);
      if (!findings.ok()) {
        done(findings.status());
        return;
      }
      for (auto& f : *findings) {
        report.differences.push_back({f.switch_name, f.port, std::move(f.difference)});
      }
      done(std::move(report));
    });
  }

 private:
  southbound::ovsdb::OvsQosDriver* const driver_;
  std::mutex mu_;  // guards pending_ and waiting_ (controller thread vs worker)
  std::shared_ptr<const controller::QosPlan> pending_;
  std::vector<std::function<void(absl::StatusOr<int>)>> waiting_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

QosRuntime::~QosRuntime() {
  if (worker != nullptr) worker->Stop();
}

absl::StatusOr<std::string> ReadQosPolicyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("qos.policy_file: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::unique_ptr<QosRuntime>> StartQos(controller::Controller* controller,
                                                     QosRuntimeOptions options) {
  if (controller == nullptr) return absl::InvalidArgumentError("qos: no controller");
  auto runtime = std::make_unique<QosRuntime>();
  QosServiceOptions service_options;
  service_options.forward_writes_to = std::move(options.forward_writes_to);
  if (!options.ovsdb_endpoint.empty()) {
    runtime->driver = std::make_unique<southbound::ovsdb::OvsQosDriver>();
    absl::Status connected = runtime->driver->Connect(options.ovsdb_endpoint);
    if (!connected.ok()) {
      return absl::Status(connected.code(), absl::StrCat("qos.ovsdb ", options.ovsdb_endpoint, ": ",
                                                         connected.message()));
    }
    runtime->worker = std::make_shared<QosWorker>(runtime->driver.get());
  }
  // AuditQos: the OVS driver's audit (on its worker) and the switches of other runtimes.
  std::weak_ptr<QosWorker> audit_worker = runtime->worker;
  const bool has_ovs = runtime->worker != nullptr;
  service_options.audit = [audit_worker, has_ovs, extra = runtime->extra_audit](
                              std::shared_ptr<const controller::QosPlan>,
                              QosServiceOptions::AuditDone done) {
    if (!has_ovs) {
      if (extra->empty()) {
        done(absl::FailedPreconditionError(
            "audit qos: no switch driver configured (qos: ovsdb not set, no SONiC switch)"));
        return;
      }
      QosAuditReport report;
      extra->AddTo(report);
      done(std::move(report));
      return;
    }
    auto w = audit_worker.lock();
    if (w == nullptr) {
      done(absl::UnavailableError("audit qos: shutting down"));
      return;
    }
    w->Audit([extra, done = std::move(done)](absl::StatusOr<QosAuditReport> report) {
      if (report.ok()) extra->AddTo(*report);
      done(std::move(report));
    });
  };
  absl::StatusOr<std::unique_ptr<QosServiceImpl>> service =
      QosServiceImpl::Create(controller, std::move(service_options));
  if (!service.ok()) return service.status();
  runtime->service = *std::move(service);
  runtime->gated = GateService<pulse::v1::QosService>(runtime->service.get());
  if (runtime->worker != nullptr) {
    // The observer sees the plan in force first, then every change, in order. The first push
    // decides start-up.
    auto first = std::make_shared<std::promise<absl::StatusOr<int>>>();
    auto first_pushed = first->get_future();
    std::weak_ptr<QosWorker> worker = runtime->worker;
    controller->AddQosObserver([worker, first](const controller::QosStatePtr& qos) mutable {
      auto w = worker.lock();
      if (w == nullptr || qos->plan == nullptr) return;
      if (first != nullptr) {
        w->Push(qos->plan, [first](absl::StatusOr<int> r) { first->set_value(r); });
        first = nullptr;
      } else {
        w->Push(qos->plan);
      }
    });
    absl::StatusOr<int> pushed = first_pushed.get();
    if (!pushed.ok()) return pushed.status();
    absl::Status watching = runtime->driver->Watch(options.ovsdb_endpoint, absl::Seconds(2));
    if (!watching.ok()) return watching;
  }
  const controller::QosStatePtr qos = controller->snapshot()->qos;
  pulse::Log(pulse::LogLevel::kInfo, "qos: policy ",
             qos->from_defaults ? "from defaults" : "as configured or stored", ", ",
             runtime->driver != nullptr ? "pushed to OVS" : "no switch push");
  return runtime;
}

}  // namespace pulse::northbound
