#!/usr/bin/env bash
# Build ros_ws/src/seal_interfaces into the venv with plain CMake (no colcon needed).
# On a full ROS 2 install use `colcon build` in ros_ws/ instead.
set -euo pipefail
VENV=${1:?usage: build_interfaces.sh VENV}
VENV=$(cd "$VENV" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$VENV/bin/python"
PY_INC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
NP_INC=$("$PY" -c 'import numpy; print(numpy.get_include())')

# The kilted wheels' exported CMake files name the wheel build host's paths; point them
# at this interpreter's real include folders (idempotent).
{ grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true; } | while read -r f; do
  sed -i \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#${NP_INC}#g" \
    -e "s#/opt/python/cp311-cp311/include/python3.11#${PY_INC}#g" "$f"
done

BUILD="$ROOT/build/seal_interfaces"
mkdir -p "$BUILD"
# ament/rosidl CMake helpers are Python scripts run by the venv interpreter.
export PATH="$VENV/bin:$PATH"
export AMENT_PREFIX_PATH="$VENV"
export CMAKE_PREFIX_PATH="$VENV"
cmake -S "$ROOT/ros_ws/src/seal_interfaces" -B "$BUILD" \
  -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$PY" -DPYTHON_EXECUTABLE="$PY" -DBUILD_TESTING=OFF \
  -DCMAKE_BUILD_TYPE=Release >"$BUILD.log" 2>&1 || { tail -40 "$BUILD.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" >>"$BUILD.log" 2>&1 || { tail -60 "$BUILD.log"; exit 1; }
cmake --install "$BUILD" >>"$BUILD.log" 2>&1 || { tail -40 "$BUILD.log"; exit 1; }
