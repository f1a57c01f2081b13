"""make bench: end-to-end load benchmark of the embedded stack, with the ceilings of its parts."""
