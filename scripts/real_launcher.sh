#!/usr/bin/env bash
# Build the real ROS 2 launcher (`ros2 launch`, `ros2 node/topic ...`) from source, to verify the
# launch files under it where no full ROS 2 install exists. For verification only: not part of
# set-up, nothing in the project needs it.
#
# Needs the sources fetched first (GitHub ros2/launch, ros2/launch_ros, ros2/ros2cli,
# ros2/rcl_interfaces, ros2/rosidl_runtime_py; kilted or rolling), one checkout each, and the
# project's venv (make setup). The PyPI package named `launch` is another program: never install it.
#
#   scripts/real_launcher.sh DEST LAUNCH LAUNCH_ROS ROS2CLI RCL_INTERFACES ROSIDL_RUNTIME_PY
#   source DEST/env.sh            # ROS_DOMAIN_ID defaults to 77, discovery LOCALHOST, MUJOCO_GL=egl
#   ros2 launch seal_bringup sim.launch.yaml
#
# DEST gets a venv layered on the project's (its site-packages and ROS libraries, unmodified),
# the pure-Python launch/ros2cli packages, composition_interfaces (plain CMake, as
# build_interfaces.sh does) and seal_bringup built by colcon with --symlink-install, so the
# installed launch files are the repository's own launch/*.launch.yaml.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 6 ]; then sed -n '2,14p' "$0"; exit 2; fi
mkdir -p "$1"
DEST=$(cd "$1" && pwd)
SRC_LAUNCH=$(cd "$2" && pwd); SRC_LAUNCH_ROS=$(cd "$3" && pwd); SRC_ROS2CLI=$(cd "$4" && pwd)
SRC_RCL_INTERFACES=$(cd "$5" && pwd); SRC_ROSIDL_RUNTIME_PY=$(cd "$6" && pwd)
BASE=${VENV:-$ROOT/.venv}
BASE_PY="$BASE/bin/python"
BASE_SITE=$("$BASE_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYV=$("$BASE_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
V="$DEST/venv"
SITE="$V/lib/python$PYV/site-packages"
# The base venv's .pth hooks (ros_wheels_bootstrapper) re-exec the interpreter once with
# LD_LIBRARY_PATH; children inherit it, so the build and every node run without the guard set.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE LD_LIBRARY_PATH PYTHONPATH

"$BASE_PY" -m venv "$V"
cat > "$SITE/seal_base_venv.py" <<EOF
"""Layer the project's venv under this one: its site-packages (with their .pth hooks) and ROS libraries."""
import glob
import os
import site

BASE = "$BASE_SITE"
if not os.environ.get("_ROS_WHEELS_BOOTSTRAP_COMPLETE"):
    # ros_wheels_bootstrapper looks for the ROS libraries under sys.prefix (this venv): add the base's.
    libs = sorted(glob.glob(BASE + "/ros_*.libs")) + ["$BASE/lib"]
    old = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(libs + [p for p in old if p not in libs])
site.addsitedir(BASE)
EOF
echo "import seal_base_venv" > "$SITE/00_seal_base_venv.pth"
"$V/bin/python" -c 'import rclpy, seal_nodes' || { echo "the layered venv cannot import rclpy/seal_nodes" >&2; exit 1; }

LOG="$DEST/build.log"
: >"$LOG"
echo "pip: launch/ros2cli dependencies and colcon into $V"
"$V/bin/pip" install -q wheel osrf-pycommon argcomplete psutil colcon-core colcon-ros >>"$LOG" 2>&1 \
  || { tail -20 "$LOG"; exit 1; }
echo "pip: launch, launch_ros, ros2cli, rosidl_runtime_py from source"
"$V/bin/pip" install -q --no-deps --no-build-isolation \
  "$SRC_ROSIDL_RUNTIME_PY" \
  "$SRC_LAUNCH/launch" "$SRC_LAUNCH/launch_xml" "$SRC_LAUNCH/launch_yaml" \
  "$SRC_LAUNCH_ROS/launch_ros" "$SRC_LAUNCH_ROS/ros2launch" \
  "$SRC_ROS2CLI"/{ros2cli,ros2pkg,ros2node,ros2topic,ros2run,ros2service,ros2param,ros2interface,ros2action} \
  >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }

echo "cmake: composition_interfaces (launch_ros imports it)"
BUILD="$DEST/build/composition_interfaces"
mkdir -p "$BUILD"
(
  export PATH="$V/bin:$BASE/bin:$PATH" AMENT_PREFIX_PATH="$V:$BASE" CMAKE_PREFIX_PATH="$V:$BASE"
  cmake -S "$SRC_RCL_INTERFACES/composition_interfaces" -B "$BUILD" -DCMAKE_PREFIX_PATH="$V;$BASE" \
    -DCMAKE_INSTALL_PREFIX="$V" -DPython3_EXECUTABLE="$V/bin/python" -DPYTHON_EXECUTABLE="$V/bin/python" \
    -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release
  cmake --build "$BUILD" -j "$(nproc)"
  cmake --install "$BUILD"
) >>"$LOG" 2>&1 || { tail -40 "$LOG"; exit 1; }

echo "colcon: seal_bringup (symlink install: the launch files stay the repository's)"
WS="$DEST/ws"
PKG="$WS/src/seal_bringup"
rm -rf "$PKG" && mkdir -p "$PKG"
cp -r "$ROOT"/ros_ws/src/seal_bringup/{package.xml,setup.py,setup.cfg,resource} "$PKG/"
ln -s "$ROOT/launch" "$PKG/launch"
ln -s "$ROOT/seal_nodes/config" "$PKG/config"
(cd "$WS" && PATH="$V/bin:$PATH" "$V/bin/colcon" build --symlink-install) >>"$LOG" 2>&1 \
  || { tail -20 "$LOG"; exit 1; }

cat > "$DEST/env.sh" <<EOF
# The real ROS 2 launcher built by scripts/real_launcher.sh: source it in bash.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE LD_LIBRARY_PATH
export PATH="$V/bin:\$PATH"
export AMENT_PREFIX_PATH="$WS/install/seal_bringup:$V:$BASE"
# seal_bringup is a develop (symlink) install: its egg-info, which the node executables load, is in build/.
export PYTHONPATH="$WS/build/seal_bringup"
export ROS_DOMAIN_ID=\${ROS_DOMAIN_ID:-77} ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST MUJOCO_GL=egl
export ROS_HOME="$DEST/ros_home"
EOF
# shellcheck disable=SC1091
(source "$DEST/env.sh" && ros2 launch --show-args seal_bringup sim.launch.yaml >/dev/null) \
  || { echo "ros2 launch cannot read seal_bringup's sim.launch.yaml" >&2; exit 1; }
echo "done: source $DEST/env.sh; ros2 launch seal_bringup sim.launch.yaml"
