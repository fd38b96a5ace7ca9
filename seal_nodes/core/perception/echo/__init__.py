"""The agent's own voice out of the microphone: delay, canceller, double talk."""
