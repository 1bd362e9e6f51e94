// The carnet's history checked on the device, as core/history.py and core/history_store.py define it:
//   hash_n = SHA-256(hash_{n-1} || canonical(entry_n)), hash_0 = 32 zero bytes,
//   entry_n = {carnet_number, position, event, recorded_at (UTC, 6-digit fraction, "Z"), record}.
// canonical: JSON, keys sorted by code point, no whitespace, non-ASCII as itself, UTF-8.

// RFC 8785 (JCS) for the values the wallet hashes or authenticates (strings, safe integers, arrays, objects):
// the same as `canonical` but object members sorted by UTF-16 code units, as the RFC says (sealed documents
// and general-list digests of construction ATA-DOC-2 / ATA-GL-2, contracts/canonical.py).
export function jcs(value) {
  if (value === null || typeof value !== "object") return canonical(value);
  if (Array.isArray(value)) return "[" + value.map(jcs).join(",") + "]";
  return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + jcs(value[k])).join(",") + "}";
}

function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export function canonical(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error("only integers have a canonical form");
    return String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  if (typeof value === "object") {
    return "{" + Object.keys(value).sort(byCodePoint)
      .map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
  }
  throw new Error("no canonical form for " + typeof value);
}

// "2026-11-22T08:31:01Z", "...01.5Z" or "...01.123456+00:00" -> "2026-11-22T08:31:01.500000Z"; UTC only.
export function canonicalInstant(text) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)$/.exec(text);
  if (!m) throw new Error("not a UTC instant: " + text);
  return m[1] + "." + (m[2] || "").padEnd(6, "0") + "Z";
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unhex(text) {
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error("not a SHA-256 hex digest");
  return Uint8Array.from(text.match(/../g), (h) => parseInt(h, 16));
}

// history: the answer of GET /v1/carnets/{n}/history. Answers {ok, length, head, brokenAt, problem}.
export async function verifyChain(history) {
  let prev = new Uint8Array(32);
  let position = 0;
  for (const r of history.records) {
    position += 1;
    const fail = (problem) => ({ ok: false, length: history.records.length, head: hex(prev), brokenAt: r.position, problem });
    if (r.position !== position) return fail("position gap");
    if (r.prev_hash !== hex(prev)) return fail("link broken");
    let body;
    try {
      body = new TextEncoder().encode(canonical({
        carnet_number: history.carnet_number, position: r.position, event: r.event,
        recorded_at: canonicalInstant(r.recorded_at), record: r.record,
      }));
    } catch (e) {
      return fail("record altered");
    }
    const input = new Uint8Array(32 + body.length);
    input.set(prev, 0);
    input.set(body, 32);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
    if (hex(digest) !== r.hash) return fail("record altered");
    prev = unhex(r.hash);
  }
  return { ok: true, length: history.records.length, head: hex(prev), brokenAt: null, problem: null };
}
