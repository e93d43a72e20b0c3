// The persisted forms of a job: its spec ("jobs/<id>") and its placement ("placements/<id>", so a
// restart installs exactly the paths and UDP source ports that were acknowledged instead of
// placing afresh).
//
// Encoding: the controller's private storage format (records.proto, package pulse.store.v1),
// framed as kRecordMagic + a format version byte + the serialized message. The public API's
// messages are not used, so the API can change without touching stored state. Paths are stored
// by names, not by internal link ids: each hop is (tail node, tail port), the port a channel
// leaves from naming one directed link, so a topology file that was reordered still decodes, and
// one that changed fails to decode instead of silently meaning other links.
//
// Migration: controllers before this format wrote serialized pulse.v1.JobSpec / pulse.v1.Job
// without a marker. Those still decode (legacy_records.h); IsCurrentRecordFormat tells the
// controller which values to rewrite. A marker never starts a protobuf message (field number 0
// is invalid), so the two cannot be confused.
#ifndef PULSE_CONTROLLER_STORE_PLACEMENT_RECORD_H_
#define PULSE_CONTROLLER_STORE_PLACEMENT_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/placement/placement.h"
#include "topology/fabric.h"

namespace pulse::controller {

// The first bytes of every record in the private format, then kRecordFormatVersion.
inline constexpr absl::string_view kRecordMagic{"\0PSR", 4};
inline constexpr uint8_t kRecordFormatVersion = 1;

// Whether `bytes` are a record of the current format version (else: a legacy value to rewrite,
// a record of a newer controller, or junk; Decode* tells which).
bool IsCurrentRecordFormat(absl::string_view bytes);

// Bytes for "jobs/<id>".
std::string EncodeJobRecord(const JobSpec& spec);

// The spec back, checked by ValidateJobSpec. DataLoss naming `key` (what the bytes were stored
// under; may be empty) and the bad field when the bytes are not a record or the spec is invalid.
absl::StatusOr<JobSpec> DecodeJobRecord(absl::string_view bytes, absl::string_view key = "");

// Bytes for "placements/<id>".
std::string EncodePlacementRecord(const topology::Fabric& fabric, const JobPlacement& job);

// The job back, paths resolved against `fabric`. DataLoss naming `key` and the bad field when the
// bytes are not a record or name nodes/ports the fabric does not have. max_link_load and
// exact_flows are not stored (Placement recomputes the load).
absl::StatusOr<JobPlacement> DecodePlacementRecord(const topology::Fabric& fabric,
                                                   absl::string_view bytes,
                                                   absl::string_view key = "");

}  // namespace pulse::controller

#endif  // PULSE_CONTROLLER_STORE_PLACEMENT_RECORD_H_
