#include "common/multipath_slots.h"

#include <algorithm>
#include <numeric>

namespace pulse {

std::vector<uint32_t> SlotsForWeights(const std::vector<uint32_t>& weights) {
  std::vector<uint32_t> w = weights;
  if (std::all_of(w.begin(), w.end(), [](uint32_t x) { return x == 0; }))
    std::fill(w.begin(), w.end(), 1);
  uint32_t g = 0;
  for (uint32_t x : w) g = std::gcd(g, x);
  uint64_t total = 0;
  for (uint32_t& x : w) {
    x /= g;
    total += x;
  }
  if (total > kMaxMultipathSlots) {
    // Scale down; every non-zero member keeps at least one slot.
    uint32_t nonzero =
        static_cast<uint32_t>(std::count_if(w.begin(), w.end(), [](uint32_t x) { return x > 0; }));
    uint32_t budget = std::max(kMaxMultipathSlots, nonzero);
    uint64_t new_total = 0;
    for (uint32_t& x : w) {
      if (x == 0) continue;
      x = std::max<uint32_t>(1, static_cast<uint32_t>(uint64_t{x} * budget / total));
      new_total += x;
    }
    // Rounding up of small weights may overshoot: trim the largest.
    while (new_total > budget) {
      auto it = std::max_element(w.begin(), w.end());
      if (*it <= 1) break;
      --*it;
      --new_total;
    }
  }
  return w;
}

size_t MemberOfSlot(const std::vector<uint32_t>& slots, uint32_t slot) {
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slot < slots[i]) return i;
    slot -= slots[i];
  }
  return slots.empty() ? 0 : slots.size() - 1;
}

}  // namespace pulse
