#!/usr/bin/env bash
# Installs the native TensorFlow backend of tfjs (@tensorflow/tfjs-node, or -node-gpu with --gpu)
# from package registries only, because the packages' own installers download libtensorflow from a
# CDN, which fails offline (and `npm ci` then skips them silently):
#   - libtensorflow_cc.so.2 + libtensorflow_framework.so.2: Maven Central,
#     org.tensorflow:tensorflow-core-api:0.5.0 (classifier linux-x86_64 or linux-x86_64-gpu), which
#     is TensorFlow 2.10.1 (libtensorflow_framework says so) and exports the TF/TFE C API;
#   - the C headers of that same TensorFlow: PyPI's tensorflow-cpu 2.10.1 wheel, tensorflow/include;
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
TF_JAVA_VERSION=0.5.0
TF_VERSION=2.10.1
WHEEL=tensorflow_cpu-2.10.1-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
WHEEL_SHA256=0d30c8199b542b7144d7fffa5ee9bd9e539657b15c60a61b7a0ad44a8d1379d2
case "$VARIANT" in
  cpu)
    PKG=@tensorflow/tfjs-node
    CLASSIFIER=linux-x86_64
    JAR_SHA256=f394c5be26c8f3b644cdc77e6741b2cfe774caa8aedeb969c50e074444feac55
    ;;
  gpu)
    PKG=@tensorflow/tfjs-node-gpu
    CLASSIFIER=linux-x86_64-gpu
    JAR_SHA256=06298a31706ef94fc6509c490eefb281b756556a02808b222109c33707a72a6f
    ;;
esac
JAR="tensorflow-core-api-${TF_JAVA_VERSION}-${CLASSIFIER}.jar"
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
  say "fetching org.tensorflow:tensorflow-core-api:$TF_JAVA_VERSION:jar:$CLASSIFIER (Maven Central)"
  rm -rf "$CACHE/mvn.tmp"
  mvn -B -q dependency:copy -Dartifact="org.tensorflow:tensorflow-core-api:$TF_JAVA_VERSION:jar:$CLASSIFIER" \
    -DoutputDirectory="$CACHE/mvn.tmp" >"$CACHE/mvn.log" 2>&1 || die "Maven could not fetch the libtensorflow jar (see $CACHE/mvn.log)"
  sha256_ok "$CACHE/mvn.tmp/$JAR" "$JAR_SHA256" || die "checksum mismatch for $JAR (expected sha256 $JAR_SHA256)"
  mv "$CACHE/mvn.tmp/$JAR" "$CACHE/$JAR"
  rm -rf "$CACHE/mvn.tmp"
fi
if ! sha256_ok "$CACHE/$WHEEL" "$WHEEL_SHA256"; then
  say "fetching tensorflow-cpu==$TF_VERSION for its C headers (PyPI)"
  echo "tensorflow-cpu==$TF_VERSION --hash=sha256:$WHEEL_SHA256" >"$CACHE/requirements.txt"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.10 \
    --platform manylinux_2_17_x86_64 --require-hashes -r "$CACHE/requirements.txt" -d "$CACHE" \
    >"$CACHE/pip.log" 2>&1 || die "pip could not fetch the headers wheel (see $CACHE/pip.log)"
  sha256_ok "$CACHE/$WHEEL" "$WHEEL_SHA256" || die "checksum mismatch for $WHEEL (expected sha256 $WHEEL_SHA256)"
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
unzip -q "$CACHE/$WHEEL" 'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*' -d "$BUILD/wheel" \
  || die "the wheel lacks tensorflow/include/tensorflow/c"
mv "$BUILD/wheel/tensorflow/include" "$PKG_DIR/deps/include"

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
