/**
 * Vagrant box metadata: `metadata.json` and the box's embedded `Vagrantfile`
 * (Vagrant merges it under the project's Vagrantfile, so these are defaults).
 *
 *   libvirt     {"provider":"libvirt","format":"qcow2","virtual_size":<GiB, rounded up>}
 *               (vagrant-libvirt example_box/README.md)
 *   virtualbox  {"provider":"virtualbox"}; the Vagrantfile sets config.vm.base_mac
 *               to the MAC written in the OVF (Vagrant re-applies it after import)
 *
 * JSON is written with a fixed key order and a final newline. Every value put
 * into Ruby source is an integer or matches a fixed pattern, checked here, so
 * nothing needs Ruby string escaping.
 */
import { divCeil } from "../bin/int.js";
import { fail } from "../bin/errors.js";
import { utf8 } from "../bin/text.js";
import type { Machine } from "./machine.js";

export type VagrantProvider = "libvirt" | "virtualbox";

const GIB = 1024 * 1024 * 1024;

export function vagrantMetadata(provider: VagrantProvider, capacityBytes: number): Uint8Array {
  const meta = provider === "libvirt" ? { provider: "libvirt", format: "qcow2", virtual_size: divCeil(capacityBytes, GIB) } : { provider: "virtualbox" };
  return utf8(JSON.stringify(meta, null, 2) + "\n");
}

function rubyInt(n: number, where: string): string {
  if (!Number.isSafeInteger(n) || n < 0) fail("E_INTERNAL", `not a non-negative integer: ${n}`, where);
  return String(n);
}

export function vagrantfile(provider: VagrantProvider, m: Machine): Uint8Array {
  const lines: string[] = [
    "# Box defaults written by mkdisk; a project Vagrantfile overrides any of them.",
    'Vagrant.configure("2") do |config|',
  ];
  if (provider === "virtualbox") {
    if (!/^[0-9A-F]{12}$/.test(m.macAddress)) fail("E_INTERNAL", `bad MAC ${m.macAddress}`, "Vagrantfile");
    lines.push(
      `  config.vm.base_mac = "${m.macAddress}"`,
      "  config.vm.provider :virtualbox do |vb|",
      `    vb.cpus = ${rubyInt(m.cpus, "cpus")}`,
      `    vb.memory = ${rubyInt(m.memoryMiB, "memory")}`,
      "  end",
    );
  } else {
    lines.push(
      "  config.vm.provider :libvirt do |libvirt|",
      '    libvirt.driver = "kvm"',
      `    libvirt.cpus = ${rubyInt(m.cpus, "cpus")}`,
      `    libvirt.memory = ${rubyInt(m.memoryMiB, "memory")}`,
      '    libvirt.disk_bus = "virtio"',
      '    libvirt.nic_model_type = "virtio"',
    );
    if (m.firmware === "efi") {
      lines.push(
        "    # This image boots with UEFI. Point libvirt.loader at the host's OVMF code",
        '    # file, e.g. libvirt.loader = "/usr/share/OVMF/OVMF_CODE_4M.fd" on Debian.',
      );
    }
    lines.push("  end");
  }
  lines.push("end", "");
  return utf8(lines.join("\n"));
}
