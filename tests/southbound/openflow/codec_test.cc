#include "southbound/openflow/codec.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/southbound/openflow/golden_util.h"

namespace pulse::openflow {
namespace {

using nlohmann::json;
using testing::GoldenDir;
using testing::GoldenPackets;
using testing::ReadBytes;

// ---- Conversion of decoded messages to Ryu's JSON vocabulary (only the fields we model) ----

std::string Mac(uint64_t v) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", (v >> 40) & 0xff, (v >> 32) & 0xff,
                         (v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}
std::string Ipv4(uint64_t v) {
  return absl::StrFormat("%d.%d.%d.%d", (v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff,
                         v & 0xff);
}
std::string B64(const std::vector<uint8_t>& d) {
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

json OxmJson(const MatchField& f) {
  static const std::map<OxmField, std::string> kNames = {
      {OxmField::kInPort, "in_port"},   {OxmField::kMetadata, "metadata"},
      {OxmField::kEthDst, "eth_dst"},   {OxmField::kEthSrc, "eth_src"},
      {OxmField::kEthType, "eth_type"}, {OxmField::kVlanVid, "vlan_vid"},
      {OxmField::kVlanPcp, "vlan_pcp"}, {OxmField::kIpDscp, "ip_dscp"},
      {OxmField::kIpEcn, "ip_ecn"},     {OxmField::kIpProto, "ip_proto"},
      {OxmField::kIpv4Src, "ipv4_src"}, {OxmField::kIpv4Dst, "ipv4_dst"},
      {OxmField::kTcpSrc, "tcp_src"},   {OxmField::kTcpDst, "tcp_dst"},
      {OxmField::kUdpSrc, "udp_src"},   {OxmField::kUdpDst, "udp_dst"},
      {OxmField::kNxmReg0, "reg0"}};
  if (f.field == OxmField::kRaw) return json::object();
  json o;
  o["field"] = kNames.at(f.field);
  auto fmt = [&](uint64_t v) -> json {
    if (f.field == OxmField::kEthDst || f.field == OxmField::kEthSrc) return Mac(v);
    if (f.field == OxmField::kIpv4Src || f.field == OxmField::kIpv4Dst) return Ipv4(v);
    return v;
  };
  o["value"] = fmt(f.value);
  o["mask"] = f.has_mask ? fmt(f.mask) : json(nullptr);
  return {{"OXMTlv", o}};
}

json MatchJson(const Match& m) {
  json fields = json::array();
  for (const auto& f : m.fields) fields.push_back(OxmJson(f));
  return {{"OFPMatch", {{"type", 1}, {"oxm_fields", fields}}}};
}

json ActionsJson(const ActionList& actions) {
  json out = json::array();
  for (const auto& a : actions) {
    if (auto* o = std::get_if<OutputAction>(&a)) {
      out.push_back({{"OFPActionOutput", {{"port", o->port}, {"max_len", o->max_len}}}});
    } else if (auto* g = std::get_if<GroupAction>(&a)) {
      out.push_back({{"OFPActionGroup", {{"group_id", g->group_id}}}});
    } else if (auto* q = std::get_if<SetQueueAction>(&a)) {
      out.push_back({{"OFPActionSetQueue", {{"queue_id", q->queue_id}}}});
    } else if (auto* p = std::get_if<PushVlanAction>(&a)) {
      out.push_back({{"OFPActionPushVlan", {{"ethertype", p->ethertype}}}});
    } else if (std::holds_alternative<PopVlanAction>(a)) {
      out.push_back({{"OFPActionPopVlan", json::object()}});
    } else if (auto* s = std::get_if<SetFieldAction>(&a)) {
      out.push_back({{"OFPActionSetField", {{"field", OxmJson(s->field)}}}});
    } else {
      out.push_back(json::object());  // raw: not modelled, compared only by re-encoding
    }
  }
  return out;
}

json InstructionsJson(const std::vector<Instruction>& instructions) {
  json out = json::array();
  for (const auto& ins : instructions) {
    if (auto* g = std::get_if<GotoTableInstruction>(&ins)) {
      out.push_back({{"OFPInstructionGotoTable", {{"table_id", g->table_id}}}});
    } else if (auto* w = std::get_if<WriteActionsInstruction>(&ins)) {
      out.push_back(
          {{"OFPInstructionActions", {{"type", 3}, {"actions", ActionsJson(w->actions)}}}});
    } else if (auto* a = std::get_if<ApplyActionsInstruction>(&ins)) {
      out.push_back(
          {{"OFPInstructionActions", {{"type", 4}, {"actions", ActionsJson(a->actions)}}}});
    } else if (std::holds_alternative<ClearActionsInstruction>(ins)) {
      out.push_back({{"OFPInstructionActions", {{"type", 5}}}});
    } else {
      out.push_back(json::object());
    }
  }
  return out;
}

json BucketsJson(const std::vector<Bucket>& buckets) {
  json out = json::array();
  for (const auto& b : buckets)
    out.push_back({{"OFPBucket",
                    {{"weight", b.weight},
                     {"watch_port", b.watch_port},
                     {"watch_group", b.watch_group},
                     {"actions", ActionsJson(b.actions)}}}});
  return out;
}

json PortJson(const PortInfo& p) {
  return {{"OFPPort",
           {{"port_no", p.port_no},
            {"hw_addr", Mac(p.hw_addr)},
            {"name", p.name},
            {"config", p.config},
            {"state", p.state},
            {"curr", p.curr},
            {"advertised", p.advertised},
            {"supported", p.supported},
            {"peer", p.peer},
            {"curr_speed", p.curr_speed_kbps},
            {"max_speed", p.max_speed_kbps}}}};
}

json FlowFilterJson(const FlowStatsRequest& f) {
  return {{"table_id", f.table_id}, {"out_port", f.out_port},       {"out_group", f.out_group},
          {"cookie", f.cookie},     {"cookie_mask", f.cookie_mask}, {"match", MatchJson(f.match)}};
}

json AsyncJson(const AsyncConfig& c) {
  return {{"packet_in_mask", {c.packet_in_mask[0], c.packet_in_mask[1]}},
          {"port_status_mask", {c.port_status_mask[0], c.port_status_mask[1]}},
          {"flow_removed_mask", {c.flow_removed_mask[0], c.flow_removed_mask[1]}}};
}

json MultipartRequestJson(const MultipartRequest& m) {
  json o = {{"flags", m.flags}};
  if (auto* f = std::get_if<FlowStatsRequest>(&m.body)) o.update(FlowFilterJson(*f));
  if (auto* a = std::get_if<AggregateStatsRequest>(&m.body)) o.update(FlowFilterJson(a->filter));
  if (auto* p = std::get_if<PortStatsRequest>(&m.body)) o["port_no"] = p->port_no;
  if (auto* g = std::get_if<GroupStatsRequest>(&m.body)) o["group_id"] = g->group_id;
  return o;
}

json MultipartReplyJson(const MultipartReply& m) {
  json o = {{"flags", m.flags}};
  json body = json::array();
  if (auto* d = std::get_if<DescReply>(&m.body)) {
    o["body"] = {{"OFPDescStats",
                  {{"mfr_desc", d->mfr_desc},
                   {"hw_desc", d->hw_desc},
                   {"sw_desc", d->sw_desc},
                   {"serial_num", d->serial_num},
                   {"dp_desc", d->dp_desc}}}};
    return o;
  }
  if (auto* a = std::get_if<AggregateStatsReply>(&m.body)) {
    o["body"] = {{"OFPAggregateStats",
                  {{"packet_count", a->packet_count},
                   {"byte_count", a->byte_count},
                   {"flow_count", a->flow_count}}}};
    return o;
  }
  if (auto* r = std::get_if<FlowStatsReply>(&m.body)) {
    for (const auto& f : r->flows)
      body.push_back({{"OFPFlowStats",
                       {{"table_id", f.table_id},
                        {"duration_sec", f.duration_sec},
                        {"duration_nsec", f.duration_nsec},
                        {"priority", f.priority},
                        {"idle_timeout", f.idle_timeout_s},
                        {"hard_timeout", f.hard_timeout_s},
                        {"flags", f.flags},
                        {"cookie", f.cookie},
                        {"packet_count", f.packet_count},
                        {"byte_count", f.byte_count},
                        {"match", MatchJson(f.match)},
                        {"instructions", InstructionsJson(f.instructions)}}}});
  } else if (auto* r = std::get_if<TableStatsReply>(&m.body)) {
    for (const auto& t : r->tables)
      body.push_back({{"OFPTableStats",
                       {{"table_id", t.table_id},
                        {"active_count", t.active_count},
                        {"lookup_count", t.lookup_count},
                        {"matched_count", t.matched_count}}}});
  } else if (auto* r = std::get_if<PortStatsReply>(&m.body)) {
    for (const auto& p : r->ports)
      body.push_back({{"OFPPortStats",
                       {{"port_no", p.port_no},
                        {"rx_packets", p.rx_packets},
                        {"tx_packets", p.tx_packets},
                        {"rx_bytes", p.rx_bytes},
                        {"tx_bytes", p.tx_bytes},
                        {"rx_dropped", p.rx_dropped},
                        {"tx_dropped", p.tx_dropped},
                        {"rx_errors", p.rx_errors},
                        {"tx_errors", p.tx_errors},
                        {"rx_frame_err", p.rx_frame_err},
                        {"rx_over_err", p.rx_over_err},
                        {"rx_crc_err", p.rx_crc_err},
                        {"collisions", p.collisions},
                        {"duration_sec", p.duration_sec},
                        {"duration_nsec", p.duration_nsec}}}});
  } else if (auto* r = std::get_if<GroupStatsReply>(&m.body)) {
    for (const auto& g : r->groups) {
      json buckets = json::array();
      for (const auto& c : g.buckets)
        buckets.push_back({{"OFPBucketCounter",
                            {{"packet_count", c.packet_count}, {"byte_count", c.byte_count}}}});
      body.push_back({{"OFPGroupStats",
                       {{"group_id", g.group_id},
                        {"ref_count", g.ref_count},
                        {"packet_count", g.packet_count},
                        {"byte_count", g.byte_count},
                        {"duration_sec", g.duration_sec},
                        {"duration_nsec", g.duration_nsec},
                        {"bucket_stats", buckets}}}});
    }
  } else if (auto* r = std::get_if<GroupDescReply>(&m.body)) {
    for (const auto& g : r->groups)
      body.push_back(
          {{"OFPGroupDescStats",
            {{"type", g.type}, {"group_id", g.group_id}, {"buckets", BucketsJson(g.buckets)}}}});
  } else if (auto* r = std::get_if<PortDescReply>(&m.body)) {
    for (const auto& p : r->ports) body.push_back(PortJson(p));
  }
  o["body"] = body;
  return o;
}

// The decoded message in Ryu's vocabulary (inner object, without the class name).
json ToRyuJson(const Message& msg) {
  return std::visit(
      [](const auto& b) -> json {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Hello>) {
          json versions(b.versions);
          return {{"elements", {{{"OFPHelloElemVersionBitmap", {{"versions", versions}}}}}}};
        } else if constexpr (std::is_same_v<T, Error>) {
          json o = {{"type", b.type}, {"data", B64(b.data)}};
          if (b.type == kErrorTypeExperimenter) {
            o["exp_type"] = b.code;
            o["experimenter"] = b.experimenter;
          } else {
            o["code"] = b.code;
          }
          return o;
        } else if constexpr (std::is_same_v<T, EchoRequest> || std::is_same_v<T, EchoReply>) {
          return {{"data", B64(b.data)}};
        } else if constexpr (std::is_same_v<T, FeaturesReply>) {
          return {{"datapath_id", b.datapath_id},
                  {"n_buffers", b.n_buffers},
                  {"n_tables", b.n_tables},
                  {"auxiliary_id", b.auxiliary_id},
                  {"capabilities", b.capabilities}};
        } else if constexpr (std::is_same_v<T, GetConfigReply> || std::is_same_v<T, SetConfig>) {
          return {{"flags", b.config.flags}, {"miss_send_len", b.config.miss_send_len}};
        } else if constexpr (std::is_same_v<T, PortStatus>) {
          return {{"reason", b.reason}, {"desc", PortJson(b.port)}};
        } else if constexpr (std::is_same_v<T, PacketIn>) {
          return {{"buffer_id", b.buffer_id}, {"total_len", b.total_len},
                  {"reason", b.reason},       {"table_id", b.table_id},
                  {"cookie", b.cookie},       {"match", MatchJson(b.match)},
                  {"data", B64(b.data)}};
        } else if constexpr (std::is_same_v<T, PacketOut>) {
          return {{"buffer_id", b.buffer_id},
                  {"in_port", b.in_port},
                  {"actions", ActionsJson(b.actions)},
                  {"data", B64(b.data)}};
        } else if constexpr (std::is_same_v<T, FlowMod>) {
          return {{"cookie", b.cookie},
                  {"cookie_mask", b.cookie_mask},
                  {"table_id", b.table_id},
                  {"command", b.command},
                  {"idle_timeout", b.idle_timeout_s},
                  {"hard_timeout", b.hard_timeout_s},
                  {"priority", b.priority},
                  {"buffer_id", b.buffer_id},
                  {"out_port", b.out_port},
                  {"out_group", b.out_group},
                  {"flags", b.flags},
                  {"match", MatchJson(b.match)},
                  {"instructions", InstructionsJson(b.instructions)}};
        } else if constexpr (std::is_same_v<T, GroupMod>) {
          return {{"command", b.command},
                  {"type", b.type},
                  {"group_id", b.group_id},
                  {"buckets", BucketsJson(b.buckets)}};
        } else if constexpr (std::is_same_v<T, MultipartRequest>) {
          return MultipartRequestJson(b);
        } else if constexpr (std::is_same_v<T, MultipartReply>) {
          return MultipartReplyJson(b);
        } else if constexpr (std::is_same_v<T, RoleRequest> || std::is_same_v<T, RoleReply>) {
          return {{"role", b.role}, {"generation_id", b.generation_id}};
        } else if constexpr (std::is_same_v<T, GetAsyncReply> || std::is_same_v<T, SetAsync>) {
          return AsyncJson(b.config);
        } else {
          return json::object();  // empty body
        }
      },
      msg.body);
}

// Every key of `mine` must exist in `expected` with an equal value (recursively); arrays must
// have equal length. Counts compared leaves so a test cannot pass by comparing nothing.
void ExpectSubset(const json& mine, const json& expected, const std::string& path, int* leaves) {
  if (mine.is_object()) {
    ASSERT_TRUE(expected.is_object()) << path << ": expected " << expected.dump();
    for (const auto& [key, value] : mine.items()) {
      ASSERT_TRUE(expected.contains(key))
          << path << "." << key << " missing in " << expected.dump();
      ExpectSubset(value, expected.at(key), path + "." + key, leaves);
    }
  } else if (mine.is_array()) {
    ASSERT_TRUE(expected.is_array()) << path;
    ASSERT_EQ(mine.size(), expected.size()) << path;
    for (size_t i = 0; i < mine.size(); ++i)
      ExpectSubset(mine[i], expected[i], path + "[" + std::to_string(i) + "]", leaves);
  } else {
    EXPECT_EQ(mine, expected) << path;
    ++*leaves;
  }
}

// Golden messages the codec models; everything else in the folder must be rejected.
const std::set<std::string> kSupported = {
    "4-0-ofp_desc_reply",
    "4-1-ofp_packet_out",
    "4-2-ofp_flow_mod",
    "4-3-ofp_flow_mod",
    "4-4-ofp_packet_in",
    "4-5-ofp_features_request",
    "4-6-ofp_features_reply",
    "4-7-ofp_set_config",
    "4-8-ofp_get_config_request",
    "4-9-ofp_get_config_reply",
    "4-10-ofp_hello",
    "4-11-ofp_flow_stats_request",
    "4-12-ofp_flow_stats_reply",
    "4-13-ofp_echo_request",
    "4-14-ofp_echo_reply",
    "4-15-ofp_error_msg",
    "4-17-ofp_barrier_request",
    "4-18-ofp_barrier_reply",
    "4-19-ofp_role_request",
    "4-20-ofp_role_reply",
    "4-21-ofp_group_mod",
    "4-24-ofp_desc_request",
    "4-25-ofp_aggregate_stats_request",
    "4-26-ofp_aggregate_stats_reply",
    "4-27-ofp_table_stats_request",
    "4-28-ofp_table_stats_reply",
    "4-29-ofp_port_stats_request",
    "4-30-ofp_port_stats_reply",
    "4-33-ofp_group_desc_request",
    "4-34-ofp_group_desc_reply",
    "4-39-ofp_port_status",
    "4-41-ofp_error_msg_experimenter",
    "4-42-ofp_get_async_request",
    "4-43-ofp_get_async_reply",
    "4-44-ofp_set_async",
    "4-46-ofp_flow_mod",
    "4-53-ofp_port_desc_request",
    "4-54-ofp_port_desc_reply",
    "4-57-ofp_group_stats_request",
    "4-58-ofp_group_stats_reply",
    "4-59-ofp_packet_in",
    "4-60-ofp_flow_mod",
};

std::string Stem(const std::filesystem::path& p) { return p.stem().stem().string(); }

TEST(GoldenTest, FolderIsFound) {
  auto packets = GoldenPackets();
  ASSERT_GE(packets.size(), 60u) << "golden folder " << GoldenDir()
                                 << " missing; set PULSE_SHARED_DIR";
}

TEST(GoldenTest, SupportedDecodeToExpectedValuesAndReencodeIdentically) {
  int checked = 0;
  for (const auto& path : GoldenPackets()) {
    std::string name = Stem(path);
    if (!kSupported.count(name)) continue;
    SCOPED_TRACE(name);
    std::vector<uint8_t> bytes = ReadBytes(path);
    auto decoded = Decode(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status();

    std::ifstream in(GoldenDir() / "expected" / (path.filename().string() + ".json"));
    json expected = json::parse(in);
    ASSERT_EQ(expected.size(), 1u);
    json mine = ToRyuJson(*decoded);
    int leaves = 0;
    ExpectSubset(mine, expected.begin().value(), name, &leaves);
    bool empty_body =
        bytes.size() == kHeaderBytes || std::holds_alternative<MultipartRequest>(decoded->body);
    if (!empty_body) {
      EXPECT_GT(leaves, 0) << "compared no field";
    }

    auto encoded = Encode(*decoded);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    EXPECT_EQ(*encoded, bytes) << "re-encoding differs";
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(kSupported.size()));
}

TEST(GoldenTest, UnsupportedAreRejected) {
  int rejected = 0;
  for (const auto& path : GoldenPackets()) {
    if (kSupported.count(Stem(path))) continue;
    auto decoded = Decode(ReadBytes(path));
    EXPECT_FALSE(decoded.ok()) << Stem(path) << " decoded but is not modelled";
    ++rejected;
  }
  EXPECT_GT(rejected, 10);
}

TEST(GoldenTest, EveryTruncationIsAnErrorNotACrash) {
  for (const auto& path : GoldenPackets()) {
    std::vector<uint8_t> bytes = ReadBytes(path);
    for (size_t n = 0; n < bytes.size(); ++n) {
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
      EXPECT_FALSE(Decode(prefix).ok()) << Stem(path) << " prefix " << n;
      // Same prefix with the header length fixed up: the body itself is truncated.
      if (n >= kHeaderBytes) {
        prefix[2] = static_cast<uint8_t>(n >> 8);
        prefix[3] = static_cast<uint8_t>(n);
        auto d = Decode(prefix);
        if (d.ok()) {
          EXPECT_TRUE(Encode(*d).ok());
        }
      }
      // Framing the untouched prefix must ask for more bytes (or reject a bad header).
      std::vector<uint8_t> raw_prefix(bytes.begin(), bytes.begin() + n);
      auto framed = NextMessageLength(raw_prefix);
      if (framed.ok()) {
        EXPECT_EQ(*framed, 0u) << Stem(path) << " prefix " << n;
      }
    }
  }
}

TEST(GoldenTest, RandomSingleByteCorruptionNeverCrashes) {
  std::mt19937 rng(12345);
  int decoded_ok = 0, errors = 0;
  for (const auto& path : GoldenPackets()) {
    std::vector<uint8_t> bytes = ReadBytes(path);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> c = bytes;
      c[rng() % c.size()] = static_cast<uint8_t>(rng());
      auto d = Decode(c);
      if (!d.ok()) {
        ++errors;
        continue;
      }
      ++decoded_ok;
      auto e = Encode(*d);
      ASSERT_TRUE(e.ok()) << Stem(path) << ": " << e.status();
      auto again = Decode(*e);
      ASSERT_TRUE(again.ok()) << Stem(path) << ": re-decode failed: " << again.status();
      auto e2 = Encode(*again);
      ASSERT_TRUE(e2.ok());
      EXPECT_EQ(*e, *e2) << Stem(path) << ": encode(decode(x)) is not stable";
    }
  }
  std::cout << "corruption: " << decoded_ok << " decoded, " << errors << " rejected\n";
  EXPECT_GT(errors, 0);
  EXPECT_GT(decoded_ok, 0);
}

TEST(FramingTest, NeedMoreCompleteAndErrors) {
  std::vector<uint8_t> hello = {4, 0, 0, 8, 0, 0, 0, 1, 4, 2};
  EXPECT_EQ(*NextMessageLength(absl::MakeSpan(hello.data(), 3)), 0u);
  EXPECT_EQ(*NextMessageLength(hello), 8u);
  std::vector<uint8_t> long_msg = {4, 0, 0, 16, 0, 0, 0, 1};
  EXPECT_EQ(*NextMessageLength(long_msg), 0u);
  std::vector<uint8_t> bad_version = {0x47, 0x45, 0x54, 0x20, 0, 0, 0, 0};  // "GET "
  EXPECT_FALSE(NextMessageLength(bad_version).ok());
  std::vector<uint8_t> short_len = {4, 0, 0, 4, 0, 0, 0, 0};
  auto s = NextMessageLength(short_len);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("length"), std::string::npos);
}

TEST(CodecTest, ErrorNamesFieldAndOffset) {
  // FLOW_MOD whose match length claims more bytes than the message holds.
  Message m;
  FlowMod f;
  f.match.Add(OxmField::kInPort, 3);
  m.body = f;
  auto bytes = *Encode(m);
  bytes[50] = 0x00;
  bytes[51] = 0xf0;  // match.length at offset 50
  auto d = Decode(bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("FLOW_MOD"), std::string::npos) << d.status();
  EXPECT_NE(d.status().message().find("match"), std::string::npos) << d.status();
  EXPECT_NE(d.status().message().find("offset"), std::string::npos) << d.status();
}

TEST(CodecTest, FlowModWithEcmpActionsRoundTrips) {
  FlowMod f;
  f.priority = 1000;
  f.table_id = 0;
  f.match.Add(OxmField::kEthType, 0x0800)
      .AddMasked(OxmField::kIpv4Dst, 0x0a000100, 0xffffff00)
      .Add(OxmField::kIpProto, 17)
      .Add(OxmField::kUdpDst, 4791)
      .Add(OxmField::kIpDscp, 26)
      .AddMasked(OxmField::kEthSrc, 0x020000000001, 0xffffffffffff);
  NxMultipathAction mp;
  mp.n_links = 4;
  NxRegLoadAction load;
  load.value = 7;
  MatchField vid;
  vid.field = OxmField::kVlanVid;
  vid.value = kOfpVidPresent | 100;
  f.instructions.push_back(
      ApplyActionsInstruction{{PushVlanAction{}, SetFieldAction{vid}, PopVlanAction{},
                               SetQueueAction{3}, load, mp, NxResubmitTableAction{0xfff8, 1}}});
  f.instructions.push_back(WriteActionsInstruction{{GroupAction{5}, OutputAction{2, 0}}});
  f.instructions.push_back(ClearActionsInstruction{});
  f.instructions.push_back(GotoTableInstruction{2});
  Message m{42, f};
  auto bytes = Encode(m);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto d = Decode(*bytes);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->xid, 42u);
  const auto& g = std::get<FlowMod>(d->body);
  EXPECT_EQ(g.priority, 1000);
  ASSERT_EQ(g.match.fields.size(), 6u);
  EXPECT_EQ(g.match.Find(OxmField::kIpv4Dst)->mask, 0xffffff00u);
  EXPECT_EQ(g.match.Find(OxmField::kEthSrc)->value, 0x020000000001u);
  EXPECT_EQ(g.match.Find(OxmField::kUdpDst)->value, 4791u);
  ASSERT_EQ(g.instructions.size(), 4u);
  const auto& apply = std::get<ApplyActionsInstruction>(g.instructions[0]).actions;
  ASSERT_EQ(apply.size(), 7u);
  EXPECT_EQ(std::get<SetFieldAction>(apply[1]).field.value, kOfpVidPresent | 100u);
  EXPECT_EQ(std::get<NxRegLoadAction>(apply[4]).value, 7u);
  const auto& mp2 = std::get<NxMultipathAction>(apply[5]);
  EXPECT_EQ(mp2.n_links, 4u);
  EXPECT_EQ(mp2.n_bits, 32);
  EXPECT_EQ(mp2.fields, 3);
  EXPECT_EQ(std::get<NxResubmitTableAction>(apply[6]).table_id, 1);
  EXPECT_EQ(std::get<GroupAction>(std::get<WriteActionsInstruction>(g.instructions[1]).actions[0])
                .group_id,
            5u);
  EXPECT_EQ(std::get<GotoTableInstruction>(g.instructions[3]).table_id, 2);
  EXPECT_EQ(*Encode(*d), *bytes);
}

TEST(CodecTest, NiciraMultipathWireLayout) {
  // multipath(symmetric_l3l4+udp,0,hrw,2,0,NXM_NX_REG0[]) as OVS encodes it.
  PacketOut p;
  p.actions.push_back(NxMultipathAction{});
  auto bytes = *Encode(Message{1, p});
  std::vector<uint8_t> action(bytes.begin() + 24, bytes.end());
  std::vector<uint8_t> want = {0xff, 0xff, 0x00, 0x20, 0x00, 0x00, 0x23, 0x20,   // hdr, NX
                               0x00, 0x0a, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,   // sub 10, l3l4+udp
                               0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,   // hrw, max_link 1
                               0x00, 0x00, 0x00, 0x1f, 0x00, 0x01, 0x00, 0x04};  // reg0[0..31]
  EXPECT_EQ(action, want);
}

TEST(CodecTest, GroupModSelectAndFastFailover) {
  for (uint8_t type :
       {static_cast<uint8_t>(GroupType::kSelect), static_cast<uint8_t>(GroupType::kFastFailover),
        static_cast<uint8_t>(GroupType::kAll), static_cast<uint8_t>(GroupType::kIndirect)}) {
    GroupMod g;
    g.type = type;
    g.group_id = 7;
    g.buckets.push_back(Bucket{3, 1, kGroupAny, {OutputAction{1}}});
    g.buckets.push_back(Bucket{1, 2, kGroupAny, {OutputAction{2}}});
    auto bytes = *Encode(Message{9, g});
    auto d = Decode(bytes);
    ASSERT_TRUE(d.ok()) << d.status();
    const auto& h = std::get<GroupMod>(d->body);
    EXPECT_EQ(h.type, type);
    ASSERT_EQ(h.buckets.size(), 2u);
    EXPECT_EQ(h.buckets[0].weight, 3);
    EXPECT_EQ(h.buckets[1].watch_port, 2u);
    EXPECT_EQ(std::get<OutputAction>(h.buckets[1].actions[0]).port, 2u);
  }
}

TEST(CodecTest, OversizedEncodeIsAnError) {
  EchoRequest e;
  e.data.assign(70000, 1);
  EXPECT_FALSE(Encode(Message{1, e}).ok());
}

TEST(CodecTest, HelloOfOtherVersionDecodes) {
  std::vector<uint8_t> of10_hello = {1, 0, 0, 8, 0, 0, 0, 5};
  auto d = Decode(of10_hello);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(std::get<Hello>(d->body).header_version, 1);
  EXPECT_TRUE(std::get<Hello>(d->body).versions.empty());
  std::vector<uint8_t> of10_echo = {1, 2, 0, 8, 0, 0, 0, 5};
  EXPECT_FALSE(Decode(of10_echo).ok());
}

}  // namespace
}  // namespace pulse::openflow
