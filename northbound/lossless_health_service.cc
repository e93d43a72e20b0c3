#include "northbound/lossless_health_service.h"

namespace pulse::northbound {

grpc::ServerUnaryReactor* LosslessHealthServiceImpl::ListIncidents(
    grpc::CallbackServerContext* context, const pulse::v1::ListIncidentsRequest* request,
    pulse::v1::ListIncidentsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  *response = snapshot_();
  if (request->open_only()) {
    auto* incidents = response->mutable_incidents();
    for (int i = incidents->size() - 1; i >= 0; --i) {
      if (incidents->Get(i).closed_ms() != 0) incidents->DeleteSubrange(i, 1);
    }
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace pulse::northbound
