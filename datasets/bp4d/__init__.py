"""BP4D-Spontaneous, read from a manual download (``tfds.load("bp4d", ...)``)."""
