// How a switch hashes flows onto ECMP members, in the core's vocabulary: the algorithm, its seed
// and the header fields it reads. The core models the hash with it (controller/paths/ecmp_hash.h,
// which documents each algorithm byte for byte); a driver that can set a switch's hash (SONiC's
// SWITCH_HASH) programs the same model, so the switch hashes as the core predicts.
#ifndef PULSE_CONTROLLER_SWITCHES_ECMP_HASH_MODEL_H_
#define PULSE_CONTROLLER_SWITCHES_ECMP_HASH_MODEL_H_

#include <cstdint>

namespace pulse::switches {

enum class HashAlgorithm { kCrc32, kCrc16Ccitt, kXorFold, kOvsMultipath };

// Header fields a switch hashes, as a bit set.
enum HashField : uint32_t {
  kHashSrcIp = 1,
  kHashDstIp = 2,
  kHashProto = 4,
  kHashSrcPort = 8,
  kHashDstPort = 16,
  kHashAllFields = 31,
};

struct EcmpHashModel {
  HashAlgorithm algorithm = HashAlgorithm::kCrc32;
  uint32_t seed = 0;
  uint32_t fields = kHashAllFields;  // HashField bits
};

}  // namespace pulse::switches

#endif  // PULSE_CONTROLLER_SWITCHES_ECMP_HASH_MODEL_H_
