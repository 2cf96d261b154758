"""tfau's command line (``tfau <verb>`` / ``python -m tfau <verb>``)."""
