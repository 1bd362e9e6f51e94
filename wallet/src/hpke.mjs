// The one HPKE suite of construction ATA-DOC-1 (nga_client/sealing.py): RFC 9180 base mode,
// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, single-shot, empty aad.
// Bundled by `npm ci` (script "prepare") into core/wallet/static/hpke.js; the wallet imports only these two.
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
const ENC = 32;

// sealed = enc (32 bytes) || ciphertext; recipientKey = the wallet's CryptoKeyPair (private key non-extractable).
export async function openSealed(recipientKey, sealed, info) {
  if (!(sealed instanceof Uint8Array) || sealed.length <= ENC) throw new Error("sealed key too short");
  return new Uint8Array(await suite.open(
    { recipientKey, enc: sealed.slice(0, ENC), info }, sealed.slice(ENC)));
}

// Seal `plaintext` for a raw 32-byte X25519 public key: enc || ciphertext, as sealing.seal_key writes it.
export async function sealFor(publicKeyRaw, plaintext, info) {
  const recipientPublicKey = await suite.kem.deserializePublicKey(publicKeyRaw);
  const { ct: ciphertext, enc } = await suite.seal({ recipientPublicKey, info }, plaintext);
  const out = new Uint8Array(enc.byteLength + ciphertext.byteLength);
  out.set(new Uint8Array(enc), 0);
  out.set(new Uint8Array(ciphertext), enc.byteLength);
  return out;
}
