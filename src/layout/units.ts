/**
 * Size values in layout.json: a number of bytes, or a string with a binary
 * suffix as systemd-repart accepts them: "4096", "512K", "512M", "2G", "1T"
 * (K = 1024; "KiB"/"MiB"/… and "B" for bytes are accepted too). Fractions
 * are refused: sizes must be exact. "KB", "MB", "GB" and "TB" are refused as
 * ambiguous (powers of 1000 to many readers; repart refuses them too).
 */
import { fail } from "../bin/errors.js";

const SUFFIX: Record<string, number> = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseSize(v: unknown, where: string): number {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) fail("E_LAYOUT", `expected a whole number of bytes, got ${v}`, where);
    return v;
  }
  if (typeof v !== "string") fail("E_LAYOUT", `expected a size such as 512M or 2G (or a number of bytes), got ${JSON.stringify(v)}`, where);
  const ambiguous = /^\s*(\d+)\s*([KMGT])B\s*$/i.exec(v);
  if (ambiguous) {
    const [, n, unit] = ambiguous;
    const u = unit.toUpperCase();
    fail("E_LAYOUT", `size ${JSON.stringify(v)} is ambiguous (${u}B is a power of 1000 to many readers): write "${n}${u}" or "${n}${u}iB" for ${n} × ${SUFFIX[u]} bytes, or a number of bytes`, where);
  }
  const m = /^\s*(\d+)\s*(?:([KMGT])(?:iB)?|B)?\s*$/i.exec(v);
  if (!m) fail("E_LAYOUT", `bad size ${JSON.stringify(v)}: use a whole number with an optional K, M, G or T suffix (powers of 1024; KiB, MiB, GiB, TiB too), e.g. "512M"`, where);
  const n = Number(m[1]) * SUFFIX[(m[2] ?? "").toUpperCase()];
  if (!Number.isSafeInteger(n)) fail("E_LAYOUT", `size ${JSON.stringify(v)} is too large`, where);
  return n;
}

/** formatSize with the exact byte count ("61.2M (64199168 bytes)", "64M (67108864 bytes)"), which formatSize gives alone below 1 MiB. */
export function formatSizeExact(bytes: number): string {
  const s = formatSize(bytes);
  return s.endsWith("bytes)") || s.endsWith(" bytes") ? s : `${s} (${bytes} bytes)`;
}

export function formatSize(bytes: number): string {
  for (const [s, f] of [["T", 2 ** 40], ["G", 2 ** 30], ["M", 2 ** 20], ["K", 2 ** 10]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${s}`;
  }
  // Rounded down, so a size just under a step never reads as the step (127.99M as "127.9M", not "128.0M").
  if (bytes >= 2 ** 20) return `${(Math.floor((bytes / 2 ** 20) * 10) / 10).toFixed(1)}M (${bytes} bytes)`;
  return `${bytes} bytes`;
}
