/**
 * Lint rules: content known to make images differ between builds even when the
 * image writer is deterministic. One table; add a rule by adding a row.
 *
 * A rule matches paths (a glob over tree paths: `*` = one path component part,
 * `**` = any depth) and may look at the file's first bytes to decide.
 */

export interface LintFinding {
  readonly rule: string;
  readonly path: string;
  readonly message: string;
  /** What to do: usually an excludeFiles entry for the layout. */
  readonly fix: string;
}

export interface LintRule {
  readonly id: string;
  readonly paths: readonly string[];
  readonly why: string;
  readonly fix: (path: string) => string;
  /** Decides from the file's first bytes (up to 4 KiB); absent = the path alone is enough. */
  readonly check?: (head: Uint8Array, path: string) => boolean;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const exclude = (p: string) => `add "${p}" to the partition's excludeFiles`;

export const RULES: readonly LintRule[] = [
  {
    id: "ldconfig-aux-cache",
    paths: ["/var/cache/ldconfig/aux-cache"],
    why: "ldconfig's aux-cache stores inode numbers and ctimes of the libraries it scanned",
    fix: exclude,
  },
  {
    id: "pacman-installdate",
    paths: ["/var/lib/pacman/local/*/desc"],
    why: "pacman records the installation time (%INSTALLDATE%) of every package",
    fix: () => "rewrite %INSTALLDATE% to SOURCE_DATE_EPOCH in every desc file before building",
    check: (h) => text(h).includes("%INSTALLDATE%"),
  },
  {
    id: "boot-loader-random-seed",
    paths: ["/efi/loader/random-seed", "/boot/loader/random-seed", "/boot/efi/loader/random-seed"],
    why: "systemd-boot's random seed differs on every installation (and must never be shared between machines)",
    fix: exclude,
  },
  {
    id: "systemd-random-seed",
    paths: ["/var/lib/systemd/random-seed"],
    why: "systemd's saved random seed differs on every boot and must not be shipped",
    fix: exclude,
  },
  {
    id: "machine-id",
    paths: ["/etc/machine-id"],
    why: "a populated machine-id makes every build (and every machine booted from it) carry the build host's id",
    fix: () => 'empty it or write "uninitialized\\n" so it is generated on first boot',
    check: (h) => {
      const t = text(h).trim();
      return t !== "" && t !== "uninitialized";
    },
  },
  {
    id: "dbus-machine-id",
    paths: ["/var/lib/dbus/machine-id"],
    why: "a populated D-Bus machine-id leaks the build's random id",
    fix: (p) => `${exclude(p)}, or make it a symlink to /etc/machine-id`,
    check: (h) => text(h).trim() !== "",
  },
  {
    id: "package-manager-log",
    paths: [
      "/var/log/dpkg.log", "/var/log/alternatives.log", "/var/log/bootstrap.log", "/var/log/pacman.log",
      "/var/log/apt/history.log", "/var/log/apt/term.log", "/var/log/apt/eipp.log.xz", "/var/log/dnf.log",
      "/var/log/dnf.rpm.log", "/var/log/dnf.librepo.log", "/var/log/hawkey.log",
    ],
    why: "package manager logs record wall-clock times of the build",
    fix: exclude,
  },
  {
    id: "ssh-host-key",
    paths: ["/etc/ssh/ssh_host_*_key", "/etc/ssh/ssh_host_*_key.pub"],
    why: "SSH host keys are random and must be generated per machine (first boot), never shipped",
    fix: exclude,
  },
  {
    id: "python-bytecode-mtime",
    paths: ["/**/__pycache__/*.pyc"],
    why: "timestamp-based .pyc files embed the source file's mtime, which differs between builds",
    fix: () => "compile with --invalidation-mode checked-hash (or unchecked-hash), or exclude __pycache__ directories",
    // PEP 552: bytes 4..8 are the flags; 0 = timestamp-based.
    check: (h) => h.length >= 16 && h[4] === 0 && h[5] === 0 && h[6] === 0 && h[7] === 0,
  },
];

/** Glob over absolute tree paths: `**` any number of components, `*` within one component. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++; // "/**/x" matches "/x" too
    } else if (c === "*") re += "[^/]*";
    else re += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
