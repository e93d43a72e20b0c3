// Node advice against simple schedulers on a shared fabric.
//
// A 1,024-GPU leaf-spine (16 leaves x 8 servers x 8 GPUs, one 100G NIC per GPU, 4:1
// oversubscribed uplinks) sees 1,000 random events, arrivals and departures, that hold it near
// 60% of its servers. Every arrival asks for 1-16 whole servers with a collective (ring,
// halving-doubling, double binary tree; half of them all-to-all) at line rate.
// Three schedulers see the same event sequence, each on its own copy of the fabric:
//   suggest     SuggestServers (controller/placement/node_advice.h): candidates judged by the real
//               placement, the first non-blocking one in order of preference;
//   first-fit   the lowest-numbered free servers;
//   leaf-pack   topology-aware without load: the best-fit leaf when one fits, else the leaves
//               with the most free servers first (what a tree-aware scheduler does alone).
// Each places its choice with Placement::PlaceJob and counts the job as non-blocking when its
// max link load (all jobs counted) is at most 100%. The runs drift apart (each scheduler's past
// choices shape its fabric), so a paired figure is printed too: on SuggestServers' own state
// before each arrival, leaf-packing's choice judged by the same placement. Printed: the share of
// non-blocking jobs per scheduler, their mean max link load, and SuggestServers' latency (p50, p99,
// max) next to one PlaceJob of the same jobs (the baseline: advice places a candidate or a few),
// plus the cost of the state copy the API makes before each call (Placement::DetachedCopy).
//
//   build/bench/pulse_scheduler_bench [events] [seed]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "controller/placement/node_advice.h"
#include "controller/placement/placement.h"
#include "topology/builders.h"
#include "topology/tiers.h"

namespace {

using pulse::controller::CollectivePattern;
using pulse::controller::JobSpec;
using pulse::controller::NodeAdvice;
using pulse::controller::NodeAdviceRequest;
using pulse::controller::Placement;
using pulse::topology::ServerId;

struct Arrival {
  std::string id;
  int servers = 0;
  CollectivePattern pattern = CollectivePattern::kRing;
};

struct Event {
  bool arrival = true;
  Arrival job;
  double departure_pick = 0;  // which running job leaves: index = pick * running
};

struct Scheduler {
  std::string name;
  Placement placement;
  std::vector<bool> used;
  std::map<std::string, std::vector<ServerId>> servers_of;
  int placed = 0;
  int non_blocking = 0;
  double sum_max_load = 0;
};

std::vector<std::string> Endpoints(const pulse::topology::Fabric& fabric,
                                   const std::vector<ServerId>& servers) {
  std::vector<std::string> endpoints;
  for (ServerId s : servers) {
    for (pulse::topology::GpuId g : fabric.servers()[s].gpus) {
      endpoints.push_back(fabric.gpus()[g].name);
    }
  }
  return endpoints;
}

std::vector<ServerId> FirstFit(const Scheduler& s, int count) {
  std::vector<ServerId> chosen;
  for (ServerId id = 0;
       id < static_cast<ServerId>(s.used.size()) && static_cast<int>(chosen.size()) < count; ++id) {
    if (!s.used[id]) chosen.push_back(id);
  }
  return chosen;
}

std::vector<ServerId> LeafPack(const Scheduler& s, const pulse::topology::FabricTiers& tiers,
                               int count) {
  std::vector<std::vector<ServerId>> free(tiers.blocks.size());
  for (size_t b = 0; b < tiers.blocks.size(); ++b) {
    for (ServerId id : tiers.blocks[b].servers) {
      if (!s.used[id]) free[b].push_back(id);
    }
  }
  int best = -1;
  for (size_t b = 0; b < free.size(); ++b) {
    if (static_cast<int>(free[b].size()) >= count &&
        (best < 0 || free[b].size() < free[best].size())) {
      best = static_cast<int>(b);
    }
  }
  if (best >= 0) return std::vector<ServerId>(free[best].begin(), free[best].begin() + count);
  std::vector<int> order(free.size());
  for (size_t b = 0; b < order.size(); ++b) order[b] = static_cast<int>(b);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return free[a].size() > free[b].size(); });
  std::vector<ServerId> chosen;
  for (int b : order) {
    for (ServerId id : free[b]) {
      if (static_cast<int>(chosen.size()) < count) chosen.push_back(id);
    }
  }
  return chosen;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (auto exit_code =
          pulse::bench::CheckArgs(argc, argv, {}, 2, "[EVENTS [SEED]]   (default 1000 17)")) {
    return *exit_code;
  }
  const int num_events = argc > 1 ? std::atoi(argv[1]) : 1000;
  const unsigned seed = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 17;

  pulse::topology::LeafSpineParams params;
  params.leaves = 16;
  params.spines = 8;
  params.servers_per_leaf = 8;
  params.nics_per_server = 8;
  params.gpus_per_server = 8;
  params.oversubscription = 4;
  absl::StatusOr<pulse::topology::Fabric> built = pulse::topology::LeafSpine(params);
  if (!built.ok()) {
    std::fprintf(stderr, "fabric: %s\n", std::string(built.status().message()).c_str());
    return 1;
  }
  auto fabric = std::make_shared<const pulse::topology::Fabric>(*std::move(built));
  const int num_servers = static_cast<int>(fabric->servers().size());
  const pulse::topology::FabricTiers tiers = pulse::topology::ComputeTiers(*fabric);
  std::printf("fabric: %zu GPUs, %d servers, %zu leaves, %zu links (4:1 oversubscribed)\n",
              fabric->gpus().size(), num_servers, tiers.blocks.size(), fabric->links().size());

  // The event sequence, the same for every scheduler: arrivals while under the target
  // occupancy (60% of servers, with some noise), departures of a random running job otherwise.
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  const int sizes[] = {1, 2, 2, 4, 4, 8, 8, 16};
  std::vector<Event> events;
  {
    std::vector<std::pair<std::string, int>> running;
    int busy = 0, next_id = 0;
    for (int e = 0; e < num_events; ++e) {
      const double occupancy = static_cast<double>(busy) / num_servers;
      Event ev;
      ev.arrival = running.empty() || unit(rng) < 0.5 + 2.0 * (0.6 - occupancy);
      if (ev.arrival) {
        ev.job.id = "job-" + std::to_string(next_id++);
        ev.job.servers = sizes[rng() % 8];
        // Half the jobs all-to-all (expert parallelism: the traffic that climbs the fabric),
        // the rest ring, halving-doubling and double binary tree.
        const int kind = static_cast<int>(rng() % 6);
        ev.job.pattern = kind <= 2   ? CollectivePattern::kAllToAll
                         : kind == 3 ? CollectivePattern::kRing
                         : kind == 4 ? CollectivePattern::kHalvingDoubling
                                     : CollectivePattern::kDoubleBinaryTree;
        if (busy + ev.job.servers > num_servers) {
          ev.arrival = false;  // no room: turn it into a departure
        } else {
          running.push_back({ev.job.id, ev.job.servers});
          busy += ev.job.servers;
          events.push_back(ev);
          continue;
        }
      }
      ev.departure_pick = unit(rng);
      const size_t i = static_cast<size_t>(ev.departure_pick * running.size());
      busy -= running[i].second;
      running.erase(running.begin() + i);
      events.push_back(ev);
    }
  }

  std::vector<Scheduler> schedulers;
  for (const char* name : {"suggest", "first-fit", "leaf-pack"}) {
    schedulers.push_back({name, Placement(fabric), std::vector<bool>(num_servers, false), {}});
  }
  std::vector<double> suggest_ms, copy_ms, place_ms;
  int paired = 0, paired_pack_nb = 0, paired_suggest_nb = 0;
  std::vector<std::string> running;  // ids in arrival order, the same for every scheduler
  double occupancy_sum = 0;
  int arrivals = 0;
  for (const Event& ev : events) {
    if (!ev.arrival) {
      const size_t i = static_cast<size_t>(ev.departure_pick * running.size());
      for (Scheduler& s : schedulers) {
        for (ServerId id : s.servers_of[running[i]]) s.used[id] = false;
        s.servers_of.erase(running[i]);
        (void)s.placement.RemoveJob(running[i]);
      }
      running.erase(running.begin() + i);
      continue;
    }
    ++arrivals;
    running.push_back(ev.job.id);
    for (Scheduler& s : schedulers) {
      std::vector<ServerId> chosen;
      std::vector<std::string> endpoints;
      if (s.name == "suggest") {
        auto t0 = std::chrono::steady_clock::now();
        Placement copy = s.placement.DetachedCopy();
        auto t1 = std::chrono::steady_clock::now();
        NodeAdviceRequest request;
        request.server_count = ev.job.servers;
        request.pattern = ev.job.pattern;
        absl::StatusOr<NodeAdvice> advice =
            pulse::controller::SuggestServers(&copy, tiers, request);
        auto t2 = std::chrono::steady_clock::now();
        copy_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        suggest_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        if (!advice.ok()) {
          std::fprintf(stderr, "%s: %s\n", ev.job.id.c_str(),
                       std::string(advice.status().message()).c_str());
          return 1;
        }
        chosen = advice->servers;
        endpoints = advice->endpoints;
        // Paired: leaf-packing's choice on this same state (the state copy is back as it was).
        JobSpec pack;
        pack.id = ev.job.id;
        pack.pattern = ev.job.pattern;
        pack.endpoints = Endpoints(*fabric, LeafPack(s, tiers, ev.job.servers));
        absl::StatusOr<const pulse::controller::JobPlacement*> packed = copy.PlaceJob(pack);
        ++paired;
        if (packed.ok() && (*packed)->max_link_load <= 1.0 + 1e-9) ++paired_pack_nb;
        if (advice->non_blocking) ++paired_suggest_nb;
      } else {
        chosen = s.name == "first-fit" ? FirstFit(s, ev.job.servers)
                                       : LeafPack(s, tiers, ev.job.servers);
        endpoints = Endpoints(*fabric, chosen);
      }
      JobSpec spec;
      spec.id = ev.job.id;
      spec.pattern = ev.job.pattern;
      spec.endpoints = endpoints;
      auto place_start = std::chrono::steady_clock::now();
      absl::StatusOr<const pulse::controller::JobPlacement*> placed = s.placement.PlaceJob(spec);
      if (s.name == "leaf-pack") {
        place_ms.push_back(std::chrono::duration<double, std::milli>(
                               std::chrono::steady_clock::now() - place_start)
                               .count());
      }
      if (!placed.ok()) {
        std::fprintf(stderr, "%s %s: %s\n", s.name.c_str(), ev.job.id.c_str(),
                     std::string(placed.status().message()).c_str());
        return 1;
      }
      for (ServerId id : chosen) s.used[id] = true;
      s.servers_of[ev.job.id] = chosen;
      ++s.placed;
      s.sum_max_load += (*placed)->max_link_load;
      if ((*placed)->max_link_load <= 1.0 + 1e-9) ++s.non_blocking;
    }
    occupancy_sum += static_cast<double>(
                         std::count(schedulers[0].used.begin(), schedulers[0].used.end(), true)) /
                     num_servers;
  }
  std::printf("events: %zu (%d arrivals, %zu departures), mean occupancy after arrivals %.0f%%\n",
              events.size(), arrivals, events.size() - arrivals,
              100.0 * occupancy_sum / std::max(1, arrivals));
  std::printf("%-10s %8s %14s %14s\n", "scheduler", "jobs", "non-blocking", "mean max load");
  for (const Scheduler& s : schedulers) {
    std::printf("%-10s %8d %13.1f%% %14.3f\n", s.name.c_str(), s.placed,
                100.0 * s.non_blocking / std::max(1, s.placed),
                s.sum_max_load / std::max(1, s.placed));
  }
  std::printf(
      "paired, on SuggestServers' own state before each arrival: non-blocking %.1f%% "
      "with its advice, %.1f%% with leaf-packing's choice (%d arrivals)\n",
      100.0 * paired_suggest_nb / std::max(1, paired), 100.0 * paired_pack_nb / std::max(1, paired),
      paired);
  std::printf("SuggestServers latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu calls)\n",
              Percentile(suggest_ms, 0.5), Percentile(suggest_ms, 0.99),
              *std::max_element(suggest_ms.begin(), suggest_ms.end()), suggest_ms.size());
  std::printf("baseline, one PlaceJob of the same jobs (leaf-pack's): p50 %.2f ms, p99 %.2f ms\n",
              Percentile(place_ms, 0.5), Percentile(place_ms, 0.99));
  std::printf("state copy before each call (Placement::DetachedCopy): p50 %.2f ms, p99 %.2f ms\n",
              Percentile(copy_ms, 0.5), Percentile(copy_ms, 0.99));
  return 0;
}
