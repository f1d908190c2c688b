"""Side-by-side benchmark of Strongroom and OpenBao; run it with `bench/run` (see README.md)."""
