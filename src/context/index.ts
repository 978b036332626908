/**
 * BuildContext: the only source of identifiers and time in a build.
 *
 * Identifiers follow systemd-repart's derivation so that the same seed gives
 * the same ids as `systemd-repart --seed` (README, "The reproducibility contract"):
 *
 *   v4(x)          = x[0..16) with the version nibble set to 4 and the RFC variant
 *   derive(K, msg) = v4(HMAC-SHA256(key = K (16 raw bytes), msg))
 *   disk GUID      = derive(seed, "disk-uuid")
 *   partition UUID = derive(seed, typeUuid)                 first partition of a type
 *                  = derive(seed, typeUuid || LE64(k))       k-th later one (k = 1, 2 …)
 *   fs UUID        = derive(partitionUuid, "file-system-uuid")
 *
 * Time: `epochSec` is SOURCE_DATE_EPOCH. File times newer than it are clamped
 * to it (nanoseconds dropped); older ones are kept. With no epoch, file times
 * are kept as found in the tree and filesystem-level times (superblock
 * creation time and the like) are 0.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";
import { formatUuid, parseUuid, type Uuid } from "../bin/guid.js";

export function v4(x: Uint8Array): Uuid {
  const u = x.slice(0, 16);
  u[6] = (u[6] & 0x0f) | 0x40;
  u[8] = (u[8] & 0x3f) | 0x80;
  return u;
}

export function deriveUuid(key: Uuid, msg: Uint8Array | string): Uuid {
  return v4(hmac(sha256, key, typeof msg === "string" ? utf8(msg) : msg));
}

export interface Timestamp {
  sec: number;
  nsec: number;
}

export interface BuildContextOptions {
  /** 16-byte seed, or its string form. */
  seed: Uuid | string;
  /** SOURCE_DATE_EPOCH in seconds, or undefined for "no clamp". */
  epochSec?: number;
}

/**
 * The latest SOURCE_DATE_EPOCH: 2446-05-10T22:38:55Z, the last second ext4
 * can store (its inode times are 34 bits). Filesystem-level stamps (ext4
 * superblock times, FAT volume times: FAT clamps to 2107) are the epoch.
 */
export const MAX_EPOCH_SEC = 0x3_7fff_ffff;

export class BuildContext {
  readonly seed: Uuid;
  readonly epochSec: number | undefined;

  constructor(opts: BuildContextOptions) {
    this.seed = typeof opts.seed === "string" ? parseUuid(opts.seed, "seed") : Uint8Array.from(opts.seed);
    if (this.seed.length !== 16) fail("E_LAYOUT", "seed must be 16 bytes", "seed");
    if (opts.epochSec !== undefined && (!Number.isSafeInteger(opts.epochSec) || opts.epochSec < 0 || opts.epochSec > MAX_EPOCH_SEC)) {
      fail("E_LAYOUT", `SOURCE_DATE_EPOCH must be a whole number of seconds from 0 to ${MAX_EPOCH_SEC} (2446-05-10, the last time ext4 can store), got ${opts.epochSec}`, "sourceDateEpoch");
    }
    this.epochSec = opts.epochSec;
  }

  get seedString(): string {
    return formatUuid(this.seed);
  }

  diskGuid(): Uuid {
    return deriveUuid(this.seed, "disk-uuid");
  }

  /** UUID of the `index`-th partition (0-based) of type `typeUuid`. */
  partitionUuid(typeUuid: Uuid, index: number): Uuid {
    if (index === 0) return deriveUuid(this.seed, typeUuid);
    const msg = new Uint8Array(24);
    msg.set(typeUuid, 0);
    const d = new DataView(msg.buffer);
    d.setUint32(16, index % 0x1_0000_0000, true);
    d.setUint32(20, Math.floor(index / 0x1_0000_0000), true);
    return deriveUuid(this.seed, msg);
  }

  filesystemUuid(partitionUuid: Uuid): Uuid {
    return deriveUuid(partitionUuid, "file-system-uuid");
  }

  /** A named id for anything else (VMDK CID, OVF machine id …): derive(seed, "mkdisk:" + purpose). */
  namedUuid(purpose: string): Uuid {
    return deriveUuid(this.seed, "mkdisk:" + purpose);
  }

  /** Clamp a file time to the epoch: newer → epoch (nsec 0), older → kept. */
  clamp(t: Timestamp): Timestamp {
    if (this.epochSec === undefined) return t;
    if (t.sec > this.epochSec || (t.sec === this.epochSec && t.nsec > 0)) return { sec: this.epochSec, nsec: 0 };
    return t;
  }

  /** Time used for filesystem-level stamps (superblock times, volume labels): the epoch or 0. */
  get fsTimeSec(): number {
    return this.epochSec ?? 0;
  }
}

/**
 * The seed used when neither the layout nor the caller gives one:
 * derive(zero key, "mkdisk-default-seed:" + canonical layout JSON without seed).
 * It is a pure function of the layout, so builds stay reproducible; two
 * different layouts get different ids. Documented in the README's reproducibility contract.
 */
export function defaultSeed(canonicalLayoutJson: string): Uuid {
  return deriveUuid(new Uint8Array(16), "mkdisk-default-seed:" + canonicalLayoutJson);
}

export { parseUuid, formatUuid };
