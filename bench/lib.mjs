// Shared benchmark helpers: alternate the contenders for several rounds in one
// run, take medians, print ratios. No timing is ever asserted anywhere.
import { spawnSync } from "node:child_process";
import { readdirSync, lstatSync } from "node:fs";
import { join } from "node:path";

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a shell command, returns seconds; throws on failure. */
export function timeShell(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("bash", ["-c", cmd], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return t;
}

/** Runs a shell command under GNU time -f %M style measurement via /proc; returns {sec, maxRssKiB}. */
export function timeShellRss(cmd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("bash", ["-c", `command time -f '%M' bash -c ${JSON.stringify(cmd)} 2>&1 >/dev/null | tail -1`], { encoding: "utf8" });
  const t = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stdout}${r.stderr}`);
  return { sec: t, maxRssKiB: Number(r.stdout.trim().split("\n").pop()) };
}

/**
 * contenders: [{ name, cmd }]; runs `rounds` rounds, each contender once per
 * round in rotating order. Returns [{ name, medianSec, bestSec, maxRssKiB }]
 * (bestSec: the fastest round).
 */
export function race(contenders, rounds = 5, prepare = () => {}) {
  const times = contenders.map(() => []);
  const rss = contenders.map(() => 0);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (k + r) % contenders.length;
      prepare(contenders[i]);
      const { sec, maxRssKiB } = timeShellRss(contenders[i].cmd);
      times[i].push(sec);
      rss[i] = Math.max(rss[i], maxRssKiB);
    }
  }
  return contenders.map((c, i) => ({ name: c.name, medianSec: median(times[i]), bestSec: Math.min(...times[i]), maxRssKiB: rss[i] }));
}

export function table(title, results, baseName) {
  const base = results.find((r) => r.name === baseName);
  const floor = results.find((r) => r.name.includes("(copy floor)"));
  const head = `| contender | median s | × ${baseName} |${floor ? " × copy floor |" : ""} best s | best × ${baseName} | peak RSS MiB |`;
  const lines = [`### ${title}`, "", head, `|---|---:|---:|${floor ? "---:|" : ""}---:|---:|---:|`];
  for (const r of results) {
    const vsFloor = floor ? ` ${(r.medianSec / floor.medianSec).toFixed(2)} |` : "";
    const best = ` ${r.bestSec.toFixed(3)} | ${(r.bestSec / base.bestSec).toFixed(2)} |`;
    lines.push(`| ${r.name} | ${r.medianSec.toFixed(3)} | ${(r.medianSec / base.medianSec).toFixed(2)} |${vsFloor}${best} ${(r.maxRssKiB / 1024).toFixed(1)} |`);
  }
  return lines.join("\n") + "\n";
}

/** Regular files under dir, depth-first, byte-sorted. */
export function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    const names = readdirSync(d, { encoding: "buffer" }).sort(Buffer.compare);
    for (const n of names) {
      const p = join(d, n.toString());
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ path: p, size: st.size });
    }
  };
  walk(dir);
  return out;
}
