"""The window profile: one streamed pass over a window builds mergeable counts; every check family is
computed from them, and they are stored with the run (task-side: imports numpy/pandas)."""
