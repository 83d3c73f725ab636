/**
 * Base64 (RFC 4648 §4, with padding): the JSON form of `Bytes()` fields.
 * Browser-safe (`atob`/`btoa`).
 */

/** Decode base64. @throws DOMException (InvalidCharacterError) on text `atob` rejects. */
export function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Encode bytes as base64 (the JSON form of `Bytes()` fields). */
export function bytesToBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
