// What the wallet keeps on the device, in IndexedDB "ata-wallet" (the service worker opens the same database):
//   keys:          wallet id -> {keyPair: CryptoKeyPair (private key non-extractable), publicKey: base64url}
//   declarations:  declaration id -> {declaration fields, qr: Blob (SVG)}, until the token expires
//   confirmations: transaction id -> the pushed confirmation message
const DB = "ata-wallet";
const STORES = ["keys", "declarations", "confirmations"];

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      for (const name of STORES) {
        if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name);
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(store, mode, act) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const request = act(tx.objectStore(store));
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const get = (store, key) => run(store, "readonly", (s) => s.get(key));
export const put = (store, key, value) => run(store, "readwrite", (s) => s.put(value, key));
export const remove = (store, key) => run(store, "readwrite", (s) => s.delete(key));
export const all = (store) => run(store, "readonly", (s) => s.getAll());

export function b64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function unb64url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// The holder's X25519 key pair: made here, the private half never extractable, kept per wallet id.
export async function deviceKey(party) {
  return (await get("keys", party)) || null;
}

export async function createDeviceKey(party) {
  const keyPair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
  const publicKey = b64url(await crypto.subtle.exportKey("raw", keyPair.publicKey));
  const entry = { keyPair, publicKey, created: new Date().toISOString() };
  await put("keys", party, entry);
  return entry;
}

export async function fingerprint(publicKey) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", unb64url(publicKey)));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("").match(/.{4}/g).join(" ");
}
