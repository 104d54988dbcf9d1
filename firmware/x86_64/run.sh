#!/usr/bin/env bash
# Runs the bare-metal x86_64 program (src/main.rs) under Bochs on its Sapphire Rapids
# model (AVX-512F/BW/DQ/VL and AVX512_BF16), so that every x86_64 backend is checked on a
# host without AVX-512: GRUB (from an ISO that grub-mkrescue makes) loads the program,
# whose serial output lands in target/serial.out. Passes when the program prints
# "x86_64 bare metal: ok"; then checks detection on the Tiger Lake model (AVX-512
# without AVX512_BF16), and that a build with a wrong bit planted in an AVX-512 result
# fails. Bochs is built by bochs.sh the first time (a few minutes), or
# taken from BOCHS=/path/to/bochs; Debian's BIOS images, GRUB and xorriso are installed
# when missing. The three boots take under a minute on one core.
set -euo pipefail
shopt -s inherit_errexit # a failing build inside $(run ...) stops the script
cd "$(dirname "$0")"

need=()
for p in bochsbios vgabios grub-pc-bin grub-common mtools xorriso; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  SUDO=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
mkdir -p target
bochs=${BOCHS:-$(bash bochs.sh)}

# The machine: 256 MiB, the BIOS images of Debian's bochsbios and vgabios, the ISO as a
# CD-ROM, COM1 into a file, no display.
bochsrc() { # CPU_MODEL
  cat <<EOF
megs: 256
cpu: model=$1, count=1, ips=100000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=target/x86_64-bare.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=target/serial.out
display_library: nogui
clock: sync=none, time0=1
log: target/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
EOF
}

# run FEATURES CPU_MODEL [ARGS]: build with the features, boot on the model with the
# program's command line ARGS, print the program's output.
run() {
  rm -f target/x86_64-unknown-linux-gnu/release/rope-simd-x86-bare
  cargo build -q --release --features "$1"
  local iso=target/iso
  rm -rf "$iso" && mkdir -p "$iso/boot/grub"
  cp target/x86_64-unknown-linux-gnu/release/rope-simd-x86-bare "$iso/boot/rope.elf"
  printf 'set timeout=0\nmenuentry rope-simd {\n  multiboot2 /boot/rope.elf %s\n  boot\n}\n' \
    "${3:-}" >"$iso/boot/grub/grub.cfg"
  grub-mkrescue -o target/x86_64-bare.iso "$iso" >/dev/null 2>&1
  bochsrc "$2" >target/bochsrc
  rm -f target/serial.out
  # Bochs exits with 1 when the program stops it through the shutdown port.
  timeout 900 "$bochs" -q -f target/bochsrc >target/bochs.stdout 2>&1 || true
  cat target/serial.out 2>/dev/null || true
}

# check MODEL [ARGS]: the program passes on the model.
check() {
  local out
  out=$(run "" "$@")
  echo "$out" | sed "s/^/  x86_64 ($1)> /"
  if ! grep -q "^x86_64 bare metal: ok" <<<"$out"; then
    tail -n 20 target/bochs.stdout
    echo "the bare-metal x86_64 program failed on $1"
    exit 1
  fi
}
check sapphire_rapids
# Tiger Lake has AVX-512 but not AVX512_BF16: Avx512Bf16 must be neither detected nor
# forceable there.
check tigerlake no-bf16
if run plant sapphire_rapids | grep -q "^x86_64 bare metal: ok"; then
  echo "the bare-metal program passed with a wrong bit planted: its check cannot fail"
  exit 1
fi
echo "x86_64 (Bochs): a planted wrong result fails, as it must"
