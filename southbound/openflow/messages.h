#ifndef PULSE_SOUTHBOUND_OPENFLOW_MESSAGES_H_
#define PULSE_SOUTHBOUND_OPENFLOW_MESSAGES_H_

// Typed OpenFlow 1.3 messages. These structs know nothing about the wire layout (no padding,
// no length fields): codec.h converts between them and bytes. Elements the codec does not model
// (unknown OXM fields, actions, instructions) are kept as raw TLVs so that a decoded message
// re-encodes to the bytes it came from.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pulse::openflow {

inline constexpr uint8_t kOfp13Version = 0x04;

// Reserved port numbers (ofp_port_no).
inline constexpr uint32_t kPortMax = 0xffffff00;
inline constexpr uint32_t kPortInPort = 0xfffffff8;
inline constexpr uint32_t kPortFlood = 0xfffffffb;
inline constexpr uint32_t kPortAll = 0xfffffffc;
inline constexpr uint32_t kPortTable = 0xfffffff9;  // PACKET_OUT: through the flow tables
inline constexpr uint32_t kPortController = 0xfffffffd;
inline constexpr uint32_t kPortLocal = 0xfffffffe;
inline constexpr uint32_t kPortAny = 0xffffffff;
inline constexpr uint32_t kGroupAny = 0xffffffff;
inline constexpr uint32_t kGroupAll = 0xfffffffc;
inline constexpr uint32_t kNoBuffer = 0xffffffff;
inline constexpr uint16_t kControllerMaxLenNoBuffer = 0xffff;
inline constexpr uint8_t kTableAll = 0xff;

// ---------------------------------------------------------------------------------------------
// Match (OXM)

// The match fields the codec models. Anything else is kept as kRaw (the whole TLV).
enum class OxmField : uint8_t {
  kInPort,    // uint32
  kMetadata,  // uint64, maskable
  kEthDst,    // 48-bit MAC in the low bits of value, maskable
  kEthSrc,    // 48-bit MAC, maskable
  kEthType,   // uint16
  kVlanVid,   // uint16 (OFPVID_PRESENT 0x1000 | vid), maskable
  kVlanPcp,   // uint8
  kIpDscp,    // uint8 (6 bits)
  kIpEcn,     // uint8 (2 bits)
  kIpProto,   // uint8
  kIpv4Src,   // uint32, maskable
  kIpv4Dst,   // uint32, maskable
  kTcpSrc,    // uint16
  kTcpDst,    // uint16
  kUdpSrc,    // uint16
  kUdpDst,    // uint16
  kNxmReg0,   // Nicira register 0 (NXM_NX_REG0), uint32, maskable
  kRaw,       // unmodelled TLV, bytes in `raw` (header included)
};

inline constexpr uint16_t kOfpVidPresent = 0x1000;

// One OXM TLV. Values are host-order integers, whatever their wire width.
struct MatchField {
  OxmField field = OxmField::kRaw;
  uint64_t value = 0;
  bool has_mask = false;
  uint64_t mask = 0;
  std::vector<uint8_t> raw;  // only for kRaw: the complete TLV, header included
};

// An OXM match: fields in wire order (order is kept so re-encoding is byte-identical).
struct Match {
  std::vector<MatchField> fields;

  // First field of this kind, or nullptr.
  const MatchField* Find(OxmField field) const;
  // Appends an exact-match field; returns *this for chaining.
  Match& Add(OxmField field, uint64_t value);
  // Appends a masked field.
  Match& AddMasked(OxmField field, uint64_t value, uint64_t mask);
};

// ---------------------------------------------------------------------------------------------
// Actions

struct OutputAction {
  uint32_t port = 0;
  uint16_t max_len = kControllerMaxLenNoBuffer;  // bytes sent to the controller
};
struct GroupAction {
  uint32_t group_id = 0;
};
struct SetQueueAction {
  uint32_t queue_id = 0;
};
struct PushVlanAction {
  uint16_t ethertype = 0x8100;
};
struct PopVlanAction {};
struct SetFieldAction {
  MatchField field;  // never masked
};
// Nicira multipath: hash `fields` and write a link number in [0, n_links) to `dst` bits.
struct NxMultipathAction {
  uint16_t fields = 3;     // NX_HASH_FIELDS_*: 3 = symmetric_l3l4+udp
  uint16_t basis = 0;      // hash seed
  uint16_t algorithm = 2;  // NX_MP_ALG_*: 0 modulo_n, 1 hash_threshold, 2 hrw, 3 iter_hash
  uint32_t n_links = 2;    // number of output links, 1..65536 (wire carries n_links - 1)
  uint32_t arg = 0;
  uint16_t ofs = 0;                  // first destination bit
  uint16_t n_bits = 32;              // destination bit count
  uint32_t dst_header = 0x00010004;  // NXM header of the destination (default NXM_NX_REG0)
};
// Nicira resubmit(in_port, table): re-run the pipeline from `table_id`.
struct NxResubmitTableAction {
  uint16_t in_port = 0xfff8;  // OFPP_IN_PORT in 16-bit form: keep the packet's in_port
  uint8_t table_id = 0;
};
// Nicira reg_load: load `value` into `n_bits` bits of the NXM field `dst_header` at `ofs`.
struct NxRegLoadAction {
  uint16_t ofs = 0;
  uint16_t n_bits = 32;
  uint32_t dst_header = 0x00010004;
  uint64_t value = 0;
};
// Any other action, kept whole (header included).
struct RawAction {
  std::vector<uint8_t> bytes;
};

using Action = std::variant<OutputAction, GroupAction, SetQueueAction, PushVlanAction,
                            PopVlanAction, SetFieldAction, NxMultipathAction, NxResubmitTableAction,
                            NxRegLoadAction, RawAction>;
using ActionList = std::vector<Action>;

// ---------------------------------------------------------------------------------------------
// Instructions

struct GotoTableInstruction {
  uint8_t table_id = 0;
};
struct WriteActionsInstruction {
  ActionList actions;
};
struct ApplyActionsInstruction {
  ActionList actions;
};
struct ClearActionsInstruction {};
struct RawInstruction {
  std::vector<uint8_t> bytes;  // whole instruction, header included
};
using Instruction = std::variant<GotoTableInstruction, WriteActionsInstruction,
                                 ApplyActionsInstruction, ClearActionsInstruction, RawInstruction>;

// ---------------------------------------------------------------------------------------------
// Messages

// Message type numbers (ofp_type), used by the framing layer and in error messages.
enum class MsgType : uint8_t {
  kHello = 0,
  kError = 1,
  kEchoRequest = 2,
  kEchoReply = 3,
  kExperimenter = 4,
  kFeaturesRequest = 5,
  kFeaturesReply = 6,
  kGetConfigRequest = 7,
  kGetConfigReply = 8,
  kSetConfig = 9,
  kPacketIn = 10,
  kFlowRemoved = 11,
  kPortStatus = 12,
  kPacketOut = 13,
  kFlowMod = 14,
  kGroupMod = 15,
  kPortMod = 16,
  kTableMod = 17,
  kMultipartRequest = 18,
  kMultipartReply = 19,
  kBarrierRequest = 20,
  kBarrierReply = 21,
  kQueueGetConfigRequest = 22,
  kQueueGetConfigReply = 23,
  kRoleRequest = 24,
  kRoleReply = 25,
  kGetAsyncRequest = 26,
  kGetAsyncReply = 27,
  kSetAsync = 28,
  kMeterMod = 29,
};

// HELLO. `versions` lists the versions of the version-bitmap element (empty: no element, the
// header version alone is the offer). `header_version` is the version in the OpenFlow header,
// which for HELLO may be any version.
struct Hello {
  uint8_t header_version = kOfp13Version;
  std::vector<uint8_t> versions;
};

inline constexpr uint16_t kErrorTypeHelloFailed = 0;
inline constexpr uint16_t kErrorTypeBadRequest = 1;
inline constexpr uint16_t kBadRequestEperm = 5;  // OFPBRC_EPERM: permissions error
inline constexpr uint16_t kErrorTypeExperimenter = 0xffff;

// ERROR. For type 0xffff (experimenter) `code` is exp_type and `experimenter` is set.
struct Error {
  uint16_t type = 0;
  uint16_t code = 0;
  uint32_t experimenter = 0;
  std::vector<uint8_t> data;  // at least 64 bytes of the offending request, or text
};

struct EchoRequest {
  std::vector<uint8_t> data;
};
struct EchoReply {
  std::vector<uint8_t> data;
};
struct FeaturesRequest {};
struct FeaturesReply {
  uint64_t datapath_id = 0;
  uint32_t n_buffers = 0;
  uint8_t n_tables = 0;
  uint8_t auxiliary_id = 0;
  uint32_t capabilities = 0;
  uint32_t reserved = 0;
};
struct GetConfigRequest {};
// SET_CONFIG and GET_CONFIG_REPLY body.
struct SwitchConfig {
  uint16_t flags = 0;
  uint16_t miss_send_len = 128;
};
struct GetConfigReply {
  SwitchConfig config;
};
struct SetConfig {
  SwitchConfig config;
};

inline constexpr uint32_t kPortStateLinkDown = 1;
inline constexpr uint32_t kPortConfigPortDown = 1;

// ofp_port: one switch port as described by the switch.
struct PortInfo {
  uint32_t port_no = 0;
  uint64_t hw_addr = 0;  // 48-bit MAC
  std::string name;      // up to 15 characters
  uint32_t config = 0;
  uint32_t state = 0;
  uint32_t curr = 0;
  uint32_t advertised = 0;
  uint32_t supported = 0;
  uint32_t peer = 0;
  uint32_t curr_speed_kbps = 0;
  uint32_t max_speed_kbps = 0;

  // True if neither administratively down nor link down.
  bool IsUp() const {
    return (config & kPortConfigPortDown) == 0 && (state & kPortStateLinkDown) == 0;
  }
};

enum class PortReason : uint8_t { kAdd = 0, kDelete = 1, kModify = 2 };
struct PortStatus {
  uint8_t reason = 0;  // PortReason
  PortInfo port;
};

struct PacketIn {
  uint32_t buffer_id = kNoBuffer;
  uint16_t total_len = 0;
  uint8_t reason = 0;
  uint8_t table_id = 0;
  uint64_t cookie = 0;
  Match match;
  std::vector<uint8_t> data;
};

struct PacketOut {
  uint32_t buffer_id = kNoBuffer;
  uint32_t in_port = kPortController;
  ActionList actions;
  std::vector<uint8_t> data;
};

enum class FlowModCommand : uint8_t {
  kAdd = 0,
  kModify = 1,
  kModifyStrict = 2,
  kDelete = 3,
  kDeleteStrict = 4
};
inline constexpr uint16_t kFlowModFlagSendFlowRem = 1;
inline constexpr uint16_t kFlowModFlagCheckOverlap = 2;

struct FlowMod {
  uint64_t cookie = 0;
  uint64_t cookie_mask = 0;
  uint8_t table_id = 0;
  uint8_t command = 0;  // FlowModCommand
  uint16_t idle_timeout_s = 0;
  uint16_t hard_timeout_s = 0;
  uint16_t priority = 0;
  uint32_t buffer_id = kNoBuffer;
  uint32_t out_port = kPortAny;
  uint32_t out_group = kGroupAny;
  uint16_t flags = 0;
  Match match;
  std::vector<Instruction> instructions;
};

enum class GroupModCommand : uint16_t { kAdd = 0, kModify = 1, kDelete = 2 };
enum class GroupType : uint8_t { kAll = 0, kSelect = 1, kIndirect = 2, kFastFailover = 3 };

struct Bucket {
  uint16_t weight = 0;             // SELECT only
  uint32_t watch_port = kPortAny;  // FAST_FAILOVER liveness
  uint32_t watch_group = kGroupAny;
  ActionList actions;
};

struct GroupMod {
  uint16_t command = 0;  // GroupModCommand
  uint8_t type = 0;      // GroupType
  uint32_t group_id = 0;
  std::vector<Bucket> buckets;
};

// Multipart types (ofp_multipart_type).
enum class MultipartType : uint16_t {
  kDesc = 0,
  kFlow = 1,
  kAggregate = 2,
  kTable = 3,
  kPortStats = 4,
  kQueue = 5,
  kGroup = 6,
  kGroupDesc = 7,
  kGroupFeatures = 8,
  kMeter = 9,
  kMeterConfig = 10,
  kMeterFeatures = 11,
  kTableFeatures = 12,
  kPortDesc = 13,
  kExperimenter = 0xffff,
};
inline constexpr uint16_t kMultipartMore = 1;  // REQ_MORE / REPLY_MORE

struct DescRequest {};
struct PortDescRequest {};
struct TableStatsRequest {};
struct GroupDescRequest {};
struct PortStatsRequest {
  uint32_t port_no = kPortAny;
};
// FLOW and AGGREGATE requests share this body.
struct FlowStatsRequest {
  uint8_t table_id = kTableAll;
  uint32_t out_port = kPortAny;
  uint32_t out_group = kGroupAny;
  uint64_t cookie = 0;
  uint64_t cookie_mask = 0;
  Match match;
};
struct AggregateStatsRequest {
  FlowStatsRequest filter;
};
struct GroupStatsRequest {
  uint32_t group_id = kGroupAll;
};

struct MultipartRequest {
  uint16_t flags = 0;
  std::variant<DescRequest, FlowStatsRequest, AggregateStatsRequest, TableStatsRequest,
               PortStatsRequest, GroupStatsRequest, GroupDescRequest, PortDescRequest>
      body;
};

struct DescReply {
  std::string mfr_desc;
  std::string hw_desc;
  std::string sw_desc;
  std::string serial_num;
  std::string dp_desc;
};
struct FlowStats {
  uint8_t table_id = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  uint16_t priority = 0;
  uint16_t idle_timeout_s = 0;
  uint16_t hard_timeout_s = 0;
  uint16_t flags = 0;
  uint64_t cookie = 0;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  Match match;
  std::vector<Instruction> instructions;
};
struct FlowStatsReply {
  std::vector<FlowStats> flows;
};
struct AggregateStatsReply {
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  uint32_t flow_count = 0;
};
struct TableStats {
  uint8_t table_id = 0;
  uint32_t active_count = 0;
  uint64_t lookup_count = 0;
  uint64_t matched_count = 0;
};
struct TableStatsReply {
  std::vector<TableStats> tables;
};
struct PortStats {
  uint32_t port_no = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_dropped = 0;
  uint64_t rx_errors = 0;
  uint64_t tx_errors = 0;
  uint64_t rx_frame_err = 0;
  uint64_t rx_over_err = 0;
  uint64_t rx_crc_err = 0;
  uint64_t collisions = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
};
struct PortStatsReply {
  std::vector<PortStats> ports;
};
struct BucketCounter {
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
};
struct GroupStats {
  uint32_t group_id = 0;
  uint32_t ref_count = 0;
  uint64_t packet_count = 0;
  uint64_t byte_count = 0;
  uint32_t duration_sec = 0;
  uint32_t duration_nsec = 0;
  std::vector<BucketCounter> buckets;
};
struct GroupStatsReply {
  std::vector<GroupStats> groups;
};
struct GroupDesc {
  uint8_t type = 0;  // GroupType
  uint32_t group_id = 0;
  std::vector<Bucket> buckets;
};
struct GroupDescReply {
  std::vector<GroupDesc> groups;
};
struct PortDescReply {
  std::vector<PortInfo> ports;
};

struct MultipartReply {
  uint16_t flags = 0;  // kMultipartMore: more parts follow with the same xid
  std::variant<DescReply, FlowStatsReply, AggregateStatsReply, TableStatsReply, PortStatsReply,
               GroupStatsReply, GroupDescReply, PortDescReply>
      body;
};

struct BarrierRequest {};
struct BarrierReply {};

enum class ControllerRole : uint32_t { kNoChange = 0, kEqual = 1, kMaster = 2, kSlave = 3 };
struct RoleRequest {
  uint32_t role = 0;  // ControllerRole
  uint64_t generation_id = 0;
};
struct RoleReply {
  uint32_t role = 0;
  uint64_t generation_id = 0;
};

// SET_ASYNC / GET_ASYNC_REPLY body: [0] is for master/equal, [1] for slave; bit i enables
// reason i.
struct AsyncConfig {
  uint32_t packet_in_mask[2] = {0, 0};
  uint32_t port_status_mask[2] = {0, 0};
  uint32_t flow_removed_mask[2] = {0, 0};
};
struct GetAsyncRequest {};
struct GetAsyncReply {
  AsyncConfig config;
};
struct SetAsync {
  AsyncConfig config;
};

using MessageBody =
    std::variant<Hello, Error, EchoRequest, EchoReply, FeaturesRequest, FeaturesReply,
                 GetConfigRequest, GetConfigReply, SetConfig, PortStatus, PacketIn, PacketOut,
                 FlowMod, GroupMod, MultipartRequest, MultipartReply, BarrierRequest, BarrierReply,
                 RoleRequest, RoleReply, GetAsyncRequest, GetAsyncReply, SetAsync>;

// One OpenFlow message: transaction id plus typed body.
struct Message {
  uint32_t xid = 0;
  MessageBody body;
};

// The ofp_type of a body.
MsgType TypeOf(const MessageBody& body);
// Short name such as "FLOW_MOD", for logs and errors.
const char* MsgTypeName(uint8_t type);

}  // namespace pulse::openflow

#endif  // PULSE_SOUTHBOUND_OPENFLOW_MESSAGES_H_
