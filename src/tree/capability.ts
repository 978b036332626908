/**
 * File capabilities: text form ("cap_net_raw+ep", "cap_net_admin,cap_net_raw=eip")
 * to the `security.capability` xattr value, VFS_CAP_REVISION_2
 * (Linux include/uapi/linux/capability.h `struct vfs_cap_data`):
 *   off len field
 *   0x00  4  magic_etc   (0x02000000 | 0x1 when effective)
 *   0x04  4  permitted[0]    0x08 4 inheritable[0]
 *   0x0C  4  permitted[1]    0x10 4 inheritable[1]
 * All little-endian. "e" is all-or-nothing in the file format: it applies when
 * any clause sets it.
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
  let permitted = 0n;
  let inheritable = 0n;
  let effective = false;
  for (const clause of text.trim().split(/\s+/)) {
    const m = /^([a-z0-9_,]+)([+=])([eip]*)$/i.exec(clause);
    if (!m) fail("E_LAYOUT", `bad capability clause "${clause}"; expected e.g. cap_net_raw+ep`, where);
    let bits = 0n;
    for (const name of m[1].toLowerCase().split(",")) {
      const n = CAPS.indexOf(name.replace(/^cap_/, ""));
      if (n < 0) fail("E_LAYOUT", `unknown capability "${name}"`, where);
      bits |= 1n << BigInt(n);
    }
    const flags = m[3].toLowerCase();
    if (m[2] === "=") {
      permitted &= ~bits;
      inheritable &= ~bits;
    }
    if (flags.includes("p")) permitted |= bits;
    if (flags.includes("i")) inheritable |= bits;
    if (flags.includes("e")) effective = true;
  }
  const out = new Uint8Array(20);
  const d = new DataView(out.buffer);
  d.setUint32(0, VFS_CAP_REVISION_2 | (effective ? VFS_CAP_FLAGS_EFFECTIVE : 0), true);
  d.setUint32(4, Number(permitted & 0xffffffffn), true);
  d.setUint32(8, Number(inheritable & 0xffffffffn), true);
  d.setUint32(12, Number(permitted >> 32n), true);
  d.setUint32(16, Number(inheritable >> 32n), true);
  return out;
}
