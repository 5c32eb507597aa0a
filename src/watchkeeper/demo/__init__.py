"""Demo data: a synthetic fraud classifier with faults injected on known days (see :mod:`.generate`)."""
