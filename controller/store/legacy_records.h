// Reading what controllers before the private storage format wrote: values of "jobs/<id>" and
// "placements/<id>" that are serialized pulse.v1.JobSpec and pulse.v1.Job messages (the public
// API's, with no format marker). Frozen: never written, only translated into the private
// messages (records.proto), which then decode like any current record. Internal to
// controller/store/ (placement_record.cc); the controller rewrites such records on load.
#ifndef PULSE_CONTROLLER_STORE_LEGACY_RECORDS_H_
#define PULSE_CONTROLLER_STORE_LEGACY_RECORDS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "controller/store/records.pb.h"

namespace pulse::controller {

// pulse.v1.JobSpec bytes -> the private JobSpec, with the old defaults made explicit (an unset
// traffic class is 3, max_subflows 0 is 1). DataLoss naming `where` if the bytes do not parse or
// hold an enum value the old format never had.
absl::Status TranslateLegacyJobSpec(absl::string_view bytes, absl::string_view where,
                                    pulse::store::v1::JobSpec* out);

// pulse.v1.Job bytes -> PlacementRecord: hops stored as "<node>:<port>" strings become Hops.
// DataLoss naming `where` (and the flow and hop) for anything malformed.
absl::Status TranslateLegacyPlacement(absl::string_view bytes, absl::string_view where,
                                      pulse::store::v1::PlacementRecord* out);

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_LEGACY_RECORDS_H_
