"""The stages of a CANDLE run; each reads the previous stage's artefact from the work dir."""
