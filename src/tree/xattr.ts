/**
 * Reading extended attributes from the source tree. Node has no xattr API;
 * @napi-rs/xattr (a maintained N-API addon shipped prebuilt through the npm
 * registry, no compiler needed at install) provides l{list,get}xattr, which do
 * not follow symlinks, matching the lstat-based scan. When the addon cannot be
 * loaded (an unsupported platform), the scan goes on without xattrs and says
 * so once through the warning callback.
 *
 * Kept namespaces: user., trusted., security., and the two POSIX ACL names.
 */
import { isUtf8 } from "node:buffer";
import { createRequire } from "node:module";

interface XattrApi {
  listAttributesSync(path: string): string[];
  getAttributeSync(path: string, name: string): Buffer | null;
}

let api: XattrApi | null | undefined;
let loadError = "";

function load(): XattrApi | null {
  if (api !== undefined) return api;
  try {
    api = createRequire(import.meta.url)("@napi-rs/xattr") as XattrApi;
  } catch (e) {
    api = null;
    loadError = (e as Error).message.split("\n")[0];
  }
  return api;
}

export const KEPT_XATTR = (name: string) =>
  name.startsWith("user.") || name.startsWith("trusted.") || name.startsWith("security.") ||
  name === "system.posix_acl_access" || name === "system.posix_acl_default";

export interface XattrReader {
  read(path: Buffer, display: string): { name: string; value: Uint8Array }[] | undefined;
}

export function xattrReader(warn: (msg: string) => void): XattrReader {
  const x = load();
  let warned = false;
  const warnOnce = (msg: string) => {
    if (!warned) warn(msg);
    warned = true;
  };
  if (!x) {
    warnOnce(`extended attributes are not read (cannot load @napi-rs/xattr: ${loadError}); capabilities, ACLs and SELinux labels will be missing from the image`);
    return { read: () => undefined };
  }
  return {
    read(path, display) {
      let names: string[];
      if (!isUtf8(path)) {
        // The addon takes paths as strings: a name that is not UTF-8 cannot be passed to it.
        warn(`${display}: the path is not valid UTF-8, so its extended attributes cannot be read; it is copied without them`);
        return undefined;
      }
      const p = path.toString();
      try {
        names = x.listAttributesSync(p);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        if (/ENOTSUP|EOPNOTSUPP|not supported/i.test(String(code))) {
          warnOnce(`the source file system does not support extended attributes (at ${display}); none are read`);
          return undefined;
        }
        throw e;
      }
      const kept = names.filter(KEPT_XATTR);
      if (kept.length === 0) return undefined;
      return kept
        .map((name) => ({ name, value: new Uint8Array(x.getAttributeSync(p, name) ?? new Uint8Array(0)) }))
        .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    },
  };
}
