/**
 * Node adapter (the only file in src/boot that touches the file system):
 * reads the layout's `biosBoot` images. Relative paths are resolved against
 * the layout file's directory.
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fail, MkdiskError } from "../bin/errors.js";
import type { BiosBootSpec } from "../layout/schema.js";
import type { GrubBiosImages } from "./grub-bios.js";

/** Far above any real core.img (GRUB's own limit for an embedded core is under 1 MiB). */
const MAX_IMAGE_BYTES = 16 << 20;

function readImage(path: string, layoutDir: string, where: string): Uint8Array {
  const full = isAbsolute(path) ? path : resolve(layoutDir, path);
  let bytes: Buffer;
  try {
    const st = statSync(full);
    if (!st.isFile()) fail("E_LAYOUT", `${full} is not a regular file`, where);
    if (st.size > MAX_IMAGE_BYTES) fail("E_FIT", `${full} is ${st.size} bytes; a GRUB boot image is far smaller`, where);
    bytes = readFileSync(full);
  } catch (e) {
    if (e instanceof MkdiskError) throw e;
    fail("E_LAYOUT", `cannot read ${full}: ${(e as Error).message}`, where);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function loadGrubBiosImages(spec: BiosBootSpec, layoutDir: string): GrubBiosImages {
  return {
    bootImage: readImage(spec.bootImage, layoutDir, "biosBoot.bootImage"),
    coreImage: readImage(spec.coreImage, layoutDir, "biosBoot.coreImage"),
    bootImageName: spec.bootImage,
    coreImageName: spec.coreImage,
  };
}
