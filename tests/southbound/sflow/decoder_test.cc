#include "southbound/sflow/decoder.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace pulse::southbound::sflow {
namespace {

// Big-endian helpers to write datagrams byte by byte, independently of EncodeDatagram.
void Put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>(v >> shift));
}
void Put64(std::vector<uint8_t>& b, uint64_t v) {
  Put32(b, static_cast<uint32_t>(v >> 32));
  Put32(b, static_cast<uint32_t>(v));
}

// An Ethernet/IPv4/UDP frame prefix from 10.0.0.1:4791 to 10.0.0.2:5000, DSCP 26, ECN CE.
std::vector<uint8_t> UdpFrame() {
  std::vector<uint8_t> f = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00};
  const std::vector<uint8_t> ip = {
      0x45, (26 << 2) | 3, 0, 40, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  f.insert(f.end(), ip.begin(), ip.end());
  const std::vector<uint8_t> udp = {0x12, 0xb7, 0x13, 0x88, 0, 20, 0, 0};
  f.insert(f.end(), udp.begin(), udp.end());
  return f;
}

// A hand-written datagram: one compact counters sample (generic interface counters) and one
// compact flow sample with a raw header record, as Open vSwitch sends them.
std::vector<uint8_t> HandBuiltDatagram() {
  std::vector<uint8_t> b;
  Put32(b, 5);           // version
  Put32(b, 1);           // IPv4 agent
  Put32(b, 0x7f000001);  // 127.0.0.1
  Put32(b, 7);           // sub agent
  Put32(b, 42);          // sequence
  Put32(b, 123456);      // uptime
  Put32(b, 2);           // samples
  // counters_sample, format 2, length 4+4+4 + (8 + 88) = 108
  Put32(b, 2);
  Put32(b, 108);
  Put32(b, 9);               // sequence
  Put32(b, (0u << 24) | 3);  // ifIndex 3
  Put32(b, 1);               // one record
  Put32(b, 1);               // generic interface counters
  Put32(b, 88);
  Put32(b, 3);               // ifIndex
  Put32(b, 6);               // ethernetCsmacd
  Put64(b, 10'000'000'000);  // 10 Gb/s
  Put32(b, 1);               // full duplex
  Put32(b, 3);               // up/up
  Put64(b, 0x1'0000'0001);   // in octets (beyond 32 bits)
  for (uint32_t v : {100u, 2u, 1u, 5u, 6u, 0u}) Put32(b, v);
  Put64(b, 777);  // out octets
  for (uint32_t v : {200u, 3u, 4u, 8u, 9u}) Put32(b, v);
  Put32(b, 0);  // promiscuous
  // flow_sample, format 1
  const std::vector<uint8_t> frame = UdpFrame();  // 42 bytes -> padded to 44
  const uint32_t record_len = 16 + 44;
  const uint32_t sample_len = 32 + 8 + record_len;
  Put32(b, 1);
  Put32(b, sample_len);
  Put32(b, 11);              // sequence
  Put32(b, 3);               // source ifIndex 3
  Put32(b, 64);              // sampling rate
  Put32(b, 6400);            // pool
  Put32(b, 0);               // drops
  Put32(b, 3);               // input if
  Put32(b, (2u << 30) | 2);  // output: "multiple" format with 2 ports
  Put32(b, 1);               // records
  Put32(b, 1);               // raw packet header
  Put32(b, record_len);
  Put32(b, 1);     // Ethernet
  Put32(b, 1500);  // frame length
  Put32(b, 4);     // stripped
  Put32(b, static_cast<uint32_t>(frame.size()));
  b.insert(b.end(), frame.begin(), frame.end());
  b.push_back(0);
  b.push_back(0);
  return b;
}

TEST(SflowDecoderTest, DecodesHandBuiltDatagram) {
  const std::vector<uint8_t> bytes = HandBuiltDatagram();
  absl::StatusOr<Datagram> d = DecodeDatagram(bytes.data(), bytes.size());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->AgentAddressString(), "127.0.0.1");
  EXPECT_EQ(d->sub_agent_id, 7u);
  EXPECT_EQ(d->sequence_number, 42u);
  EXPECT_EQ(d->uptime_ms, 123456u);
  ASSERT_EQ(d->counter_samples.size(), 1u);
  const CounterSample& c = d->counter_samples[0];
  EXPECT_EQ(c.source_id_index, 3u);
  ASSERT_TRUE(c.interface.has_value());
  EXPECT_EQ(c.interface->if_speed_bps, 10'000'000'000u);
  EXPECT_EQ(c.interface->in_octets, 0x1'0000'0001u);
  EXPECT_EQ(c.interface->in_unicast_packets, 100u);
  EXPECT_EQ(c.interface->in_discards, 5u);
  EXPECT_EQ(c.interface->in_errors, 6u);
  EXPECT_EQ(c.interface->out_octets, 777u);
  EXPECT_EQ(c.interface->out_discards, 8u);
  EXPECT_EQ(c.interface->out_errors, 9u);
  ASSERT_EQ(d->flow_samples.size(), 1u);
  const FlowSample& f = d->flow_samples[0];
  EXPECT_EQ(f.sampling_rate, 64u);
  EXPECT_EQ(f.output_format, 2u);
  EXPECT_EQ(f.output_if, 2u);
  ASSERT_TRUE(f.header.has_value());
  EXPECT_EQ(f.header->frame_length_bytes, 1500u);
  EXPECT_EQ(f.header->header.size(), 42u);
  ASSERT_TRUE(f.header->info.tuple.has_value());
  const FiveTuple& t = *f.header->info.tuple;
  EXPECT_EQ(t.src_ipv4, 0x0a000001u);
  EXPECT_EQ(t.dst_ipv4, 0x0a000002u);
  EXPECT_EQ(t.ip_protocol, 17);
  EXPECT_EQ(t.src_port, 4791);
  EXPECT_EQ(t.dst_port, 5000);
  EXPECT_EQ(f.header->info.dscp, 26);
  EXPECT_EQ(f.header->info.ecn, 3);
}

TEST(SflowDecoderTest, EveryTruncationIsAnErrorNotACrash) {
  const std::vector<uint8_t> bytes = HandBuiltDatagram();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);  // exact-size heap buffer
    EXPECT_FALSE(DecodeDatagram(cut.data(), cut.size()).ok()) << "prefix of " << n << " bytes";
  }
}

TEST(SflowDecoderTest, RejectsBadVersionAddressTypeAndLyingLengths) {
  std::vector<uint8_t> bytes = HandBuiltDatagram();
  std::vector<uint8_t> v4 = bytes;
  v4[3] = 4;
  absl::StatusOr<Datagram> d = DecodeDatagram(v4.data(), v4.size());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("version 4"), std::string::npos) << d.status();

  std::vector<uint8_t> address = bytes;
  address[7] = 9;
  EXPECT_FALSE(DecodeDatagram(address.data(), address.size()).ok());

  // Sample count far beyond what the buffer can hold: rejected before allocating.
  std::vector<uint8_t> count = bytes;
  count[24] = 0xff;
  d = DecodeDatagram(count.data(), count.size());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("sample count"), std::string::npos) << d.status();

  // First sample's length claims more than is there.
  std::vector<uint8_t> length = bytes;
  length[32] = 0x7f;
  EXPECT_FALSE(DecodeDatagram(length.data(), length.size()).ok());

  // A counter record whose declared length is shorter than the generic counters structure.
  std::vector<uint8_t> short_record = bytes;
  short_record[55] = 40;  // low byte of the length word of the interface counters record
  EXPECT_FALSE(DecodeDatagram(short_record.data(), short_record.size()).ok());

  std::vector<uint8_t> trailing = bytes;
  trailing.push_back(0);
  EXPECT_FALSE(DecodeDatagram(trailing.data(), trailing.size()).ok());
  EXPECT_FALSE(DecodeDatagram(nullptr, 0).ok());
}

TEST(SflowDecoderTest, SkipsUnknownSamplesAndRecords) {
  std::vector<uint8_t> b;
  Put32(b, 5);
  Put32(b, 2);  // IPv6 agent
  for (int i = 0; i < 3; ++i) Put32(b, 0);
  Put32(b, 1);  // ::1
  Put32(b, 0);
  Put32(b, 1);
  Put32(b, 0);
  Put32(b, 2);                  // two samples
  Put32(b, (4413u << 12) | 7);  // vendor sample, skipped
  Put32(b, 8);
  Put64(b, 0);
  Put32(b, 2);  // counters sample with one unknown record (processor counters, format 1001)
  Put32(b, 12 + 8 + 4);
  Put32(b, 1);
  Put32(b, 1);
  Put32(b, 1);
  Put32(b, 1001);
  Put32(b, 4);
  Put32(b, 99);
  absl::StatusOr<Datagram> d = DecodeDatagram(b.data(), b.size());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->AgentAddressString(), "::1");
  EXPECT_EQ(d->skipped_samples, 1u);
  EXPECT_EQ(d->skipped_records, 1u);
  ASSERT_EQ(d->counter_samples.size(), 1u);
  EXPECT_FALSE(d->counter_samples[0].interface.has_value());
}

Datagram SampleDatagram() {
  Datagram d;
  d.agent_address = {192, 0, 2, 1};
  d.sequence_number = 3;
  CounterSample c;
  c.source_id_index = 0x1234567;  // needs the expanded form
  InterfaceCounters ic;
  ic.if_index = 0x1234567;
  ic.in_octets = 1ull << 40;
  ic.out_octets = 5;
  ic.out_discards = 17;
  c.interface = ic;
  d.counter_samples.push_back(c);
  FlowSample f;
  f.source_id_index = 0x1234567;
  f.sampling_rate = 1000;
  f.input_if = 0x1234567;
  SampledHeader h;
  h.header_protocol = kHeaderProtocolEthernet;
  h.frame_length_bytes = 4000;
  h.header = UdpFrame();
  f.header = h;
  d.flow_samples.push_back(f);
  return d;
}

TEST(SflowDecoderTest, ExpandedFormRoundTrips) {
  const std::vector<uint8_t> bytes = EncodeDatagram(SampleDatagram(), /*expanded=*/true);
  absl::StatusOr<Datagram> d = DecodeDatagram(bytes.data(), bytes.size());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->AgentAddressString(), "192.0.2.1");
  ASSERT_EQ(d->counter_samples.size(), 1u);
  EXPECT_EQ(d->counter_samples[0].source_id_index, 0x1234567u);
  EXPECT_EQ(d->counter_samples[0].interface->in_octets, 1ull << 40);
  EXPECT_EQ(d->counter_samples[0].interface->out_discards, 17u);
  ASSERT_EQ(d->flow_samples.size(), 1u);
  EXPECT_EQ(d->flow_samples[0].input_if, 0x1234567u);
  EXPECT_EQ(d->flow_samples[0].header->info.tuple->src_port, 4791);
}

TEST(SflowDecoderTest, EthernetParsingHandlesVlanTcpAndTruncation) {
  std::vector<uint8_t> f = UdpFrame();
  // Insert a VLAN tag and make it TCP.
  std::vector<uint8_t> tagged(f.begin(), f.begin() + 12);
  for (uint8_t v : {0x81, 0x00, 0x00, 0x0a}) tagged.push_back(v);
  tagged.insert(tagged.end(), f.begin() + 12, f.end());
  tagged[16 + 9 + 2] = 6;  // protocol byte of the IPv4 header, after the 4-byte tag
  PacketHeaderInfo info = ParseEthernetHeader(tagged.data(), tagged.size());
  EXPECT_EQ(info.ether_type, 0x0800);
  ASSERT_TRUE(info.tuple.has_value());
  EXPECT_EQ(info.tuple->ip_protocol, 6);
  EXPECT_EQ(info.tuple->dst_port, 5000);

  // Ports cut off: no tuple (a tuple without ports would merge distinct flows).
  info = ParseEthernetHeader(f.data(), 14 + 20 + 2);
  EXPECT_FALSE(info.tuple.has_value());
  info = ParseEthernetHeader(f.data(), 10);
  EXPECT_EQ(info.ether_type, 0);
  // An IPv4 header length below 20 bytes is malformed.
  std::vector<uint8_t> bad = f;
  bad[14] = 0x44;
  EXPECT_FALSE(ParseEthernetHeader(bad.data(), bad.size()).tuple.has_value());
}

}  // namespace
}  // namespace pulse::southbound::sflow
