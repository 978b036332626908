/**
 * FAT date and time fields, fatgen103 §6.1 (Date/Time formats). Stored as UTC
 * (mkdisk never reads a time zone; mount with `tz=UTC` or read with TZ=UTC).
 *
 *   date = (year - 1980) << 9 | month << 5 | day        1980-01-01 .. 2107-12-31
 *   time = hour << 11 | minute << 5 | seconds / 2       2-second resolution
 *   tenth = (seconds % 2) * 100 + nanoseconds / 10^7    creation only, 0..199
 *
 * Rule: the caller passes a time already clamped by BuildContext.clamp. Times
 * before 1980-01-01 00:00:00 become that instant; times after
 * 2107-12-31 23:59:59 become 2107-12-31 23:59:58 with tenth 199 (the largest
 * value the fields hold). Seconds are truncated, never rounded.
 */
import type { Timestamp } from "../context/index.js";

export interface FatTime {
  date: number;
  time: number;
  /** DIR_CrtTimeTenth */
  tenth: number;
}

export const FAT_EPOCH_SEC = 315532800; // 1980-01-01T00:00:00Z
export const FAT_MAX_SEC = 4354819199; // 2107-12-31T23:59:59Z

export const FAT_MIN_TIME: FatTime = { date: (0 << 9) | (1 << 5) | 1, time: 0, tenth: 0 };
export const FAT_MAX_TIME: FatTime = { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29, tenth: 199 };

/** Civil date from days since 1970-01-01 (proleptic Gregorian, pure arithmetic). */
function civil(days: number): { y: number; m: number; d: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: era * 400 + yoe + (m <= 2 ? 1 : 0), m, d };
}

export function toFatTime(t: Timestamp): FatTime {
  if (t.sec < FAT_EPOCH_SEC) return { ...FAT_MIN_TIME };
  if (t.sec > FAT_MAX_SEC) return { ...FAT_MAX_TIME };
  const days = Math.floor(t.sec / 86400);
  const secOfDay = t.sec - days * 86400;
  const { y, m, d } = civil(days);
  const hh = Math.floor(secOfDay / 3600);
  const mm = Math.floor((secOfDay % 3600) / 60);
  const ss = secOfDay % 60;
  return {
    date: ((y - 1980) << 9) | (m << 5) | d,
    time: (hh << 11) | (mm << 5) | (ss >>> 1),
    tenth: (ss & 1) * 100 + Math.floor(t.nsec / 10_000_000),
  };
}

/** Inverse, for tests and readers: seconds since 1970 (UTC) of a date/time pair. */
export function fromFatTime(date: number, time: number): number {
  const y = (date >>> 9) + 1980;
  const m = (date >>> 5) & 0xf;
  const d = date & 0x1f;
  return Date.UTC(y, m - 1, d, time >>> 11, (time >>> 5) & 0x3f, (time & 0x1f) * 2) / 1000;
}
