#include "controller/controller.h"

#include <filesystem>

#include "controller/paths/addressing.h"
#include "controller/paths/ecmp_hash.h"
#include "controller/store/embedded_store.h"
#include "gtest/gtest.h"
#include "tests/northbound/test_fabric.h"
#include "topology/builders.h"

namespace pulse::controller {
namespace {

JobSpec Ring(const std::string& id, std::vector<std::string> endpoints, double rate = 10e9) {
  JobSpec spec;
  spec.id = id;
  spec.endpoints = std::move(endpoints);
  spec.rate_bps = rate;
  return spec;
}

double TotalLoad(const ControllerSnapshot& s) {
  double total = 0;
  for (int d = 0; d < s.fabric->num_directed_links(); ++d) total += s.placement.LoadBps(d);
  return total;
}

TEST(ControllerTest, PlaceAndDeletePublishSnapshotsAndEvents) {
  auto controller = Controller::Create(testing::SmallLeafSpine());
  ASSERT_TRUE(controller.ok());
  Controller& c = **controller;
  SnapshotPtr empty = c.snapshot();
  auto placed = c.PlaceJob(Ring("a", {"server-0/gpu-0", "server-2/gpu-0"})).get();
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(placed->event_sequence, 1u);
  EXPECT_FALSE(placed->job.flows.empty());
  SnapshotPtr after = c.snapshot();
  EXPECT_EQ(after->placement.jobs().size(), 1u);
  EXPECT_EQ(after->event_sequence, 1u);
  EXPECT_GT(TotalLoad(*after), 0);
  // The old snapshot is immutable: still empty.
  EXPECT_TRUE(empty->placement.jobs().empty());
  EXPECT_EQ(TotalLoad(*empty), 0);

  EXPECT_EQ(c.PlaceJob(Ring("a", {"server-1/gpu-0", "server-3/gpu-0"})).get().status().code(),
            absl::StatusCode::kAlreadyExists);
  auto deleted = c.DeleteJob("a").get();
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(TotalLoad(*c.snapshot()), 0);
  EXPECT_EQ(c.DeleteJob("a").get().status().code(), absl::StatusCode::kNotFound);
  auto events = c.events().ReadFrom(1, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].type, EventType::kJobPlaced);
  EXPECT_EQ((*events)[1].type, EventType::kJobDeleted);
}

TEST(ControllerTest, LinkDownMovesFlowsAndTellsObservers) {
  auto fabric = testing::SmallLeafSpine();
  auto controller = Controller::Create(fabric);
  ASSERT_TRUE(controller.ok());
  Controller& c = **controller;
  int observed = 0;
  c.AddForwardingObserver([&](const SnapshotPtr& before, const SnapshotPtr& after) {
    EXPECT_NE(before, after);
    ++observed;  // runs on the controller thread; read after Sync()
  });
  ASSERT_TRUE(c.PlaceJob(Ring("a", {"server-0/gpu-0", "server-2/gpu-0"})).get().ok());
  // Take down the uplink the first flow uses.
  const SnapshotPtr placed = c.snapshot();  // keeps `flow` alive
  const auto& flow = placed->placement.FindJob("a")->flows[0];
  topology::LinkId uplink = topology::Fabric::LinkOf(flow.path.hops[1]);
  c.OnLinkStatus(uplink, false);
  c.OnLinkStatus(uplink, false);  // repeated report: ignored
  c.Sync().wait();
  SnapshotPtr s = c.snapshot();
  EXPECT_FALSE(s->link_up[uplink]);
  EXPECT_FALSE(s->LinkUsable(uplink));
  for (const auto& f : s->placement.FindJob("a")->flows) {
    for (auto hop : f.path.hops) EXPECT_NE(topology::Fabric::LinkOf(hop), uplink);
  }
  EXPECT_EQ(s->placement.LoadBps(topology::Fabric::Directed(uplink, 0)) +
                s->placement.LoadBps(topology::Fabric::Directed(uplink, 1)),
            0);
  auto events = c.events().ReadFrom(2, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].type, EventType::kJobMoved);
  EXPECT_EQ((*events)[1].type, EventType::kLinkDown);
  EXPECT_EQ(observed, 2);  // placed, link down

  // Switch sessions.
  topology::NodeId leaf = *fabric->FindNode("leaf-0");
  c.OnSwitchConnected(leaf);
  c.OnSwitchLost(*fabric->FindNode("server-0/nic-0"));  // not a switch: ignored
  c.Sync().wait();
  EXPECT_TRUE(c.snapshot()->switch_connected[leaf]);
  c.OnSwitchLost(leaf);
  c.Sync().wait();
  EXPECT_FALSE(c.snapshot()->switch_connected[leaf]);
  EXPECT_EQ(c.events().last_sequence(), 5u);
}

TEST(ControllerTest, DiscoveryMismatchEventsOnlyWhenTheDifferencesChange) {
  auto fabric = testing::SmallLeafSpine();
  auto controller = Controller::Create(fabric);
  ASSERT_TRUE(controller.ok());
  Controller& c = **controller;
  c.OnDiscoveryResult(true, "no differences");  // matching from the start: nothing to say
  c.Sync().wait();
  EXPECT_EQ(c.events().last_sequence(), 0u);
  c.OnDiscoveryResult(false, "missing: a");
  c.OnDiscoveryResult(false, "missing: a");  // every probe repeats it: once is enough
  c.OnDiscoveryResult(false, "missing: a\nunexpected: b");
  c.OnDiscoveryResult(true, "no differences");
  c.OnDiscoveryResult(true, "no differences");
  c.Sync().wait();
  auto events = c.events().ReadFrom(1, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  for (const Event& e : *events) {
    EXPECT_EQ(e.type, EventType::kDiscoveryMismatch);
    EXPECT_EQ(e.subject, "fabric");
  }
  EXPECT_EQ((*events)[0].detail, "missing: a");
  EXPECT_EQ((*events)[1].detail, "missing: a\nunexpected: b");
  EXPECT_EQ((*events)[2].detail, "no differences");
  EXPECT_EQ(c.snapshot()->event_sequence, 3u);  // published with the events
}

TEST(ControllerTest, DrainKeepsLinkDownWhenUndrainedAndLinkStillDown) {
  auto fabric = testing::SmallLeafSpine();
  auto controller = Controller::Create(fabric);
  ASSERT_TRUE(controller.ok());
  Controller& c = **controller;
  topology::LinkId link = fabric->LinksOf(*fabric->FindNode("spine-0"))[0];
  c.OnLinkStatus(link, false);
  auto drained = c.DrainSwitch("spine-0").get();
  ASSERT_TRUE(drained.ok());
  EXPECT_EQ(drained->links_affected, 1);  // the other link was already unusable
  auto undrained = c.UndrainSwitch("spine-0").get();
  ASSERT_TRUE(undrained.ok());
  EXPECT_EQ(undrained->links_affected, 1);
  EXPECT_FALSE(c.snapshot()->LinkUsable(link));  // still physically down
  c.OnLinkStatus(link, true);
  c.Sync().wait();
  EXPECT_TRUE(c.snapshot()->LinkUsable(link));
}

TEST(ControllerTest, JobsAndDrainsSurviveRestartThroughStore) {
  std::string dir = std::filesystem::temp_directory_path() /
                    ("pulse-controller-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto fabric = testing::SmallLeafSpine();
  EmbeddedStoreOptions store_options;
  store_options.state_dir = dir;
  {
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    ControllerOptions options;
    options.store = store->get();
    auto controller = Controller::Create(fabric, options);
    ASSERT_TRUE(controller.ok());
    JobSpec spec = Ring("kept", {"server-0/gpu-0", "server-3/gpu-0"}, 7e9);
    spec.strict = true;
    spec.traffic_class = 4;
    ASSERT_TRUE((*controller)->PlaceJob(spec).get().ok());
    ASSERT_TRUE(
        (*controller)->PlaceJob(Ring("gone", {"server-1/gpu-0", "server-2/gpu-0"})).get().ok());
    ASSERT_TRUE((*controller)->DeleteJob("gone").get().ok());
    ASSERT_TRUE((*controller)->DrainSwitch("spine-1").get().ok());
    auto snapshot = (*store)->LoadAll();
    ASSERT_TRUE(snapshot.ok());
    EXPECT_EQ(snapshot->entries.count("jobs/kept"), 1u);
    EXPECT_EQ(snapshot->entries.count("jobs/gone"), 0u);
    EXPECT_EQ(snapshot->entries.count("drains/spine-1"), 1u);
  }
  auto store = EmbeddedStore::Open(store_options);
  ASSERT_TRUE(store.ok());
  ControllerOptions options;
  options.store = store->get();
  auto controller = Controller::Create(fabric, options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  SnapshotPtr s = (*controller)->snapshot();
  ASSERT_EQ(s->placement.jobs().size(), 1u);
  const JobPlacement* kept = s->placement.FindJob("kept");
  ASSERT_NE(kept, nullptr);
  EXPECT_TRUE(kept->spec.strict);
  EXPECT_EQ(kept->spec.traffic_class, 4);
  EXPECT_EQ(kept->spec.rate_bps, 7e9);
  EXPECT_TRUE(s->switch_drained[*s->fabric->FindNode("spine-1")]);
  std::filesystem::remove_all(dir);
}

TEST(ControllerTest, LearnedHostsArePersistedServedAndRestored) {
  topology::LeafSpineParams p;
  p.leaves = 2;
  p.spines = 1;
  p.servers_per_leaf = 2;
  p.address_plan.kind = topology::AddressPlanKind::kNone;
  auto fabric = std::make_shared<const Fabric>(*topology::LeafSpine(p));
  std::string dir = std::filesystem::temp_directory_path() /
                    ("pulse-controller-hosts-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  EmbeddedStoreOptions store_options;
  store_options.state_dir = dir;
  const NodeId a = fabric->nics()[0], b = fabric->nics()[2], c = fabric->nics()[3];
  {
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok());
    ControllerOptions options;
    options.store = store->get();
    auto controller = Controller::Create(fabric, options);
    ASSERT_TRUE(controller.ok());
    Controller& ctl = **controller;
    ctl.OnHostSeen(a, 0x0A010001, 0x0c0000000001);
    ctl.OnHostSeen(b, 0x0A020001, 0x0c0000000002);
    ctl.OnHostSeen(c, 0x0A010001, 0x0c0000000009);  // a's address from another port
    ctl.Sync().get();
    SnapshotPtr s = ctl.snapshot();
    EXPECT_EQ(s->hosts->FindByIpv4(0x0A010001), a);
    EXPECT_FALSE(s->hosts->Find(c)->conflict.empty());
    std::vector<EventType> types;
    absl::StatusOr<std::vector<Event>> events = ctl.events().ReadFrom(1, 100);
    ASSERT_TRUE(events.ok());
    for (const Event& e : *events) types.push_back(e.type);
    EXPECT_EQ(types, (std::vector<EventType>{EventType::kHostLearned, EventType::kHostLearned,
                                             EventType::kHostConflict}));
    // Jobs by learned address resolve to the NICs.
    auto placed = ctl.PlaceJob(Ring("by-ip", {"10.1.0.1", "10.2.0.1"})).get();
    ASSERT_TRUE(placed.ok()) << placed.status();
    EXPECT_EQ(placed->job.spec.endpoints[0], fabric->node(a).name);
    EXPECT_FALSE(ctl.PlaceJob(Ring("unknown", {"10.9.9.9", "10.2.0.1"})).get().ok());
    auto stored = (*store)->LoadAll();
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->entries.count("hosts/" + fabric->node(a).name), 1u);
    EXPECT_EQ(stored->entries.count("hosts/" + fabric->node(c).name), 0u);  // conflicts aren't
  }
  auto store = EmbeddedStore::Open(store_options);
  ASSERT_TRUE(store.ok());
  ControllerOptions options;
  options.store = store->get();
  auto controller = Controller::Create(fabric, options);
  ASSERT_TRUE(controller.ok()) << controller.status();
  SnapshotPtr s = (*controller)->snapshot();
  EXPECT_EQ(s->hosts->FindByIpv4(0x0A010001), a);
  EXPECT_EQ(s->hosts->FindByIpv4(0x0A020001), b);
  EXPECT_EQ(s->hosts->Find(b)->mac, 0x0c0000000002u);
  EXPECT_NE(s->placement.FindJob("by-ip"), nullptr);
  std::filesystem::remove_all(dir);
}

// Steering on a fabric whose intent has no addresses: ports come from the learned ones. A steered
// job with an end not learned yet is refused naming the NIC; a host's new address re-steers its
// flows (JOB_MOVED with the new ports and the address), a host that moves away leaves its flows
// without a port; a restart keeps the ports.
TEST(ControllerTest, SteeringFollowsLearnedAddresses) {
  topology::LeafSpineParams p;
  p.leaves = 2;
  p.spines = 4;
  p.servers_per_leaf = 2;
  p.address_plan.kind = topology::AddressPlanKind::kNone;
  auto fabric = std::make_shared<const Fabric>(*topology::LeafSpine(p));
  std::string dir = std::filesystem::temp_directory_path() /
                    ("pulse-controller-steer-learned-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  EmbeddedStoreOptions store_options;
  store_options.state_dir = dir;
  const NodeId a = fabric->nics()[0], a2 = fabric->nics()[1], b = fabric->nics()[2];
  const HashModels models = HashModelsFromIntent(*fabric, {}).value();
  JobSpec spec;
  spec.id = "steered";
  spec.pattern = CollectivePattern::kExplicit;
  spec.explicit_flows = {{fabric->node(a).name, fabric->node(b).name, 0},
                         {fabric->node(b).name, fabric->node(a).name, 0}};
  spec.enforcement = Enforcement::kSteer;
  EcmpGroups groups(fabric);
  // Every flow's port walks its path under the switches' hash with the served addresses.
  auto expect_steered = [&](const ControllerSnapshot& s) {
    const JobPlacement* job = s.placement.FindJob("steered");
    ASSERT_NE(job, nullptr);
    for (const PlacedFlow& f : job->flows) {
      ASSERT_NE(f.udp_src_port, 0) << fabric->node(f.src).name;
      FiveTuple t{ServedIpv4(*fabric, s.hosts.get(), f.src),
                  ServedIpv4(*fabric, s.hosts.get(), f.dst), kUdpProto, f.udp_src_port,
                  kRoceV2Port};
      auto traced = TraceEcmpPath(groups, models, f.src, f.dst, t, f.path.hops[0]);
      ASSERT_TRUE(traced.ok()) << traced.status();
      EXPECT_EQ(*traced, f.path);
    }
  };
  std::vector<uint16_t> ports_before_restart;
  {
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok());
    ControllerOptions options;
    options.store = store->get();
    options.hash_models = models;
    auto controller = Controller::Create(fabric, options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    Controller& ctl = **controller;
    ctl.OnHostSeen(a, 0x0A010001, 0x0c0000000001);
    ctl.Sync().get();
    auto refused = ctl.PlaceJob(spec).get();
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
    EXPECT_NE(refused.status().message().find(fabric->node(b).name), std::string::npos)
        << refused.status();
    EXPECT_NE(refused.status().message().find("no known IPv4 address"), std::string::npos);

    ctl.OnHostSeen(b, 0x0A020001, 0x0c0000000002);
    ctl.Sync().get();
    auto placed = ctl.PlaceJob(spec).get();
    ASSERT_TRUE(placed.ok()) << placed.status();
    expect_steered(*ctl.snapshot());

    // The host behind `a` comes back with other addresses until one needs other ports.
    const uint64_t seen_before = ctl.events().last_sequence();
    bool moved_event = false;
    for (uint32_t ip = 0x0A010050; ip < 0x0A010060 && !moved_event; ++ip) {
      const std::vector<PlacedFlow> before = ctl.snapshot()->placement.FindJob("steered")->flows;
      ctl.OnHostSeen(a, ip, 0x0c0000000001);
      ctl.Sync().get();
      SnapshotPtr s = ctl.snapshot();
      expect_steered(*s);
      auto events = ctl.events().ReadFrom(seen_before + 1, 100);
      ASSERT_TRUE(events.ok());
      for (const Event& e : *events) {
        if (e.type != EventType::kJobMoved) continue;
        moved_event = true;
        EXPECT_EQ(e.subject, "steered");
        ASSERT_FALSE(e.port_changes.empty());
        for (const FlowPortChange& c : e.port_changes) {
          const PlacedFlow& now = s->placement.FindJob("steered")->flows[c.flow_index];
          EXPECT_EQ(c.old_udp_src_port, before[c.flow_index].udp_src_port);
          EXPECT_EQ(c.new_udp_src_port, now.udp_src_port);
          EXPECT_EQ(now.src == a ? c.src_ip : c.dst_ip, ip);
        }
      }
    }
    EXPECT_TRUE(moved_event) << "no new address of the host changed a port";
    ports_before_restart.clear();
    const SnapshotPtr snapshot = ctl.snapshot();  // alive while iterated
    for (const PlacedFlow& f : snapshot->placement.FindJob("steered")->flows) {
      ports_before_restart.push_back(f.udp_src_port);
    }
  }
  {
    // Restart: the learned addresses and the steered ports come back as they were.
    auto store = EmbeddedStore::Open(store_options);
    ASSERT_TRUE(store.ok());
    ControllerOptions options;
    options.store = store->get();
    options.hash_models = models;
    auto controller = Controller::Create(fabric, options);
    ASSERT_TRUE(controller.ok()) << controller.status();
    Controller& ctl = **controller;
    SnapshotPtr s = ctl.snapshot();
    std::vector<uint16_t> ports;
    for (const PlacedFlow& f : s->placement.FindJob("steered")->flows) {
      ports.push_back(f.udp_src_port);
    }
    EXPECT_EQ(ports, ports_before_restart);
    expect_steered(*s);
    EXPECT_EQ(s->placement.SteeringAddress(a), ServedIpv4(*fabric, s->hosts.get(), a));

    // The host moves to a2's port: `a` has no address any more, its flows lose their ports.
    const uint32_t ip = ServedIpv4(*fabric, s->hosts.get(), a);
    const uint64_t seen_before = ctl.events().last_sequence();
    ctl.OnHostSeen(a2, ip, 0x0c0000000001);
    ctl.Sync().get();
    s = ctl.snapshot();
    EXPECT_EQ(s->hosts->FindByIpv4(ip), a2);
    for (const PlacedFlow& f : s->placement.FindJob("steered")->flows) {
      EXPECT_EQ(f.udp_src_port, 0);
    }
    auto events = ctl.events().ReadFrom(seen_before + 1, 100);
    ASSERT_TRUE(events.ok());
    size_t to_zero = 0;
    for (const Event& e : *events) {
      for (const FlowPortChange& c : e.port_changes) to_zero += c.new_udp_src_port == 0;
    }
    EXPECT_EQ(to_zero, 2u);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pulse::controller
