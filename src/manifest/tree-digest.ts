/**
 * A digest of the input tree: one line per entry in traversal order (path,
 * type, mode, uid, gid, size, mtime, link target, device, hard-link group,
 * xattrs, SHA-256 of content), hashed with SHA-256. Two trees with the same
 * digest give the same image under the same layout, seed and epoch.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { walkTree } from "../tree/select.js";
import { contentOf, type Tree, type TreeNode } from "../tree/types.js";

function contentSha(n: TreeNode): string {
  const h = createHash("sha256");
  const { path, fileOffsetBytes } = contentOf(n);
  const fd = openSync(path, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    let done = 0;
    while (done < n.sizeBytes) {
      const r = readSync(fd, buf, 0, Math.min(buf.length, n.sizeBytes - done), fileOffsetBytes + done);
      if (r === 0) break;
      h.update(buf.subarray(0, r));
      done += r;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

export function treeDigest(tree: Tree): { sha256: string; entries: number; bytes: number } {
  const h = createHash("sha256");
  let entries = 0;
  let bytes = 0;
  for (const n of walkTree(tree.root)) {
    entries++;
    bytes += n.sizeBytes;
    const fields = [
      Buffer.from(n.path).toString("hex"), n.type, n.mode.toString(8), n.uid, n.gid, n.sizeBytes,
      `${n.mtime.sec}.${String(n.mtime.nsec).padStart(9, "0")}`,
      n.linkTarget ? Buffer.from(n.linkTarget).toString("hex") : "-",
      n.rdevMajor !== undefined ? `${n.rdevMajor},${n.rdevMinor}` : "-",
      n.hardlinkGroup ?? "-",
      (n.xattrs ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString("hex")}`).join(";") || "-",
      n.type === "file" ? contentSha(n) : "-",
    ];
    h.update(fields.join(" ") + "\n");
  }
  return { sha256: h.digest("hex"), entries, bytes };
}
