"""Realistic ports written from the spec, each plugged into the harness by a short ``port.py``."""
