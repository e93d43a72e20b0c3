#include "southbound/sflow/decoder.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pulse::southbound::sflow {
namespace {

// A bounds-checked big-endian (XDR) cursor over a byte range. `base` is the offset of `data`
// within the whole datagram so errors name absolute offsets.
class XdrReader {
 public:
  XdrReader(const uint8_t* data, size_t size, size_t base)
      : data_(data), size_(size), base_(base) {}

  size_t remaining() const { return size_ - pos_; }
  size_t offset() const { return base_ + pos_; }

  absl::Status U32(const char* what, uint32_t* out) {
    if (remaining() < 4) return Truncated(what, 4);
    const uint8_t* p = data_ + pos_;
    *out = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    pos_ += 4;
    return absl::OkStatus();
  }
  absl::Status U64(const char* what, uint64_t* out) {
    uint32_t hi = 0, lo = 0;
    if (remaining() < 8) return Truncated(what, 8);
    (void)U32(what, &hi);
    (void)U32(what, &lo);
    *out = (uint64_t{hi} << 32) | lo;
    return absl::OkStatus();
  }
  // An XDR opaque of `length` bytes padded to a multiple of 4: returns a sub-reader over it.
  absl::Status Opaque(const char* what, size_t length, XdrReader* out) {
    const size_t padded = (length + 3) & ~size_t{3};
    if (length > remaining() || padded > remaining()) return Truncated(what, padded);
    *out = XdrReader(data_ + pos_, length, offset());
    pos_ += padded;
    return absl::OkStatus();
  }
  const uint8_t* data() const { return data_ + pos_; }

 private:
  absl::Status Truncated(const char* what, size_t need) const {
    return absl::InvalidArgumentError(absl::StrCat(
        "sflow: ", what, " at byte ", offset(), " needs ", need, " bytes, ", remaining(), " left"));
  }

  const uint8_t* data_;
  size_t size_;
  size_t base_;
  size_t pos_ = 0;
};

#define PULSE_SFLOW_TRY(expr)  \
  do {                         \
    absl::Status _st = (expr); \
    if (!_st.ok()) return _st; \
  } while (0)

// A counted XDR array is bounded by what is left: each element takes at least 8 bytes (format +
// length), so a count larger than that is a lie and is rejected before any allocation.
absl::Status CheckCount(const XdrReader& r, const char* what, uint32_t count) {
  if (count > r.remaining() / 8) {
    return absl::InvalidArgumentError(absl::StrCat("sflow: ", what, " count ", count, " at byte ",
                                                   r.offset(), " exceeds the remaining ",
                                                   r.remaining(), " bytes"));
  }
  return absl::OkStatus();
}

absl::Status DecodeInterfaceCounters(XdrReader& r, InterfaceCounters* c) {
  PULSE_SFLOW_TRY(r.U32("ifIndex", &c->if_index));
  PULSE_SFLOW_TRY(r.U32("ifType", &c->if_type));
  PULSE_SFLOW_TRY(r.U64("ifSpeed", &c->if_speed_bps));
  PULSE_SFLOW_TRY(r.U32("ifDirection", &c->if_direction));
  PULSE_SFLOW_TRY(r.U32("ifStatus", &c->if_status));
  PULSE_SFLOW_TRY(r.U64("ifInOctets", &c->in_octets));
  PULSE_SFLOW_TRY(r.U32("ifInUcastPkts", &c->in_unicast_packets));
  PULSE_SFLOW_TRY(r.U32("ifInMulticastPkts", &c->in_multicast_packets));
  PULSE_SFLOW_TRY(r.U32("ifInBroadcastPkts", &c->in_broadcast_packets));
  PULSE_SFLOW_TRY(r.U32("ifInDiscards", &c->in_discards));
  PULSE_SFLOW_TRY(r.U32("ifInErrors", &c->in_errors));
  PULSE_SFLOW_TRY(r.U32("ifInUnknownProtos", &c->in_unknown_protos));
  PULSE_SFLOW_TRY(r.U64("ifOutOctets", &c->out_octets));
  PULSE_SFLOW_TRY(r.U32("ifOutUcastPkts", &c->out_unicast_packets));
  PULSE_SFLOW_TRY(r.U32("ifOutMulticastPkts", &c->out_multicast_packets));
  PULSE_SFLOW_TRY(r.U32("ifOutBroadcastPkts", &c->out_broadcast_packets));
  PULSE_SFLOW_TRY(r.U32("ifOutDiscards", &c->out_discards));
  PULSE_SFLOW_TRY(r.U32("ifOutErrors", &c->out_errors));
  PULSE_SFLOW_TRY(r.U32("ifPromiscuousMode", &c->promiscuous_mode));
  return absl::OkStatus();
}

absl::Status DecodeSampledHeader(XdrReader& r, SampledHeader* h) {
  PULSE_SFLOW_TRY(r.U32("header_protocol", &h->header_protocol));
  PULSE_SFLOW_TRY(r.U32("frame_length", &h->frame_length_bytes));
  PULSE_SFLOW_TRY(r.U32("stripped", &h->stripped_bytes));
  uint32_t length = 0;
  PULSE_SFLOW_TRY(r.U32("header length", &length));
  XdrReader bytes(nullptr, 0, 0);
  PULSE_SFLOW_TRY(r.Opaque("header bytes", length, &bytes));
  h->header.assign(bytes.data(), bytes.data() + length);
  if (h->header_protocol == kHeaderProtocolEthernet) {
    h->info = ParseEthernetHeader(h->header.data(), h->header.size());
  }
  return absl::OkStatus();
}

absl::Status DecodeFlowSample(XdrReader& r, bool expanded, Datagram* d) {
  FlowSample s;
  PULSE_SFLOW_TRY(r.U32("flow_sample sequence_number", &s.sequence_number));
  if (expanded) {
    PULSE_SFLOW_TRY(r.U32("flow_sample source_id type", &s.source_id_type));
    PULSE_SFLOW_TRY(r.U32("flow_sample source_id index", &s.source_id_index));
  } else {
    uint32_t source = 0;
    PULSE_SFLOW_TRY(r.U32("flow_sample source_id", &source));
    s.source_id_type = source >> 24;
    s.source_id_index = source & 0x00ffffff;
  }
  PULSE_SFLOW_TRY(r.U32("sampling_rate", &s.sampling_rate));
  PULSE_SFLOW_TRY(r.U32("sample_pool", &s.sample_pool));
  PULSE_SFLOW_TRY(r.U32("drops", &s.drops));
  if (expanded) {
    PULSE_SFLOW_TRY(r.U32("input format", &s.input_format));
    PULSE_SFLOW_TRY(r.U32("input value", &s.input_if));
    PULSE_SFLOW_TRY(r.U32("output format", &s.output_format));
    PULSE_SFLOW_TRY(r.U32("output value", &s.output_if));
  } else {
    uint32_t in = 0, out = 0;
    PULSE_SFLOW_TRY(r.U32("input", &in));
    PULSE_SFLOW_TRY(r.U32("output", &out));
    s.input_format = in >> 30;
    s.input_if = in & 0x3fffffff;
    s.output_format = out >> 30;
    s.output_if = out & 0x3fffffff;
  }
  uint32_t records = 0;
  PULSE_SFLOW_TRY(r.U32("flow record count", &records));
  PULSE_SFLOW_TRY(CheckCount(r, "flow record", records));
  for (uint32_t i = 0; i < records; ++i) {
    uint32_t format = 0, length = 0;
    PULSE_SFLOW_TRY(r.U32("flow record format", &format));
    PULSE_SFLOW_TRY(r.U32("flow record length", &length));
    XdrReader body(nullptr, 0, 0);
    PULSE_SFLOW_TRY(r.Opaque("flow record", length, &body));
    if (format == kRawPacketHeaderFormat && !s.header.has_value()) {
      SampledHeader h;
      PULSE_SFLOW_TRY(DecodeSampledHeader(body, &h));
      s.header = std::move(h);
    } else {
      ++d->skipped_records;
    }
  }
  d->flow_samples.push_back(std::move(s));
  return absl::OkStatus();
}

absl::Status DecodeCounterSample(XdrReader& r, bool expanded, Datagram* d) {
  CounterSample s;
  PULSE_SFLOW_TRY(r.U32("counters_sample sequence_number", &s.sequence_number));
  if (expanded) {
    PULSE_SFLOW_TRY(r.U32("counters_sample source_id type", &s.source_id_type));
    PULSE_SFLOW_TRY(r.U32("counters_sample source_id index", &s.source_id_index));
  } else {
    uint32_t source = 0;
    PULSE_SFLOW_TRY(r.U32("counters_sample source_id", &source));
    s.source_id_type = source >> 24;
    s.source_id_index = source & 0x00ffffff;
  }
  uint32_t records = 0;
  PULSE_SFLOW_TRY(r.U32("counter record count", &records));
  PULSE_SFLOW_TRY(CheckCount(r, "counter record", records));
  for (uint32_t i = 0; i < records; ++i) {
    uint32_t format = 0, length = 0;
    PULSE_SFLOW_TRY(r.U32("counter record format", &format));
    PULSE_SFLOW_TRY(r.U32("counter record length", &length));
    XdrReader body(nullptr, 0, 0);
    PULSE_SFLOW_TRY(r.Opaque("counter record", length, &body));
    if (format == kGenericInterfaceCountersFormat && !s.interface.has_value()) {
      InterfaceCounters c;
      PULSE_SFLOW_TRY(DecodeInterfaceCounters(body, &c));
      s.interface = c;
    } else {
      ++d->skipped_records;
    }
  }
  d->counter_samples.push_back(std::move(s));
  return absl::OkStatus();
}

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// XDR writer for the encoder.
class XdrWriter {
 public:
  void U32(uint32_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 24));
    out_.push_back(static_cast<uint8_t>(v >> 16));
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  void Bytes(const std::vector<uint8_t>& b) {
    out_.insert(out_.end(), b.begin(), b.end());
    while (out_.size() % 4 != 0) out_.push_back(0);
  }
  // Starts a length-prefixed block and returns the position of its length word.
  size_t BeginBlock(uint32_t format) {
    U32(format);
    U32(0);
    return out_.size() - 4;
  }
  void EndBlock(size_t length_pos) {
    const uint32_t length = static_cast<uint32_t>(out_.size() - length_pos - 4);
    for (int i = 0; i < 4; ++i) out_[length_pos + i] = static_cast<uint8_t>(length >> (24 - 8 * i));
  }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

}  // namespace

std::string Datagram::AgentAddressString() const {
  char text[INET6_ADDRSTRLEN] = {0};
  if (agent_address.size() == 4) {
    inet_ntop(AF_INET, agent_address.data(), text, sizeof(text));
  } else if (agent_address.size() == 16) {
    inet_ntop(AF_INET6, agent_address.data(), text, sizeof(text));
  }
  return text;
}

absl::StatusOr<Datagram> DecodeDatagram(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) return absl::InvalidArgumentError("sflow: null buffer");
  XdrReader r(data, size, 0);
  Datagram d;
  uint32_t version = 0;
  PULSE_SFLOW_TRY(r.U32("version", &version));
  if (version != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("sflow: datagram version ", version, " at byte 0, only 5 is supported"));
  }
  PULSE_SFLOW_TRY(r.U32("agent address type", &d.agent_address_type));
  size_t address_bytes = 0;
  if (d.agent_address_type == 1) {
    address_bytes = 4;
  } else if (d.agent_address_type == 2) {
    address_bytes = 16;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("sflow: unknown agent address type ", d.agent_address_type, " at byte 4"));
  }
  XdrReader address(nullptr, 0, 0);
  PULSE_SFLOW_TRY(r.Opaque("agent address", address_bytes, &address));
  d.agent_address.assign(address.data(), address.data() + address_bytes);
  PULSE_SFLOW_TRY(r.U32("sub_agent_id", &d.sub_agent_id));
  PULSE_SFLOW_TRY(r.U32("sequence_number", &d.sequence_number));
  PULSE_SFLOW_TRY(r.U32("uptime", &d.uptime_ms));
  uint32_t samples = 0;
  PULSE_SFLOW_TRY(r.U32("sample count", &samples));
  PULSE_SFLOW_TRY(CheckCount(r, "sample", samples));
  for (uint32_t i = 0; i < samples; ++i) {
    uint32_t format = 0, length = 0;
    PULSE_SFLOW_TRY(r.U32("sample format", &format));
    PULSE_SFLOW_TRY(r.U32("sample length", &length));
    XdrReader body(nullptr, 0, 0);
    PULSE_SFLOW_TRY(r.Opaque("sample", length, &body));
    switch (format) {
      case kFlowSampleFormat:
        PULSE_SFLOW_TRY(DecodeFlowSample(body, /*expanded=*/false, &d));
        break;
      case kFlowSampleExpandedFormat:
        PULSE_SFLOW_TRY(DecodeFlowSample(body, /*expanded=*/true, &d));
        break;
      case kCountersSampleFormat:
        PULSE_SFLOW_TRY(DecodeCounterSample(body, /*expanded=*/false, &d));
        break;
      case kCountersSampleExpandedFormat:
        PULSE_SFLOW_TRY(DecodeCounterSample(body, /*expanded=*/true, &d));
        break;
      default:
        ++d.skipped_samples;
    }
  }
  if (r.remaining() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sflow: ", r.remaining(), " trailing bytes after the last sample at byte ", r.offset()));
  }
  return d;
}

PacketHeaderInfo ParseEthernetHeader(const uint8_t* data, size_t size) {
  PacketHeaderInfo info;
  if (data == nullptr || size < 14) return info;
  size_t pos = 12;
  uint16_t type = Be16(data + pos);
  pos += 2;
  // Up to two VLAN tags (802.1Q, 802.1ad QinQ).
  for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8); ++tags) {
    if (size < pos + 4) return info;
    type = Be16(data + pos + 2);
    pos += 4;
  }
  info.ether_type = type;
  if (type != 0x0800 || size < pos + 20) return info;
  const uint8_t* ip = data + pos;
  if ((ip[0] >> 4) != 4) return info;
  const size_t ihl_bytes = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (ihl_bytes < 20) return info;
  info.dscp = ip[1] >> 2;
  info.ecn = ip[1] & 0x3;
  FiveTuple t;
  t.ip_protocol = ip[9];
  t.src_ipv4 = Be32(ip + 12);
  t.dst_ipv4 = Be32(ip + 16);
  const uint16_t fragment_offset = Be16(ip + 6) & 0x1fff;
  if ((t.ip_protocol == 6 || t.ip_protocol == 17) && fragment_offset == 0) {
    if (size < pos + ihl_bytes + 4) return info;  // ports not sampled: no usable tuple
    t.src_port = Be16(ip + ihl_bytes);
    t.dst_port = Be16(ip + ihl_bytes + 2);
  }
  info.tuple = t;
  return info;
}

std::vector<uint8_t> EncodeDatagram(const Datagram& d, bool expanded) {
  XdrWriter w;
  w.U32(5);
  w.U32(d.agent_address.size() == 16 ? 2 : 1);
  std::vector<uint8_t> address = d.agent_address;
  address.resize(d.agent_address.size() == 16 ? 16 : 4, 0);
  w.Bytes(address);
  w.U32(d.sub_agent_id);
  w.U32(d.sequence_number);
  w.U32(d.uptime_ms);
  w.U32(static_cast<uint32_t>(d.flow_samples.size() + d.counter_samples.size()));
  for (const FlowSample& s : d.flow_samples) {
    const size_t block = w.BeginBlock(expanded ? kFlowSampleExpandedFormat : kFlowSampleFormat);
    w.U32(s.sequence_number);
    if (expanded) {
      w.U32(s.source_id_type);
      w.U32(s.source_id_index);
    } else {
      w.U32((s.source_id_type << 24) | (s.source_id_index & 0x00ffffff));
    }
    w.U32(s.sampling_rate);
    w.U32(s.sample_pool);
    w.U32(s.drops);
    if (expanded) {
      w.U32(s.input_format);
      w.U32(s.input_if);
      w.U32(s.output_format);
      w.U32(s.output_if);
    } else {
      w.U32((s.input_format << 30) | (s.input_if & 0x3fffffff));
      w.U32((s.output_format << 30) | (s.output_if & 0x3fffffff));
    }
    w.U32(s.header.has_value() ? 1 : 0);
    if (s.header.has_value()) {
      const size_t record = w.BeginBlock(kRawPacketHeaderFormat);
      w.U32(s.header->header_protocol);
      w.U32(s.header->frame_length_bytes);
      w.U32(s.header->stripped_bytes);
      w.U32(static_cast<uint32_t>(s.header->header.size()));
      w.Bytes(s.header->header);
      w.EndBlock(record);
    }
    w.EndBlock(block);
  }
  for (const CounterSample& s : d.counter_samples) {
    const size_t block =
        w.BeginBlock(expanded ? kCountersSampleExpandedFormat : kCountersSampleFormat);
    w.U32(s.sequence_number);
    if (expanded) {
      w.U32(s.source_id_type);
      w.U32(s.source_id_index);
    } else {
      w.U32((s.source_id_type << 24) | (s.source_id_index & 0x00ffffff));
    }
    w.U32(s.interface.has_value() ? 1 : 0);
    if (s.interface.has_value()) {
      const InterfaceCounters& c = *s.interface;
      const size_t record = w.BeginBlock(kGenericInterfaceCountersFormat);
      w.U32(c.if_index);
      w.U32(c.if_type);
      w.U64(c.if_speed_bps);
      w.U32(c.if_direction);
      w.U32(c.if_status);
      w.U64(c.in_octets);
      w.U32(c.in_unicast_packets);
      w.U32(c.in_multicast_packets);
      w.U32(c.in_broadcast_packets);
      w.U32(c.in_discards);
      w.U32(c.in_errors);
      w.U32(c.in_unknown_protos);
      w.U64(c.out_octets);
      w.U32(c.out_unicast_packets);
      w.U32(c.out_multicast_packets);
      w.U32(c.out_broadcast_packets);
      w.U32(c.out_discards);
      w.U32(c.out_errors);
      w.U32(c.promiscuous_mode);
      w.EndBlock(record);
    }
    w.EndBlock(block);
  }
  return w.Take();
}

}  // namespace pulse::southbound::sflow
