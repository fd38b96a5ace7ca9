"""The GUI's mouse policy: screenshot + instruction + pointer → motion and click."""
