#!/usr/bin/env bash
# One-time set-up of a fresh Debian/Ubuntu machine: apt packages, the venv with pinned pip
# packages, the seal_interfaces build and the project itself (editable).
# Idempotent: a finished set-up is recorded by a stamp and not redone.
# PYTHON (default python3.11; 3.12 works too) and VENV (default .venv) pick the interpreter and
# where its environment goes, so one clone can hold one venv per Python version.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PYTHON=${PYTHON:-python3.11}

APT_PACKAGES=(
  cmake g++ make            # seal_interfaces build
  portaudio19-dev           # pyaudio
  espeak-ng libespeak-ng1   # TTS (libespeak-ng through ctypes) and offline test speech
  libegl1 libegl-mesa0 libgl1-mesa-dri libglx-mesa0  # MuJoCo headless rendering (MUJOCO_GL=egl)
  pulseaudio pulseaudio-utils libasound2-plugins      # virtual audio devices (null sink)
  sox
  libspeexdsp1              # acoustic echo cancellation (speex MDF through ctypes)
  chromium                  # the GUI world: headless browser driven over CDP
)

# What the set-up depends on; a change to any of these redoes the pip/build steps.
stamp_inputs() {
  cat requirements.lock requirements-ros.lock requirements-nodeps.txt pyproject.toml scripts/setup.sh \
    scripts/build_interfaces.sh
  find ros_ws/src/seal_interfaces -type f | sort | xargs cat
}
STAMP_HASH=$(stamp_inputs | sha256sum | cut -c1-16)
STAMP="$VENV/.seal-setup-$STAMP_HASH"

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[setup] apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f "$STAMP" ] && [ -x "$VENV/bin/seal" ]; then
  echo "[setup] environment up to date ($VENV)"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
# This machine's pip config lists local indexes that may be absent; hide only those warnings.
quiet_pip() { "${PIP[@]}" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
echo "[setup] pip install -r requirements.lock -r requirements-ros.lock (torch CPU wheel, MuJoCo, ROS 2 kilted wheels …)"
quiet_pip install -q -r requirements.lock -r requirements-ros.lock
quiet_pip install -q --no-deps -r requirements-nodeps.txt

# faster-whisper / piper / silero declare plain onnxruntime, which overwrites the GPU build's
# module: remove it and reinstall onnxruntime-gpu last.
if "${PIP[@]}" show -q onnxruntime >/dev/null 2>&1; then
  "${PIP[@]}" uninstall -y -q onnxruntime
  ORT_GPU=$(grep -i '^onnxruntime-gpu==' requirements.lock)
  quiet_pip install -q --no-deps --force-reinstall "$ORT_GPU"
fi
"$VENV/bin/python" -c 'import onnxruntime as o; print("[setup] onnxruntime providers:", o.get_available_providers())'

echo "[setup] building seal_interfaces"
bash scripts/build_interfaces.sh "$VENV"
quiet_pip install -q --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c 'import rclpy, seal_interfaces.msg, mujoco, ctranslate2, faster_whisper, piper; print("[setup] imports ok")'

rm -f "$VENV"/.seal-setup-*
touch "$STAMP"
echo "[setup] done"
