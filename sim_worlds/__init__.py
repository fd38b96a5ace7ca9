"""Simulated worlds: the MuJoCo tabletop (``tabletop``) and seeded web pages (``gui``).

MuJoCo renders headless (EGL) unless the caller chose a backend; set before ``mujoco`` loads.
"""
import os

os.environ.setdefault("MUJOCO_GL", "egl")
