#!/usr/bin/env bash
# Boot tests: images built by mkdisk are booted in QEMU (OVMF for UEFI, SeaBIOS
# for BIOS) with a Debian kernel by the shared boot harness (boottest.sh), which
# decides PASS/FAIL from the serial console. Not part of `npm test`.
#
#   .ci/boot-tests.sh [WORKDIR]
#
# Matrix: UEFI raw, qcow2, vmdk, the vagrant-libvirt box's box.img; BIOS raw,
# qcow2 (each must PASS); negative
# controls built from the UEFI raw image: primary GPT header CRC broken, ext4
# superblock magic broken, one byte of a file in the ESP changed (each must
# FAIL). The ESP is checked to hold EFI/BOOT/BOOTX64.EFI before the boots. Before the boots, the GRUB install
# is compared byte for byte with the harness's install-grub-bios.sh
# (test/boot/*.boot.ts). The ESP also holds names only the guest's kernel can
# check (outside the BMP; 8.3 names with case flags).
#
# Env: MKDISK_BOOT_HARNESS (default ../shared/boot), BOOTTEST_CACHE,
#      BOOT_TIMEOUT (seconds per boot, default 240).
# Exit: 0 all as expected, 1 a boot verdict was wrong, 2 setup error.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
H=$(realpath "${MKDISK_BOOT_HARNESS:-$ROOT/../shared/boot}")
[ -x "$H/boottest.sh" ] || { echo "boot harness not found at $H (set MKDISK_BOOT_HARNESS)" >&2; exit 2; }
W=${1:-$(mktemp -d -t mkdisk-boot-XXXXXX)}
mkdir -p "$W/logs"; W=$(realpath "$W")
export BOOTTEST_CACHE=${BOOTTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mkdisk-boottest}
export SOURCE_DATE_EPOCH=1700000000   # mk-payload's rootfs mtimes; the example layouts use the same epoch
TMO=${BOOT_TIMEOUT:-240}
MKDISK=(node "$ROOT/dist/mkdisk.js")
T0=$(date +%s)
: > "$W/steps.txt"; : > "$W/verdicts.txt"

step() { # name cmd... : runs a setup step, timed; a failure stops everything (exit 2)
  local name=$1 s=$(date +%s.%N); shift
  if ! "$@" > "$W/logs/$name.out" 2>&1; then
    echo "setup step '$name' failed; output:" >&2; tail -40 "$W/logs/$name.out" >&2; exit 2
  fi
  printf '%-28s %6.1fs\n' "$name" "$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" | tee -a "$W/steps.txt"
}

step install-deps "$H/install-deps.sh" "$BOOTTEST_CACHE"
step payload "$H/mk-payload.sh" "$BOOTTEST_CACHE" "$W/payload"
step build npm run -s build

# ESP names that only the guest's kernel checks: mtools shows a name outside the
# BMP (a UTF-16 surrogate pair) as underscores, and the tests' other oracles for
# FAT are mtools and fsck.fat. Also 8.3 names whose case lives in the NT case
# flags. Added to the payload's ESP for every boot; the expected listing is
# recomputed with the harness's own bt_tree.
esp_names() {
  local d="$W/payload/esp/boottest/names"
  mkdir -p "$d" && echo emoji > "$d/emoji-😀.txt" && echo clef > "$d/𝄞 clef" && echo cjk > "$d/日本語のファイル名.txt" &&
    echo lower > "$d/lower.txt" && echo upper > "$d/UPPER.TXT" && echo mixed > "$d/base.TXT" && echo ext > "$d/BASE2.txt" &&
    ( . "$H/guest/boottest-lib.sh" && bt_tree "$W/payload/esp" esp | sed 's/^/BT-ESP /' > "$W/payload/expected-esp.txt" ) &&
    grep -q 'emoji-😀.txt' "$W/payload/expected-esp.txt"
}
step esp-names esp_names
GRUB=$BOOTTEST_CACHE/root/usr/lib/grub/i386-pc
[ -f "$GRUB/boot.img" ] || { echo "GRUB i386-pc files missing in $GRUB" >&2; exit 2; }

# The rootfs argument is one directory: esp/ and rootfs/ side by side (copies, so
# hard-link counts inside rootfs stay those of the payload), picked apart by the
# layouts' copyFiles ["/esp:/"] and ["/rootfs:/"].
stage() { rm -rf "$W/stage" && mkdir "$W/stage" && cp -a "$W/payload/esp" "$W/payload/rootfs" "$W/stage/"; }
step stage stage

# GRUB for the BIOS layout: core.img made exactly as install-grub-bios.sh makes it
# (ESP = partition 1, grub.cfg read from (hd0,gpt1)/grub).
grub_files() {
  mkdir -p "$W/bios" && cp "$ROOT/examples/bios/layout.json" "$GRUB/boot.img" "$W/bios/" &&
  printf 'serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n' > "$W/bios/early.cfg" &&
  grub-mkimage -O i386-pc -d "$GRUB" -c "$W/bios/early.cfg" -p "(hd0,gpt1)/grub" -o "$W/bios/core.img" \
    biosdisk part_gpt part_msdos fat ext2 normal linux boot configfile echo test search serial terminal
}
step grub-files grub_files
step grub-vs-script env MKDISK_BOOT_HARNESS="$H" GRUB_I386_PC="$GRUB" npx vitest run --config test/boot/vitest.boot.config.ts

step build-uefi "${MKDISK[@]}" --rootfs "$W/stage" --layout "$ROOT/examples/uefi/layout.json" -f raw,qcow2,vmdk -o "$W/uefi" --force
step build-bios "${MKDISK[@]}" --rootfs "$W/stage" --layout "$W/bios/layout.json" -f raw,qcow2 -o "$W/bios-disk" --force
# The libvirt Vagrant box's disk, as vagrant-libvirt would hand it to QEMU.
box_disk() {
  "${MKDISK[@]}" --rootfs "$W/stage" --layout "$ROOT/examples/uefi/layout.json" -f vagrant-libvirt -o "$W/uefi.libvirt.box" --force &&
  rm -rf "$W/box" && mkdir "$W/box" && tar -xzf "$W/uefi.libvirt.box" -C "$W/box" && mv "$W/box/box.img" "$W/uefi-box.qcow2"
}
step build-libvirt-box box_disk
for f in uefi.qcow2 uefi.vmdk bios-disk.qcow2 uefi-box.qcow2; do
  step "check-$f" qemu-img check "$W/$f"
done
step compare-uefi-qcow2 qemu-img compare -f raw -F qcow2 "$W/uefi.img" "$W/uefi.qcow2"
step compare-uefi-vmdk qemu-img compare -f raw -F vmdk "$W/uefi.img" "$W/uefi.vmdk"
step compare-bios-qcow2 qemu-img compare -f raw -F qcow2 "$W/bios-disk.img" "$W/bios-disk.qcow2"
step compare-uefi-box qemu-img compare -f raw -F qcow2 "$W/uefi.img" "$W/uefi-box.qcow2"

# Negative controls (copies of the UEFI raw image).
read -r ROOT_START < <(sfdisk --json "$W/uefi.img" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    if p["type"].upper() == "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": print(p["start"]); break')
xorbyte() { python3 -c "import sys; f=open(sys.argv[1],'r+b'); o=int(sys.argv[2]); f.seek(o); b=f.read(1)[0]; f.seek(o); f.write(bytes([b ^ int(sys.argv[3], 0)]))" "$@"; }
read -r ESP_START ESP_SECTORS < <(sfdisk --json "$W/uefi.img" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["partitiontable"]["partitions"]:
    if p["type"].upper() == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": print(p["start"], p["size"]); break')
# The boot loader the firmware must load is in the ESP mkdisk wrote (read by mtools, not by mkdisk).
step esp-has-loader env MTOOLS_SKIP_CHECK=1 mdir -i "$W/uefi.img@@$((ESP_START * 512))" ::/EFI/BOOT/BOOTX64.EFI
# Offset in the image of a byte inside an ESP file's content (64 bytes at OFF of SRC, found once in the ESP).
esp_offset() {
  python3 - "$W/uefi.img" "$1" "$2" "$ESP_START" "$ESP_SECTORS" <<'PY'
import sys
img, src, off, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) * 512, int(sys.argv[5]) * 512
pat = open(src, "rb").read()[off:off + 64]
with open(img, "rb") as f:
    f.seek(start); esp = f.read(count)
pos = esp.find(pat)
assert pos >= 0 and esp.find(pat, pos + 1) < 0, "pattern not found once in the ESP"
print(start + pos + 10)
PY
}
negatives() {
  cp --sparse=always "$W/uefi.img" "$W/neg-gpt-crc.img" && xorbyte "$W/neg-gpt-crc.img" $((512 + 0x10)) 0x01 &&   # GptHeader.HeaderCRC32
  cp --sparse=always "$W/uefi.img" "$W/neg-ext4-magic.img" && xorbyte "$W/neg-ext4-magic.img" $((ROOT_START * 512 + 1024 + 0x38)) 0xff &&   # ext4 s_magic 0xEF53
  local at && at=$(esp_offset "$W/payload/esp/boottest/random-1M.bin" 524288) &&
  cp --sparse=always "$W/uefi.img" "$W/neg-esp-content.img" && xorbyte "$W/neg-esp-content.img" "$at" 0xff   # one byte of an ESP file
}
step negatives negatives

RC=0
boot() { # expect mode image
  local expect=$1 mode=$2 img=$3 out rc verdict
  local name=$mode-$(basename "$img")
  out=$("$H/boottest.sh" -m "$mode" -p "$W/payload" -t "$TMO" -l "$W/logs/$name.serial" "$img" 2>"$W/logs/$name.qemu"); rc=$?
  echo "$out" > "$W/logs/$name.verdict"
  case $rc in 0) verdict=PASS ;; 1) verdict=FAIL ;; *) verdict="ERROR($rc)" ;; esac
  local line
  line=$(echo "$out" | tail -1)
  if [ "$verdict" = "$expect" ]; then printf 'ok   %-26s %-5s expected %-4s | %s\n' "$name" "$verdict" "$expect" "$line"
  else printf 'BAD  %-26s %-5s expected %-4s | %s\n' "$name" "$verdict" "$expect" "$line"; echo "$out" | grep 'reason:' | head -5; RC=1; fi
  [ "$expect" = FAIL ] && [ "$verdict" = FAIL ] && echo "$out" | grep -m1 'reason:' | sed 's/^/     /'
  return 0
}
{
  boot PASS uefi "$W/uefi.img"
  boot PASS uefi "$W/uefi.qcow2"
  boot PASS uefi "$W/uefi.vmdk"
  boot PASS uefi "$W/uefi-box.qcow2"
  boot PASS bios "$W/bios-disk.img"
  boot PASS bios "$W/bios-disk.qcow2"
  boot FAIL uefi "$W/neg-gpt-crc.img"
  boot FAIL uefi "$W/neg-ext4-magic.img"
  boot FAIL uefi "$W/neg-esp-content.img"
} | tee "$W/verdicts.txt"
grep -q '^BAD' "$W/verdicts.txt" && RC=1
echo "--- $(grep -c '^ok' "$W/verdicts.txt") as expected, $(grep -c '^BAD' "$W/verdicts.txt") wrong; total $(( $(date +%s) - T0 ))s; logs in $W/logs"
exit $RC
