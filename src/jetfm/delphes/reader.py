"""Open a Delphes ROOT file, check that it holds what `jetfm ntuplize` reads, and read it in
bounded chunks of events (uproot `iterate`).

Every failure is one DataError line naming the file (and the tree or branch): not a ROOT file,
a truncated one (shorter than its header says), no tree `--tree`, a missing collection or
branch, data that cannot be decompressed or deserialised.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import awkward as ak

from ..errors import DataError

TREE = "Delphes"
# events per read: a Delphes event of the JetClass-II chain is ~1500 generator particles and a
# few hundred PF candidates, so a chunk stays at a few tens of MB whatever the file size
EVENTS_PER_STEP = 200

# what the ntupliser reads of each collection (makeNtuples.C and its helpers); names as in
# Delphes' classes (DelphesClasses.h)
JET_FIELDS = ("PT", "Eta", "Phi", "Mass", "SoftDroppedP4[5]", "Tau[5]", "Constituents")
GENJET_FIELDS = ("PT", "Eta", "Phi", "Mass", "SoftDroppedP4[5]", "Constituents")
PARTICLE_FIELDS = ("fUniqueID", "PID", "Status", "M1", "M2", "D1", "D2", "Px", "Py", "Pz",
                   "E", "Mass", "PT", "Eta", "Phi", "X", "Y", "Z", "T")
PF_FIELDS = ("fUniqueID", "PID", "Charge", "PT", "Eta", "Phi", "Mass", "D0", "DZ", "ErrorD0",
             "ErrorDZ")
VERTEX_FIELDS = ("Z", "T")
# the macro reads the primary vertex when the branch exists and runs without it otherwise
OPTIONAL = ("vertex",)
# Delphes' types of the branches that are not plain numbers (one value per object otherwise)
TYPES = {"Constituents": "TRefArray", "SoftDroppedP4[5]": "TLorentzVector"}


@dataclass(frozen=True)
class DelphesInput:
    """One checked input file."""
    path: Path
    tree: str
    events: int
    collections: dict        # role (jet, genjet, particle, pf, vertex) -> Delphes branch name
    has_vertex: bool

    @property
    def branches(self) -> dict[str, str]:
        """Delphes branch name -> the name the ntupliser knows it by ("jet.PT", ...)."""
        out = {}
        for role, coll in self.collections.items():
            if role == "vertex" and not self.has_vertex:
                continue
            for field in _FIELDS[role]:
                out[f"{coll}.{field}"] = f"{role}.{field}"
        return out


_FIELDS = {"jet": JET_FIELDS, "genjet": GENJET_FIELDS, "particle": PARTICLE_FIELDS,
           "pf": PF_FIELDS, "vertex": VERTEX_FIELDS}
_OPTION = {"jet": "--jet-branch", "genjet": "--genjet-branch"}


def check_root_header(path: Path) -> None:
    """Not a ROOT file, or shorter than the end its header records (a copy cut short)."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
        size = os.path.getsize(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(head) < 16 or head[:4] != b"root":
        raise DataError(f"{path}: not a ROOT file (no ROOT signature at its start)")
    version, = struct.unpack(">i", head[4:8])
    big = version >= 1_000_000          # files over 2 GB store 64-bit offsets
    if big and len(head) < 20:
        raise DataError(f"{path}: truncated ROOT file (header cut short)")
    end = struct.unpack(">q", head[12:20])[0] if big else struct.unpack(">i", head[12:16])[0]
    if size < end:
        raise DataError(f"{path}: truncated ROOT file ({size} bytes, its header says {end}); "
                        "copy it again or remove it")


def _open_tree(path: Path, tree: str):
    import uproot
    check_root_header(path)
    try:
        f = uproot.open(path)
    except Exception as exc:  # uproot raises many types for damaged files
        raise DataError(f"{path}: not a readable ROOT file ({type(exc).__name__}: "
                        f"{_first_line(exc)})") from None
    try:
        t = f[tree]
    except Exception:
        held = sorted({f"'{k.split(';')[0]}' ({c})" for k, c in f.classnames().items()})
        f.close()
        held = f"it holds {', '.join(held[:5])}" if held else "it is empty"
        raise DataError(f"{path}: no tree '{tree}' ({held}); not a Delphes file, or name its "
                        "tree with --tree") from None
    if not isinstance(t, uproot.TTree):
        f.close()
        raise DataError(f"{path}: '{tree}' is a {type(t).__name__}, not a TTree")
    return f, t


def open_input(path: str | os.PathLike, tree: str = TREE, jet_branch: str = "JetPUPPIAK8",
               genjet_branch: str = "GenJetAK8") -> DelphesInput:
    """Check one file (header, tree, branches) without reading its events. A tree without
    events needs no branch: there is nothing to read."""
    path = Path(path)
    collections = {"jet": jet_branch, "genjet": genjet_branch, "particle": "Particle",
                   "pf": "ParticleFlowCandidate", "vertex": "Vertex"}
    f, t = _open_tree(path, tree)
    with f:
        events = int(t.num_entries)
        types = {k: t[k].typename for k in t.keys(full_paths=False)}
    keys = set(types)
    has_vertex = any(k.startswith("Vertex.") for k in keys)
    if events:
        needed = [(role, coll) for role, coll in collections.items()
                  if role not in OPTIONAL or has_vertex]
        for role, coll in needed:          # names first: a missing one is the likelier fault
            if not any(k.startswith(coll + ".") for k in keys):
                how = f" (set by {_OPTION[role]})" if role in _OPTION else ""
                raise DataError(f"{path}: tree '{tree}' has no branch '{coll}'{how}; "
                                "not a Delphes file with the JetClass-II collections")
            for field in _FIELDS[role]:
                if f"{coll}.{field}" not in keys:
                    raise DataError(f"{path}: tree '{tree}' has no branch '{coll}.{field}'")
        for role, coll in needed:
            for field in _FIELDS[role]:
                name, want = f"{coll}.{field}", TYPES.get(field, "[]")
                if want not in types[name]:     # "[]": one value per object, as Delphes'
                    raise DataError(f"{path}: branch '{name}' holds {types[name]}, not "
                                    f"Delphes' {want if want != '[]' else 'list per event'}")
    return DelphesInput(path, tree, events, collections, has_vertex)


def iter_events(inp: DelphesInput, step: int = EVENTS_PER_STEP
                ) -> Iterator[tuple[int, dict[str, ak.Array]]]:
    """(first entry, arrays) per chunk of `step` events; arrays are keyed by role
    ("jet.PT", "pf.D0", ...). TRefArray branches (jet constituents) come as the referenced
    objects' unique ids (`refs`): jets → list of int."""
    names = inp.branches
    f, t = _open_tree(inp.path, inp.tree)
    with f:
        it = t.iterate(filter_name=lambda n: n in names, step_size=step, library="ak",
                       how=dict, report=True)
        start = 0
        while True:
            try:
                chunk, report = next(it)
            except StopIteration:
                return
            except Exception as exc:   # a damaged basket: decompression or deserialisation
                where = _failing_branch(t, names, start, start + step)
                raise DataError(f"{inp.path}: corrupt or truncated data in tree '{inp.tree}'"
                                f"{where} ({type(exc).__name__}: {_first_line(exc)})") from None
            out = {}
            for name, role in names.items():
                arr = chunk[name]
                out[role] = arr["refs"] if role.endswith(".Constituents") else arr
            yield report.tree_entry_start, out
            start = report.tree_entry_stop


def _failing_branch(t, names, start: int, stop: int) -> str:
    """", branch 'X', entries a-b" for the first branch that cannot be read there (uproot's
    message names none); only called after a failure."""
    for name in names:
        try:
            t[name].array(entry_start=start, entry_stop=stop, library="ak")
        except Exception:
            return f", branch '{name}', entries {start}-{min(stop, t.num_entries) - 1}"
    return ""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return " ".join(text.split())[:300] if text else type(exc).__name__


__all__ = ["TREE", "EVENTS_PER_STEP", "DelphesInput", "check_root_header", "open_input",
           "iter_events"]
