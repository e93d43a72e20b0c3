#include "southbound/openflow/codec.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace pulse::openflow {
namespace {

// ---------------------------------------------------------------------------------------------
// Bounded reader with a sticky error: after the first failure every read returns zero and the
// error (naming the field and absolute offset) is kept for the caller.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, size_t base, const char* context)
      : data_(data), size_(size), base_(base), context_(context) {}

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  size_t remaining() const { return size_ - pos_; }
  size_t offset() const { return base_ + pos_; }
  const char* context() const { return context_; }

  void Fail(const char* field, absl::string_view detail) {
    if (ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(context_, ": ", field, " at offset ", offset(), ": ", detail));
    }
  }
  // Copies a sub-reader's failure into this reader.
  void Absorb(const Reader& sub) {
    if (ok() && !sub.ok()) status_ = sub.status();
  }

  bool Need(size_t n, const char* field) {
    if (!ok()) return false;
    if (remaining() < n) {
      Fail(field, absl::StrCat("needs ", n, " bytes, ", remaining(), " left"));
      return false;
    }
    return true;
  }
  uint64_t Uint(size_t width, const char* field) {
    if (!Need(width, field)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += width;
    return v;
  }
  uint8_t U8(const char* field) { return static_cast<uint8_t>(Uint(1, field)); }
  uint16_t U16(const char* field) { return static_cast<uint16_t>(Uint(2, field)); }
  uint32_t U32(const char* field) { return static_cast<uint32_t>(Uint(4, field)); }
  uint64_t U64(const char* field) { return Uint(8, field); }
  void Skip(size_t n, const char* field) {
    if (Need(n, field)) pos_ += n;
  }
  std::vector<uint8_t> Bytes(size_t n, const char* field) {
    if (!Need(n, field)) return {};
    std::vector<uint8_t> out(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return out;
  }
  std::vector<uint8_t> Rest() { return Bytes(remaining(), "data"); }
  // Fixed-size NUL-padded string field.
  std::string FixedString(size_t n, const char* field) {
    if (!Need(n, field)) return {};
    const char* p = reinterpret_cast<const char*>(data_ + pos_);
    size_t len = strnlen(p, n);
    pos_ += n;
    return std::string(p, len);
  }
  // A reader over the next n bytes, which this reader consumes.
  Reader Sub(size_t n, const char* field) {
    if (!Need(n, field)) {
      Reader failed(nullptr, 0, offset(), context_);
      failed.status_ = status_;
      return failed;
    }
    Reader sub(data_ + pos_, n, offset(), context_);
    pos_ += n;
    return sub;
  }
  // Peeks a big-endian 16-bit value at pos + at without consuming; 0 if out of range.
  uint16_t PeekU16(size_t at) const {
    if (remaining() < at + 2) return 0;
    return static_cast<uint16_t>((data_[pos_ + at] << 8) | data_[pos_ + at + 1]);
  }
  void ExpectEnd() {
    if (ok() && remaining() != 0)
      Fail("end", absl::StrCat(remaining(), " unexpected trailing bytes"));
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t base_;
  const char* context_;
  absl::Status status_;
};

// Appending writer; length fields are patched once their extent is known.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}
  void Uint(uint64_t v, size_t width) {
    for (size_t i = width; i-- > 0;) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U8(uint8_t v) { Uint(v, 1); }
  void U16(uint16_t v) { Uint(v, 2); }
  void U32(uint32_t v) { Uint(v, 4); }
  void U64(uint64_t v) { Uint(v, 8); }
  void Zeros(size_t n) { out_->insert(out_->end(), n, 0); }
  void Bytes(const std::vector<uint8_t>& b) { out_->insert(out_->end(), b.begin(), b.end()); }
  void FixedString(const std::string& s, size_t n) {
    size_t len = std::min(s.size(), n - 1);
    out_->insert(out_->end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(len));
    Zeros(n - len);
  }
  size_t size() const { return out_->size(); }
  // Writes the byte count from `start` to the end into the 16-bit field at `at`.
  void PatchLength16(size_t at, size_t start, const char* field) {
    size_t len = out_->size() - start;
    if (len > 0xffff) {
      Fail(absl::StrCat(field, " of ", len, " bytes exceeds 65535"));
      return;
    }
    (*out_)[at] = static_cast<uint8_t>(len >> 8);
    (*out_)[at + 1] = static_cast<uint8_t>(len);
  }
  void PadTo8(size_t start) {
    size_t len = out_->size() - start;
    Zeros((8 - len % 8) % 8);
  }
  void Fail(std::string msg) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(std::move(msg));
  }
  const absl::Status& status() const { return status_; }

 private:
  std::vector<uint8_t>* out_;
  absl::Status status_;
};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---------------------------------------------------------------------------------------------
// OXM

struct OxmSpec {
  OxmField field;
  uint16_t oxm_class;
  uint8_t id;
  uint8_t width;
};
constexpr uint16_t kOxmClassOpenflowBasic = 0x8000;
constexpr uint16_t kOxmClassNxm1 = 0x0001;
constexpr OxmSpec kOxmSpecs[] = {
    {OxmField::kInPort, kOxmClassOpenflowBasic, 0, 4},
    {OxmField::kMetadata, kOxmClassOpenflowBasic, 2, 8},
    {OxmField::kEthDst, kOxmClassOpenflowBasic, 3, 6},
    {OxmField::kEthSrc, kOxmClassOpenflowBasic, 4, 6},
    {OxmField::kEthType, kOxmClassOpenflowBasic, 5, 2},
    {OxmField::kVlanVid, kOxmClassOpenflowBasic, 6, 2},
    {OxmField::kVlanPcp, kOxmClassOpenflowBasic, 7, 1},
    {OxmField::kIpDscp, kOxmClassOpenflowBasic, 8, 1},
    {OxmField::kIpEcn, kOxmClassOpenflowBasic, 9, 1},
    {OxmField::kIpProto, kOxmClassOpenflowBasic, 10, 1},
    {OxmField::kIpv4Src, kOxmClassOpenflowBasic, 11, 4},
    {OxmField::kIpv4Dst, kOxmClassOpenflowBasic, 12, 4},
    {OxmField::kTcpSrc, kOxmClassOpenflowBasic, 13, 2},
    {OxmField::kTcpDst, kOxmClassOpenflowBasic, 14, 2},
    {OxmField::kUdpSrc, kOxmClassOpenflowBasic, 15, 2},
    {OxmField::kUdpDst, kOxmClassOpenflowBasic, 16, 2},
    {OxmField::kNxmReg0, kOxmClassNxm1, 0, 4},
};

const OxmSpec* SpecFor(OxmField field) {
  for (const auto& s : kOxmSpecs)
    if (s.field == field) return &s;
  return nullptr;
}
const OxmSpec* SpecFor(uint16_t oxm_class, uint8_t id) {
  for (const auto& s : kOxmSpecs)
    if (s.oxm_class == oxm_class && s.id == id) return &s;
  return nullptr;
}

void DecodeOxm(Reader& r, MatchField* out) {
  if (!r.Need(4, "oxm header")) return;
  uint32_t header = static_cast<uint32_t>(r.PeekU16(0)) << 16 | r.PeekU16(2);
  uint16_t oxm_class = header >> 16;
  uint8_t id = (header >> 9) & 0x7f;
  bool has_mask = (header >> 8) & 1;
  uint8_t len = header & 0xff;
  const OxmSpec* spec = SpecFor(oxm_class, id);
  if (spec != nullptr && len == spec->width * (has_mask ? 2 : 1)) {
    r.Skip(4, "oxm header");
    out->field = spec->field;
    out->value = r.Uint(spec->width, "oxm value");
    out->has_mask = has_mask;
    out->mask = has_mask ? r.Uint(spec->width, "oxm mask") : 0;
    return;
  }
  out->field = OxmField::kRaw;
  out->raw = r.Bytes(4 + static_cast<size_t>(len), "oxm payload");
}

void EncodeOxm(Writer& w, const MatchField& f) {
  if (f.field == OxmField::kRaw) {
    w.Bytes(f.raw);
    return;
  }
  const OxmSpec* spec = SpecFor(f.field);
  uint32_t len = spec->width * (f.has_mask ? 2 : 1);
  w.U32(static_cast<uint32_t>(spec->oxm_class) << 16 | spec->id << 9 | (f.has_mask ? 1 : 0) << 8 |
        len);
  w.Uint(f.value, spec->width);
  if (f.has_mask) w.Uint(f.mask, spec->width);
}

// ofp_match (OXM type) including its padding to 8 bytes.
void DecodeMatch(Reader& r, Match* out) {
  size_t start = r.offset();
  uint16_t type = r.U16("match.type");
  uint16_t length = r.U16("match.length");
  if (!r.ok()) return;
  if (type != 1) return r.Fail("match.type", absl::StrCat("unsupported match type ", type));
  if (length < 4) return r.Fail("match.length", absl::StrCat(length, " < 4"));
  Reader fields = r.Sub(length - 4, "match.oxm_fields");
  while (fields.ok() && fields.remaining() > 0) {
    MatchField f;
    DecodeOxm(fields, &f);
    if (fields.ok()) out->fields.push_back(std::move(f));
  }
  r.Absorb(fields);
  size_t padded = (static_cast<size_t>(length) + 7) / 8 * 8;
  r.Skip(padded - length, "match padding");
  (void)start;
}

void EncodeMatch(Writer& w, const Match& m) {
  size_t start = w.size();
  w.U16(1);
  w.U16(0);
  for (const auto& f : m.fields) EncodeOxm(w, f);
  w.PatchLength16(start + 2, start, "match.length");
  w.PadTo8(start);
}

// ---------------------------------------------------------------------------------------------
// Actions

constexpr uint16_t kActOutput = 0, kActSetQueue = 21, kActGroup = 22, kActPushVlan = 17,
                   kActPopVlan = 18, kActSetField = 25, kActExperimenter = 0xffff;
constexpr uint32_t kNiciraExperimenter = 0x00002320;
constexpr uint16_t kNxastRegLoad = 7, kNxastMultipath = 10, kNxastResubmitTable = 14;

// Decodes one action from a reader spanning exactly that action. Returns false if the action
// is not modelled (the caller then keeps it raw).
bool DecodeTypedAction(Reader& a, uint16_t type, uint16_t len, Action* out) {
  a.Skip(4, "action header");
  switch (type) {
    case kActOutput: {
      if (len != 16) return false;
      OutputAction o;
      o.port = a.U32("output.port");
      o.max_len = a.U16("output.max_len");
      *out = o;
      return true;
    }
    case kActGroup:
      if (len != 8) return false;
      *out = GroupAction{a.U32("group.group_id")};
      return true;
    case kActSetQueue:
      if (len != 8) return false;
      *out = SetQueueAction{a.U32("set_queue.queue_id")};
      return true;
    case kActPushVlan:
      if (len != 8) return false;
      *out = PushVlanAction{a.U16("push_vlan.ethertype")};
      return true;
    case kActPopVlan:
      if (len != 8) return false;
      *out = PopVlanAction{};
      return true;
    case kActSetField: {
      SetFieldAction s;
      DecodeOxm(a, &s.field);
      if (!a.ok() || s.field.field == OxmField::kRaw || s.field.has_mask) return false;
      *out = std::move(s);
      return true;
    }
    case kActExperimenter: {
      if (len < 16) return false;
      uint32_t experimenter = a.U32("experimenter");
      uint16_t subtype = a.U16("experimenter.subtype");
      if (experimenter != kNiciraExperimenter) return false;
      if (subtype == kNxastMultipath && len == 32) {
        NxMultipathAction m;
        m.fields = a.U16("multipath.fields");
        m.basis = a.U16("multipath.basis");
        a.Skip(2, "multipath.pad");
        m.algorithm = a.U16("multipath.algorithm");
        m.n_links = static_cast<uint32_t>(a.U16("multipath.max_link")) + 1;
        m.arg = a.U32("multipath.arg");
        a.Skip(2, "multipath.pad2");
        uint16_t ofs_nbits = a.U16("multipath.ofs_nbits");
        m.ofs = ofs_nbits >> 6;
        m.n_bits = (ofs_nbits & 0x3f) + 1;
        m.dst_header = a.U32("multipath.dst");
        *out = m;
        return true;
      }
      if (subtype == kNxastResubmitTable && len == 16) {
        NxResubmitTableAction rs;
        rs.in_port = a.U16("resubmit.in_port");
        rs.table_id = a.U8("resubmit.table_id");
        *out = rs;
        return true;
      }
      if (subtype == kNxastRegLoad && len == 24) {
        NxRegLoadAction l;
        uint16_t ofs_nbits = a.U16("reg_load.ofs_nbits");
        l.ofs = ofs_nbits >> 6;
        l.n_bits = (ofs_nbits & 0x3f) + 1;
        l.dst_header = a.U32("reg_load.dst");
        l.value = a.U64("reg_load.value");
        *out = l;
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

void DecodeActions(Reader& r, ActionList* out) {
  while (r.ok() && r.remaining() > 0) {
    if (!r.Need(4, "action header")) return;
    uint16_t type = r.PeekU16(0);
    uint16_t len = r.PeekU16(2);
    if (len < 8 || len % 8 != 0)
      return r.Fail("action.len", absl::StrCat(len, " is not a positive multiple of 8"));
    if (len > r.remaining())
      return r.Fail("action.len", absl::StrCat(len, " exceeds the ", r.remaining(), " bytes left"));
    Reader probe = r;  // copy positioned at the action
    Reader a = probe.Sub(len, "action");
    Action action;
    if (DecodeTypedAction(a, type, len, &action) && a.ok()) {
      out->push_back(std::move(action));
    } else {
      out->push_back(RawAction{r.Bytes(len, "action")});
      continue;
    }
    r.Skip(len, "action");
  }
}

void EncodeAction(Writer& w, const Action& action) {
  size_t start = w.size();
  std::visit(Overloaded{
                 [&](const OutputAction& o) {
                   w.U16(kActOutput), w.U16(16), w.U32(o.port), w.U16(o.max_len), w.Zeros(6);
                 },
                 [&](const GroupAction& g) { w.U16(kActGroup), w.U16(8), w.U32(g.group_id); },
                 [&](const SetQueueAction& q) { w.U16(kActSetQueue), w.U16(8), w.U32(q.queue_id); },
                 [&](const PushVlanAction& p) {
                   w.U16(kActPushVlan), w.U16(8), w.U16(p.ethertype), w.Zeros(2);
                 },
                 [&](const PopVlanAction&) { w.U16(kActPopVlan), w.U16(8), w.Zeros(4); },
                 [&](const SetFieldAction& s) {
                   w.U16(kActSetField);
                   w.U16(0);
                   EncodeOxm(w, s.field);
                   w.PadTo8(start);
                   w.PatchLength16(start + 2, start, "set_field.len");
                 },
                 [&](const NxMultipathAction& m) {
                   if (m.n_links == 0 || m.n_links > 0x10000 || m.n_bits == 0 || m.n_bits > 64 ||
                       m.ofs > 0x3ff)
                     w.Fail("multipath: n_links must be 1..65536, n_bits 1..64, ofs < 1024");
                   w.U16(kActExperimenter), w.U16(32), w.U32(kNiciraExperimenter);
                   w.U16(kNxastMultipath), w.U16(m.fields), w.U16(m.basis), w.Zeros(2);
                   w.U16(m.algorithm), w.U16(static_cast<uint16_t>(m.n_links - 1)), w.U32(m.arg);
                   w.Zeros(2), w.U16(static_cast<uint16_t>(m.ofs << 6 | ((m.n_bits - 1) & 0x3f)));
                   w.U32(m.dst_header);
                 },
                 [&](const NxResubmitTableAction& rs) {
                   w.U16(kActExperimenter), w.U16(16), w.U32(kNiciraExperimenter);
                   w.U16(kNxastResubmitTable), w.U16(rs.in_port), w.U8(rs.table_id), w.Zeros(3);
                 },
                 [&](const NxRegLoadAction& l) {
                   if (l.n_bits == 0 || l.n_bits > 64 || l.ofs > 0x3ff)
                     w.Fail("reg_load: n_bits must be 1..64, ofs < 1024");
                   w.U16(kActExperimenter), w.U16(24), w.U32(kNiciraExperimenter);
                   w.U16(kNxastRegLoad),
                       w.U16(static_cast<uint16_t>(l.ofs << 6 | ((l.n_bits - 1) & 0x3f)));
                   w.U32(l.dst_header), w.U64(l.value);
                 },
                 [&](const RawAction& raw) { w.Bytes(raw.bytes); },
             },
             action);
}

void EncodeActions(Writer& w, const ActionList& actions) {
  for (const auto& a : actions) EncodeAction(w, a);
}

// ---------------------------------------------------------------------------------------------
// Instructions

constexpr uint16_t kInsGotoTable = 1, kInsWriteActions = 3, kInsApplyActions = 4,
                   kInsClearActions = 5;

void DecodeInstructions(Reader& r, std::vector<Instruction>* out) {
  while (r.ok() && r.remaining() > 0) {
    if (!r.Need(4, "instruction header")) return;
    uint16_t type = r.PeekU16(0);
    uint16_t len = r.PeekU16(2);
    if (len < 8 || len % 8 != 0)
      return r.Fail("instruction.len", absl::StrCat(len, " is not a positive multiple of 8"));
    if (len > r.remaining())
      return r.Fail("instruction.len",
                    absl::StrCat(len, " exceeds the ", r.remaining(), " bytes left"));
    if (type == kInsGotoTable && len == 8) {
      r.Skip(4, "instruction header");
      out->push_back(GotoTableInstruction{r.U8("goto_table.table_id")});
      r.Skip(3, "goto_table.pad");
    } else if (type == kInsClearActions && len == 8) {
      r.Skip(8, "clear_actions");
      out->push_back(ClearActionsInstruction{});
    } else if (type == kInsWriteActions || type == kInsApplyActions) {
      r.Skip(8, "instruction header");
      Reader actions = r.Sub(len - 8, "instruction.actions");
      ActionList list;
      DecodeActions(actions, &list);
      r.Absorb(actions);
      if (type == kInsWriteActions)
        out->push_back(WriteActionsInstruction{std::move(list)});
      else
        out->push_back(ApplyActionsInstruction{std::move(list)});
    } else {
      out->push_back(RawInstruction{r.Bytes(len, "instruction")});
    }
  }
}

void EncodeInstructions(Writer& w, const std::vector<Instruction>& instructions) {
  for (const auto& ins : instructions) {
    size_t start = w.size();
    std::visit(
        Overloaded{
            [&](const GotoTableInstruction& g) {
              w.U16(kInsGotoTable), w.U16(8), w.U8(g.table_id), w.Zeros(3);
            },
            [&](const WriteActionsInstruction& a) {
              w.U16(kInsWriteActions), w.U16(0), w.Zeros(4);
              EncodeActions(w, a.actions);
              w.PatchLength16(start + 2, start, "instruction.len");
            },
            [&](const ApplyActionsInstruction& a) {
              w.U16(kInsApplyActions), w.U16(0), w.Zeros(4);
              EncodeActions(w, a.actions);
              w.PatchLength16(start + 2, start, "instruction.len");
            },
            [&](const ClearActionsInstruction&) { w.U16(kInsClearActions), w.U16(8), w.Zeros(4); },
            [&](const RawInstruction& raw) { w.Bytes(raw.bytes); },
        },
        ins);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared structures

constexpr size_t kPortInfoBytes = 64;
constexpr size_t kPortStatsBytes = 112;
constexpr size_t kBucketHeaderBytes = 16;

void DecodePortInfo(Reader& r, PortInfo* p) {
  p->port_no = r.U32("port.port_no");
  r.Skip(4, "port.pad");
  p->hw_addr = r.Uint(6, "port.hw_addr");
  r.Skip(2, "port.pad2");
  p->name = r.FixedString(16, "port.name");
  p->config = r.U32("port.config");
  p->state = r.U32("port.state");
  p->curr = r.U32("port.curr");
  p->advertised = r.U32("port.advertised");
  p->supported = r.U32("port.supported");
  p->peer = r.U32("port.peer");
  p->curr_speed_kbps = r.U32("port.curr_speed");
  p->max_speed_kbps = r.U32("port.max_speed");
}

void EncodePortInfo(Writer& w, const PortInfo& p) {
  w.U32(p.port_no), w.Zeros(4), w.Uint(p.hw_addr, 6), w.Zeros(2);
  w.FixedString(p.name, 16);
  w.U32(p.config), w.U32(p.state), w.U32(p.curr), w.U32(p.advertised), w.U32(p.supported);
  w.U32(p.peer), w.U32(p.curr_speed_kbps), w.U32(p.max_speed_kbps);
}

void DecodeBuckets(Reader& r, std::vector<Bucket>* out) {
  while (r.ok() && r.remaining() > 0) {
    uint16_t len = r.PeekU16(0);
    if (!r.Need(kBucketHeaderBytes, "bucket")) return;
    if (len < kBucketHeaderBytes || len % 8 != 0)
      return r.Fail("bucket.len", absl::StrCat(len, " is < 16 or not a multiple of 8"));
    Reader b = r.Sub(len, "bucket.len");
    if (!r.ok()) return;
    Bucket bucket;
    b.Skip(2, "bucket.len");
    bucket.weight = b.U16("bucket.weight");
    bucket.watch_port = b.U32("bucket.watch_port");
    bucket.watch_group = b.U32("bucket.watch_group");
    b.Skip(4, "bucket.pad");
    DecodeActions(b, &bucket.actions);
    r.Absorb(b);
    out->push_back(std::move(bucket));
  }
}

void EncodeBuckets(Writer& w, const std::vector<Bucket>& buckets) {
  for (const auto& b : buckets) {
    size_t start = w.size();
    w.U16(0), w.U16(b.weight), w.U32(b.watch_port), w.U32(b.watch_group), w.Zeros(4);
    EncodeActions(w, b.actions);
    w.PatchLength16(start, start, "bucket.len");
  }
}

void DecodeFlowStatsRequest(Reader& r, FlowStatsRequest* f) {
  f->table_id = r.U8("table_id");
  r.Skip(3, "pad");
  f->out_port = r.U32("out_port");
  f->out_group = r.U32("out_group");
  r.Skip(4, "pad2");
  f->cookie = r.U64("cookie");
  f->cookie_mask = r.U64("cookie_mask");
  DecodeMatch(r, &f->match);
}

void EncodeFlowStatsRequest(Writer& w, const FlowStatsRequest& f) {
  w.U8(f.table_id), w.Zeros(3), w.U32(f.out_port), w.U32(f.out_group), w.Zeros(4);
  w.U64(f.cookie), w.U64(f.cookie_mask);
  EncodeMatch(w, f.match);
}

void DecodeAsync(Reader& r, AsyncConfig* c) {
  for (auto& m : c->packet_in_mask) m = r.U32("packet_in_mask");
  for (auto& m : c->port_status_mask) m = r.U32("port_status_mask");
  for (auto& m : c->flow_removed_mask) m = r.U32("flow_removed_mask");
}
void EncodeAsync(Writer& w, const AsyncConfig& c) {
  for (auto m : c.packet_in_mask) w.U32(m);
  for (auto m : c.port_status_mask) w.U32(m);
  for (auto m : c.flow_removed_mask) w.U32(m);
}

// Reads consecutive entries of a variable-length list whose first field is a 16-bit length.
template <class Fn>
void DecodeLengthPrefixedEntries(Reader& r, size_t min_len, const char* field, Fn decode_one) {
  while (r.ok() && r.remaining() > 0) {
    uint16_t len = r.PeekU16(0);
    if (!r.Need(2, field)) return;
    if (len < min_len) return r.Fail(field, absl::StrCat("length ", len, " < minimum ", min_len));
    Reader e = r.Sub(len, field);
    if (!r.ok()) return;
    decode_one(e);
    r.Absorb(e);
  }
}

// Reads a list of fixed-size entries.
template <class Fn>
void DecodeFixedEntries(Reader& r, size_t entry_len, const char* field, Fn decode_one) {
  if (r.ok() && r.remaining() % entry_len != 0)
    return r.Fail(field, absl::StrCat(r.remaining(), " bytes is not a multiple of ", entry_len));
  while (r.ok() && r.remaining() > 0) {
    Reader e = r.Sub(entry_len, field);
    decode_one(e);
    r.Absorb(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Multipart

absl::Status UnsupportedMultipart(const char* what, uint16_t type) {
  return absl::UnimplementedError(
      absl::StrCat(what, ": multipart type ", type, " is not supported by the codec"));
}

absl::Status DecodeMultipartRequest(Reader& r, MultipartRequest* m) {
  uint16_t type = r.U16("multipart.type");
  m->flags = r.U16("multipart.flags");
  r.Skip(4, "multipart.pad");
  if (!r.ok()) return r.status();
  switch (static_cast<MultipartType>(type)) {
    case MultipartType::kDesc:
      m->body = DescRequest{};
      break;
    case MultipartType::kTable:
      m->body = TableStatsRequest{};
      break;
    case MultipartType::kGroupDesc:
      m->body = GroupDescRequest{};
      break;
    case MultipartType::kPortDesc:
      m->body = PortDescRequest{};
      break;
    case MultipartType::kFlow: {
      FlowStatsRequest f;
      DecodeFlowStatsRequest(r, &f);
      m->body = std::move(f);
      break;
    }
    case MultipartType::kAggregate: {
      AggregateStatsRequest a;
      DecodeFlowStatsRequest(r, &a.filter);
      m->body = std::move(a);
      break;
    }
    case MultipartType::kPortStats: {
      PortStatsRequest p;
      p.port_no = r.U32("port_no");
      r.Skip(4, "pad");
      m->body = p;
      break;
    }
    case MultipartType::kGroup: {
      GroupStatsRequest g;
      g.group_id = r.U32("group_id");
      r.Skip(4, "pad");
      m->body = g;
      break;
    }
    default:
      return UnsupportedMultipart("MULTIPART_REQUEST", type);
  }
  r.ExpectEnd();
  return r.status();
}

// The multipart type of each alternative of MultipartRequest::body and MultipartReply::body:
// both variants list their alternatives in this order (messages.h).
constexpr MultipartType kMultipartTypeOfBody[] = {
    MultipartType::kDesc,      MultipartType::kFlow,      MultipartType::kAggregate,
    MultipartType::kTable,     MultipartType::kPortStats, MultipartType::kGroup,
    MultipartType::kGroupDesc, MultipartType::kPortDesc};

void EncodeMultipartRequest(Writer& w, const MultipartRequest& m) {
  w.U16(static_cast<uint16_t>(kMultipartTypeOfBody[m.body.index()])), w.U16(m.flags), w.Zeros(4);
  std::visit(Overloaded{
                 [&](const FlowStatsRequest& f) { EncodeFlowStatsRequest(w, f); },
                 [&](const AggregateStatsRequest& a) { EncodeFlowStatsRequest(w, a.filter); },
                 [&](const PortStatsRequest& p) { w.U32(p.port_no), w.Zeros(4); },
                 [&](const GroupStatsRequest& g) { w.U32(g.group_id), w.Zeros(4); },
                 [&](const auto&) {},
             },
             m.body);
}

absl::Status DecodeMultipartReply(Reader& r, MultipartReply* m) {
  uint16_t type = r.U16("multipart.type");
  m->flags = r.U16("multipart.flags");
  r.Skip(4, "multipart.pad");
  if (!r.ok()) return r.status();
  switch (static_cast<MultipartType>(type)) {
    case MultipartType::kDesc: {
      DescReply d;
      d.mfr_desc = r.FixedString(256, "mfr_desc");
      d.hw_desc = r.FixedString(256, "hw_desc");
      d.sw_desc = r.FixedString(256, "sw_desc");
      d.serial_num = r.FixedString(32, "serial_num");
      d.dp_desc = r.FixedString(256, "dp_desc");
      m->body = std::move(d);
      break;
    }
    case MultipartType::kFlow: {
      FlowStatsReply reply;
      DecodeLengthPrefixedEntries(r, 56, "flow_stats.length", [&](Reader& e) {
        FlowStats f;
        e.Skip(2, "flow_stats.length");
        f.table_id = e.U8("flow_stats.table_id");
        e.Skip(1, "flow_stats.pad");
        f.duration_sec = e.U32("flow_stats.duration_sec");
        f.duration_nsec = e.U32("flow_stats.duration_nsec");
        f.priority = e.U16("flow_stats.priority");
        f.idle_timeout_s = e.U16("flow_stats.idle_timeout");
        f.hard_timeout_s = e.U16("flow_stats.hard_timeout");
        f.flags = e.U16("flow_stats.flags");
        e.Skip(4, "flow_stats.pad2");
        f.cookie = e.U64("flow_stats.cookie");
        f.packet_count = e.U64("flow_stats.packet_count");
        f.byte_count = e.U64("flow_stats.byte_count");
        DecodeMatch(e, &f.match);
        DecodeInstructions(e, &f.instructions);
        reply.flows.push_back(std::move(f));
      });
      m->body = std::move(reply);
      break;
    }
    case MultipartType::kAggregate: {
      AggregateStatsReply a;
      a.packet_count = r.U64("packet_count");
      a.byte_count = r.U64("byte_count");
      a.flow_count = r.U32("flow_count");
      r.Skip(4, "pad");
      m->body = a;
      break;
    }
    case MultipartType::kTable: {
      TableStatsReply reply;
      DecodeFixedEntries(r, 24, "table_stats", [&](Reader& e) {
        TableStats t;
        t.table_id = e.U8("table_stats.table_id");
        e.Skip(3, "table_stats.pad");
        t.active_count = e.U32("table_stats.active_count");
        t.lookup_count = e.U64("table_stats.lookup_count");
        t.matched_count = e.U64("table_stats.matched_count");
        reply.tables.push_back(t);
      });
      m->body = std::move(reply);
      break;
    }
    case MultipartType::kPortStats: {
      PortStatsReply reply;
      DecodeFixedEntries(r, kPortStatsBytes, "port_stats", [&](Reader& e) {
        PortStats p;
        p.port_no = e.U32("port_stats.port_no");
        e.Skip(4, "port_stats.pad");
        uint64_t* counters[] = {&p.rx_packets,   &p.tx_packets,  &p.rx_bytes,   &p.tx_bytes,
                                &p.rx_dropped,   &p.tx_dropped,  &p.rx_errors,  &p.tx_errors,
                                &p.rx_frame_err, &p.rx_over_err, &p.rx_crc_err, &p.collisions};
        for (uint64_t* c : counters) *c = e.U64("port_stats.counter");
        p.duration_sec = e.U32("port_stats.duration_sec");
        p.duration_nsec = e.U32("port_stats.duration_nsec");
        reply.ports.push_back(p);
      });
      m->body = std::move(reply);
      break;
    }
    case MultipartType::kGroup: {
      GroupStatsReply reply;
      DecodeLengthPrefixedEntries(r, 40, "group_stats.length", [&](Reader& e) {
        GroupStats g;
        e.Skip(4, "group_stats.length");
        g.group_id = e.U32("group_stats.group_id");
        g.ref_count = e.U32("group_stats.ref_count");
        e.Skip(4, "group_stats.pad");
        g.packet_count = e.U64("group_stats.packet_count");
        g.byte_count = e.U64("group_stats.byte_count");
        g.duration_sec = e.U32("group_stats.duration_sec");
        g.duration_nsec = e.U32("group_stats.duration_nsec");
        DecodeFixedEntries(e, 16, "group_stats.bucket_stats", [&](Reader& b) {
          BucketCounter c;
          c.packet_count = b.U64("bucket_stats.packet_count");
          c.byte_count = b.U64("bucket_stats.byte_count");
          g.buckets.push_back(c);
        });
        reply.groups.push_back(std::move(g));
      });
      m->body = std::move(reply);
      break;
    }
    case MultipartType::kGroupDesc: {
      GroupDescReply reply;
      DecodeLengthPrefixedEntries(r, 8, "group_desc.length", [&](Reader& e) {
        GroupDesc g;
        e.Skip(2, "group_desc.length");
        g.type = e.U8("group_desc.type");
        e.Skip(1, "group_desc.pad");
        g.group_id = e.U32("group_desc.group_id");
        DecodeBuckets(e, &g.buckets);
        reply.groups.push_back(std::move(g));
      });
      m->body = std::move(reply);
      break;
    }
    case MultipartType::kPortDesc: {
      PortDescReply reply;
      DecodeFixedEntries(r, kPortInfoBytes, "port_desc", [&](Reader& e) {
        PortInfo p;
        DecodePortInfo(e, &p);
        reply.ports.push_back(std::move(p));
      });
      m->body = std::move(reply);
      break;
    }
    default:
      return UnsupportedMultipart("MULTIPART_REPLY", type);
  }
  r.ExpectEnd();
  return r.status();
}

void EncodeMultipartReply(Writer& w, const MultipartReply& m) {
  w.U16(static_cast<uint16_t>(kMultipartTypeOfBody[m.body.index()])), w.U16(m.flags), w.Zeros(4);
  std::visit(Overloaded{
                 [&](const DescReply& d) {
                   w.FixedString(d.mfr_desc, 256), w.FixedString(d.hw_desc, 256);
                   w.FixedString(d.sw_desc, 256), w.FixedString(d.serial_num, 32);
                   w.FixedString(d.dp_desc, 256);
                 },
                 [&](const FlowStatsReply& reply) {
                   for (const auto& f : reply.flows) {
                     size_t start = w.size();
                     w.U16(0), w.U8(f.table_id), w.Zeros(1), w.U32(f.duration_sec);
                     w.U32(f.duration_nsec), w.U16(f.priority), w.U16(f.idle_timeout_s);
                     w.U16(f.hard_timeout_s), w.U16(f.flags), w.Zeros(4), w.U64(f.cookie);
                     w.U64(f.packet_count), w.U64(f.byte_count);
                     EncodeMatch(w, f.match);
                     EncodeInstructions(w, f.instructions);
                     w.PatchLength16(start, start, "flow_stats.length");
                   }
                 },
                 [&](const AggregateStatsReply& a) {
                   w.U64(a.packet_count), w.U64(a.byte_count), w.U32(a.flow_count), w.Zeros(4);
                 },
                 [&](const TableStatsReply& reply) {
                   for (const auto& t : reply.tables) {
                     w.U8(t.table_id), w.Zeros(3), w.U32(t.active_count), w.U64(t.lookup_count);
                     w.U64(t.matched_count);
                   }
                 },
                 [&](const PortStatsReply& reply) {
                   for (const auto& p : reply.ports) {
                     w.U32(p.port_no), w.Zeros(4);
                     for (uint64_t c : {p.rx_packets, p.tx_packets, p.rx_bytes, p.tx_bytes,
                                        p.rx_dropped, p.tx_dropped, p.rx_errors, p.tx_errors,
                                        p.rx_frame_err, p.rx_over_err, p.rx_crc_err, p.collisions})
                       w.U64(c);
                     w.U32(p.duration_sec), w.U32(p.duration_nsec);
                   }
                 },
                 [&](const GroupStatsReply& reply) {
                   for (const auto& g : reply.groups) {
                     size_t start = w.size();
                     w.U16(0), w.Zeros(2), w.U32(g.group_id), w.U32(g.ref_count), w.Zeros(4);
                     w.U64(g.packet_count), w.U64(g.byte_count), w.U32(g.duration_sec);
                     w.U32(g.duration_nsec);
                     for (const auto& c : g.buckets) w.U64(c.packet_count), w.U64(c.byte_count);
                     w.PatchLength16(start, start, "group_stats.length");
                   }
                 },
                 [&](const GroupDescReply& reply) {
                   for (const auto& g : reply.groups) {
                     size_t start = w.size();
                     w.U16(0), w.U8(g.type), w.Zeros(1), w.U32(g.group_id);
                     EncodeBuckets(w, g.buckets);
                     w.PatchLength16(start, start, "group_desc.length");
                   }
                 },
                 [&](const PortDescReply& reply) {
                   for (const auto& p : reply.ports) EncodePortInfo(w, p);
                 },
             },
             m.body);
}

// ---------------------------------------------------------------------------------------------
// Messages

constexpr MsgType kBodyTypes[] = {MsgType::kHello,
                                  MsgType::kError,
                                  MsgType::kEchoRequest,
                                  MsgType::kEchoReply,
                                  MsgType::kFeaturesRequest,
                                  MsgType::kFeaturesReply,
                                  MsgType::kGetConfigRequest,
                                  MsgType::kGetConfigReply,
                                  MsgType::kSetConfig,
                                  MsgType::kPortStatus,
                                  MsgType::kPacketIn,
                                  MsgType::kPacketOut,
                                  MsgType::kFlowMod,
                                  MsgType::kGroupMod,
                                  MsgType::kMultipartRequest,
                                  MsgType::kMultipartReply,
                                  MsgType::kBarrierRequest,
                                  MsgType::kBarrierReply,
                                  MsgType::kRoleRequest,
                                  MsgType::kRoleReply,
                                  MsgType::kGetAsyncRequest,
                                  MsgType::kGetAsyncReply,
                                  MsgType::kSetAsync};
static_assert(sizeof(kBodyTypes) / sizeof(kBodyTypes[0]) == std::variant_size_v<MessageBody>,
              "kBodyTypes must list every MessageBody alternative in order");

absl::StatusOr<MessageBody> DecodeBody(uint8_t type, Reader& r) {
  switch (static_cast<MsgType>(type)) {
    case MsgType::kHello: {
      Hello h;
      while (r.ok() && r.remaining() > 0) {
        uint16_t elem_type = r.PeekU16(0);
        uint16_t elem_len = r.PeekU16(2);
        if (!r.Need(4, "hello element")) break;
        if (elem_len < 4) {
          r.Fail("hello element length", absl::StrCat(elem_len, " < 4"));
          break;
        }
        Reader e = r.Sub(elem_len, "hello element");
        if (!r.ok()) break;
        e.Skip(4, "hello element header");
        if (elem_type == 1) {  // OFPHET_VERSIONBITMAP
          if (e.remaining() % 4 != 0) {
            e.Fail("version bitmap", "length is not a multiple of 4");
          }
          for (uint32_t word = 0; e.ok() && e.remaining() >= 4; ++word) {
            uint32_t bits = e.U32("version bitmap");
            for (uint32_t bit = 0; bit < 32; ++bit)
              if (bits & (1u << bit) && word * 32 + bit <= 0xff)
                h.versions.push_back(static_cast<uint8_t>(word * 32 + bit));
          }
        }
        r.Absorb(e);
        size_t pad = (8 - elem_len % 8) % 8;
        r.Skip(std::min(pad, r.remaining()), "hello element padding");
      }
      return h;
    }
    case MsgType::kError: {
      Error e;
      e.type = r.U16("error.type");
      e.code = r.U16("error.code");
      if (e.type == kErrorTypeExperimenter) e.experimenter = r.U32("error.experimenter");
      e.data = r.Rest();
      return e;
    }
    case MsgType::kEchoRequest:
      return EchoRequest{r.Rest()};
    case MsgType::kEchoReply:
      return EchoReply{r.Rest()};
    case MsgType::kFeaturesRequest:
      r.ExpectEnd();
      return FeaturesRequest{};
    case MsgType::kFeaturesReply: {
      FeaturesReply f;
      f.datapath_id = r.U64("datapath_id");
      f.n_buffers = r.U32("n_buffers");
      f.n_tables = r.U8("n_tables");
      f.auxiliary_id = r.U8("auxiliary_id");
      r.Skip(2, "pad");
      f.capabilities = r.U32("capabilities");
      f.reserved = r.U32("reserved");
      r.ExpectEnd();
      return f;
    }
    case MsgType::kGetConfigRequest:
      r.ExpectEnd();
      return GetConfigRequest{};
    case MsgType::kGetConfigReply:
    case MsgType::kSetConfig: {
      SwitchConfig c;
      c.flags = r.U16("flags");
      c.miss_send_len = r.U16("miss_send_len");
      r.ExpectEnd();
      if (static_cast<MsgType>(type) == MsgType::kSetConfig) return SetConfig{c};
      return GetConfigReply{c};
    }
    case MsgType::kPortStatus: {
      PortStatus p;
      p.reason = r.U8("reason");
      r.Skip(7, "pad");
      DecodePortInfo(r, &p.port);
      r.ExpectEnd();
      return p;
    }
    case MsgType::kPacketIn: {
      PacketIn p;
      p.buffer_id = r.U32("buffer_id");
      p.total_len = r.U16("total_len");
      p.reason = r.U8("reason");
      p.table_id = r.U8("table_id");
      p.cookie = r.U64("cookie");
      DecodeMatch(r, &p.match);
      r.Skip(2, "pad");
      p.data = r.Rest();
      return p;
    }
    case MsgType::kPacketOut: {
      PacketOut p;
      p.buffer_id = r.U32("buffer_id");
      p.in_port = r.U32("in_port");
      uint16_t actions_len = r.U16("actions_len");
      r.Skip(6, "pad");
      Reader actions = r.Sub(actions_len, "actions_len");
      DecodeActions(actions, &p.actions);
      r.Absorb(actions);
      p.data = r.Rest();
      return p;
    }
    case MsgType::kFlowMod: {
      FlowMod f;
      f.cookie = r.U64("cookie");
      f.cookie_mask = r.U64("cookie_mask");
      f.table_id = r.U8("table_id");
      f.command = r.U8("command");
      f.idle_timeout_s = r.U16("idle_timeout");
      f.hard_timeout_s = r.U16("hard_timeout");
      f.priority = r.U16("priority");
      f.buffer_id = r.U32("buffer_id");
      f.out_port = r.U32("out_port");
      f.out_group = r.U32("out_group");
      f.flags = r.U16("flags");
      r.Skip(2, "pad");
      DecodeMatch(r, &f.match);
      DecodeInstructions(r, &f.instructions);
      return f;
    }
    case MsgType::kGroupMod: {
      GroupMod g;
      g.command = r.U16("command");
      g.type = r.U8("type");
      r.Skip(1, "pad");
      g.group_id = r.U32("group_id");
      DecodeBuckets(r, &g.buckets);
      return g;
    }
    case MsgType::kMultipartRequest: {
      MultipartRequest m;
      absl::Status s = DecodeMultipartRequest(r, &m);
      if (!s.ok()) return s;
      return m;
    }
    case MsgType::kMultipartReply: {
      MultipartReply m;
      absl::Status s = DecodeMultipartReply(r, &m);
      if (!s.ok()) return s;
      return m;
    }
    case MsgType::kBarrierRequest:
      r.ExpectEnd();
      return BarrierRequest{};
    case MsgType::kBarrierReply:
      r.ExpectEnd();
      return BarrierReply{};
    case MsgType::kRoleRequest:
    case MsgType::kRoleReply: {
      uint32_t role = r.U32("role");
      r.Skip(4, "pad");
      uint64_t generation_id = r.U64("generation_id");
      r.ExpectEnd();
      if (static_cast<MsgType>(type) == MsgType::kRoleRequest)
        return RoleRequest{role, generation_id};
      return RoleReply{role, generation_id};
    }
    case MsgType::kGetAsyncRequest:
      r.ExpectEnd();
      return GetAsyncRequest{};
    case MsgType::kGetAsyncReply:
    case MsgType::kSetAsync: {
      AsyncConfig c;
      DecodeAsync(r, &c);
      r.ExpectEnd();
      if (static_cast<MsgType>(type) == MsgType::kSetAsync) return SetAsync{c};
      return GetAsyncReply{c};
    }
    default:
      return absl::UnimplementedError(absl::StrCat("message type ", static_cast<int>(type), " (",
                                                   MsgTypeName(type),
                                                   ") is not supported by the codec"));
  }
}

void EncodeBody(Writer& w, const MessageBody& body) {
  std::visit(
      Overloaded{
          [&](const Hello& h) {
            if (h.versions.empty()) return;
            uint8_t max_version = 0;
            for (uint8_t v : h.versions) max_version = std::max(max_version, v);
            size_t words = max_version / 32 + 1;
            std::vector<uint32_t> bitmap(words, 0);
            for (uint8_t v : h.versions) bitmap[v / 32] |= 1u << (v % 32);
            size_t start = w.size();
            w.U16(1), w.U16(static_cast<uint16_t>(4 + 4 * words));
            for (uint32_t b : bitmap) w.U32(b);
            w.PadTo8(start);
          },
          [&](const Error& e) {
            w.U16(e.type), w.U16(e.code);
            if (e.type == kErrorTypeExperimenter) w.U32(e.experimenter);
            w.Bytes(e.data);
          },
          [&](const EchoRequest& e) { w.Bytes(e.data); },
          [&](const EchoReply& e) { w.Bytes(e.data); },
          [&](const FeaturesReply& f) {
            w.U64(f.datapath_id), w.U32(f.n_buffers), w.U8(f.n_tables), w.U8(f.auxiliary_id);
            w.Zeros(2), w.U32(f.capabilities), w.U32(f.reserved);
          },
          [&](const GetConfigReply& c) { w.U16(c.config.flags), w.U16(c.config.miss_send_len); },
          [&](const SetConfig& c) { w.U16(c.config.flags), w.U16(c.config.miss_send_len); },
          [&](const PortStatus& p) {
            w.U8(p.reason), w.Zeros(7);
            EncodePortInfo(w, p.port);
          },
          [&](const PacketIn& p) {
            w.U32(p.buffer_id), w.U16(p.total_len), w.U8(p.reason), w.U8(p.table_id);
            w.U64(p.cookie);
            EncodeMatch(w, p.match);
            w.Zeros(2);
            w.Bytes(p.data);
          },
          [&](const PacketOut& p) {
            w.U32(p.buffer_id), w.U32(p.in_port);
            size_t len_at = w.size();
            w.U16(0), w.Zeros(6);
            size_t start = w.size();
            EncodeActions(w, p.actions);
            w.PatchLength16(len_at, start, "actions_len");
            w.Bytes(p.data);
          },
          [&](const FlowMod& f) {
            w.U64(f.cookie), w.U64(f.cookie_mask), w.U8(f.table_id), w.U8(f.command);
            w.U16(f.idle_timeout_s), w.U16(f.hard_timeout_s), w.U16(f.priority);
            w.U32(f.buffer_id), w.U32(f.out_port), w.U32(f.out_group), w.U16(f.flags);
            w.Zeros(2);
            EncodeMatch(w, f.match);
            EncodeInstructions(w, f.instructions);
          },
          [&](const GroupMod& g) {
            w.U16(g.command), w.U8(g.type), w.Zeros(1), w.U32(g.group_id);
            EncodeBuckets(w, g.buckets);
          },
          [&](const MultipartRequest& m) { EncodeMultipartRequest(w, m); },
          [&](const MultipartReply& m) { EncodeMultipartReply(w, m); },
          [&](const RoleRequest& r) { w.U32(r.role), w.Zeros(4), w.U64(r.generation_id); },
          [&](const RoleReply& r) { w.U32(r.role), w.Zeros(4), w.U64(r.generation_id); },
          [&](const GetAsyncReply& a) { EncodeAsync(w, a.config); },
          [&](const SetAsync& a) { EncodeAsync(w, a.config); },
          [&](const auto&) {},  // empty bodies
      },
      body);
}

}  // namespace

const MatchField* Match::Find(OxmField field) const {
  for (const auto& f : fields)
    if (f.field == field) return &f;
  return nullptr;
}

Match& Match::Add(OxmField field, uint64_t value) {
  MatchField f;
  f.field = field;
  f.value = value;
  fields.push_back(std::move(f));
  return *this;
}

Match& Match::AddMasked(OxmField field, uint64_t value, uint64_t mask) {
  MatchField f;
  f.field = field;
  f.value = value;
  f.has_mask = true;
  f.mask = mask;
  fields.push_back(std::move(f));
  return *this;
}

MsgType TypeOf(const MessageBody& body) { return kBodyTypes[body.index()]; }

const char* MsgTypeName(uint8_t type) {
  static constexpr const char* kNames[] = {"HELLO",
                                           "ERROR",
                                           "ECHO_REQUEST",
                                           "ECHO_REPLY",
                                           "EXPERIMENTER",
                                           "FEATURES_REQUEST",
                                           "FEATURES_REPLY",
                                           "GET_CONFIG_REQUEST",
                                           "GET_CONFIG_REPLY",
                                           "SET_CONFIG",
                                           "PACKET_IN",
                                           "FLOW_REMOVED",
                                           "PORT_STATUS",
                                           "PACKET_OUT",
                                           "FLOW_MOD",
                                           "GROUP_MOD",
                                           "PORT_MOD",
                                           "TABLE_MOD",
                                           "MULTIPART_REQUEST",
                                           "MULTIPART_REPLY",
                                           "BARRIER_REQUEST",
                                           "BARRIER_REPLY",
                                           "QUEUE_GET_CONFIG_REQUEST",
                                           "QUEUE_GET_CONFIG_REPLY",
                                           "ROLE_REQUEST",
                                           "ROLE_REPLY",
                                           "GET_ASYNC_REQUEST",
                                           "GET_ASYNC_REPLY",
                                           "SET_ASYNC",
                                           "METER_MOD"};
  if (type < sizeof(kNames) / sizeof(kNames[0])) return kNames[type];
  return "UNKNOWN";
}

absl::StatusOr<size_t> NextMessageLength(absl::Span<const uint8_t> stream) {
  if (stream.size() < kHeaderBytes) return 0;
  uint8_t version = stream[0];
  if (version < 1 || version > 6)
    return absl::InvalidArgumentError(
        absl::StrCat("header.version at offset 0: ", static_cast<int>(version),
                     " is not an OpenFlow version (1..6)"));
  size_t length = static_cast<size_t>(stream[2]) << 8 | stream[3];
  if (length < kHeaderBytes)
    return absl::InvalidArgumentError(absl::StrCat("header.length at offset 2: ", length, " < 8"));
  if (stream.size() < length) return 0;
  return length;
}

absl::StatusOr<Message> Decode(absl::Span<const uint8_t> bytes) {
  Reader header(bytes.data(), bytes.size(), 0, "header");
  uint8_t version = header.U8("version");
  uint8_t type = header.U8("type");
  uint16_t length = header.U16("length");
  uint32_t xid = header.U32("xid");
  if (!header.ok()) return header.status();
  const char* name = MsgTypeName(type);
  if (length != bytes.size())
    return absl::InvalidArgumentError(absl::StrCat(name, ": header.length at offset 2: ", length,
                                                   " != ", bytes.size(), " bytes given"));
  if (version != kOfp13Version && static_cast<MsgType>(type) != MsgType::kHello)
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": header.version at offset 0: ", static_cast<int>(version), " is not 1.3 (4)"));
  Reader body(bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes, kHeaderBytes, name);
  absl::StatusOr<MessageBody> decoded = DecodeBody(type, body);
  if (!decoded.ok()) return decoded.status();
  if (!body.ok()) return body.status();
  Message m;
  m.xid = xid;
  m.body = std::move(*decoded);
  if (auto* hello = std::get_if<Hello>(&m.body)) hello->header_version = version;
  return m;
}

absl::StatusOr<std::vector<uint8_t>> Encode(const Message& message) {
  std::vector<uint8_t> out;
  out.reserve(64);
  Writer w(&out);
  uint8_t version = kOfp13Version;
  if (auto* hello = std::get_if<Hello>(&message.body)) version = hello->header_version;
  w.U8(version), w.U8(static_cast<uint8_t>(TypeOf(message.body))), w.U16(0), w.U32(message.xid);
  EncodeBody(w, message.body);
  w.PatchLength16(2, 0, "header.length");
  if (!w.status().ok())
    return absl::InvalidArgumentError(
        absl::StrCat("encode ", MsgTypeName(static_cast<uint8_t>(TypeOf(message.body))), ": ",
                     w.status().message()));
  return out;
}

Message MakeHello(uint32_t xid) {
  Message m;
  m.xid = xid;
  m.body = Hello{kOfp13Version, {kOfp13Version}};
  return m;
}

Message MakeHelloFailed(uint32_t xid, const std::string& why) {
  Message m;
  m.xid = xid;
  Error e;
  e.type = kErrorTypeHelloFailed;
  e.code = 0;  // OFPHFC_INCOMPATIBLE
  e.data.assign(why.begin(), why.end());
  m.body = std::move(e);
  return m;
}

}  // namespace pulse::openflow
