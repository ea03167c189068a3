"""Training pieces: warmup, clipping, coupled decay + Adam, plateau, early stopping, value targets, loop."""
