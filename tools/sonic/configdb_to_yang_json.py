#!/usr/bin/python3
"""Convert a SONiC CONFIG_DB dump into the JSON instance data SONiC's YANG models describe, so
that libyang's `yanglint` can validate it (what Pulse writes, or any switch's CONFIG_DB).

Input (file or '-'), either shape:
  - a Redis dump: {"TABLE|key1|key2": {"field": "value", "list@": "a,b"}, ...}
    (what `--redis SOCKET_OR_HOST:PORT` reads with redis-cli, CONFIG_DB is database 4);
  - config_db.json: {"TABLE": {"key1|key2": {...}}, ...} (what `pulsectl qos export --format
    sonic` prints, possibly under a top-level switch name: use --switch).
Output: {"sonic-<module>:sonic-<module>": {"TABLE": {"TABLE_LIST": [...]}}, ...}.

How an entry is placed, read from the models themselves (`yanglint -f info`, the compiled
schema, so groupings and typedefs are resolved):
  - the table is the container named TABLE under a module's top container;
  - key "GLOBAL" (or any single key) goes into a child container of that name if the table has
    one (SWITCH_HASH|GLOBAL); otherwise into the table's list whose key has as many leaves as the
    CONFIG_DB key has '|'-separated parts (several candidates: the first whose leaves name every
    field), the parts becoming the key leaves in order;
  - "<name>@" fields and fields that are leaf-lists become JSON arrays (comma-split);
  - fields the list has no leaf for go into its inner "map" list when it has one
    (DSCP_TO_TC_MAP|AZURE {"26": "3"} -> DSCP_TO_TC_MAP: [{"dscp": "26", "tc": "3"}]);
  - values are JSON numbers where the leaf's type (or a member of its union) is an integer of up
    to 32 bits, booleans for boolean leaves, strings otherwise (libyang's JSON encoding).
Fields with no place are kept as they are, so that yanglint refuses them by name. Tables no
module describes are listed on stderr and left out (they cannot be validated).

--stub-ports SPEED adds a PORT entry (lanes, speed) for every EthernetN the data names when the
dump has no PORT table: the platform writes PORT, Pulse does not, and the models' leafrefs need
the ports to exist.

Usage:
  configdb_to_yang_json.py --models DIR [--redis unix:/path|HOST:PORT] [--switch NAME]
                           [--stub-ports 400000] [DUMP.json] > data.json
  yanglint -t config -p DIR DIR/*.yang data.json     (see sonic_yang_check.sh)
Only the Python standard library (and redis-cli, yanglint) is needed.
"""

import argparse
import json
import re
import subprocess
import sys

INT_TYPES = {"int8", "int16", "int32", "uint8", "uint16", "uint32"}


# ---- the compiled schema, from `yanglint -f info` ----

def tokenize(text):
    """YANG statement tokens: words, quoted strings (joined by '+'), '{', '}', ';'."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "{};":
            tokens.append(c)
            i += 1
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if c == '"' and text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            s = "".join(buf)
            i = j + 1
            if tokens and isinstance(tokens[-1], tuple) and tokens[-1][0] == "+":
                tokens.pop()
                s = tokens.pop()[1] + s
            tokens.append(("str", s))
        elif c == "/" and text.startswith("//", i):
            i = text.find("\n", i) if text.find("\n", i) >= 0 else n
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};":
                j += 1
            word = text[i:j]
            tokens.append(("+", "+") if word == "+" else ("str", word))
            i = j
    return tokens


def parse_statements(tokens):
    """[(keyword, argument, children)] from a token list."""
    def block(pos):
        out = []
        while pos < len(tokens) and tokens[pos] != "}":
            keyword = tokens[pos][1]
            pos += 1
            arg = None
            if pos < len(tokens) and isinstance(tokens[pos], tuple):
                arg = tokens[pos][1]
                pos += 1
            children = []
            if tokens[pos] == "{":
                children, pos = block(pos + 1)
            pos += 1  # ';' or '}'
            out.append((keyword, arg, children))
        return out, pos
    return block(0)[0]


def base_types(type_stmt):
    """Every built-in type a `type` statement can resolve to (unions and leafrefs opened)."""
    _, name, children = type_stmt
    inner = [c for c in children if c[0] == "type"]
    if inner:
        out = set()
        for t in inner:
            out |= base_types(t)
        return out
    return {name}


class Table:
    def __init__(self, module, name):
        self.module, self.name = module, name
        self.lists = []        # [{"name", "keys", "leaves": {name: types}, "leaf_lists", "map"}]
        self.containers = {}   # name -> {"leaves", "leaf_lists"}


def describe_nodes(children):
    leaves, leaf_lists, inner_lists = {}, {}, []
    for kw, arg, sub in children:
        types = set()
        for s in sub:
            if s[0] == "type":
                types = base_types(s)
        if kw == "leaf":
            leaves[arg] = types
        elif kw == "leaf-list":
            leaf_lists[arg] = types
        elif kw == "list":
            inner_lists.append((arg, sub))
    return leaves, leaf_lists, inner_lists


def list_keys(body, leaves):
    """The key leaves of a list, in order. libyang 2.1's info printer joins them without spaces
    ("portpg_num" for "port pg_num"), sometimes after ", " (", name" in a list with musts);
    compiled lists hold their key leaves first, in key order."""
    text = (next((a for k, a, _ in body if k == "key"), "") or "").replace(",", " ").strip()
    if " " in text:
        return text.split()
    keys, joined = [], ""
    for name in leaves:
        if joined == text:
            break
        keys.append(name)
        joined += name
    return keys if joined == text else [text]


def tables_from_info(text, tables=None):
    """Adds the tables of one module's compiled schema (`yanglint -f info` text) to `tables`."""
    tables = {} if tables is None else tables
    for kw, module, body in parse_statements(tokenize(text)):
        if kw != "module":
            continue
        for top in (c for c in body if c[0] == "container"):
            for tkw, tname, tbody in top[2]:
                if tkw != "container":
                    continue
                table = Table(module, tname)
                table.top = top[1]
                for kw2, name2, body2 in tbody:
                    if kw2 == "list":
                        leaves, leaf_lists, inner = describe_nodes(body2)
                        entry = {"name": name2, "keys": list_keys(body2, leaves),
                                 "leaves": leaves, "leaf_lists": leaf_lists, "map": None}
                        if inner:
                            iname, ibody = inner[0]
                            ileaves, _, _ = describe_nodes(ibody)
                            ikey = list_keys(ibody, ileaves)[0]
                            value = [n for n in ileaves if n != ikey]
                            entry["map"] = {"name": iname, "key": ikey,
                                            "value": value[0] if value else None,
                                            "leaves": ileaves}
                        table.lists.append(entry)
                    elif kw2 == "container":
                        leaves, leaf_lists, _ = describe_nodes(body2)
                        table.containers[name2] = {"leaves": leaves, "leaf_lists": leaf_lists}
                tables.setdefault(tname, table)
    return tables


def load_schema(models_dir, yanglint="yanglint"):
    """TABLE -> Table, for every module file in models_dir (compiled by yanglint)."""
    import glob
    import os
    tables = {}
    for path in sorted(glob.glob(os.path.join(models_dir, "*.yang"))):
        out = subprocess.run([yanglint, "-Q", "-Q", "-p", models_dir, "-f", "info", path],
                             capture_output=True, text=True)
        if out.returncode == 0 and out.stdout:
            tables_from_info(out.stdout, tables)
    return tables


def render_template(text):
    """A sonic-yang-models .yang.j2 template as SONiC's build renders it for Python tools
    (yang_model_type "py", jinja2 trim_blocks), without jinja2: the templates only choose between
    a "cvl" branch and the other one."""
    pattern = re.compile(r'\{% if yang_model_type == "cvl" %\}\n?(.*?)'
                         r'(?:\{% else %\}\n?(.*?))?\{% endif %\}\n?', re.S)
    out = pattern.sub(lambda m: m.group(2) or "", text)
    if "{%" in out or "{{" in out:
        raise ValueError("template has constructs beyond the cvl/else choice")
    return out


# ---- conversion ----

def typed(value, types):
    """A string value in libyang's JSON encoding for a leaf of these built-in types."""
    if types & INT_TYPES and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    if types == {"boolean"} and value in ("true", "false"):
        return value == "true"
    return value


def fill(obj, fields, leaves, leaf_lists, map_spec=None):
    """Put CONFIG_DB fields into obj by the node's leaves; returns nothing."""
    for field, value in fields.items():
        name = field[:-1] if field.endswith("@") else field
        if name in leaf_lists:
            items = [v for v in value.split(",") if v != ""] if isinstance(value, str) else value
            obj[name] = [typed(v, leaf_lists[name]) for v in items]
        elif name in leaves:
            obj[name] = typed(value, leaves[name]) if isinstance(value, str) else value
        elif map_spec and map_spec["value"]:
            obj.setdefault(map_spec["name"], []).append({
                map_spec["key"]: typed(field, map_spec["leaves"][map_spec["key"]]),
                map_spec["value"]: typed(value, map_spec["leaves"][map_spec["value"]])})
        else:
            obj[field] = value  # no place for it: yanglint names it


def convert(entries, tables):
    """entries: {"TABLE|key...": {field: value}} -> (yang json, counts, skipped tables)."""
    data, counts, skipped = {}, {}, set()
    for full_key in sorted(entries):
        fields = entries[full_key]
        table_name, _, key = full_key.partition("|")
        table = tables.get(table_name)
        if table is None:
            skipped.add(table_name)
            continue
        module = f"{table.module}:{table.top}"
        node = data.setdefault(module, {}).setdefault(table_name, {})
        parts = key.split("|") if key else []
        counts[table_name] = counts.get(table_name, 0) + 1
        if len(parts) == 1 and parts[0] in table.containers:
            spec = table.containers[parts[0]]
            fill(node.setdefault(parts[0], {}), fields, spec["leaves"], spec["leaf_lists"])
            continue
        candidates = [l for l in table.lists if len(l["keys"]) == len(parts)]
        if not candidates:
            candidates = table.lists[:1]
        chosen = candidates[0]
        for l in candidates:
            names = {f[:-1] if f.endswith("@") else f for f in fields}
            if names <= set(l["leaves"]) | set(l["leaf_lists"]) or l["map"]:
                chosen = l
                break
        item = {}
        for k, part in zip(chosen["keys"], parts):
            item[k] = typed(part, chosen["leaves"].get(k, set()))
        fill(item, fields, chosen["leaves"], chosen["leaf_lists"], chosen["map"])
        node.setdefault(chosen["name"], []).append(item)
    return data, counts, skipped


def entries_from_config_db_json(tables_json):
    """config_db.json {TABLE: {key: {...}}} -> {"TABLE|key": {...}} (lists become name@)."""
    out = {}
    for table, keys in tables_json.items():
        for key, fields in keys.items():
            flat = {}
            for f, v in fields.items():
                flat[f if not isinstance(v, list) or f.endswith("@") else f + "@"] = (
                    ",".join(v) if isinstance(v, list) else v)
            out[f"{table}|{key}"] = flat
    return out


def dump_redis(address, db=4, redis_cli="redis-cli"):
    """Every hash in one database as {"KEY": {field: value}}, read with redis-cli."""
    where = (["-s", address[len("unix:"):]] if address.startswith("unix:") else
             ["-h", address.rsplit(":", 1)[0], "-p", address.rsplit(":", 1)[1]])
    base = [redis_cli, *where, "-n", str(db)]
    keys = subprocess.run(base + ["--scan"], capture_output=True, text=True, check=True)
    out = {}
    for key in sorted(k for k in keys.stdout.splitlines() if k):
        r = subprocess.run(base + ["--json", "HGETALL", key], capture_output=True, text=True,
                           check=True)
        flat = json.loads(r.stdout)
        pairs = flat.items() if isinstance(flat, dict) else zip(flat[0::2], flat[1::2])
        out[key] = {f: v for f, v in pairs}
    return out


def stub_ports(entries, speed):
    """PORT|EthernetN entries for every port the data names, when it has no PORT table."""
    if any(k.startswith("PORT|") for k in entries):
        return {}
    names = set()
    for key, fields in entries.items():
        names.update(re.findall(r"Ethernet[0-9]+", key))
        names.update(re.findall(r"Ethernet[0-9]+", " ".join(fields)))
    return {f"PORT|{n}": {"lanes": n[len("Ethernet"):], "speed": str(speed)}
            for n in sorted(names, key=lambda n: int(n[len("Ethernet"):]))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", nargs="?", default=None, help="JSON dump (or - for stdin)")
    ap.add_argument("--models", required=True, help="folder of SONiC .yang files")
    ap.add_argument("--redis", help="read CONFIG_DB from unix:/path/redis.sock or HOST:PORT")
    ap.add_argument("--db", type=int, default=4)
    ap.add_argument("--switch", help="the dump holds {switch: config_db.json}: take this one")
    ap.add_argument("--stub-ports", type=int, metavar="SPEED",
                    help="add PORT entries (lanes, speed SPEED Mb/s) when the dump has none")
    ap.add_argument("--yanglint", default="yanglint")
    args = ap.parse_args(argv)

    if args.redis:
        entries = dump_redis(args.redis, args.db)
    else:
        raw = json.load(sys.stdin if args.dump in (None, "-") else open(args.dump))
        if args.switch:
            raw = raw[args.switch]
        if raw and all("|" in k for k in raw):
            entries = raw
        else:
            entries = entries_from_config_db_json(raw)
    if args.stub_ports:
        entries = {**stub_ports(entries, args.stub_ports), **entries}
    tables = load_schema(args.models, args.yanglint)
    if not tables:
        sys.exit(f"no SONiC YANG tables found in {args.models}")
    data, counts, skipped = convert(entries, tables)
    json.dump(data, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    print("converted: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) +
          f" ({sum(counts.values())} entries, {len(counts)} tables)", file=sys.stderr)
    if skipped:
        print("no YANG model (not validated): " + ", ".join(sorted(skipped)), file=sys.stderr)


if __name__ == "__main__":
    main()
