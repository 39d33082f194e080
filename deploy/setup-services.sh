#!/usr/bin/env bash
# Installs every system tool the integration tests use, on Debian/Ubuntu (`npm run setup:services`;
# .ci/run runs the same command). Without them `npm test` still passes: the suites needing a missing
# tool skip with one line naming this command (and fail when CI is set).
#
#   java (openjdk-17-jre-headless) + maven   run Apache Kafka; its jars come from Maven Central
#   kcat                                     the tests' second, independent Kafka client
#   prometheus (+ promtool)                  dashboard queries, alert rules, `promtool check metrics`
#   influxdb                                 the InfluxDB history and the forecasts dashboard's InfluxQL
#   docker-compose                           validates docker-compose.yml offline (no Docker engine)
#   chromium                                 renders the backtest report in the headless-browser test
#   python3-pip, unzip, make + c++           `npm run native:install` (TensorFlow's headers from PyPI,
#                                            the tfjs-node binding compiled with node-gyp)
#
# Then fetches the Kafka jars into .cache/kafka/libs (deploy/kafka/kafka.sh fetch). Idempotent: only
# what is missing is installed. apt-get runs through sudo when not root. The packages' daemons are
# not started (the tests start their own on loopback ports); SETUP_SKIP_KAFKA_JARS=1 skips the fetch.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf 'setup-services: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need=()
missing() { # missing COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 || need+=("$2")
}
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then :; else missing java openjdk-17-jre-headless; fi
missing mvn maven
missing kcat kcat
missing promtool prometheus
missing influxd influxdb
missing docker-compose docker-compose
missing chromium chromium
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
missing unzip unzip
{ command -v make && command -v c++; } >/dev/null 2>&1 || need+=(build-essential)

if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found; install these with your package manager: ${need[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo; run as root: apt-get install -y ${need[*]}"
    sudo=(sudo)
  fi
  say "installing ${need[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
else
  say "java, maven, kcat, prometheus, influxdb, docker-compose, chromium, pip, unzip and a compiler are installed"
fi

if [ "${SETUP_SKIP_KAFKA_JARS:-0}" != 1 ]; then
  bash "$here/kafka/kafka.sh" fetch
fi
