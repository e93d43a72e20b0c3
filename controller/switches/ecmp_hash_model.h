// How a switch hashes flows onto ECMP members, in the core's vocabulary: the algorithm, its seed
// and the header fields it reads. The core models the hash with it (controller/paths/ecmp_hash.h,
// which documents each algorithm byte for byte); a driver that can set a switch's hash (SONiC's
// SWITCH_HASH) programs the same model, so the switch hashes as the core predicts.
#ifndef PULSE_CONTROLLER_SWITCHES_ECMP_HASH_MODEL_H_
#define PULSE_CONTROLLER_SWITCHES_ECMP_HASH_MODEL_H_

#include <cstdint>
#include <memory>
#include <utility>

namespace pulse::switches {

// kLearned is no hash: the switch's choices as the path oracle observed them (a LearnedEcmpTable,
// defined by the core in controller/paths/ecmp_hash.h; drivers never look inside it).
enum class HashAlgorithm { kCrc32, kCrc16Ccitt, kXorFold, kOvsMultipath, kLearned };

// Header fields a switch hashes, as a bit set.
enum HashField : uint32_t {
  kHashSrcIp = 1,
  kHashDstIp = 2,
  kHashProto = 4,
  kHashSrcPort = 8,
  kHashDstPort = 16,
  kHashAllFields = 31,
};

struct LearnedEcmpTable;

struct EcmpHashModel {
  EcmpHashModel() = default;
  EcmpHashModel(HashAlgorithm algorithm, uint32_t seed = 0, uint32_t fields = kHashAllFields,
                std::shared_ptr<const LearnedEcmpTable> learned = nullptr)
      : algorithm(algorithm), seed(seed), fields(fields), learned(std::move(learned)) {}

  HashAlgorithm algorithm = HashAlgorithm::kCrc32;
  uint32_t seed = 0;
  uint32_t fields = kHashAllFields;  // HashField bits
  // kLearned: what the path oracle saw the switch do (controller/oracle/path_oracle.h).
  std::shared_ptr<const LearnedEcmpTable> learned;
};

}  // namespace pulse::switches

#endif  // PULSE_CONTROLLER_SWITCHES_ECMP_HASH_MODEL_H_
