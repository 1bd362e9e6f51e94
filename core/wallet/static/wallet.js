// The holder's wallet: a thin client of the core's holder API (/v1/..., same origin) and of the notifier's
// recipient API (Web Push). Rules of this file: every value from an API or the holder is written with
// textContent (never innerHTML); the bearer token stays in sessionStorage and goes out only as an Authorization
// header; the private key never leaves IndexedDB (non-extractable); the page decides nothing the ledger decides.
import { openSealed, sealFor } from "./hpke.js";
import { canonical, jcs, verifyChain } from "./chain.js";
import * as store from "./store.js";

const body = document.body;
const T = JSON.parse(body.dataset.texts);
const MOVES = JSON.parse(body.dataset.moves);
const prefix = body.dataset.prefix;
const SESSION = "ata.wallet.session";
const STATE = "ata.wallet.state";
const $ = (id) => document.getElementById(id);
const t = (key) => T[key] || key;


// --- small helpers -------------------------------------------------------------------------------------------

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function show(id, visible = true) {
  $(id).hidden = !visible;
}

function say(id, text) {
  const node = $(id);
  node.textContent = text || "";
  node.hidden = !text;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el("td", c));
  return tr;
}

function wrap(node) {
  const td = el("td");
  td.append(node);
  return td;
}

// On a narrow phone each row becomes a card: every cell carries its column's header (CSS shows it before it).
function cards(table) {
  const heads = [...table.tHead.rows[0].cells].map((th) => th.textContent.trim());
  for (const tr of table.tBodies[0].rows) [...tr.cells].forEach((td, i) => td.setAttribute("data-label", heads[i] || ""));
  table.hidden = table.tBodies[0].rows.length === 0;
}

function fact(dl, term, value) {
  dl.append(el("dt", term), el("dd", value));
}

function localTime(iso) {
  return new Date(iso).toLocaleString(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "short" });
}

// --- session -------------------------------------------------------------------------------------------------

function session() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION) || "null");
    return s && s.exp * 1000 > Date.now() ? s : null;
  } catch (e) {
    return null;
  }
}

// The identity provider redirects back with #access_token=...&state=...: keep it, then drop it from the URL.
function takeToken() {
  if (!location.hash.startsWith("#")) return;
  const answer = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, "", location.pathname);
  const token = answer.get("access_token") || "";
  const expected = sessionStorage.getItem(STATE);
  sessionStorage.removeItem(STATE);
  if (!token || !expected || answer.get("state") !== expected || token.length > 4096) {
    if (token || answer.get("error")) say("problem", t("signin.failed"));
    return;
  }
  try {
    const claims = JSON.parse(new TextDecoder().decode(store.unb64url(token.split(".")[1])));
    sessionStorage.setItem(SESSION, JSON.stringify({ token, party: String(claims.sub), exp: Number(claims.exp) }));
  } catch (e) {
    say("problem", t("signin.failed"));
  }
}

function signIn() {
  const url = body.dataset.signIn;
  if (!url) return say("problem", t("signin.unavailable"));
  const state = store.b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(STATE, state);
  const target = new URL(url);
  target.searchParams.set("redirect_uri", location.origin + prefix + "/");
  target.searchParams.set("state", state);
  location.assign(target.href);
}

function signOut(notice) {
  sessionStorage.removeItem(SESSION);

  render();
  if (notice) say("notice", notice);
}

// fetch with the bearer token; answers {status, body}. base: another origin (the notifier).
async function api(path, { method = "GET", json, base = "", raw = false } = {}) {
  const s = session();
  const headers = { Accept: raw ? "*/*" : "application/json" };
  if (s) headers.Authorization = "Bearer " + s.token;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(base + path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json),
      credentials: "omit", cache: "no-store" });
  } catch (e) {
    return { status: 0, body: null };
  }
  if (response.status === 401 && s) signOut(t("session.ended"));
  if (raw && response.ok) return { status: response.status, body: await response.blob() };
  let parsed = null;
  try {
    parsed = response.status === 204 ? null : await response.json();
  } catch (e) {
    parsed = null;
  }
  return { status: response.status, body: parsed };
}

function reasonsOf(answer) {
  const detail = answer.body && answer.body.detail;
  return (detail && Array.isArray(detail.reasons)) ? detail.reasons : [];
}

// --- the device key ------------------------------------------------------------------------------------------

async function showKey(party) {
  const entry = await store.deviceKey(party);
  show("keys-none", !entry);
  show("keys-create", !entry);
  show("keys-ready", !!entry);
  if (entry) {
    $("keys-fingerprint").textContent = await store.fingerprint(entry.publicKey);
    await api("/v1/wallet-keys/me", { method: "PUT", json: { public_key: entry.publicKey } });
  }
  return entry;
}

async function createKey() {
  const s = session();
  let entry;
  try {
    entry = await store.createDeviceKey(s.party);
  } catch (e) {
    return say("problem", t("keys.unsupported"));
  }
  const answer = await api("/v1/wallet-keys/me", { method: "PUT", json: { public_key: entry.publicKey } });
  if (answer.status !== 200 && answer.status !== 201) return say("problem", t("keys.failed"));
  await showKey(s.party);
}

// --- sealed documents (ATA-DOC-2, and ATA-DOC-1 before it: nga_client/sealing.py) ----------------------------

const utf8 = (text) => new TextEncoder().encode(text);
const schemeOf = (sealed) => sealed.document.scheme || "ATA-DOC-1";
// ATA-DOC-2 authenticates RFC 8785 JSON; ATA-DOC-1, Python's sorted compact JSON (code-point order).
const formOf = (scheme) => (scheme === "ATA-DOC-2" ? jcs : canonical);
const keyInfo = (recipient, scheme) => utf8(formOf(scheme)([scheme, "key", recipient]));

async function dataKey(sealed, party) {
  const entry = await store.deviceKey(party);
  const mine = sealed.document.recipients.find((r) => r.recipient_id === party);
  if (!entry || !mine) throw new Error("no key");
  return openSealed(entry.keyPair, store.unb64url(mine.sealed_key), keyInfo(party, schemeOf(sealed)));
}

// ATA-GL-1 hashed Python's json.dumps with ASCII escapes; ATA-GL-2 hashes RFC 8785 (contracts/digest.py).
const ascii = (text) => text.replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

async function openDocument(sealed, party) {
  const scheme = schemeOf(sealed);
  const form = formOf(scheme);
  const key = await crypto.subtle.importKey("raw", await dataKey(sealed, party), "AES-GCM", false, ["decrypt"]);
  const aad = utf8(form([scheme, sealed.nga, sealed.request_id, sealed.general_list_digest]));
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: store.unb64url(sealed.document.nonce), additionalData: aad },
    key, store.unb64url(sealed.document.ciphertext));
  const doc = JSON.parse(new TextDecoder().decode(plain));
  // A line without a tariff code is hashed without the field, as before the field existed.
  const goods = [...doc.goods].sort((a, b) => a.item_number - b.item_number).map((g) => {
    const { hs_code, ...rest } = g;
    return hs_code == null ? rest : g;
  });
  const text = scheme === "ATA-DOC-2" ? jcs(goods) : ascii(canonical(goods));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text)));
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  if (hex !== sealed.general_list_digest) throw new Error("digest");
  return doc;
}

export { openDocument, dataKey, keyInfo, schemeOf, sealFor, api, t, $, el, say, show, row, cards, fact, localTime, session, reasonsOf, store };
export { verifyChain, MOVES, prefix };

// --- rendering -----------------------------------------------------------------------------------------------

async function render() {
  const s = session();
  show("who", !!s);
  show("signin", !s);
  for (const id of ["keys", "push", "carnets"]) show(id, !!s);
  show("carnet", false);
  await showStored();
  if (!s) return;
  $("party").textContent = s.party;
  await showKey(s.party);
  const { showCarnets } = await import("./carnet.js");
  await showCarnets();
  // Confirmations the service worker received while no page was open: the latest is shown, all are read.
  const missed = (await store.all("confirmations")).sort((a, b) => String(a.timestamp).localeCompare(String(b.timestamp)));
  for (const m of missed) await store.remove("confirmations", m.data.transaction_id);
  if (missed.length) await confirmation(missed[missed.length - 1]);
}

async function showStored() {
  const list = $("stored-list");
  list.replaceChildren();
  const now = Date.now();
  const kept = [];
  for (const d of await store.all("declarations")) {
    // Expired, or decided by customs (committed, refused, cancelled): the token will not be taken again.
    // Offline (status 0) or signed out, the ledger cannot be asked: the stored token stays until it expires.
    const fresh = session() && navigator.onLine ? await api(`/v1/declarations/${encodeURIComponent(d.declaration_id)}`) : null;
    const decided = fresh && fresh.status === 200 && fresh.body.status !== "pending";
    if (Date.parse(d.token_expires_at) <= now || decided) await store.remove("declarations", d.declaration_id);
    else kept.push(d);
  }
  for (const d of kept) {
    const button = el("button", t("qr.show"), { type: "button", class: "secondary" });
    button.addEventListener("click", () => showQr(d));
    const li = el("li", `${d.carnet_number} · ${t("kind." + d.kind)} · ${d.country} · ${d.items.join(", ")} `);
    li.append(button);
    list.append(li);
  }
  show("stored", kept.length > 0);
}

let qrUrl = null;
let opener = null; // where the keyboard focus goes back to when the QR closes

export async function showQr(d) {
  if (qrUrl) URL.revokeObjectURL(qrUrl);
  qrUrl = URL.createObjectURL(d.qr);
  $("qr-image").src = qrUrl;
  $("qr-what").textContent = `${d.carnet_number} · ${t("kind." + d.kind)} · ${d.country} · ${t("confirm.items")} ${d.items.join(", ")}`;
  $("qr-code").textContent = d.transaction_code;
  const expired = Date.parse(d.token_expires_at) <= Date.now();
  $("qr-validity").textContent = expired ? t("qr.expired")
    : `${t(navigator.onLine ? "qr.stored" : "qr.stored_offline")} ${localTime(d.token_expires_at)}.`;
  opener = document.activeElement;
  show("qr");
  $("qr").dataset.declaration = d.declaration_id;
  $("qr-close").focus();
  if (!document.fullscreenElement) $("qr").requestFullscreen().catch(() => undefined); // allowed right after a tap
  try {
    if ("wakeLock" in navigator) await navigator.wakeLock.request("screen"); // the screen stays on at the desk
  } catch (e) { /* not allowed here: the holder keeps the screen on */ }
}

// Store a new declaration with its QR on the device, then show it.
export async function keepAndShow(declaration) {
  const qr = await api(declaration.qr_svg_url, { raw: true });
  if (qr.status !== 200) return say("problem", t("declare.failed"));
  const kept = { ...declaration, qr: qr.body };
  await store.put("declarations", declaration.declaration_id, kept);
  await showStored();
  await showQr(kept);
}

// --- push ----------------------------------------------------------------------------------------------------

async function enablePush() {
  const base = body.dataset.notifier;
  const state = $("push-state");
  try {
    if (!base || !("PushManager" in window)) throw new Error("no push");
    if ((await Notification.requestPermission()) !== "granted") return void (state.textContent = t("push.denied"));
    const key = await api("/v1/webpush/vapid-public-key", { base });
    if (key.status !== 200) throw new Error("no key");
    const registration = await navigator.serviceWorker.ready;
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: store.unb64url(key.body.application_server_key) });
    const saved = await api("/v1/endpoints/webpush", { method: "POST", json: subscription.toJSON(), base });
    if (saved.status !== 201 && saved.status !== 200) throw new Error("not saved");
    state.textContent = t("push.on");
  } catch (e) {
    state.textContent = t("push.unavailable");
  }
}

async function confirmation(message) {
  const d = message && message.data;
  if (!d) return;
  let why = "";
  if (d.decision === "refused") { // the push says that customs refused; the ledger says why
    const history = await api(`/v1/carnets/${encodeURIComponent(d.carnet_number)}/transactions`);
    const tx = history.status === 200 ? history.body.find((x) => x.transaction_id === d.transaction_id) : null;
    why = tx && tx.reasons.length ? " — " + tx.reasons.map((r) => r.message).join(" ") : "";
  }
  say("notice", `${t("confirm." + d.decision)}: ${d.carnet_number} · ${t("kind." + d.kind)} · ${d.country} · `
    + `${t("confirm.items")} ${(d.items || []).join(", ")}${why}`);
  await showStored();
  const { refresh } = await import("./carnet.js");
  await refresh(d.carnet_number);
}

// --- start ---------------------------------------------------------------------------------------------------

function online() {
  show("offline", !navigator.onLine);
}

async function start() {
  takeToken();
  online();
  window.addEventListener("online", online);
  window.addEventListener("offline", online);
  $("signin-button").addEventListener("click", signIn);
  $("signout").addEventListener("click", () => signOut());
  $("keys-create").addEventListener("click", createKey);
  $("push-enable").addEventListener("click", enablePush);
  $("qr-close").addEventListener("click", () => {
    show("qr", false);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => undefined);
    if (opener && opener.isConnected) opener.focus();
  });
  $("qr").addEventListener("keydown", (e) => {
    if (e.key === "Escape") $("qr-close").click();
  });
  $("qr-full").addEventListener("click", () => $("qr").requestFullscreen().catch(() => undefined));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (!e.data || e.data.type !== "confirmation" || !e.data.message || !e.data.message.data) return;
      store.remove("confirmations", e.data.message.data.transaction_id).finally(() => confirmation(e.data.message));
    });
    try {
      await navigator.serviceWorker.register(prefix + "/sw.js", { scope: prefix + "/" });
    } catch (e) { /* no offline shell: the wallet still works online */ }
  }
  await render();
  body.dataset.ready = "true";
}

start();
