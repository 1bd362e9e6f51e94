// The wallet's service worker (scope {{ prefix }}/). Served by the core with the app shell's version, so a
// new release installs a new cache and drops the old one.
// - The app shell (the page and its static files) is cached, so the wallet opens with the network off and shows
//   the declarations stored on the device (IndexedDB), each with its QR and typed code, until its token expires.
// - API calls are never cached here: the ledger's answers are always fresh or visibly absent.
// - A pushed confirmation (Web Push, from the notifier) is shown as a notification and posted to open pages,
//   which reload the carnet; it is also kept in IndexedDB for a page opened later.
"use strict";
const CACHE = "ata-wallet-{{ version }}";
const SHELL = {{ shell | tojson }};
const DB = "ata-wallet";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("ata-wallet-") && n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("{{ prefix }}/")) {
    return; // the API and everything else: straight to the network
  }
  let key = null;
  if (event.request.mode === "navigate" && url.pathname === "{{ prefix }}/") key = url.pathname;
  else if (url.pathname.startsWith("{{ prefix }}/static/") || url.pathname === "{{ prefix }}/manifest.webmanifest") key = url.pathname;
  if (key === null) return;
  // Network first (a fresh release wins), the cached shell when the network is gone.
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((c) => c.put(key, copy));
    }
    return response;
  }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});

function keep(confirmation) {
  return new Promise((resolve) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => {
      const db = open.result;
      for (const name of ["keys", "declarations", "confirmations"]) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name);
      }
    };
    open.onerror = () => resolve();
    open.onsuccess = () => {
      const tx = open.result.transaction("confirmations", "readwrite");
      tx.objectStore("confirmations").put(confirmation, confirmation.data.transaction_id);
      tx.oncomplete = tx.onerror = () => { open.result.close(); resolve(); };
    };
  });
}

self.addEventListener("push", (event) => {
  let message = null;
  try {
    message = event.data ? event.data.json() : null;
  } catch (e) {
    message = null;
  }
  const data = message && message.data;
  if (!data || typeof data.carnet_number !== "string" || typeof data.decision !== "string") return;
  const titles = {{ titles | tojson }};
  const title = (titles[data.decision] || data.decision) + ": " + data.carnet_number;
  const body = [data.kind, data.country, (data.items || []).join(", ")].join(" · ");
  event.waitUntil(keep(message)
    .then(() => self.clients.matchAll({ type: "window", includeUncontrolled: true }))
    .then((pages) => { for (const page of pages) page.postMessage({ type: "confirmation", message }); })
    .then(() => self.registration.showNotification(title, { body, tag: data.transaction_id, data: message })
      .catch(() => undefined)));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow("{{ prefix }}/"));
});
