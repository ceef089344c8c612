#!/usr/bin/env bash
# Make the docker sandbox usable: install docker.io, start dockerd when none answers, and build
# (or reuse) the sandbox image from Debian packages, with no registry.
#
# Fails soft: when a step cannot be done it says why and exits 0, so that the docker tests
# skip with the reason instead of failing.
#
#   bash scripts/ci_docker.sh            # image name: $GYMNPT_DOCKER_IMAGE or gymnpt-sandbox:bookworm
#
# The image is a Debian bookworm minbase root file system (debootstrap) with python3, gcc,
# g++, a headless JDK and node, imported with `docker import`. Set GYMNPT_DOCKER_LANGS=python
# for a python-only image (smaller and quicker to build).
set -uo pipefail

IMAGE="${GYMNPT_DOCKER_IMAGE:-gymnpt-sandbox:bookworm}"
LANGS="${GYMNPT_DOCKER_LANGS:-python,c,cpp,java,javascript}"
SUITE="${GYMNPT_DOCKER_SUITE:-bookworm}"
export DEBIAN_FRONTEND=noninteractive

soft_fail() {
  echo "ci_docker: $* -- the docker sandbox stays unavailable and its tests skip" >&2
  exit 0
}

# The Debian mirror apt is configured with (deb822 or one-line format).
mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '{print $2}' | grep -v security | head -n1)
  if [ -z "$uri" ]; then
    uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '{print $2}' | grep -v security | head -n1)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  echo "ci_docker: installing docker.io and debootstrap"
  { apt-get update -qq && apt-get install -y -qq docker.io debootstrap >/dev/null; } \
    || soft_fail "apt-get install docker.io debootstrap failed"
fi

if ! docker info >/dev/null 2>&1; then
  echo "ci_docker: no Docker daemon answers; starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/gymnpt-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 \
    || soft_fail "dockerd did not start: $(tail -n 3 /var/log/gymnpt-dockerd.log 2>/dev/null)"
fi

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "ci_docker: reusing image $IMAGE"
  exit 0
fi

packages="python3"
case ",$LANGS," in *,c,* | *,cpp,*) packages="$packages,gcc,g++,libc6-dev" ;; esac
case ",$LANGS," in *,java,*) packages="$packages,openjdk-17-jdk-headless" ;; esac
case ",$LANGS," in *,javascript,*) packages="$packages,nodejs" ;; esac

root=$(mktemp -d /var/tmp/gymnpt-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
start=$(date +%s)
echo "ci_docker: building $IMAGE from Debian $SUITE ($(mirror)): $packages"
debootstrap --variant=minbase --include="$packages" "$SUITE" "$root" "$(mirror)" \
  >/var/log/gymnpt-debootstrap.log 2>&1 \
  || soft_fail "debootstrap failed: $(tail -n 3 /var/log/gymnpt-debootstrap.log)"
# Trim what a sandbox never needs.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'WORKDIR /sandbox' \
  --message "gymnpt sandbox image: $packages" \
  - "$IMAGE" >/dev/null || soft_fail "docker import failed"
echo "ci_docker: built $IMAGE in $(($(date +%s) - start)) s ($packages)"
