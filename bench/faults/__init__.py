"""The fault suite: real processes, real faults, figures printed (`python -m bench.faults`) and checked in tests."""
