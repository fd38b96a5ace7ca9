"""Camera frames → objects, scene and UI changes, as events."""
