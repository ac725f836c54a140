"""Templates of `harvester plugin new` (build/scaffold.py): package data, not code."""
