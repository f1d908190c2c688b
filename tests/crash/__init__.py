"""The crash-safety harness: kill -9 a real server at random points of its work, restart it, and check that
nothing it acknowledged was lost, that the right shares still unseal it and the wrong ones do not.

`tests/integration/test_crash_points.py` runs 50 kill points; `scripts/crash` runs the long version.
"""
