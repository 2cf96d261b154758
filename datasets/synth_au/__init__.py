"""SynthAU generated on the fly (``tfds.load("synth_au", ...)``): no licensed data needed."""
