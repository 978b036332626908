/**
 * Partition type registry: names mkdisk accepts in layout.json, their GPT type
 * GUIDs (Discoverable Partitions Specification / UEFI) and the default label
 * systemd-repart gives such a partition.
 */
export interface PartitionType {
  readonly name: string;
  readonly guid: string;
  /** repart's default label: the type's name in systemd's table, "linux" for a type systemd does not know. */
  readonly defaultLabel: string;
}

/** The label systemd-repart gives a partition whose type GUID systemd does not know. */
export const UNKNOWN_TYPE_LABEL = "linux";

const T = (name: string, guid: string, defaultLabel = name): PartitionType => ({ name, guid, defaultLabel });

export const PARTITION_TYPES: readonly PartitionType[] = [
  T("esp", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
  T("xbootldr", "bc13c2ff-59e6-4262-a352-b275fd6f7172"),
  // Not in systemd's table: repart labels it "linux" (checked against systemd-repart 252).
  T("bios-boot", "21686148-6449-6e6f-744e-656564454649", UNKNOWN_TYPE_LABEL),
  T("swap", "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"),
  T("home", "933ac7e1-2eb4-4f13-b844-0e14e2aef915"),
  T("srv", "3b8f8425-20e0-4f3b-907f-1a25a76f98e8"),
  T("var", "4d21b016-b534-45c2-a9fb-5c16e091fd2d"),
  T("tmp", "7ec6f557-3bc5-4aca-b293-16ef5df639d1"),
  T("linux-generic", "0fc63daf-8483-4772-8e79-3d69d8477de4"),
  T("root-x86-64", "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"),
  T("root-arm64", "b921b045-1df0-41c3-af44-4c6f280d3fae"),
  T("root-x86", "44479540-f297-41b2-9af7-d131d5f0458a"),
  T("root-riscv64", "72ec70a6-cf74-40e6-bd49-4bda08e8f224"),
  T("usr-x86-64", "8484680c-9521-48c6-9c11-b0720656f69e"),
  T("usr-arm64", "b0e01050-ee5f-4390-949a-9101b17104e9"),
  T("usr-x86", "75250d76-8cc6-458e-bd66-bd47cc81a812"),
  T("usr-riscv64", "beaec34b-8442-439b-a40b-984381ed097d"),
];

export const ARCHITECTURES = ["x86-64", "arm64", "x86", "riscv64"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Resolves a layout type name (with `root`/`usr` meaning the target architecture's) or a raw GUID. */
export function resolveType(name: string, arch: Architecture): PartitionType | undefined {
  const lower = name.toLowerCase();
  const key = lower === "root" || lower === "usr" ? `${lower}-${arch}` : lower;
  const hit = PARTITION_TYPES.find((t) => t.name === key);
  if (hit) return hit;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(lower)) {
    const known = PARTITION_TYPES.find((t) => t.guid === lower);
    return known ?? { name: lower, guid: lower, defaultLabel: UNKNOWN_TYPE_LABEL };
  }
  return undefined;
}

export function isRootType(t: PartitionType): boolean {
  return t.name.startsWith("root-");
}

/**
 * Types on which systemd-repart sets GPT attribute bit 59 (grow-file-system)
 * unless the partition is read-only: root and /usr of every architecture, home,
 * srv, var, tmp and xbootldr. With or without a file system.
 */
export function growsFileSystemByDefault(t: PartitionType): boolean {
  return /^(root|usr)-/.test(t.name) || ["home", "srv", "var", "tmp", "xbootldr"].includes(t.name);
}

/** GPT attribute bits (UEFI 2.10 §5.3.3 and the Discoverable Partitions Specification). */
export const GPT_ATTR = {
  requiredPartition: 0n,
  noBlockIoProtocol: 1n,
  legacyBiosBootable: 2n,
  readOnly: 60n,
  noAuto: 63n,
  growFileSystem: 59n,
} as const;
