/**
 * POSIX ACLs in the two forms the tree meets them: the text tar keeps in
 * SCHILY.acl.* records, and the Linux xattr value (system.posix_acl_access
 * and _default: le32 version 2, then le16 tag, le16 perm, le32 id per
 * entry). The ext4 writer turns the xattr value into ext4's on-disk form
 * (src/ext4/xattr.ts aclToDisk).
 */
import { fail } from "../bin/errors.js";

/** POSIX ACL tags (include/uapi/linux/posix_acl.h). */
export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
/** The version word that starts the Linux xattr form (system.posix_acl_access/default). */
export const POSIX_ACL_XATTR_VERSION = 2;

const ACL_TAGS: Record<string, number> = { user: ACL_USER_OBJ, u: ACL_USER_OBJ, group: ACL_GROUP_OBJ, g: ACL_GROUP_OBJ, mask: ACL_MASK, m: ACL_MASK, other: ACL_OTHER, o: ACL_OTHER };

/**
 * A POSIX ACL in the text form tar keeps in SCHILY.acl.access/default (GNU
 * tar: entries on lines, names where the writer could look them up;
 * libarchive: entries separated by commas, a name followed by its numeric id)
 * as the Linux xattr value (le32 version 2, then le16 tag, le16 perm, le32 id
 * per entry, sorted as the kernel wants them). Names are never looked up: an
 * entry must carry a numeric id.
 */
export function aclFromText(text: string, where: string): Uint8Array {
  const entries: { tag: number; perm: number; id: number }[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const e = raw.replace(/#.*$/, "").trim();
    if (e === "") continue;
    const f = e.split(":");
    const bad = (why: string): never => fail("E_TREE", `ACL entry ${JSON.stringify(e)}: ${why}`, where);
    if (f.length < 3 || f.length > 4) bad("expected tag:qualifier:permissions");
    let tag = ACL_TAGS[f[0]] ?? bad(`unknown tag "${f[0]}"`);
    if (!/^[r-][w-][x-]$/.test(f[2])) bad(`permissions must look like "rwx" or "r-x"`);
    const perm = (f[2][0] === "r" ? 4 : 0) | (f[2][1] === "w" ? 2 : 0) | (f[2][2] === "x" ? 1 : 0);
    let id = 0xffffffff;
    if (f[1] !== "") {
      if (tag !== ACL_USER_OBJ && tag !== ACL_GROUP_OBJ) bad("only user and group entries name someone");
      tag = tag === ACL_USER_OBJ ? ACL_USER : ACL_GROUP;
      const num = f.length === 4 ? f[3] : f[1];
      if (!/^\d+$/.test(num) || Number(num) > 0xfffffffe) bad(`names ${JSON.stringify(f[1])} without a numeric id; mkdisk does not look names up: make the archive with bsdtar (which records ids) or pass the unpacked directory`);
      id = Number(num);
    }
    entries.push({ tag, perm, id });
  }
  entries.sort((a, b) => a.tag - b.tag || a.id - b.id);
  // What the kernel accepts (posix_acl_valid): one owner, owning-group and other entry, no entry twice, a mask when anyone is named.
  const count = (tag: number) => entries.filter((x) => x.tag === tag).length;
  const invalid = (why: string): never => fail("E_TREE", `ACL ${JSON.stringify(text.trim().replace(/\n/g, ","))} is not valid: ${why}`, where);
  for (const [tag, what] of [[ACL_USER_OBJ, "user::"], [ACL_GROUP_OBJ, "group::"], [ACL_OTHER, "other::"]] as const) if (count(tag) !== 1) invalid(`it needs exactly one ${what} entry`);
  if (count(ACL_MASK) > 1) invalid("it has more than one mask:: entry");
  if (entries.some((x, i) => i > 0 && x.tag === entries[i - 1].tag && x.id === entries[i - 1].id && x.id !== 0xffffffff)) invalid("it names someone twice");
  if (count(ACL_MASK) === 0 && (count(ACL_USER) > 0 || count(ACL_GROUP) > 0)) invalid("entries that name a user or group need a mask:: entry");
  const out = new Uint8Array(4 + 8 * entries.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, POSIX_ACL_XATTR_VERSION, true);
  entries.forEach((e, i) => {
    v.setUint16(4 + 8 * i, e.tag, true);
    v.setUint16(6 + 8 * i, e.perm, true);
    v.setUint32(8 + 8 * i, e.id, true);
  });
  return out;
}

/**
 * What setting an access ACL does to a file's mode, as the kernel does it
 * (posix_acl_update_mode): owner bits from the owner entry, group bits from
 * the mask (or the owning group's entry when there is no mask), other bits
 * from the other entry; and whether the ACL says more than the mode (it has
 * named entries or a mask), for only then does the kernel store it.
 */
export function aclMode(value: Uint8Array): { bits: number; extended: boolean } | undefined {
  if (value.length < 4 || (value.length - 4) % 8 !== 0) return undefined; // the ext4 writer reports it
  const v = new DataView(value.buffer, value.byteOffset, value.length);
  let user = -1, group = -1, mask = -1, other = -1, extended = false;
  for (let at = 4; at < value.length; at += 8) {
    const tag = v.getUint16(at, true);
    const perm = v.getUint16(at + 2, true) & 7;
    if (tag === ACL_USER_OBJ) user = perm;
    else if (tag === ACL_GROUP_OBJ) group = perm;
    else if (tag === ACL_MASK) (mask = perm), (extended = true);
    else if (tag === ACL_OTHER) other = perm;
    else extended = true;
  }
  if (user < 0 || group < 0 || other < 0) return undefined;
  return { bits: (user << 6) | ((mask >= 0 ? mask : group) << 3) | other, extended };
}
