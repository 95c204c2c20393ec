"""Delphes ROOT → JetClass-II Parquet (`jetfm ntuplize`), in Python only (uproot, awkward,
numpy): reader (open and check a Delphes file, read it in bounded chunks) → ntuple (events →
JetClass-II rows, after JetClass-II's `makeNtuples.C`) → run (files, folder record, workers).
docs/delphes.md lists what is taken from the macro and every departure."""
