"""The JetClass-II column schema (docs/design.md): one source of truth for writers and readers.

Column names, list/scalar structure and value types are exactly JetClass-II's, so published
JetClass-II Parquet files and ours are interchangeable. jetfm may add extra columns
(`EXTRA_COLUMNS`), never rename or drop these.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

F32, I32, BOOL = pa.float32(), pa.int32(), pa.bool_()

PARTICLE_FLOAT = ["part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi",
                  "part_d0val", "part_d0err", "part_dzval", "part_dzerr"]
PARTICLE_INT = ["part_charge"]
PARTICLE_BOOL = ["part_isElectron", "part_isMuon", "part_isPhoton", "part_isChargedHadron",
                 "part_isNeutralHadron"]
JET_FLOAT = ["jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_sdmass",
             "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4"]
JET_INT = ["jet_nparticles", "jet_label"]
GENPART_FLOAT = ["genpart_px", "genpart_py", "genpart_pz", "genpart_energy",
                 "genpart_jet_deta", "genpart_jet_dphi", "genpart_x", "genpart_y", "genpart_z",
                 "genpart_t"]
GENPART_INT = ["genpart_pid"]
GENJET_FLOAT = ["genjet_pt", "genjet_eta", "genjet_phi", "genjet_energy", "genjet_sdmass"]
GENJET_INT = ["genjet_nparticles"]
AUX_FLOAT = ["aux_genpart_pt", "aux_genpart_eta", "aux_genpart_phi", "aux_genpart_mass"]
AUX_INT = ["aux_genpart_pid"]
AUX_BOOL = ["aux_genpart_isResX", "aux_genpart_isResY", "aux_genpart_isResDecayProd",
            "aux_genpart_isTauDecayProd", "aux_genpart_isQcdParton"]


# JetClass-II's column order (its ntupliser's branch list; `jet_nparticles` follows
# `jet_sdmass`, `jet_label` closes the jet block).
JET_ORDER = ["jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_sdmass", "jet_nparticles",
             "jet_tau1", "jet_tau2", "jet_tau3", "jet_tau4", "jet_label"]


def _field(name: str, typ: pa.DataType, is_list: bool) -> pa.Field:
    """Published layout: nothing nullable, list items named `item` (the writer keeps the name
    with `use_compliant_nested_type=False`)."""
    if is_list:
        typ = pa.list_(pa.field("item", typ, nullable=False))
    return pa.field(name, typ, nullable=False)


def _fields() -> list[pa.Field]:
    types = {}
    for names, typ, is_list in [
        (PARTICLE_FLOAT, F32, True), (PARTICLE_INT, I32, True), (PARTICLE_BOOL, BOOL, True),
        (JET_FLOAT, F32, False), (JET_INT, I32, False),
        (GENPART_FLOAT, F32, True), (GENPART_INT, I32, True),
        (GENJET_FLOAT, F32, False), (GENJET_INT, I32, False),
        (AUX_FLOAT, F32, True), (AUX_INT, I32, True), (AUX_BOOL, BOOL, True),
    ]:
        for name in names:
            types[name] = (typ, is_list)
    order = (PARTICLE_FLOAT + PARTICLE_INT + PARTICLE_BOOL + JET_ORDER + GENPART_FLOAT
             + GENPART_INT + GENJET_FLOAT + GENJET_INT + AUX_FLOAT + AUX_INT + AUX_BOOL)
    assert sorted(order) == sorted(types)
    return [_field(name, *types[name]) for name in order]


JETCLASS2_SCHEMA = pa.schema(_fields())
JETCLASS2_COLUMNS = [f.name for f in JETCLASS2_SCHEMA]

# Columns jetfm adds to its own files (readers never require them).
EXTRA_COLUMNS = pa.schema([
    pa.field("event_id", pa.int64(), nullable=False),     # event number (shard-unique)
    pa.field("resim_group", pa.int64(), nullable=False),  # one parton shower (-1: no resim)
    pa.field("sample", pa.string(), nullable=False),      # the --sample name that made the jet
])
OUTPUT_SCHEMA = pa.schema(list(JETCLASS2_SCHEMA) + list(EXTRA_COLUMNS))

# Truth for the downstream samples (`jetfm generate --sample wplus|xww|quark|...`): only the
# files of the samples that define one carry it, after the columns above.
_TRUTH = [  # (name, type, meaning)
    ("truth_charge", pa.int32(), "wplus/wminus: charge of the W (+1 / -1)"),
    ("truth_mass_ratio", pa.float32(), "xww: m_W / m_X of the chunk"),
    ("truth_parton_pid", pa.int32(), "quark/gluon: the hard parton in the jet (PDG id)"),
    ("truth_tau_decay_mode", pa.int32(), "tau: 5 (charged hadrons - 1) + min(pi0s, 2)"),
    ("truth_invisible_fraction", pa.float32(), "darkjet: invisible pT / (it + jet pT)"),
    ("jet_index", pa.int32(), "dijet samples: 0 leading, 1 subleading jet"),
    ("event_mjj", pa.float32(), "dijet samples: m_JJ of the two jets (GeV)"),
    ("event_weight", pa.float32(), "dijet samples: Pythia's event weight"),
]
TRUTH_COLUMNS = pa.schema([pa.field(n, t, nullable=False) for n, t, _ in _TRUTH])


def sample_schema(truth_columns=()) -> pa.Schema:
    """OUTPUT_SCHEMA plus the named TRUTH_COLUMNS (a sample's file layout)."""
    return pa.schema(list(OUTPUT_SCHEMA) + [TRUTH_COLUMNS.field(c) for c in truth_columns])


def value_type(t: pa.DataType) -> pa.DataType:
    """Element type of a list column (any list flavour), else the type itself."""
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return t.value_type
    return t


def is_list_type(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def parquet_writer(path, schema: pa.Schema) -> pq.ParquetWriter:
    """The writer of every JetClass-II file jetfm makes: zstd, page checksums, list items
    named `item` (the published layout)."""
    return pq.ParquetWriter(path, schema, compression="zstd", write_page_checksum=True,
                            use_compliant_nested_type=False)


def flush_row_groups(writer: pq.ParquetWriter, pending: list[pa.Table], size: int,
                     final: bool) -> list[pa.Table]:
    """Write every full row group of `pending` (all of it if `final`); return the rest."""
    rows = sum(t.num_rows for t in pending)
    if rows < size and not final:
        return pending
    table = pa.concat_tables(pending)
    full = rows if final else rows - rows % size
    writer.write_table(table.slice(0, full), row_group_size=size)
    return [table.slice(full)] if full < rows else []
