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

# The kilted wheels' exported CMake files name the wheel build host's paths
# (/opt/python/cp3XX-cp3XX/...); point them at this interpreter's real include folders (idempotent).
{ grep -rlE --include='*.cmake' '/opt/python/cp3[0-9]+-cp3[0-9]+' "$VENV/share" 2>/dev/null || true; } | while read -r f; do
  sed -i -E \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${NP_INC}#g" \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#${PY_INC}#g" "$f"
done

# One build folder per interpreter: CMake caches the Python it found.
BUILD="$ROOT/build/seal_interfaces-$("$PY" -c 'import sys; print("py%d%d" % sys.version_info[:2])')"
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
