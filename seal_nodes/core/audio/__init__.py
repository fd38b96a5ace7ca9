"""Audio contracts shared by every layer: frames, WAV files, real-time pacing, devices."""
