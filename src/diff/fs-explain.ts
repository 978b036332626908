/**
 * Filesystem explainers for diff: map differing byte ranges inside a
 * partition to structures, paths and fields. Each filesystem registers one;
 * a type without an explainer falls back to offsets.
 */
import type { ReadAt } from "../gpt/read.js";

export interface FsDifference {
  readonly what: string;
  readonly detail?: string;
  /** Partition-relative byte range. */
  readonly startBytes: number;
  readonly endBytes: number;
}

export type FsExplainer = (a: ReadAt, b: ReadAt, partitionBytes: number, ranges: [number, number][]) => FsDifference[];

const EXPLAINERS = new Map<string, FsExplainer>();

export function registerExplainer(fsType: string, fn: FsExplainer): void {
  EXPLAINERS.set(fsType, fn);
}

export function explainFs(fsType: string, a: ReadAt, b: ReadAt, partitionBytes: number, ranges: [number, number][]): FsDifference[] | undefined {
  const fn = EXPLAINERS.get(fsType);
  return fn ? fn(a, b, partitionBytes, ranges) : undefined;
}
