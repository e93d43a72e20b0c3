#!/usr/bin/python3
"""tools/sonic/configdb_to_yang_json.py: a small CONFIG_DB dump becomes SONiC's YANG JSON shape.

No network, no models and no yanglint: the schema is a hand-written compiled-schema text in the
form `yanglint -f info` prints (including libyang 2.1's quirks: list keys printed without spaces
or after ", "), for tables shaped like SONiC's (a two-part key, an inner map list, a leaf-list, a
GLOBAL container, a union of a port name and GLOBAL).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("PULSE_SOURCE_DIR", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")), "tools", "sonic"))
import configdb_to_yang_json as conv  # noqa: E402

INFO = [
    """module sonic-buffer-pg {
  container sonic-buffer-pg {
    container BUFFER_PG {
      description "Priority groups; a \\"quoted\\" word { and a brace }.";
      list BUFFER_PG_LIST {
        key "portpg_num";
        leaf port { type leafref { path "/port:sonic-port/port:PORT/port:PORT_LIST/port:name";
          type string { length "1..128"; } } }
        leaf pg_num { type string { pattern "[0-7]((-)[0-7])?"; } }
        leaf profile { type string; }
      }
    }
  }
}""",
    """module sonic-dscp-tc-map {
  container sonic-dscp-tc-map {
    container DSCP_TO_TC_MAP {
      list DSCP_TO_TC_MAP_LIST {
        must "count(DSCP_TO_TC_MAP) > 0";
        key ", name";
        leaf name { type string; }
        list DSCP_TO_TC_MAP { key "dscp"; leaf dscp { type string; } leaf tc { type string; } }
      }
    }
  }
}""",
    """module sonic-pfcwd {
  container sonic-pfcwd {
    container PFC_WD {
      list PFC_WD_LIST {
        key "ifname";
        leaf ifname { type union { type leafref { path "/a/b"; type string; }
          type string { pattern "GLOBAL"; } } }
        leaf detection_time { type uint32 { range "100..5000"; } }
        leaf POLL_INTERVAL { type uint32; }
        leaf big_counter { type uint64; }
      }
    }
  }
}""",
    """module sonic-hash {
  container sonic-hash {
    container SWITCH_HASH {
      container GLOBAL {
        leaf-list ecmp_hash { type string; }
        leaf ecmp_hash_algorithm { type enumeration { enum "CRC"; enum "XOR"; } }
      }
    }
  }
}""",
    """module sonic-buffer-port-ingress-profile-list {
  container sonic-buffer-port-ingress-profile-list {
    container BUFFER_PORT_INGRESS_PROFILE_LIST {
      list BUFFER_PORT_INGRESS_PROFILE_LIST_LIST {
        key "port";
        leaf port { type string; }
        leaf-list profile_list { type string; }
      }
    }
  }
}""",
]

DUMP = {
    "BUFFER_PG|Ethernet0|3-4": {"profile": "pg_lossless_100000_5m_profile"},
    "DSCP_TO_TC_MAP|AZURE": {"26": "3", "0": "1"},
    "PFC_WD|Ethernet0": {"detection_time": "200", "big_counter": "7"},
    "PFC_WD|GLOBAL": {"POLL_INTERVAL": "200"},
    "SWITCH_HASH|GLOBAL": {"ecmp_hash@": "SRC_IP,DST_IP,L4_SRC_PORT",
                           "ecmp_hash_algorithm": "CRC"},
    "BUFFER_PORT_INGRESS_PROFILE_LIST|Ethernet0": {
        "profile_list@": "ingress_lossless_profile,ingress_lossy_profile"},
    "PULSE_PRIVATE|x": {"a": "b"},
    "PFC_WD|Ethernet8": {"not_in_model": "1"},
}


class ConvertTest(unittest.TestCase):
    def setUp(self):
        self.tables = {}
        for text in INFO:
            conv.tables_from_info(text, self.tables)

    def test_schema_keys_with_libyang_quirks(self):
        self.assertEqual(self.tables["BUFFER_PG"].lists[0]["keys"], ["port", "pg_num"])
        self.assertEqual(self.tables["DSCP_TO_TC_MAP"].lists[0]["keys"], ["name"])
        self.assertEqual(self.tables["DSCP_TO_TC_MAP"].lists[0]["map"]["name"], "DSCP_TO_TC_MAP")
        self.assertIn("GLOBAL", self.tables["SWITCH_HASH"].containers)
        self.assertEqual(self.tables["PFC_WD"].lists[0]["leaves"]["detection_time"], {"uint32"})
        self.assertEqual(self.tables["PFC_WD"].lists[0]["leaves"]["ifname"], {"string"})

    def test_shape(self):
        data, counts, skipped = conv.convert(DUMP, self.tables)
        self.assertEqual(skipped, {"PULSE_PRIVATE"})
        self.assertEqual(counts["PFC_WD"], 3)
        self.assertEqual(
            data["sonic-buffer-pg:sonic-buffer-pg"]["BUFFER_PG"]["BUFFER_PG_LIST"],
            [{"port": "Ethernet0", "pg_num": "3-4", "profile": "pg_lossless_100000_5m_profile"}])
        dscp = data["sonic-dscp-tc-map:sonic-dscp-tc-map"]["DSCP_TO_TC_MAP"]
        self.assertEqual(dscp["DSCP_TO_TC_MAP_LIST"][0]["name"], "AZURE")
        self.assertCountEqual(dscp["DSCP_TO_TC_MAP_LIST"][0]["DSCP_TO_TC_MAP"],
                              [{"dscp": "26", "tc": "3"}, {"dscp": "0", "tc": "1"}])
        wd = data["sonic-pfcwd:sonic-pfcwd"]["PFC_WD"]["PFC_WD_LIST"]
        # uint32 as a JSON number, uint64 as a string (libyang's JSON encoding).
        self.assertIn({"ifname": "Ethernet0", "detection_time": 200, "big_counter": "7"}, wd)
        self.assertIn({"ifname": "GLOBAL", "POLL_INTERVAL": 200}, wd)
        # A field with no place in the model is kept, so that yanglint names it.
        self.assertIn({"ifname": "Ethernet8", "not_in_model": "1"}, wd)
        self.assertEqual(data["sonic-hash:sonic-hash"]["SWITCH_HASH"]["GLOBAL"], {
            "ecmp_hash": ["SRC_IP", "DST_IP", "L4_SRC_PORT"], "ecmp_hash_algorithm": "CRC"})
        module = "sonic-buffer-port-ingress-profile-list"
        lists = data[f"{module}:{module}"]
        self.assertEqual(
            lists["BUFFER_PORT_INGRESS_PROFILE_LIST"]["BUFFER_PORT_INGRESS_PROFILE_LIST_LIST"],
            [{"port": "Ethernet0",
              "profile_list": ["ingress_lossless_profile", "ingress_lossy_profile"]}])

    def test_config_db_json_and_port_stubs(self):
        entries = conv.entries_from_config_db_json({
            "BUFFER_PORT_INGRESS_PROFILE_LIST": {"Ethernet8": {"profile_list": ["a", "b"]}},
            "BUFFER_PG": {"Ethernet8|3-4": {"profile": "p"}}})
        self.assertEqual(entries["BUFFER_PORT_INGRESS_PROFILE_LIST|Ethernet8"],
                         {"profile_list@": "a,b"})
        self.assertEqual(conv.stub_ports(entries, 100000),
                         {"PORT|Ethernet8": {"lanes": "8", "speed": "100000"}})
        self.assertEqual(conv.stub_ports({"PORT|Ethernet0": {}, **entries}, 100000), {})

    def test_render_template(self):
        text = ('{% if yang_model_type == "cvl" %}\ncvl only\n{% else %}\npy only\n{% endif %}\n'
                'module m {\n{% if yang_model_type == "cvl" %}\n  cvl-ext;\n{% endif %}\n}\n')
        self.assertEqual(conv.render_template(text), "py only\nmodule m {\n}\n")


if __name__ == "__main__":
    unittest.main()
