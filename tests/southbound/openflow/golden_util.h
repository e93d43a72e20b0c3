#ifndef PULSE_TESTS_SOUTHBOUND_OPENFLOW_GOLDEN_UTIL_H_
#define PULSE_TESTS_SOUTHBOUND_OPENFLOW_GOLDEN_UTIL_H_

// Test helpers: where the shared OpenFlow 1.3 golden messages live, and how to read them.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace pulse::openflow::testing {

// $PULSE_SHARED_DIR/testdata/openflow13, else ${PULSE_SOURCE_DIR}/../shared/testdata/openflow13.
inline std::filesystem::path GoldenDir() {
  if (const char* shared = std::getenv("PULSE_SHARED_DIR"))
    return std::filesystem::path(shared) / "testdata" / "openflow13";
  const char* source = std::getenv("PULSE_SOURCE_DIR");
  std::filesystem::path root = source ? source : ".";
  return root / ".." / "shared" / "testdata" / "openflow13";
}

inline std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// All golden packet files, sorted by name.
inline std::vector<std::filesystem::path> GoldenPackets() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(GoldenDir() / "packets", ec))
    if (e.path().extension() == ".packet") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pulse::openflow::testing

#endif  // PULSE_TESTS_SOUTHBOUND_OPENFLOW_GOLDEN_UTIL_H_
