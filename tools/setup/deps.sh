#!/usr/bin/env bash
# deps.sh: installs everything vigil needs on Debian 12 (apt packages, the npm-borne models,
# the sample media, the reference runtimes, the golden outputs). Idempotent; prints one line
# ("deps: ok") when nothing is missing. See docs/setup.md.
#
#   tools/setup/deps.sh                 everything
#   tools/setup/deps.sh --assets-only   only the models and media listed in tools/setup/assets.txt
#   tools/setup/deps.sh --check         report what is missing, install nothing (exit 1 if any)
#   tools/setup/deps.sh --verify        re-hash every installed asset file, reinstall bad ones
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ASSETS="$ROOT/tools/setup/assets.txt"
VIGIL_HOME=${VIGIL_HOME:-$HOME/.cache/vigil}
STAMPS="$VIGIL_HOME/.stamps"

# What a fresh Debian 12 needs to build and test vigil.
APT_PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev libdnnl-dev libmicrohttpd-dev
  libjansson-dev libturbojpeg0-dev libspng-dev libwebp-dev libavformat-dev libavcodec-dev
  libavutil-dev libswscale-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev libcmocka-dev
  libonnx-testdata python3-onnx python3-numpy python3-pil postgresql-15 nodejs npm
  ca-certificates curl
  # libdnnl-dev's CMake config calls find_package OpenCL REQUIRED; the headers and the ICD
  # loader are only a Recommends of libdnnl-dev, so they must be named here.
  ocl-icd-opencl-dev opencl-c-headers
  # XNNPACK: NHWC kernels for the TF.js models (xnnpack.h includes pthreadpool.h, which only
  # libpthreadpool-dev ships); MQTT client and broker, headless browser tests,
  # torch + torchvision for the bench/test model exports, OpenCV for the BRISQUE reference.
  libxnnpack-dev libpthreadpool-dev libmosquitto-dev mosquitto chromium python3-torch python3-torchvision
  python3-opencv
  # libcrypto's headers: HMAC-SHA256 of webhook signatures (only a Suggests of libcurl's -dev)
  libssl-dev
  # PCRE2: the CLIP tokenizer's pre-tokenizer needs Unicode letter and number classes; python3-regex runs the reference tokenizer in its test.
  libpcre2-dev python3-regex)

mode=all
check_only=0
verify=0
for a in "$@"; do
  case "$a" in
    --assets-only) mode=assets ;;
    --check) check_only=1 ;;
    --verify) verify=1 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deps: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

did=0      # set to 1 by anything that had work to do
missing=() # --check: what would be done
note() { did=1; echo "deps: $*"; }
die() { echo "deps: error: $*" >&2; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "'$*' needs root: run as root, or install sudo"
  fi
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vigil-deps.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# --- apt packages ----------------------------------------------------------------
# A package counts as present when it is installed or provided by an installed package
# (NodeSource's nodejs provides npm, for example).
apt_missing() {
  local have
  have=$(dpkg-query -W -f='${db:Status-Status} ${Package},${Provides}\n' 2>/dev/null |
    awk '$1 == "installed" { $1 = ""; print }' | tr ',' '\n' |
    sed -e 's/([^)]*)//g' -e 's/:[a-z0-9]*//' -e 's/^ *//' -e 's/ *$//' | sort -u)
  local p
  for p in "${APT_PKGS[@]}"; do
    grep -qxF "$p" <<<"$have" || echo "$p"
  done
}

apt_updated=0
apt_update() {
  [ "$apt_updated" -eq 1 ] && return 0
  as_root apt-get update -qq
  apt_updated=1
}

do_apt() {
  local need
  need=$(apt_missing | tr '\n' ' ')
  [ -z "$need" ] && return 0
  if [ "$check_only" -eq 1 ]; then missing+=("apt: $need"); return 0; fi
  note "installing apt packages: $need"
  apt_update
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
}

# --- assets (tools/setup/assets.txt) ---------------------------------------------------
declare -A SRC_KIND SRC_NAME SRC_SUM
SRC_IDS=()
read_assets() {
  local kind id a b c d
  while read -r kind id a b c d; do
    case "$kind" in
      ''|'#'*) continue ;;
      src) SRC_IDS+=("$id"); SRC_KIND[$id]=$a; SRC_NAME[$id]=$b; SRC_SUM[$id]=$c ;;
      file) [ -n "${SRC_KIND[$id]:-}" ] || die "assets.txt: file line before 'src $id'"
            [ -n "$c" ] && [ -z "$d" ] || die "assets.txt: bad line: file $id $a $b $c $d" ;;
      *) die "assets.txt: unknown line kind '$kind'" ;;
    esac
  done <"$ASSETS"
}

src_files() { awk -v id="$1" '$1 == "file" && $2 == id { print $3, $4, $5 }' "$ASSETS"; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# A source is up to date when its stamp holds exactly its current file lines and every
# destination exists (with --verify: and hashes right).
src_ok() {
  local id=$1 stamp="$STAMPS/asset-$1"
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(src_files "$id")" ] || return 1
  local member dest sum
  while read -r member dest sum; do
    [ -s "$VIGIL_HOME/$dest" ] || return 1
    if [ "$verify" -eq 1 ] && [ "$(sha256_of "$VIGIL_HOME/$dest")" != "$sum" ]; then
      echo "deps: $dest: checksum mismatch, reinstalling" >&2
      return 1
    fi
  done < <(src_files "$id")
}

fetch() { # url out
  echo "deps: downloading $1" >&2
  curl -fL --retry 3 --progress-bar -o "$2.part" "$1" || die "download failed: $1"
  mv "$2.part" "$2"
}

# Fetches an npm tarball into the cache and checks it against the pinned integrity string.
npm_tarball() { # id -> prints the path of a verified tarball
  local id=$1 spec=${SRC_NAME[$1]} integ=${SRC_SUM[$1]}
  local pkg=${spec%@*} ver=${spec##*@}
  local cache="$VIGIL_HOME/cache/npm" tgz
  tgz="$cache/$(echo "${pkg#@}" | tr / -)-$ver.tgz"
  mkdir -p "$cache"
  [ "${integ%%-*}" = sha512 ] || die "$spec: only sha512 integrity is supported"
  local i
  for i in 1 2; do
    if [ -f "$tgz" ]; then
      local got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
      if [ "$got" = "$integ" ]; then echo "$tgz"; return 0; fi
      echo "deps: $spec: integrity mismatch ($got), fetching again" >&2
      rm -f "$tgz"
    fi
    local url
    url=$(npm view "$spec" dist.tarball 2>/dev/null || true)
    if [ -z "$url" ]; then
      local reg
      reg=$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)
      url="${reg%/}/$pkg/-/${pkg##*/}-$ver.tgz"
    fi
    fetch "$url" "$tgz"
  done
  die "$spec: tarball does not match the pinned integrity $integ"
}

# Fetches a .deb into the cache (no install) and checks it against apt's SHA256.
deb_file() { # id -> prints the path of a verified .deb
  local pkg=${SRC_NAME[$1]} cache="$VIGIL_HOME/cache/deb"
  mkdir -p "$cache"
  local info
  info=$(apt-cache show --no-all-versions "$pkg" 2>/dev/null) || { apt_update; info=$(apt-cache show --no-all-versions "$pkg"); }
  local fname sum
  fname=$(awk '/^Filename:/ { print $2; exit }' <<<"$info")
  sum=$(awk '/^SHA256:/ { print $2; exit }' <<<"$info")
  [ -n "$fname" ] && [ -n "$sum" ] || die "$pkg: apt knows no Filename/SHA256 for it"
  local deb="$cache/${fname##*/}"
  if [ ! -f "$deb" ] || [ "$(sha256_of "$deb")" != "$sum" ]; then
    rm -f "$deb"
    local dl="$TMP/dl-$1"
    mkdir -p "$dl"
    chmod 777 "$dl" # apt's download sandbox user (_apt) must be able to write here
    echo "deps: downloading $pkg (${fname##*/})" >&2
    (cd "$dl" && apt-get download -q "$pkg" >&2) ||
      { apt_update; (cd "$dl" && apt-get download -q "$pkg" >&2); } || die "apt-get download $pkg failed"
    local got
    got=$(ls "$dl"/*.deb | head -1)
    [ "$(sha256_of "$got")" = "$sum" ] || die "$pkg: .deb does not match apt's SHA256 $sum"
    mv "$got" "$deb"
  fi
  echo "$deb"
}

install_src() {
  local id=$1 out="$TMP/x-$1"
  mkdir -p "$out"
  local members=() member dest sum
  while read -r member dest sum; do members+=("$member"); done < <(src_files "$id")
  case "${SRC_KIND[$id]}" in
    npm)
      local tgz
      tgz=$(npm_tarball "$id")
      tar -xzf "$tgz" -C "$out" "${members[@]}" || die "${SRC_NAME[$id]}: missing files in tarball" ;;
    deb)
      local deb
      deb=$(deb_file "$id")
      dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$out" "${members[@]/#/./}" ||
        die "${SRC_NAME[$id]}: missing files in .deb" ;;
    *) die "assets.txt: unknown source kind '${SRC_KIND[$id]}'" ;;
  esac
  while read -r member dest sum; do
    local f="$out/$member"
    [ "$(sha256_of "$f")" = "$sum" ] || die "$member from ${SRC_NAME[$id]}: sha256 is not $sum"
    mkdir -p "$(dirname "$VIGIL_HOME/$dest")"
    cp "$f" "$VIGIL_HOME/$dest.tmp.$$"
    mv -f "$VIGIL_HOME/$dest.tmp.$$" "$VIGIL_HOME/$dest"
  done < <(src_files "$id")
  mkdir -p "$STAMPS"
  src_files "$id" >"$STAMPS/asset-$id"
}

do_assets() {
  read_assets
  local id
  for id in "${SRC_IDS[@]}"; do
    src_ok "$id" && continue
    if [ "$check_only" -eq 1 ]; then missing+=("asset: ${SRC_NAME[$id]}"); continue; fi
    note "installing assets from ${SRC_NAME[$id]}"
    install_src "$id"
  done
}

# --- reference runtimes (tools/ref/package.json + package-lock.json) ------------------
do_ref() {
  local ref="$VIGIL_HOME/ref" lock="$ROOT/tools/ref/package-lock.json"
  [ -f "$lock" ] || die "tools/ref/package-lock.json is missing"
  local want
  want=$(cat "$ROOT/tools/ref/package.json" "$lock" | sha256sum | cut -d' ' -f1)
  if [ -f "$STAMPS/ref" ] && [ "$(cat "$STAMPS/ref")" = "$want" ] &&
     [ -d "$ref/node_modules/onnxruntime-node" ] && [ -d "$ref/node_modules/playwright-core" ]; then
    return 0
  fi
  if [ "$check_only" -eq 1 ]; then missing+=("ref: reference runtimes in $ref"); return 0; fi
  note "installing reference runtimes into $ref"
  mkdir -p "$ref"
  cp "$ROOT/tools/ref/package.json" "$lock" "$ref/"
  # ONNXRUNTIME_NODE_INSTALL_CUDA=skip: onnxruntime-node would otherwise download CUDA
  # providers in its postinstall; its CPU library is already in the tarball.
  (cd "$ref" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip ONNXRUNTIME_NODE_INSTALL=skip \
     npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $ref failed"
  (cd "$ref" && node -e "require('onnxruntime-node'); require('@tensorflow/tfjs'); require('playwright-core')") ||
    die "the reference runtimes do not load from $ref"
  # Nothing beyond the tarballs in package-lock.json may have been fetched: no GPU providers.
  local extra
  extra=$(find "$ref/node_modules/onnxruntime-node" -name '*providers_cuda*' -o -name '*providers_tensorrt*' | head -1)
  [ -z "$extra" ] || die "onnxruntime-node downloaded GPU providers ($extra)"
  mkdir -p "$STAMPS"
  echo "$want" >"$STAMPS/ref"
}

# --- golden outputs: each tools/ref/golden_<name>.sh fills $VIGIL_HOME/golden/<name>/ ----
# A script runs when its stamp is missing or the script changed since it last succeeded.
do_golden() {
  local s
  for s in "$ROOT"/tools/ref/golden_*.sh; do
    [ -f "$s" ] || continue
    local name
    name=$(basename "$s" .sh)
    name=${name#golden_}
    local want stamp="$STAMPS/golden-$name"
    want=$(sha256_of "$s")
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$VIGIL_HOME/golden/$name" ] && continue
    if [ "$check_only" -eq 1 ]; then missing+=("golden: $name"); continue; fi
    note "generating golden outputs: $name"
    mkdir -p "$VIGIL_HOME/golden/$name"
    VIGIL_HOME="$VIGIL_HOME" VIGIL_REF="$VIGIL_HOME/ref" VIGIL_SOURCE_DIR="$ROOT" \
      GOLDEN_DIR="$VIGIL_HOME/golden/$name" bash "$s" || die "tools/ref/golden_$name.sh failed"
    mkdir -p "$STAMPS"
    echo "$want" >"$stamp"
  done
}

# --- bench models: torch exports `vigil bench vrt` runs (tools/bench/export_models.py) ---
# Only when one is missing; Debian's python3 (the one python3-torch belongs to), not a venv's.
BENCH_MODELS=(resnet18 mobilenet_v3_large yolov8n_style osnet_x1_0 vit_small_6l)
do_bench_models() {
  local want=() n
  for n in "${BENCH_MODELS[@]}"; do
    [ -s "$VIGIL_HOME/bench-models/$n.onnx" ] || want+=("$n")
  done
  [ "${#want[@]}" -eq 0 ] && return 0
  if [ "$check_only" -eq 1 ]; then missing+=("bench models: ${want[*]}"); return 0; fi
  note "exporting bench models: ${want[*]}"
  VIGIL_HOME="$VIGIL_HOME" /usr/bin/python3 "$ROOT/tools/bench/export_models.py" \
    --out "$VIGIL_HOME/bench-models" "${want[@]}" || die "tools/bench/export_models.py failed"
}

mkdir -p "$VIGIL_HOME"
# Several checkouts may share one VIGIL_HOME: one deps.sh at a time.
exec 9>"$VIGIL_HOME/.deps.lock"
flock 9

if [ "$mode" = all ]; then do_apt; fi
do_assets
if [ "$mode" = all ]; then do_ref; do_golden; do_bench_models; fi

if [ "$check_only" -eq 1 ]; then
  if [ "${#missing[@]}" -eq 0 ]; then echo "deps: ok"; exit 0; fi
  printf 'deps: missing: %s\n' "${missing[@]}"
  exit 1
fi
if [ "$did" -eq 1 ]; then echo "deps: ok (installed into $VIGIL_HOME)"; else echo "deps: ok"; fi
