#include "southbound/ovsdb/qos_programmer.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pulse::southbound::ovsdb {
namespace {

using nlohmann::json;
constexpr absl::string_view kDb = "Open_vSwitch";

json ToOvsdbMap(const StringMap& m) {
  json pairs = json::array();
  for (const auto& [k, v] : m) pairs.push_back(json::array({k, v}));
  return json::array({"map", pairs});
}

// An OVSDB map value as key -> value strings; error on anything else.
absl::StatusOr<StringMap> FromOvsdbMap(const json& value, absl::string_view what) {
  StringMap out;
  if (!value.is_array() || value.size() != 2 || value[0] != "map" || !value[1].is_array()) {
    return absl::DataLossError(absl::StrCat("ovsdb: ", what, " is not a map: ", value.dump()));
  }
  for (const json& pair : value[1]) {
    if (!pair.is_array() || pair.size() != 2) {
      return absl::DataLossError(absl::StrCat("ovsdb: bad pair in ", what));
    }
    out[pair[0].is_string() ? pair[0].get<std::string>() : pair[0].dump()] =
        pair[1].is_string() ? pair[1].get<std::string>() : pair[1].dump();
  }
  return out;
}

// The uuid strings of a column holding a reference or a set of references.
std::vector<std::string> UuidsOf(const json& value) {
  std::vector<std::string> out;
  if (value.is_array() && value.size() == 2 && value[0] == "uuid" && value[1].is_string()) {
    out.push_back(value[1]);
  } else if (value.is_array() && value.size() == 2 && value[0] == "set" && value[1].is_array()) {
    for (const json& v : value[1]) {
      for (std::string& u : UuidsOf(v)) out.push_back(std::move(u));
    }
  }
  return out;
}

int64_t RateOf(const StringMap& m, const std::string& key) {
  auto it = m.find(key);
  int64_t v = 0;
  if (it != m.end() && absl::SimpleAtoi(it->second, &v)) return v;
  return it == m.end() ? 0 : -1;  // -1: present but not a number
}

StringMap RateMap(int64_t min_rate, int64_t max_rate) {
  StringMap m;
  if (min_rate > 0) m["min-rate"] = std::to_string(min_rate);
  if (max_rate > 0) m["max-rate"] = std::to_string(max_rate);
  return m;
}

absl::StatusOr<json> SelectOne(OvsdbClient& client, absl::string_view table, const json& where) {
  json ops = json::array({{{"op", "select"}, {"table", table}, {"where", where}}});
  absl::StatusOr<json> r = client.Transact(kDb, ops);
  if (!r.ok()) return r.status();
  if (r->empty() || !(*r)[0].contains("rows") || !(*r)[0]["rows"].is_array()) {
    return absl::DataLossError(absl::StrCat("ovsdb: select on ", table, " returned no rows field"));
  }
  return (*r)[0]["rows"];
}

// The port's current qos column value (["set",[]] or ["uuid",U]) and the QoS + Queue uuids it
// owns, so a replacement can delete them in the same transaction (QoS and Queue are root
// tables in the Open_vSwitch schema: unreferenced rows are not garbage-collected).
struct CurrentQos {
  json qos_column = json::array({"set", json::array()});
  std::string qos_uuid;
  std::vector<std::string> queue_uuids;
};

absl::StatusOr<CurrentQos> ReadCurrentQos(OvsdbClient& client, const std::string& port) {
  absl::StatusOr<json> ports =
      SelectOne(client, "Port", json::array({json::array({"name", "==", port})}));
  if (!ports.ok()) return ports.status();
  if (ports->empty()) return absl::NotFoundError(absl::StrCat("ovsdb: no port named ", port));
  CurrentQos cur;
  cur.qos_column = (*ports)[0].value("qos", cur.qos_column);
  std::vector<std::string> qos = UuidsOf(cur.qos_column);
  if (qos.empty()) return cur;
  cur.qos_uuid = qos[0];
  absl::StatusOr<json> rows = SelectOne(
      client, "QoS", json::array({json::array({"_uuid", "==", json::array({"uuid", qos[0]})})}));
  if (!rows.ok()) return rows.status();
  if (!rows->empty()) {
    const json queues = (*rows)[0].value("queues", json());
    if (queues.is_array() && queues.size() == 2 && queues[1].is_array()) {
      for (const json& pair : queues[1]) {
        if (pair.is_array() && pair.size() == 2) {
          for (std::string& u : UuidsOf(pair[1])) cur.queue_uuids.push_back(std::move(u));
        }
      }
    }
  }
  return cur;
}

json WherePort(const std::string& port) { return json::array({json::array({"name", "==", port})}); }

json WhereUuid(const std::string& uuid) {
  return json::array({json::array({"_uuid", "==", json::array({"uuid", uuid})})});
}

// Ops that detach and delete the port's current QoS and its queues, guarded by a wait that
// fails the transaction if the port changed since it was read.
void AppendDetachOps(const std::string& port, const CurrentQos& cur, json& ops) {
  ops.push_back({{"op", "wait"},
                 {"table", "Port"},
                 {"where", WherePort(port)},
                 {"columns", json::array({"name", "qos"})},
                 {"until", "=="},
                 {"rows", json::array({{{"name", port}, {"qos", cur.qos_column}}})},
                 {"timeout", 0}});
}

void AppendDeleteOldOps(const CurrentQos& cur, json& ops) {
  if (cur.qos_uuid.empty()) return;
  ops.push_back({{"op", "delete"}, {"table", "QoS"}, {"where", WhereUuid(cur.qos_uuid)}});
  for (const std::string& q : cur.queue_uuids) {
    ops.push_back({{"op", "delete"}, {"table", "Queue"}, {"where", WhereUuid(q)}});
  }
}

}  // namespace

StringMap LosslessExternalIds(int64_t xon_bytes, int64_t xoff_bytes, int64_t ecn_kmin_bytes,
                              int64_t ecn_kmax_bytes, int ecn_pmax_percent,
                              absl::string_view pfc_enable) {
  return {{"pulse-xon-bytes", std::to_string(xon_bytes)},
          {"pulse-xoff-bytes", std::to_string(xoff_bytes)},
          {"pulse-ecn-kmin-bytes", std::to_string(ecn_kmin_bytes)},
          {"pulse-ecn-kmax-bytes", std::to_string(ecn_kmax_bytes)},
          {"pulse-ecn-pmax-percent", std::to_string(ecn_pmax_percent)},
          {"pulse-pfc-enable", std::string(pfc_enable)}};
}

absl::Status ProgramPortQos(OvsdbClient& client, const PortQosConfig& config) {
  if (config.port.empty()) return absl::InvalidArgumentError("ovsdb qos: empty port name");
  absl::StatusOr<CurrentQos> cur = ReadCurrentQos(client, config.port);
  if (!cur.ok()) {
    return absl::Status(cur.status().code(), absl::StrCat("programming qos on port ", config.port,
                                                          ": ", cur.status().message()));
  }
  json ops = json::array();
  AppendDetachOps(config.port, *cur, ops);
  json queue_map = json::array();
  for (const auto& [id, q] : config.queues) {
    if (id < 0 || id > 0xfffe) {
      return absl::InvalidArgumentError(absl::StrCat("ovsdb qos: queue id ", id, " out of range"));
    }
    const std::string name = absl::StrCat("pulse_queue_", id);
    ops.push_back({{"op", "insert"},
                   {"table", "Queue"},
                   {"uuid-name", name},
                   {"row",
                    {{"other_config", ToOvsdbMap(RateMap(q.min_rate_bps, q.max_rate_bps))},
                     {"external_ids", ToOvsdbMap(q.external_ids)}}}});
    queue_map.push_back(json::array({id, json::array({"named-uuid", name})}));
  }
  ops.push_back({{"op", "insert"},
                 {"table", "QoS"},
                 {"uuid-name", "pulse_qos"},
                 {"row",
                  {{"type", config.type},
                   {"other_config", ToOvsdbMap(RateMap(0, config.max_rate_bps))},
                   {"queues", json::array({"map", queue_map})},
                   {"external_ids", ToOvsdbMap(config.external_ids)}}}});
  ops.push_back({{"op", "update"},
                 {"table", "Port"},
                 {"where", json::array({json::array({"name", "==", config.port})})},
                 {"row", {{"qos", json::array({"named-uuid", "pulse_qos"})}}}});
  AppendDeleteOldOps(*cur, ops);
  ops.push_back({{"op", "comment"}, {"comment", absl::StrCat("pulse: qos for ", config.port)}});
  absl::StatusOr<json> r = client.Transact(kDb, ops);
  if (!r.ok()) {
    return absl::Status(r.status().code(), absl::StrCat("programming qos on port ", config.port,
                                                        ": ", r.status().message()));
  }
  return absl::OkStatus();
}

absl::Status ClearPortQos(OvsdbClient& client, absl::string_view port) {
  const std::string name(port);
  absl::StatusOr<CurrentQos> cur = ReadCurrentQos(client, name);
  if (!cur.ok()) return cur.status();
  if (cur->qos_uuid.empty()) return absl::OkStatus();
  json ops = json::array();
  AppendDetachOps(name, *cur, ops);
  ops.push_back({{"op", "update"},
                 {"table", "Port"},
                 {"where", WherePort(name)},
                 {"row", {{"qos", json::array({"set", json::array()})}}}});
  AppendDeleteOldOps(*cur, ops);
  absl::StatusOr<json> r = client.Transact(kDb, ops);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("clearing qos on port ", name, ": ", r.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<PortQosConfig> ReadPortQos(OvsdbClient& client, absl::string_view port) {
  absl::StatusOr<json> ports =
      SelectOne(client, "Port", json::array({json::array({"name", "==", std::string(port)})}));
  if (!ports.ok()) return ports.status();
  if (ports->empty()) {
    return absl::NotFoundError(absl::StrCat("ovsdb: no port named ", port));
  }
  PortQosConfig out;
  out.port = std::string(port);
  out.type.clear();
  std::vector<std::string> qos = UuidsOf((*ports)[0].value("qos", json()));
  if (qos.empty()) return out;
  absl::StatusOr<json> qrows = SelectOne(
      client, "QoS", json::array({json::array({"_uuid", "==", json::array({"uuid", qos[0]})})}));
  if (!qrows.ok()) return qrows.status();
  if (qrows->empty()) return absl::DataLossError(absl::StrCat("ovsdb: dangling qos of ", port));
  const json& row = (*qrows)[0];
  out.type = row.value("type", "");
  absl::StatusOr<StringMap> other =
      FromOvsdbMap(row.value("other_config", json()), "qos other_config");
  if (!other.ok()) return other.status();
  out.max_rate_bps = RateOf(*other, "max-rate");
  absl::StatusOr<StringMap> ext =
      FromOvsdbMap(row.value("external_ids", json()), "qos external_ids");
  if (!ext.ok()) return ext.status();
  out.external_ids = *ext;
  const json queues = row.value("queues", json());
  if (!queues.is_array() || queues.size() != 2 || queues[0] != "map") {
    return absl::DataLossError("ovsdb: qos queues is not a map");
  }
  for (const json& pair : queues[1]) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer()) {
      return absl::DataLossError("ovsdb: bad qos queues entry");
    }
    std::vector<std::string> uuid = UuidsOf(pair[1]);
    if (uuid.size() != 1) return absl::DataLossError("ovsdb: qos queue is not a uuid");
    absl::StatusOr<json> rows =
        SelectOne(client, "Queue",
                  json::array({json::array({"_uuid", "==", json::array({"uuid", uuid[0]})})}));
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return absl::DataLossError("ovsdb: dangling queue");
    QueueConfig q;
    absl::StatusOr<StringMap> qo =
        FromOvsdbMap((*rows)[0].value("other_config", json()), "queue other_config");
    if (!qo.ok()) return qo.status();
    q.min_rate_bps = RateOf(*qo, "min-rate");
    q.max_rate_bps = RateOf(*qo, "max-rate");
    absl::StatusOr<StringMap> qe =
        FromOvsdbMap((*rows)[0].value("external_ids", json()), "queue external_ids");
    if (!qe.ok()) return qe.status();
    q.external_ids = *qe;
    out.queues[pair[0].get<int>()] = q;
  }
  return out;
}

std::vector<std::string> AuditPortQos(const PortQosConfig& want, const PortQosConfig& have) {
  std::vector<std::string> diffs;
  const std::string p = absl::StrCat("port ", want.port);
  auto diff = [&](absl::string_view what, const std::string& w, const std::string& h) {
    if (w != h) diffs.push_back(absl::StrCat(p, " ", what, ": want ", w, ", have ", h));
  };
  auto rate = [](int64_t r) { return r == 0 ? std::string("unset") : std::to_string(r); };
  auto maps = [&](absl::string_view what, const StringMap& w, const StringMap& h) {
    std::set<std::string> keys;
    for (const auto& [k, v] : w) keys.insert(k);
    for (const auto& [k, v] : h) keys.insert(k);
    for (const std::string& k : keys) {
      auto wi = w.find(k);
      auto hi = h.find(k);
      diff(absl::StrCat(what, ":", k), wi == w.end() ? "absent" : wi->second,
           hi == h.end() ? "absent" : hi->second);
    }
  };
  diff("qos type", want.type.empty() ? "none" : want.type, have.type.empty() ? "none" : have.type);
  diff("qos max-rate", rate(want.max_rate_bps), rate(have.max_rate_bps));
  maps("qos external_ids", want.external_ids, have.external_ids);
  std::set<int> ids;
  for (const auto& [id, q] : want.queues) ids.insert(id);
  for (const auto& [id, q] : have.queues) ids.insert(id);
  for (int id : ids) {
    auto w = want.queues.find(id);
    auto h = have.queues.find(id);
    const std::string qn = absl::StrCat("queue ", id);
    if (w == want.queues.end()) {
      diffs.push_back(absl::StrCat(p, " ", qn, ": unexpected"));
      continue;
    }
    if (h == have.queues.end()) {
      diffs.push_back(absl::StrCat(p, " ", qn, ": missing"));
      continue;
    }
    diff(absl::StrCat(qn, " min-rate"), rate(w->second.min_rate_bps), rate(h->second.min_rate_bps));
    diff(absl::StrCat(qn, " max-rate"), rate(w->second.max_rate_bps), rate(h->second.max_rate_bps));
    maps(absl::StrCat(qn, " external_ids"), w->second.external_ids, h->second.external_ids);
  }
  return diffs;
}

absl::StatusOr<std::vector<std::string>> AuditPort(OvsdbClient& client, const PortQosConfig& want) {
  absl::StatusOr<PortQosConfig> have = ReadPortQos(client, want.port);
  if (!have.ok()) return have.status();
  return AuditPortQos(want, *have);
}

absl::StatusOr<std::vector<std::string>> RepairPortQos(OvsdbClient& client,
                                                       const PortQosConfig& want) {
  absl::StatusOr<std::vector<std::string>> diffs = AuditPort(client, want);
  if (!diffs.ok()) return diffs.status();
  if (diffs->empty()) return diffs;
  if (absl::Status s = ProgramPortQos(client, want); !s.ok()) return s;
  return diffs;
}

absl::Status QosChangeWatcher::Start(OvsdbClient& client) {
  json requests = {
      {"Port", {{"columns", json::array({"name", "qos"})}}},
      {"QoS", {{"columns", json::array({"type", "other_config", "queues", "external_ids"})}}},
      {"Queue", {{"columns", json::array({"other_config", "external_ids"})}}}};
  absl::StatusOr<json> initial =
      client.Monitor(kDb, "pulse-qos-watch", requests, [this](const json&, const json&) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++updates_;
        }
        cv_.notify_all();
      });
  return initial.status();
}

int64_t QosChangeWatcher::updates() const {
  std::lock_guard<std::mutex> lock(mu_);
  return updates_;
}

bool QosChangeWatcher::WaitForUpdateAfter(int64_t seen, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] { return updates_ > seen; });
}

}  // namespace pulse::southbound::ovsdb
