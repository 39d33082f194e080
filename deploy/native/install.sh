#!/usr/bin/env bash
# Installs the native TensorFlow backend of tfjs (@tensorflow/tfjs-node, or -node-gpu with --gpu)
# from package registries only, because the packages' own installers download libtensorflow from a
# CDN, which fails offline (and `npm ci` then skips them silently):
#   - libtensorflow_cc.so.2 + libtensorflow_framework.so.2 from Maven Central: CPU,
#     org.tensorflow:tensorflow-core-api:0.5.0:linux-x86_64 = TensorFlow 2.10.1 (what its
#     libtensorflow_framework says); GPU, org.tensorflow:tensorflow-core-native:1.0.0:
#     linux-x86_64-gpu = TensorFlow 2.16.2 built for CUDA 12.3 / cuDNN 8.9 (0.5.0's GPU classifier
#     exists too, but is CUDA 11.2 / cuDNN 8.1 and has no sm_90 code). Both export the TF/TFE C API;
#   - the C headers of that same TensorFlow: PyPI's tensorflow-cpu wheel, tensorflow/include;
#   - GPU only: NVIDIA's CUDA 12 user-space libraries, the PyPI wheels (and versions) of
#     `tensorflow[and-cuda]==2.16.2`, unpacked to deps/nvidia/, where libtensorflow's RUNPATH
#     ($ORIGIN/../nvidia/<lib>/lib) finds them; the host needs only the NVIDIA driver (>= 525);
#   - the binding sources: the npm tarball of the package, checked against package-lock.json;
#   - the binding's runtime dependencies: deploy/native/runtime/package-lock.json (npm ci);
# then builds the binding with node-gyp against this Node's installed headers (no header download).
#
# Every download is pinned and its checksum verified. Everything is built in a temporary folder
# beside the destination and moved into node_modules/ only once it loads and reports the
# `tensorflow` backend: a failure leaves the previous state as it was. A second run sees the stamp
# and exits at once (--force rebuilds). Downloads are cached in .cache/native
# (STREAMCAST_NATIVE_CACHE to move it).
#
# usage: deploy/native/install.sh [--gpu] [--force]      (npm run native:install [-- --gpu])
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VARIANT=cpu
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --gpu) VARIANT=gpu ;;
    --force) FORCE=1 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "native:install: unknown argument \"$arg\"; use --gpu and/or --force" >&2; exit 2 ;;
  esac
done

TFJS_VERSION=4.22.0
# NVIDIA wheels of the GPU variant: name==version sha256 (PyPI's hashes; manylinux1_x86_64, py3).
NVIDIA_WHEELS=()
case "$VARIANT" in
  cpu)
    PKG=@tensorflow/tfjs-node
    JAR_ARTIFACT=tensorflow-core-api
    TF_JAVA_VERSION=0.5.0
    CLASSIFIER=linux-x86_64
    JAR_SHA256=f394c5be26c8f3b644cdc77e6741b2cfe774caa8aedeb969c50e074444feac55
    TF_VERSION=2.10.1
    WHEEL_PY=3.10
    WHEEL=tensorflow_cpu-2.10.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
    WHEEL_SHA256=0d30c8199b542b7144d7fffa5ee9bd9e539657b15c60a61b7a0ad44a8d1379d2
    HEADERS=('tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*')
    ;;
  gpu)
    PKG=@tensorflow/tfjs-node-gpu
    JAR_ARTIFACT=tensorflow-core-native
    TF_JAVA_VERSION=1.0.0
    CLASSIFIER=linux-x86_64-gpu
    JAR_SHA256=0a621c03e84682680756523065fe180fb8557a0c8edf2967d53d61369aab2f08
    TF_VERSION=2.16.2
    WHEEL_PY=3.11
    WHEEL=tensorflow_cpu-2.16.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
    WHEEL_SHA256=c855cb6bf05d32dd5928086b03a5f6b4189b63c22b95e017703cbee4291023ca
    # From 2.16 the C API's status and string headers include tsl/ (a top-level folder there).
    HEADERS=('tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*' 'tensorflow/include/tsl/c/*' 'tensorflow/include/tsl/platform/ctstring*')
    NVIDIA_WHEELS=(
      "nvidia-cublas-cu12==12.3.4.1 9b25b27bd5a5be1cc7e83a7b8004258daa338800798e22986e5b67ee06f0859d"
      "nvidia-cuda-runtime-cu12==12.3.101 04604679ddca6acb96c76a7a9306282cddc16981f92e148e2dfe227078883cda"
      "nvidia-cudnn-cu12==8.9.7.29 adf4f59ed7a1341103822ed8df6e144f4d47ea8b10d9bf0ea0047ba738fd7b02"
      "nvidia-cufft-cu12==11.0.12.1 3b2c85d24d7dcc578720fdf39e2823950b5857e85164c3c1dc97184a8a8e0398"
      "nvidia-curand-cu12==10.3.4.107 d798db82ae445cf1d8bf6af9ca3bd6bb6cc87753c229a441cf8d2597b09332e5"
      "nvidia-cusolver-cu12==11.5.4.101 783a3279553feaf8e47af12cab1fa769ffd5e644ea876db3dc2252f35f9bf256"
      "nvidia-cusparse-cu12==12.2.0.103 fe9e17daf406c98c28fbc8bcf785ecd4db301bf02ce626de6aa1046de66f84bd"
      "nvidia-nvjitlink-cu12==12.3.101 64335a8088e2b9d196ae8665430bc6a2b7e6ef2eb877a9c735c804bd4ff6467c"
      "nvidia-cuda-nvrtc-cu12==12.3.107 4db66788a37a234304a0b3203744f9a6c665f48bde65f69a096ae3b5799b5b1d"
    )
    ;;
esac
JAR="${JAR_ARTIFACT}-${TF_JAVA_VERSION}-${CLASSIFIER}.jar"
# node-pre-gyp (what tfjs-node's index.js asks for the binding's path) picks the highest N-API
# version in the package's list (3-8) that this Node supports: 8 on Node >= 15.
NAPI=8
CACHE="${STREAMCAST_NATIVE_CACHE:-$ROOT/.cache/native}"
DEST="$ROOT/node_modules/$PKG"
STAMP_FILE=.streamcast-native
STAMP="variant=$VARIANT tfjs=$TFJS_VERSION tf-java=$TF_JAVA_VERSION:$CLASSIFIER tf=$TF_VERSION node-abi=$(node -p process.versions.modules)"

say() { echo "native:install: $*" >&2; }
die() {
  say "$1"
  say "nothing was installed; $DEST is as it was."
  exit 1
}

if [ "$FORCE" = 0 ] && [ -f "$DEST/$STAMP_FILE" ] && [ "$(cat "$DEST/$STAMP_FILE")" = "$STAMP" ] \
  && [ -f "$DEST/lib/napi-v$NAPI/tfjs_binding.node" ] && [ -d "$DEST/node_modules/@mapbox/node-pre-gyp" ]; then
  say "$PKG already installed ($STAMP); --force rebuilds it"
  exit 0
fi

# --- preconditions: say what is missing and how to get it ------------------------------------
[ "$(uname -sm)" = "Linux x86_64" ] || die "only Linux x86_64 has libtensorflow on Maven Central; this is $(uname -sm)"
tfjs_version="$(node -p "require('$ROOT/node_modules/@tensorflow/tfjs/package.json').version" 2>/dev/null || true)"
[ "$tfjs_version" = "$TFJS_VERSION" ] || die "node_modules/@tensorflow/tfjs is \"${tfjs_version:-absent}\", not $TFJS_VERSION: run npm ci first"
for tool in mvn python3 make c++ unzip openssl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install maven python3 python3-pip build-essential unzip openssl)"
done
python3 -m pip --version >/dev/null 2>&1 || die "pip is missing (Debian: apt-get install python3-pip)"
NODE_DIR="$(node -p 'require("path").resolve(process.execPath, "../..")')"
[ -f "$NODE_DIR/include/node/node_api.h" ] \
  || die "Node's headers are not in $NODE_DIR/include/node (node-gyp would download them, which fails offline): install the Node.js package that ships them (nodesource's nodejs does; Debian: libnode-dev)"
NODE_GYP="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$NODE_GYP" ] || NODE_GYP="$(command -v node-gyp || true)"
[ -n "$NODE_GYP" ] || die "node-gyp is missing (it ships with npm; or npm install -g node-gyp)"
# The tarball's integrity comes from the project's lockfile, so it is pinned with the rest.
INTEGRITY="$(node -p "(require('$ROOT/package-lock.json').packages['node_modules/$PKG'] || {}).integrity || ''")"
[ -n "$INTEGRITY" ] || die "package-lock.json has no entry for $PKG (it is an optional dependency in package.json)"

sha256_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

mkdir -p "$CACHE"
started=$SECONDS

# --- downloads (cached, verified) ------------------------------------------------------------
if ! sha256_ok "$CACHE/$JAR" "$JAR_SHA256"; then
  say "fetching org.tensorflow:$JAR_ARTIFACT:$TF_JAVA_VERSION:jar:$CLASSIFIER (Maven Central)"
  rm -rf "$CACHE/mvn.tmp"
  mvn -B -q dependency:copy -Dartifact="org.tensorflow:$JAR_ARTIFACT:$TF_JAVA_VERSION:jar:$CLASSIFIER" \
    -DoutputDirectory="$CACHE/mvn.tmp" >"$CACHE/mvn.log" 2>&1 || die "Maven could not fetch the libtensorflow jar (see $CACHE/mvn.log)"
  sha256_ok "$CACHE/mvn.tmp/$JAR" "$JAR_SHA256" || die "checksum mismatch for $JAR (expected sha256 $JAR_SHA256)"
  mv "$CACHE/mvn.tmp/$JAR" "$CACHE/$JAR"
  rm -rf "$CACHE/mvn.tmp"
fi
if ! sha256_ok "$CACHE/$WHEEL" "$WHEEL_SHA256"; then
  say "fetching tensorflow-cpu==$TF_VERSION for its C headers (PyPI)"
  echo "tensorflow-cpu==$TF_VERSION --hash=sha256:$WHEEL_SHA256" >"$CACHE/requirements.txt"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$WHEEL_PY" \
    --platform manylinux_2_17_x86_64 --require-hashes -r "$CACHE/requirements.txt" -d "$CACHE" \
    >"$CACHE/pip.log" 2>&1 || die "pip could not fetch the headers wheel (see $CACHE/pip.log)"
  sha256_ok "$CACHE/$WHEEL" "$WHEEL_SHA256" || die "checksum mismatch for $WHEEL (expected sha256 $WHEEL_SHA256)"
fi
if [ ${#NVIDIA_WHEELS[@]} -gt 0 ]; then
  : >"$CACHE/nvidia-requirements.txt"
  for w in "${NVIDIA_WHEELS[@]}"; do echo "${w% *} --hash=sha256:${w#* }" >>"$CACHE/nvidia-requirements.txt"; done
  say "fetching NVIDIA's CUDA 12 libraries for TensorFlow $TF_VERSION (PyPI, about 2 GB on a cold cache)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$WHEEL_PY" \
    --platform manylinux1_x86_64 --platform manylinux_2_17_x86_64 --require-hashes -r "$CACHE/nvidia-requirements.txt" \
    -d "$CACHE/nvidia" >"$CACHE/pip-nvidia.log" 2>&1 || die "pip could not fetch the NVIDIA wheels (see $CACHE/pip-nvidia.log)"
fi
TARBALL_NAME="${PKG#@}-$TFJS_VERSION.tgz"
TARBALL="$CACHE/${TARBALL_NAME/\//-}"
tarball_ok() { [ -f "$TARBALL" ] && [ "sha512-$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)" = "$INTEGRITY" ]; }
if ! tarball_ok; then
  say "fetching $PKG@$TFJS_VERSION (npm registry)"
  (cd "$CACHE" && npm pack "$PKG@$TFJS_VERSION" --silent >/dev/null 2>"$CACHE/npm-pack.log") || die "npm pack $PKG@$TFJS_VERSION failed (see $CACHE/npm-pack.log)"
  tarball_ok || die "integrity mismatch for $TARBALL (package-lock.json says $INTEGRITY)"
fi

# --- build in a temporary folder on the destination's file system (so the final move is a rename)
mkdir -p "$ROOT/node_modules/@tensorflow"
BUILD="$(mktemp -d "$ROOT/node_modules/.streamcast-native.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
PKG_DIR="$BUILD/package"
tar xzf "$TARBALL" -C "$BUILD"
mkdir -p "$PKG_DIR/deps/lib"
unzip -q -j "$CACHE/$JAR" '*/libtensorflow_cc.so.2' '*/libtensorflow_framework.so.2' -d "$PKG_DIR/deps/lib" \
  || die "the jar lacks libtensorflow_cc.so.2 / libtensorflow_framework.so.2"
# The binding links -ltensorflow (upstream's libtensorflow.so.2 is the C API library); here that
# library is libtensorflow_cc.so.2, whose soname the dynamic loader then looks up beside it.
ln -s libtensorflow_cc.so.2 "$PKG_DIR/deps/lib/libtensorflow.so.2"
ln -s libtensorflow_cc.so.2 "$PKG_DIR/deps/lib/libtensorflow.so"
ln -s libtensorflow_framework.so.2 "$PKG_DIR/deps/lib/libtensorflow_framework.so"
unzip -q "$CACHE/$WHEEL" "${HEADERS[@]}" -d "$BUILD/wheel" \
  || die "the wheel lacks tensorflow/include/tensorflow/c"
mv "$BUILD/wheel/tensorflow/include" "$PKG_DIR/deps/include"
for w in "${NVIDIA_WHEELS[@]}"; do
  name="${w%%==*}"
  version="${w%% *}"
  version="${version#*==}"
  whl="$(ls "$CACHE/nvidia/${name//-/_}-${version}-"*.whl 2>/dev/null | head -n 1)"
  [ -n "$whl" ] && [ "$(sha256sum "$whl" | cut -d' ' -f1)" = "${w#* }" ] || die "$name==$version is missing from $CACHE/nvidia or its checksum differs"
  # Only the shared libraries: nvidia/<lib>/lib/*.so*, the layout libtensorflow's RUNPATH expects.
  unzip -q -o "$whl" 'nvidia/*/lib/*.so*' -d "$PKG_DIR/deps" || die "$whl has no nvidia/*/lib"
done

say "building the binding with node-gyp (headers: $NODE_DIR/include/node)"
(cd "$PKG_DIR" && node "$NODE_GYP" rebuild --nodedir="$NODE_DIR" -- \
  -Dnapi_build_version="$NAPI" -Dmodule_name=tfjs_binding -Dmodule_path="lib/napi-v$NAPI") >"$BUILD/gyp.log" 2>&1 \
  || { cp "$BUILD/gyp.log" "$CACHE/gyp.log"; die "node-gyp failed (see $CACHE/gyp.log)"; }
rm -rf "$PKG_DIR/build"

# Runtime dependencies (node-pre-gyp to locate the binding, protobuf, progress) from their own
# lockfile; @tensorflow/tfjs itself resolves to the project's copy, so there is one tfjs engine.
mkdir -p "$BUILD/runtime"
cp "$ROOT/deploy/native/runtime/package.json" "$ROOT/deploy/native/runtime/package-lock.json" "$BUILD/runtime/"
(cd "$BUILD/runtime" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent) >"$BUILD/npm.log" 2>&1 \
  || { cp "$BUILD/npm.log" "$CACHE/npm.log"; die "npm ci of the runtime dependencies failed (see $CACHE/npm.log)"; }
mv "$BUILD/runtime/node_modules" "$PKG_DIR/node_modules"

# Proof before anything moves: the staged package loads, registers and computes on `tensorflow`.
(cd "$ROOT" && node -e '
  const tf = require(process.argv[1]);
  if (tf.getBackend() !== "tensorflow") throw new Error(`backend is ${tf.getBackend()}, not tensorflow`);
  const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0];
  if (y !== 11) throw new Error(`1*3+2*4 gave ${y}`);
  console.log(`tfjs-node ${tf.version["tfjs-node"]} on TensorFlow ${tf.backend().binding.TF_Version}: backend ${tf.getBackend()}, matMul ok`);
' "$PKG_DIR") >"$BUILD/check.log" 2>>"$BUILD/check.log.err" || { cat "$BUILD/check.log" "$BUILD/check.log.err" >"$CACHE/check.log"; die "the built package does not load (see $CACHE/check.log)"; }

echo "$STAMP" >"$PKG_DIR/$STAMP_FILE"
if [ -e "$DEST" ]; then mv "$DEST" "$BUILD/previous"; fi
mv "$PKG_DIR" "$DEST"
say "installed $PKG ($STAMP) in $((SECONDS - started)) s: $(tail -n 1 "$BUILD/check.log")"
