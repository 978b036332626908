/**
 * File capabilities: the text form setcap takes (libcap's cap_from_text:
 * "cap_net_raw+ep", "cap_net_admin,cap_net_raw=eip", "all=ep", "=ep",
 * "cap_chown+ep-i cap_kill=p") to the `security.capability` xattr value,
 * VFS_CAP_REVISION_2 (Linux include/uapi/linux/capability.h
 * `struct vfs_cap_data`):
 *   off len field
 *   0x00  4  magic_etc   (0x02000000 | 0x1 when effective)
 *   0x04  4  permitted[0]    0x08 4 inheritable[0]
 *   0x0C  4  permitted[1]    0x10 4 inheritable[1]
 * All little-endian. A clause is a capability list ("all", or names joined by
 * ","; empty before "=" means all) and one or more operator-flags pairs:
 * "=" clears the three flags of the listed capabilities and raises the given
 * ones, "+" raises, "-" lowers. "e" is one bit in the file format, so as
 * setcap does, mkdisk refuses a set where some permitted or inheritable
 * capability is effective and another is not.
 */
import { fail } from "../bin/errors.js";

/** Capability numbers, Linux include/uapi/linux/capability.h (6.x). */
export const CAPS: readonly string[] = [
  "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
  "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
  "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
  "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
  "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
  "checkpoint_restore",
];

const VFS_CAP_REVISION_2 = 0x02000000;
const VFS_CAP_FLAGS_EFFECTIVE = 0x1;

export function encodeCapability(text: string, where: string): Uint8Array {
  const all = (1n << BigInt(CAPS.length)) - 1n;
  const set = { e: 0n, i: 0n, p: 0n };
  for (const clause of text.trim().split(/\s+/)) {
    // Names are case-insensitive, flags are not (as libcap parses them).
    const m = /^([a-z0-9_,]*)((?:[=+-][eip]*)+)$/i.exec(clause);
    if (!m || /[EIP]/.test(m[2])) fail("E_LAYOUT", `bad capability clause "${clause}"; expected e.g. cap_net_raw+ep`, where);
    const ops = [...m[2].matchAll(/([=+-])([eip]*)/g)];
    if (ops.slice(1).some(([, op]) => op === "=")) fail("E_LAYOUT", `capability clause "${clause}": "=" can only come first`, where);
    let bits = 0n;
    if (m[1] === "") {
      // An empty list means all capabilities, and only as "=flags" on its own.
      if (ops.length !== 1 || ops[0][1] !== "=") fail("E_LAYOUT", `capability clause "${clause}" names no capability (only "=flags" on its own means all of them)`, where);
      bits = all;
    } else {
      for (const raw of m[1].split(",")) {
        const name = raw.toLowerCase();
        if (name === "all") {
          bits |= all;
          continue;
        }
        const n = /^\d+$/.test(name) ? Number(name) : name.startsWith("cap_") ? CAPS.indexOf(name.slice(4)) : -1;
        if (n < 0 || n > 63) fail("E_LAYOUT", `unknown capability "${raw}" (a name like cap_net_raw, "all", or a number from 0 to 63)`, where);
        bits |= 1n << BigInt(n);
      }
    }
    for (const [, op, flags] of ops) {
      if (op !== "=" && flags === "") fail("E_LAYOUT", `capability clause "${clause}": "${op}" needs flags (e, i, p)`, where);
      if (op === "=") for (const f of ["e", "i", "p"] as const) set[f] &= ~bits;
      for (const f of flags as Iterable<"e" | "i" | "p">) set[f] = op === "-" ? set[f] & ~bits : set[f] | bits;
    }
  }
  const effective = set.e !== 0n;
  if (effective && ((set.p | set.i) & ~set.e) !== 0n) {
    fail("E_LAYOUT", `capabilities "${text}": a file has one effective flag for all its capabilities, so either every permitted or inheritable capability is effective ("+ep") or none is (setcap refuses this too)`, where);
  }
  const out = new Uint8Array(20);
  const d = new DataView(out.buffer);
  d.setUint32(0, VFS_CAP_REVISION_2 | (effective ? VFS_CAP_FLAGS_EFFECTIVE : 0), true);
  d.setUint32(4, Number(set.p & 0xffffffffn), true);
  d.setUint32(8, Number(set.i & 0xffffffffn), true);
  d.setUint32(12, Number(set.p >> 32n), true);
  d.setUint32(16, Number(set.i >> 32n), true);
  return out;
}
