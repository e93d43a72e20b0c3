// JobMap (placement.h): a sorted persistent map of shared jobs in copy-on-write chunks.
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "controller/placement/placement.h"

namespace pulse::controller {

namespace {

bool EntryBefore(const JobMap::Entry& entry, const std::string& id) { return entry.first < id; }

}  // namespace

size_t JobMap::ChunkFor(const std::string& id) const {
  // Chunks are in id order and disjoint, so the first whose last id is >= `id` is the only one
  // that can hold it (chunks_.size(): past every chunk).
  auto it = std::lower_bound(chunks_.begin(), chunks_.end(), id,
                             [](const std::shared_ptr<Chunk>& chunk, const std::string& key) {
                               return chunk->back().first < key;
                             });
  return static_cast<size_t>(it - chunks_.begin());
}

JobMap::const_iterator JobMap::lower_bound(const std::string& id) const {
  const size_t c = ChunkFor(id);
  if (c == chunks_.size()) return end();
  const Chunk& chunk = *chunks_[c];
  auto it = std::lower_bound(chunk.begin(), chunk.end(), id, EntryBefore);
  return const_iterator(&chunks_, c, static_cast<size_t>(it - chunk.begin()));
}

JobMap::const_iterator JobMap::find(const std::string& id) const {
  const_iterator it = lower_bound(id);
  return it == end() || it.entry().first != id ? end() : it;
}

const JobPlacement& JobMap::at(const std::string& id) const {
  const_iterator it = find(id);
  if (it == end()) throw std::out_of_range("JobMap::at: no job " + id);
  return *it.ptr();
}

JobMap::Chunk& JobMap::OwnChunk(size_t chunk) {
  // Only this map holds it: change it in place. Otherwise a copy of the map shares it. The count
  // can only fall concurrently (a snapshot released on another thread), so 1 stays 1.
  if (chunks_[chunk].use_count() != 1) chunks_[chunk] = std::make_shared<Chunk>(*chunks_[chunk]);
  return *chunks_[chunk];
}

bool JobMap::Insert(const std::string& id, JobPtr job) {
  size_t c = ChunkFor(id);
  if (chunks_.empty()) {
    chunks_.push_back(std::make_shared<Chunk>());
  } else if (c == chunks_.size()) {
    c = chunks_.size() - 1;  // past the last id: append to the last chunk
  }
  {
    const Chunk& shared = *chunks_[c];
    auto it = std::lower_bound(shared.begin(), shared.end(), id, EntryBefore);
    if (it != shared.end() && it->first == id) return false;
  }
  Chunk& chunk = OwnChunk(c);
  auto it = std::lower_bound(chunk.begin(), chunk.end(), id, EntryBefore);
  chunk.emplace(it, id, std::move(job));
  ++size_;
  if (chunk.size() > kMaxChunk) {
    // Split in halves so both have room to grow before the next split.
    auto upper = std::make_shared<Chunk>(std::make_move_iterator(chunk.begin() + chunk.size() / 2),
                                         std::make_move_iterator(chunk.end()));
    chunk.resize(chunk.size() / 2);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
  }
  return true;
}

bool JobMap::Erase(const std::string& id) {
  const size_t c = ChunkFor(id);
  if (c == chunks_.size()) return false;
  {
    const Chunk& shared = *chunks_[c];
    auto it = std::lower_bound(shared.begin(), shared.end(), id, EntryBefore);
    if (it == shared.end() || it->first != id) return false;
  }
  Chunk& chunk = OwnChunk(c);
  chunk.erase(std::lower_bound(chunk.begin(), chunk.end(), id, EntryBefore));
  --size_;
  if (chunk.empty()) {
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
  } else if (chunk.size() < kMaxChunk / 4 && c + 1 < chunks_.size() &&
             chunk.size() + chunks_[c + 1]->size() <= kMaxChunk / 2) {
    // Keep chunks from thinning out under removals: merge with the next one while both are small.
    const Chunk& next = *chunks_[c + 1];
    chunk.insert(chunk.end(), next.begin(), next.end());
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1);
  }
  return true;
}

JobPtr* JobMap::MutableSlot(const std::string& id) {
  const_iterator it = find(id);
  if (it == end()) return nullptr;
  return &OwnChunk(it.chunk_)[it.index_].second;
}

std::vector<std::string> ChangedJobs(const JobMap& before, const JobMap& after) {
  std::vector<std::string> out;
  auto b = before.begin(), a = after.begin();
  const auto b_end = before.end(), a_end = after.end();
  while (b != b_end || a != a_end) {
    // Both at the start of the same shared chunk: nothing in it changed.
    if (b != b_end && a != a_end && b.index_ == 0 && a.index_ == 0 &&
        before.chunks_[b.chunk_] == after.chunks_[a.chunk_]) {
      ++b.chunk_, ++a.chunk_;
      continue;
    }
    if (a == a_end || (b != b_end && b.entry().first < a.entry().first)) {
      out.push_back(b.entry().first);  // removed
      ++b;
    } else if (b == b_end || a.entry().first < b.entry().first) {
      out.push_back(a.entry().first);  // added
      ++a;
    } else {
      if (a.ptr() != b.ptr()) out.push_back(a.entry().first);  // replaced
      ++a, ++b;
    }
  }
  return out;
}

}  // namespace pulse::controller
