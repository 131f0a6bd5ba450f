"""The video pipeline: stages and the pure modules they use."""
