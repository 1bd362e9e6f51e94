// The carnets list and one carnet: its general list opened on the device, where each item is, the history with
// its hash chain verified here, declaring a crossing (only the moves R11 allows are offered) and sharing.
import {
  $, api, cards, dataKey, el, fact, keepAndShow, keyInfo, localTime, MOVES, openDocument, reasonsOf, row, say, schemeOf,
  sealFor, session, show,
  store, t, verifyChain,
} from "./wallet.js";
import { canonical } from "./chain.js";

let current = null; // {carnet, document}

export async function showCarnets() {
  const answer = await api("/v1/carnets");
  const tbody = $("carnet-list").tBodies[0];
  tbody.replaceChildren();
  if (answer.status !== 200) return;
  show("carnets-none", answer.body.length === 0);
  for (const c of answer.body) {
    const open = el("button", t("carnets.open"), { type: "button", "aria-label": `${t("carnets.open")} ${c.carnet_number}` });
    open.addEventListener("click", () => openCarnet(c.carnet_number));
    tbody.append(row([c.carnet_number, t("role." + c.role), c.countries.join(", "), c.expiry_date,
      t(c.active ? "status.active" : "status.inactive"), open]));
  }
  cards($("carnet-list"));
}

export async function refresh(number) {
  if (current && current.carnet.carnet_number === number && !$("carnet").hidden) await openCarnet(number);
  else if (session()) await showCarnets();
}

function where(item) {
  const text = t("location." + item.location);
  return item.country && (item.location === "abroad" || item.location === "in_transit") ? `${text} ${item.country}` : text;
}

async function openCarnet(number) {
  const party = session().party;
  const path = `/v1/carnets/${encodeURIComponent(number)}`;
  const [carnet, sealed, history, decisions] = await Promise.all([
    api(path), api(`${path}/document`), api(`${path}/history`), api(`${path}/transactions`)]);
  if (carnet.status !== 200) return say("problem", reasonsOf(carnet).map((r) => r.message).join(" ") || t("declare.failed"));
  let doc = null;
  let state = "carnet.document.missing";
  if (sealed.status === 200) {
    try {
      doc = await openDocument(sealed.body, party);
      state = "carnet.document.opened";
    } catch (e) {
      state = e.message === "no key" ? "carnet.document.sealed" : "carnet.document.bad";
    }
  }
  current = { carnet: carnet.body, document: doc, sealed: sealed.status === 200 ? sealed.body : null };
  const c = carnet.body;
  for (const id of ["carnets", "keys", "push"]) show(id, false); // one screen: the carnet
  show("carnet");
  $("carnet").dataset.loaded = "";
  $("carnet-number").textContent = c.carnet_number;
  const facts = $("carnet-facts");
  facts.replaceChildren();
  if (doc) fact(facts, t("carnet.holder"), doc.holder.name);
  fact(facts, t("carnet.home"), c.home_country);
  fact(facts, t("carnets.countries"), c.countries.join(", "));
  fact(facts, t("carnets.expiry"), c.expiry_date);
  fact(facts, t("carnets.status"), t(c.active ? "status.active" : "status.inactive"));
  fact(facts, t("carnets.role"), t("role." + c.role));
  fact(facts, t("carnet.document"), t(state));
  const goods = new Map((doc ? doc.goods : []).map((g) => [g.item_number, g]));
  const tbody = $("items").tBodies[0];
  tbody.replaceChildren();
  for (const i of c.items) {
    const g = goods.get(i.item_number);
    const tr = row([i.item_number, g ? g.description : "", g ? g.quantity : "", where(i), i.final_date || ""]);
    tr.dataset.location = i.location;
    tbody.append(tr);
  }
  cards($("items"));
  showDecisions(decisions);
  await showHistory(history);
  declareForm(c);
  shares(c);
  $("carnet").dataset.loaded = c.carnet_number + ":" + c.items.map((i) => i.location).join(","); // for tests: drawn
  $("carnet-h").focus();
}

function showDecisions(decisions) {
  const tbody = $("transactions").tBodies[0];
  tbody.replaceChildren();
  const list = decisions.status === 200 ? decisions.body : [];
  show("tx-none", list.length === 0);
  for (const x of list) {
    const decision = x.cancelled_at ? "cancelled" : x.decision;
    const reasons = (x.reasons || []).map((r) => r.message).join(" ");
    const tr = row([`${t("kind." + x.kind)} · ${x.country} · ${x.items.join(", ")}`,
      t("decision." + decision) + (reasons ? ` — ${reasons}` : ""), x.office_id, localTime(x.decided_at),
      x.cancellation_code || ""]);
    tr.dataset.decision = decision;
    tbody.append(tr);
  }
  cards($("transactions"));
}

async function showHistory(history) {
  const tbody = $("history").tBodies[0];
  tbody.replaceChildren();
  if (history.status !== 200) return say("chain", "");
  const check = await verifyChain(history.body);
  const chain = $("chain");
  chain.dataset.verified = String(check.ok);
  chain.className = check.ok ? "ok" : "problem";
  chain.textContent = check.ok
    ? `${t("history.verified")} (${t("history.length")} ${check.length}; ${t("history.head")} ${check.head.slice(0, 16)}…).`
    : `${t("history.broken")} ${check.brokenAt} (${check.problem}).`;
  for (const r of history.body.records) {
    const x = r.record || {};
    const what = x.kind ? `${t("kind." + x.kind)} · ${x.country || ""} · ${(x.items || []).join(", ")}` : canonical(x).slice(0, 120);
    tbody.append(row([r.position, r.event, what, localTime(r.recorded_at)]));
  }
  cards($("history"));
}

// --- declaring -----------------------------------------------------------------------------------------------

function movable(c, kind) {
  return c.items.filter((i) => i.location === MOVES[kind].from);
}

function declareForm(c) {
  const kinds = Object.keys(MOVES).filter((k) => movable(c, k).length > 0);
  const select = $("declare-kind");
  select.replaceChildren(...kinds.map((k) => el("option", t("kind." + k), { value: k })));
  show("declare", kinds.length > 0);
  show("declare-nothing", kinds.length === 0);
  show("declare-refused", false);
  if (kinds.length) kindChanged();
}

function kindChanged() {
  const c = current.carnet;
  const kind = $("declare-kind").value;
  const rule = MOVES[kind].country;
  const countries = rule === "home" ? [c.home_country]
    : rule === "covered" ? c.countries.filter((x) => x !== c.home_country)
      : [...new Set(movable(c, kind).map((i) => i.country).filter(Boolean))];
  $("declare-country").replaceChildren(...countries.map((x) => el("option", x, { value: x })));
  show("declare-use-row", kind === "importation");
  countryChanged();
}

function countryChanged() {
  const c = current.carnet;
  const kind = $("declare-kind").value;
  const country = $("declare-country").value;
  const items = movable(c, kind).filter((i) => MOVES[kind].country !== "item" || i.country === country);
  const goods = new Map((current.document ? current.document.goods : []).map((g) => [g.item_number, g]));
  const box = $("declare-items");
  box.replaceChildren(box.querySelector("legend"));
  for (const i of items) {
    const id = `declare-item-${i.item_number}`;
    const input = el("input", null, { type: "checkbox", id, value: String(i.item_number), name: "items" });
    const g = goods.get(i.item_number);
    const label = el("label", `${t("items.number")} ${i.item_number}${g ? " — " + g.description : ""}`, { for: id });
    const line = el("div", null, { class: "check" });
    line.append(input, label);
    box.append(line);
  }
}

async function declare(event) {
  event.preventDefault();
  const c = current.carnet;
  const items = [...$("declare-items").querySelectorAll("input:checked")].map((i) => Number(i.value));
  show("declare-refused", false);
  if (!items.length) return say("problem", t("declare.choose_items"));
  say("problem", "");
  const kind = $("declare-kind").value;
  const json = { kind, country: $("declare-country").value, items };
  const use = $("declare-use").value.trim();
  if (kind === "importation" && use) json.intended_use = use;
  const answer = await api(`/v1/carnets/${encodeURIComponent(c.carnet_number)}/declarations`, { method: "POST", json });
  if (answer.status === 201) return keepAndShow(answer.body);
  const reasons = reasonsOf(answer);
  if (!reasons.length) return say("problem", t("declare.failed"));
  const list = $("declare-reasons");
  list.replaceChildren(...reasons.map((r) => {
    const li = el("li");
    li.dataset.rule = r.rule;
    li.append(el("strong", r.rule), document.createTextNode(` ${T_or(r.rule)} (${r.message})`));
    return li;
  }));
  show("declare-refused");
}

const T_or = (rule) => (t("refusal." + rule) === "refusal." + rule ? t("refusal.other") : t("refusal." + rule));

// --- sharing -------------------------------------------------------------------------------------------------

function shares(c) {
  show("share-box", c.role === "holder");
  const list = $("shares");
  list.replaceChildren();
  const ids = c.representative_ids || [];
  if (!ids.length) list.append(el("li", t("share.none")));
  for (const id of ids) {
    const li = el("li", id + " ");
    const revoke = el("button", t("share.revoke"), { type: "button", class: "secondary", "aria-label": `${t("share.revoke")} ${id}` });
    revoke.addEventListener("click", () => unshare(c.carnet_number, id));
    li.append(revoke);
    list.append(li);
  }
}

async function share(event) {
  event.preventDefault();
  const c = current.carnet;
  const id = $("share-id").value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$/.test(id)) return say("problem", `${t("share.failed")} ${t("share.id")}`);
  const json = { representative_id: id };
  const key = await api(`/v1/wallet-keys/${encodeURIComponent(id)}`);
  if (key.status === 200 && current.sealed) {
    const k = await dataKey(current.sealed, session().party);
    const sealedKey = await sealFor(store.unb64url(key.body.public_key), k, keyInfo(id, schemeOf(current.sealed)));
    json.sealed_key = store.b64url(sealedKey);
  }
  const answer = await api(`/v1/carnets/${encodeURIComponent(c.carnet_number)}/shares`, { method: "POST", json });
  if (answer.status !== 201 && answer.status !== 200) {
    return say("problem", `${t("share.failed")} ${reasonsOf(answer).map((r) => r.message).join(" ")}`);
  }
  $("share-id").value = "";
  say("notice", `${t("share.done")} ${id}.` + (json.sealed_key ? "" : " " + t("share.no_key")));
  await openCarnet(c.carnet_number);
}

async function unshare(number, id) {
  const answer = await api(`/v1/carnets/${encodeURIComponent(number)}/shares/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (answer.status !== 204) return say("problem", `${t("share.failed")} ${reasonsOf(answer).map((r) => r.message).join(" ")}`);
  say("notice", `${t("share.revoked")} ${id}.`);
  await openCarnet(number);
}

$("declare-kind").addEventListener("change", kindChanged);
$("declare-country").addEventListener("change", countryChanged);
$("declare").addEventListener("submit", declare);
$("share").addEventListener("submit", share);
$("carnet-back").addEventListener("click", async () => {
  show("carnet", false);
  for (const id of ["carnets", "keys", "push"]) show(id);
  await showCarnets();
});
$("carnets-refresh").addEventListener("click", showCarnets);
