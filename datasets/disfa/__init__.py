"""DISFA, read from a manual download (``tfds.load("disfa", ...)``)."""
