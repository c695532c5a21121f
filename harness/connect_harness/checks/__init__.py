"""The catalogue: the run (what was sent, what came back, what was called), findings, reports."""
