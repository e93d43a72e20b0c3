#include "northbound/dry_run.h"

#include <memory>
#include <utility>

#include "northbound/convert.h"

namespace pulse::northbound {

void ValidateOnlyPlaceJob(controller::Controller* controller, controller::JobSpec spec,
                          grpc::ServerUnaryReactor* reactor,
                          pulse::v1::PlaceJobResponse* response) {
  // The placement runs on the controller thread, as a real PlaceJob would: one job's placement
  // costs the same there, and the copy is fresh.
  controller->CopyState([reactor, response, spec = std::move(spec)](
                            absl::StatusOr<std::shared_ptr<controller::ControllerSnapshot>> copy) {
    if (!copy.ok()) {
      reactor->Finish(ToGrpcStatus(copy.status()));
      return;
    }
    absl::StatusOr<const controller::JobPlacement*> placed = (*copy)->placement.PlaceJob(spec);
    if (!placed.ok()) {
      reactor->Finish(ToGrpcStatus(placed.status()));
      return;
    }
    FillJob(*(*copy)->fabric, **placed, true, response->mutable_job());
    response->set_event_sequence(0);
    reactor->Finish(grpc::Status::OK);
  });
}

}  // namespace pulse::northbound
