// The customs officer's page: a thin client of the gateway's officer API (/v1/...).
// Rules of this file: every value from the API or the officer is written with textContent (never innerHTML),
// the session token stays in sessionStorage and goes out only as an Authorization header (never in a URL),
// and nothing here decides anything: the page shows what the API answered.
"use strict";

const SESSION = "ata.officer.session";
const OFFICE = "ata.officer.office";
const NOTICE = "ata.officer.notice";

const $ = (id) => document.getElementById(id);
const prefix = document.body.dataset.prefix;

// --- session -------------------------------------------------------------------------------------------------

function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) || "null");
  } catch (e) {
    return null;
  }
}

function endSession(notice) {
  sessionStorage.removeItem(SESSION);
  sessionStorage.removeItem(OFFICE);
  if (notice) sessionStorage.setItem(NOTICE, notice);
  window.location.replace(prefix + "/");
}

// --- the API -------------------------------------------------------------------------------------------------

// fetch with the session's Bearer token and the chosen office; answers {status, body} (body: parsed JSON or null).
async function api(path, { method = "GET", json, form } = {}) {
  const headers = { Accept: "application/json" };
  const s = session();
  if (s) headers.Authorization = "Bearer " + s.token;
  const office = sessionStorage.getItem(OFFICE);
  if (s && office) headers["X-Office-Id"] = office;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // multipart: the browser sets the boundary
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch (e) {
    return { status: 0, body: null };
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch (e) {
    parsed = null;
  }
  if (response.status === 401 && s) endSession("Your session has ended. Log in again.");
  return { status: response.status, body: parsed };
}

const REASONS = {
  bad_signature: "The signature does not verify: the QR was altered or not made by the carnet system.",
  unknown_kid: "The QR was signed with a key this gateway does not trust.",
  expired: "The QR has expired: the holder must make a new declaration.",
  wrong_country: "This declaration is for another country's customs.",
  replayed: "This declaration was already decided.",
  mismatch: "The declaration does not match the carnet on file.",
  no_qr: "No QR code could be read in this picture. Try again closer, flatter and in better light.",
  bad_code: "This is not a valid transaction code: check it with the holder.",
  unknown_code: "No declaration has this transaction code: check it with the holder.",
  core_unavailable: "Typed codes cannot be looked up right now: scan the QR instead.",
  rate_limited: "Too many typed codes: wait a moment.",
  bad_cancellation_code: "This is not a valid cancellation code: check it with the holder.",
  not_committed: "No transaction committed with this code at this gateway.",
  already_pending: "A cancellation of this transaction is already waiting for the ledger.",
  already_cancelled: "This transaction was already cancelled.",
  replaced: "The carnet was replaced for these items (R6): they travel under the replacement.",
  reason_required: "A refusal states its reason.",
  office_not_allowed: "You cannot act for this office.",
  R12: "The carnet has expired (R12).",
  R13: "The final date is not allowed (R13).",
};

// {title, message, items}: a problem answered by the API (its reason, its own message, any mismatches) as text.
function problem(status, body) {
  if (status === 0) return { title: "The gateway cannot be reached.", message: "Check the network and try again.", items: [] };
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    // FastAPI's validation errors: name each field the API refused
    return { title: "Some input was refused.", message: "",
             items: detail.map((d) => (d.loc || []).slice(1).join(".") + ": " + d.msg) };
  }
  if (detail && typeof detail === "object") {
    const items = (detail.mismatches || []).map((m) => m.check + ": " + m.detail);
    return { title: REASONS[detail.reason] || "Refused (" + detail.reason + ").",
             message: detail.message + " [" + status + " " + detail.reason + "]", items };
  }
  return { title: "The gateway answered " + status + ".", message: "", items: [] };
}

function fill(list, items) {
  list.replaceChildren(...items.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
}

function showProblem(ids, p) {
  $(ids + "-text").textContent = p.message ? p.title + " " + p.message : p.title;
  fill($(ids + "-list"), p.items);
  $(ids).hidden = false;
}

function row(cells, header) {
  const tr = document.createElement("tr");
  cells.forEach((text, i) => {
    const cell = document.createElement(i === 0 && header ? "th" : "td");
    if (i === 0 && header) cell.scope = "row";
    cell.textContent = String(text);
    tr.append(cell);
  });
  return tr;
}

function facts(dl, pairs) {
  dl.replaceChildren();
  for (const [term, value] of pairs) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
    dl.append(dt, dd);
  }
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button, input[type=file]")) b.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

// --- login page ----------------------------------------------------------------------------------------------

function loginPage() {
  const notice = sessionStorage.getItem(NOTICE);
  if (notice) {
    $("notice").textContent = notice;
    $("notice").hidden = false;
    sessionStorage.removeItem(NOTICE);
  }
  if (session()) window.location.replace(prefix + "/scan");
  const form = $("login");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    const officer_id = $("officer_id").value.trim();
    const totp = $("totp").value.replace(/\s+/g, "");
    if (!officer_id || !$("password").value || !/^[0-9]{6}$/.test(totp)) {
      error.textContent = "Enter your officer ID, your password and the 6-digit code of your authenticator app.";
      error.hidden = false;
      return;
    }
    busy(form, true);
    const r = await api("/v1/sessions", { method: "POST", json: { officer_id, password: $("password").value, totp } });
    busy(form, false);
    if (r.status === 201) {
      sessionStorage.setItem(SESSION, JSON.stringify({ token: r.body.token, expires_at: r.body.expires_at, officer_id }));
      window.location.assign(prefix + "/scan");
      return;
    }
    $("totp").value = ""; // a code works once: never resend it
    if (r.status === 429) {
      const detail = r.body && r.body.detail;
      error.textContent = "Too many failed logins from this device: " +
        (detail && detail.message ? detail.message : "try again later") + ". If it keeps happening, ask your administrator.";
    } else if (r.status === 401) {
      error.textContent = "Wrong officer ID, password or authenticator code. Codes work once: wait for the next " +
        "code before trying again. After a few failures, each new try waits a little longer.";
    } else {
      const p = problem(r.status, r.body);
      error.textContent = p.message ? p.title + " " + p.message : p.title;
    }
    error.hidden = false;
    $("totp").focus();
  });
  document.body.dataset.ready = "true";
}

// --- scan page -----------------------------------------------------------------------------------------------

const KIND_NAMES = {
  exportation: "Exportation", reimportation: "Re-importation", importation: "Importation",
  reexportation: "Re-exportation", transit_entry: "Transit entry", transit_discharge: "Transit discharge",
};

const state = { read: null }; // what the last successful read answered: {token} or {transaction_code}, and the scan

function resetResult(verdict) {
  state.read = null;
  $("verdict").textContent = verdict;
  $("problem").hidden = true;
  $("verification").hidden = true;
  $("decide").hidden = true;
  $("outcome-text").textContent = "";
  $("outcome-problem").hidden = true;
  $("again").hidden = true;
}

function outcomeText(ok) {
  if (ok === true) return "✓ passed";
  if (ok === false) return "✗ failed";
  return "– not checked";
}

function showScan(scan, read) {
  const labels = JSON.parse($("result").dataset.checkLabels);
  state.read = { ...read, scan };
  const mismatches = scan.mismatches.length;
  $("verdict").textContent = mismatches === 0
    ? "Verified: no mismatch for carnet " + scan.carnet_number + "."
    : "Verified with " + mismatches + (mismatches === 1 ? " mismatch" : " mismatches") + " for carnet " +
      scan.carnet_number + ": read them before deciding.";
  $("verdict").className = mismatches === 0 ? "verdict ok" : "verdict warn";
  facts($("declaration"), [
    ["Carnet", scan.carnet_number], ["Kind", KIND_NAMES[scan.kind] || scan.kind], ["Country", scan.country],
    ["Items declared", scan.items.join(", ")], ["Sequence", scan.sequence],
    ["Transaction code", scan.transaction_code], ["Carnet expiry", scan.carnet_expiry],
  ]);
  $("checks").tBodies[0].replaceChildren(...scan.checks.map((c) => {
    const tr = row([labels[c.check] || c.check, outcomeText(c.ok), c.detail], true);
    tr.className = c.ok === true ? "ok" : c.ok === false ? "failed" : "unchecked";
    tr.dataset.check = c.check;
    return tr;
  }));
  fill($("mismatches"), mismatches ? scan.mismatches.map((m) => (labels[m.check] || m.check) + ": " + m.detail)
    : ["None."]);
  const status = scan.checks.find((c) => c.check === "carnet_status");
  const carnet = scan.carnet;
  $("no-carnet").hidden = carnet !== null;
  $("carnet").hidden = carnet === null;
  $("carnet-items").hidden = carnet === null;
  if (carnet) {
    facts($("carnet"), [
      ["Carnet", carnet.carnet_number], ["Home country", carnet.home_country],
      ["Countries", carnet.countries.join(", ")], ["Expiry date", carnet.expiry_date],
      ["Status", status ? status.detail : null],
    ]);
    $("carnet-items").tBodies[0].replaceChildren(
      ...carnet.items.map((i) => row([i.item_number, i.quantity, i.origin_country], true)));
  }
  $("verification").hidden = false;
  prepareDecision(scan);
}

function prepareDecision(scan) {
  const kinds = JSON.parse($("result").dataset.finalDateKinds);
  const form = $("decision");
  form.reset();
  const dated = kinds.includes(scan.kind);
  $("final-date-field").hidden = !dated;
  $("final_date").max = scan.carnet_expiry || "";
  $("final_date").previousElementSibling.textContent = scan.kind === "transit_entry"
    ? "Final date to leave the transit country (optional, R13)"
    : "Final date for re-exportation (optional, R13)";
  decisionChanged();
  // a declaration already decided cannot be decided again: say so instead of offering the form
  const replayed = scan.checks.some((c) => c.check === "replay" && c.ok === false);
  $("decide").hidden = replayed;
  $("again").hidden = false;
}

function decisionChanged() {
  const refused = $("decision").elements.decision.value === "refused";
  $("reason-field").hidden = !refused;
  $("refusal_reason").required = refused;
  $("decide-button").textContent = refused ? "Refuse" : "Commit";
  $("final_date").disabled = refused; // R13 dates a commit; a refusal sends none
}

async function read(form, path, request, read_) {
  resetResult("Verifying…");
  $("result").setAttribute("aria-busy", "true");
  busy(form, true);
  const r = await api(path, request);
  busy(form, false);
  $("result").setAttribute("aria-busy", "false");
  if (r.status === 200) {
    showScan(r.body, read_(r.body));
  } else {
    const p = problem(r.status, r.body);
    $("verdict").textContent = "Not verified.";
    $("verdict").className = "verdict failed";
    showProblem("problem", p);
    $("again").hidden = false;
  }
  $("result").scrollIntoView({ block: "start" });
}

async function decide(event) {
  event.preventDefault();
  const form = $("decision");
  if (!state.read) return;
  const decision = form.elements.decision.value;
  const body = { decision };
  if (state.read.token) body.token = state.read.token;
  else body.transaction_code = state.read.transaction_code;
  if (decision === "refused") {
    const reason = $("refusal_reason").value.trim();
    if (!reason) {
      $("outcome-text").textContent = "Give the reason for the refusal.";
      $("refusal_reason").focus();
      return;
    }
    body.refusal_reason = reason;
  } else if (!$("final-date-field").hidden && $("final_date").value) {
    body.final_date = $("final_date").value;
  }
  busy(form, true);
  $("outcome-problem").hidden = true;
  $("outcome-text").textContent = "Sending…";
  const r = await api("/v1/commits", { method: "POST", json: body });
  busy(form, false);
  if (r.status === 202) {
    const what = decision === "committed" ? "Committed" : "Refused";
    const until = body.final_date ? ", final date " + body.final_date : "";
    $("outcome-text").textContent = what + ": carnet " + r.body.carnet_number + ", items " + r.body.items.join(", ") +
      ", at office " + r.body.office_id + until + ". Reference " + r.body.commit_id + ".";
    $("outcome-text").className = "verdict ok";
    $("decide").hidden = true;
  } else {
    $("outcome-text").textContent = decision === "committed" ? "Not committed." : "Refusal not recorded.";
    $("outcome-text").className = "verdict failed";
    showProblem("outcome-problem", problem(r.status, r.body));
  }
  $("outcome").scrollIntoView({ block: "nearest" });
}

// Cancelling needs the core's word: post, then follow GET /v1/cancellations/{id} until it is decided.
async function cancel(event) {
  event.preventDefault();
  const form = $("cancellation");
  const body = {
    transaction_code: $("cancel-code").value.trim(),
    cancellation_code: $("cancel-consent").value.trim(),
    reason: $("cancel-reason").value.trim(),
  };
  const text = $("cancel-outcome-text");
  $("cancel-problem").hidden = true;
  if (!body.transaction_code || !body.cancellation_code || !body.reason) {
    text.textContent = "Give the transaction code, the holder's cancellation code and the reason.";
    return;
  }
  busy(form, true);
  text.className = "verdict";
  text.textContent = "Sending…";
  const r = await api("/v1/cancellations", { method: "POST", json: body });
  if (r.status !== 202) {
    busy(form, false);
    text.textContent = "Not cancelled.";
    text.className = "verdict failed";
    showProblem("cancel-problem", problem(r.status, r.body));
    return;
  }
  text.textContent = "Asked: waiting for the ledger to decide…";
  let decided = r.body;
  for (let i = 0; i < 60 && decided.status === "pending"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const poll = await api("/v1/cancellations/" + encodeURIComponent(r.body.cancellation_id));
    if (poll.status === 200) decided = poll.body;
  }
  busy(form, false);
  if (decided.status === "cancelled") {
    text.textContent = "Cancelled: transaction " + decided.transaction_code + " of carnet " + decided.carnet_number +
      ". Reference " + decided.cancellation_id + ".";
    text.className = "verdict ok";
    form.reset();
  } else if (decided.status === "refused") {
    text.textContent = "The ledger refused the cancellation.";
    text.className = "verdict failed";
    showProblem("cancel-problem", { title: "", message: "", items: decided.reasons.map((x) => x.message) });
  } else {
    text.textContent = "Still waiting for the ledger. Reference " + decided.cancellation_id + ".";
  }
}

function bindReaders() {
  const imageForm = $("scan-image");
  const sendImage = (input) => {
    const file = input.files && input.files[0];
    if (!file) return;
    const preview = $("preview");
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    const data = new FormData();
    data.append("image", file);
    input.value = ""; // the same photo can be sent again
    read(imageForm, "/v1/scans/image", { method: "POST", form: data }, (scan) => ({ token: scan.token }));
  };
  $("photo").addEventListener("change", (e) => sendImage(e.target));
  $("image-file").addEventListener("change", (e) => sendImage(e.target));
  imageForm.addEventListener("submit", (e) => e.preventDefault());

  $("scan-token").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    read(event.target, "/v1/scans", { method: "POST", json: { token } }, () => ({ token }));
  });
  $("scan-code").addEventListener("submit", (event) => {
    event.preventDefault();
    const code = $("code").value.trim();
    if (!code) return;
    read(event.target, "/v1/scans/code", { method: "POST", json: { code } },
      (scan) => ({ transaction_code: scan.transaction_code }));
  });
  $("decision").addEventListener("change", decisionChanged);
  $("decision").addEventListener("submit", decide);
  $("cancellation").addEventListener("submit", cancel);
  $("again").addEventListener("click", () => {
    $("scan-token").reset();
    $("scan-code").reset();
    $("preview").hidden = true;
    resetResult("Nothing read yet.");
    $("read").scrollIntoView({ block: "start" });
  });
}

async function scanPage() {
  const s = session();
  if (!s) {
    window.location.replace(prefix + "/");
    return;
  }
  $("logout").addEventListener("click", async () => {
    await api("/v1/sessions/current", { method: "DELETE" });
    endSession("You are logged out.");
  });
  const r = await api("/v1/sessions/current");
  if (r.status !== 200) {
    if (r.status !== 401) showProblem("problem", problem(r.status, r.body));
    return;
  }
  $("who").textContent = r.body.officer_id + " (" + r.body.country + ")";
  const select = $("office");
  const chosen = sessionStorage.getItem(OFFICE);
  const known = r.body.offices.some((o) => o.office_id === chosen);
  if (!known) sessionStorage.removeItem(OFFICE);
  select.replaceChildren(...r.body.offices.map((o) => {
    const option = document.createElement("option");
    option.value = o.office_id;
    option.textContent = o.office_id + " — " + o.name;
    option.selected = o.office_id === (known ? chosen : r.body.home_office_id);
    return option;
  }));
  select.addEventListener("change", () => {
    sessionStorage.setItem(OFFICE, select.value);
    resetResult("Office changed to " + select.value + ". Nothing read yet.");
  });
  bindReaders();
  document.body.dataset.ready = "true"; // for tests and for styles: the page is wired
}

if (document.body.dataset.page === "login") loginPage();
else if (document.body.dataset.page === "scan") scanPage();
