// What the published JSON Schema (schemas/wfdsl-1.schema.json) says about a
// place in a workflow's YAML: the keys that may go there, the values a key
// takes, and each key's description. Pure functions over the text's lines
// (no parser: it must work while the text is half typed), used by the YAML
// pane for completion and hover docs.

const KEY = /^(\s*)((?:-\s+)*)("[^"]*"|'[^']*'|[^\s#:'"\-][^:#]*?|-[^\s:#][^:#]*?)\s*:(?:\s+(.*))?$/;

function keyOf(line) {
  const m = KEY.exec(line);
  if (!m) return null;
  let name = m[3];
  if (/^["']/.test(name)) name = name.slice(1, -1);
  const rest = (m[4] || "").replace(/(^|\s)#.*$/, "").trim();
  return { col: m[1].length + m[2].length, dashCol: m[2] ? m[1].length : -1, name, rest };
}

function blank(line) {
  const t = line.trim();
  return !t || t.startsWith("#");
}

// The chain of keys (and "[]" for a list item) leading to column `col` of
// line `index` (0-based): [{key, line}], outermost first.
export function pathAt(lines, index, col) {
  const path = [];
  let c = col;
  let allowEqual = false;
  const here = lines[index] || "";
  const own = /^(\s*)((?:-\s+)+)/.exec(here.slice(0, Math.max(col, 0)) + " ");
  if (own && own[1].length + own[2].length <= col && here.slice(0, col).trim().startsWith("-")) {
    path.push({ key: "[]", line: index });
    c = own[1].length;
    allowEqual = true;
  }
  for (let i = index - 1; i >= 0 && c > 0; i--) {
    const line = lines[i];
    if (blank(line)) continue;
    const k = keyOf(line);
    if (!k) {
      const dash = /^(\s*)-\s/.exec(line);
      if (dash && dash[1].length < c) c = Math.min(c, dash[1].length + 1);
      continue;
    }
    if (k.col === c && k.dashCol >= 0 && !allowEqual) {
      path.push({ key: "[]", line: i });
      c = k.dashCol;
      allowEqual = true;
      continue;
    }
    if (k.col < c || (allowEqual && k.col === c && !k.rest)) {
      path.push({ key: k.name, line: i });
      if (k.dashCol >= 0) {
        path.push({ key: "[]", line: i });
        c = k.dashCol;
        allowEqual = true;
      } else {
        c = k.col;
        allowEqual = false;
      }
    }
  }
  return path.reverse();
}

// The keys already given in the mapping that holds line `index` at column `col`.
export function siblingKeys(lines, index, col) {
  const keys = new Set();
  const scan = (from, step) => {
    for (let i = from; i >= 0 && i < lines.length; i += step) {
      const line = lines[i];
      if (blank(line)) continue;
      const k = keyOf(line);
      const indent = line.length - line.trimStart().length;
      if (k && k.col === col) {
        keys.add(k.name);
        if (k.dashCol >= 0 && step < 0) break; // the item's first key
        continue;
      }
      if (indent < col || (k && k.col < col)) break;
    }
  };
  scan(index - 1, -1);
  scan(index + 1, 1);
  return keys;
}

// The value of `key` in the mapping whose parent key is on line `parent`.
function childValue(lines, parent, key) {
  const start = lines[parent] || "";
  const k = keyOf(start);
  const base = k ? k.col : -1;
  let col = null;
  for (let i = parent + 1; i < lines.length; i++) {
    const line = lines[i];
    if (blank(line)) continue;
    const kk = keyOf(line);
    const indent = line.length - line.trimStart().length;
    if (indent <= base && !(kk && kk.dashCol > base)) break;
    if (!kk) continue;
    if (col === null) col = kk.col;
    if (kk.col === col && kk.name === key) return kk.rest.replace(/^["']|["']$/g, "");
  }
  return null;
}

export class SchemaGuide {
  constructor(schema) {
    this.schema = schema || {};
    this.defs = this.schema.$defs || {};
  }

  deref(node) {
    const seen = new Set();
    let out = node || {};
    while (out.$ref && !seen.has(out.$ref)) {
      seen.add(out.$ref);
      const name = out.$ref.split("/").pop();
      const { $ref: _drop, ...rest } = out;
      out = { ...(this.defs[name] || {}), ...rest, refName: out.refName || name };
    }
    return out;
  }

  // A state's schema once its `type` is known (the allOf/if/then dispatch).
  pick(node, typeValue) {
    node = this.deref(node);
    if (node.allOf && typeValue) {
      for (const part of node.allOf) {
        const want = part.if?.properties?.type?.const;
        if (want === typeValue && part.then) {
          const then = this.deref(part.then);
          return { ...then, properties: { ...(node.properties || {}), ...(then.properties || {}) } };
        }
      }
    }
    return node;
  }

  child(node, key, asList) {
    node = this.deref(node);
    if (key === "[]") {
      if (node.else && (asList || node.type?.includes?.("array"))) node = this.deref(node.else);
      return node.items ? this.deref(node.items) : null;
    }
    if (node.if && node.then && !asList) node = { ...node, ...this.deref(node.then) };
    if (node.properties && key in node.properties) return this.deref(node.properties[key]);
    for (const [pattern, sub] of Object.entries(node.patternProperties || {})) {
      if (new RegExp(pattern).test(key)) return this.deref(sub);
    }
    if (node.additionalProperties && typeof node.additionalProperties === "object") return this.deref(node.additionalProperties);
    return null;
  }

  // The schema of the mapping reached by `path`, its state type applied.
  at(lines, path) {
    let node = this.deref(this.schema);
    for (let i = 0; i < path.length; i++) {
      if (!node) return null;
      const step = path[i];
      const nextIsList = path[i + 1]?.key === "[]";
      node = this.child(node, step.key, step.key === "[]" ? true : nextIsList);
      if (node && node.allOf) node = this.pick(node, childValue(lines, step.line, "type"));
      if (node && node.if && node.then && !(path[i + 1]?.key === "[]")) node = { ...node, ...this.deref(node.then) };
    }
    return node;
  }

  // Completion options for a key typed at column `col` of line `index`.
  keyOptions(lines, index, col) {
    const node = this.at(lines, pathAt(lines, index, col));
    if (!node || !node.properties) return [];
    const given = siblingKeys(lines, index, col);
    return Object.entries(node.properties)
      .filter(([key]) => !given.has(key))
      .map(([key, prop]) => {
        const p = this.deref(prop);
        return { key, doc: p.description || "", required: (node.required || []).includes(key), shape: this.shape(p) };
      });
  }

  // "object", "array" or "scalar": how a value of `prop` is usually written
  // (a `retry` may be either: its map form is the common one).
  shape(prop) {
    const types = [].concat(prop.type || []);
    if (prop.refName === "value" || prop.refName === "condition" || prop.refName === "duration") return "scalar";
    if (types.includes("object")) return "object";
    if (types.includes("array")) return "array";
    if (prop.properties || prop.additionalProperties) return "object";
    return "scalar";
  }

  // The schema of `key` in the mapping at column `col` of line `index`.
  keySchema(lines, index, col, key) {
    const node = this.at(lines, pathAt(lines, index, col));
    return node ? this.child(node, key, false) : null;
  }

  // Value options for `key`: enum, const, booleans, state names, examples.
  valueOptions(prop, stateNames) {
    if (!prop) return [];
    const out = [];
    const add = (value, doc = "") => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      if (!out.some((o) => o.text === text)) out.push({ text, doc });
    };
    if (prop.enum) prop.enum.forEach((v) => add(v));
    if ("const" in prop) add(prop.const);
    const types = [].concat(prop.type || []);
    if (types.includes("boolean")) ["true", "false"].forEach((v) => add(v));
    if (prop.refName === "state_ref" || prop.refName === "state_name") stateNames.forEach((n) => add(n, "a state"));
    for (const example of prop.examples || []) if (typeof example !== "object") add(example, "example");
    return out;
  }
}

export { keyOf };
