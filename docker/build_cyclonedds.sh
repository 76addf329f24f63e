#!/usr/bin/env bash
# Build the cyclonedds Python binding 0.10.2 (the version Unitree SDK2 robots run) on Debian
# bookworm / Ubuntu against the distro's libddsc 0.10.2.
#
# Why the links: cyclonedds-python's build looks for $CYCLONEDDS_HOME/{lib,include,bin}, while
# Debian keeps libddsc in /usr/lib/<multiarch>. CYCLONEDDS_HOME points at a folder of links.
#
#   sudo docker/build_cyclonedds.sh [PYTHON]     # PYTHON defaults to python3
set -euo pipefail
PY=${1:-python3}
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
if ! dpkg -s cyclonedds-dev >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cyclonedds-dev cyclonedds-tools gcc >/dev/null
fi
HOME_DIR=${CYCLONEDDS_HOME:-/opt/cyclonedds-home}
mkdir -p "$HOME_DIR/lib"
ln -sfn /usr/include "$HOME_DIR/include"
ln -sfn /usr/bin "$HOME_DIR/bin"
for f in /usr/lib/"$MA"/libddsc* /usr/lib/"$MA"/libcycloneddsidl*; do
  [ -e "$f" ] && ln -sfn "$f" "$HOME_DIR/lib/$(basename "$f")"
done
ln -sfn /usr/lib/"$MA"/cmake "$HOME_DIR/lib/cmake"
export CYCLONEDDS_HOME="$HOME_DIR"
"$PY" -m pip install --no-binary cyclonedds "cyclonedds==0.10.2"
"$PY" - <<'PY'
from dataclasses import dataclass
from cyclonedds.idl import IdlStruct
from cyclonedds.domain import DomainParticipant
from cyclonedds.topic import Topic
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
import time

@dataclass
class Probe(IdlStruct, typename="lucid_ros.Probe"):
    n: int

dp = DomainParticipant(77)
tp = Topic(dp, "lucid_probe", Probe)
w, r = DataWriter(dp, tp), DataReader(dp, tp)
time.sleep(0.3)
w.write(Probe(n=42))
time.sleep(0.3)
got = [s.n for s in r.take()]
assert got == [42], got
print("cyclonedds 0.10.2 OK: an IdlStruct round-tripped on domain 77")
PY
echo "CYCLONEDDS_HOME=$HOME_DIR (export it before building other DDS Python packages)"
