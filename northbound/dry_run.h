// PlaceJob with validate_only: the full placement on a copy of the state (Controller::CopyState),
// answered like a real PlaceJob (event_sequence 0) with nothing committed, persisted, pushed to
// switches or announced as an event.
#ifndef PULSE_NORTHBOUND_DRY_RUN_H_
#define PULSE_NORTHBOUND_DRY_RUN_H_

#include "controller/controller.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "pulse/v1/pulse.pb.h"

namespace pulse::northbound {

// Places `spec` on a copy of `controller`'s state and finishes `reactor` with the result. The
// same errors as PlaceJob (AlreadyExists for a placed id, ResourceExhausted when strict...).
void ValidateOnlyPlaceJob(controller::Controller* controller, controller::JobSpec spec,
                          grpc::ServerUnaryReactor* reactor, pulse::v1::PlaceJobResponse* response);

}  // namespace pulse::northbound

#endif  // PULSE_NORTHBOUND_DRY_RUN_H_
