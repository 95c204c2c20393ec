"""Downstream tasks: which jets form which class, declared as data.

A task is a list of classes; a class is a conjunction of conditions on one jet: the sample it
was generated as (`sample` column), its JetClass-II label (names or glob patterns such as
`QCD_*`), and cuts on per-jet quantities (`QUANTITIES`: truth columns and values derived from
`aux_genpart_*`, e.g. the resonance mass or ΔR(b, b̄)). A jet in no class is not used; a jet in
two classes is an error in the task. Tasks that use only labels and `aux_genpart` run on
published JetClass-II files too. To add a task, add an entry to `TASKS`; a user's own task is
a YAML file of the same form (`load_task_file`, `jetfm transfer --task FILE.yaml`).
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np

from ..errors import ConfigError, DataError
from ..io import load_yaml
from ..labels import LABEL_NAMES


@dataclass(frozen=True)
class Cut:
    quantity: str
    lo: float = -np.inf      # inclusive
    hi: float = np.inf       # exclusive


@dataclass(frozen=True)
class ClassDef:
    name: str
    samples: tuple[str, ...] = ()          # any of these `sample` values (empty: any sample)
    labels: tuple[str, ...] = ()           # JetClass-II label names / glob patterns (empty: any)
    cuts: tuple[Cut, ...] = ()


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    classes: tuple[ClassDef, ...]
    signal_class: int | None = None        # binary tasks: the positive class

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def columns(self) -> list[str]:
        """Input columns this task reads (besides the model's)."""
        cols = set()
        for c in self.classes:
            if c.samples:
                cols.add("sample")
            if c.labels:
                cols.add("jet_label")
            for cut in c.cuts:
                cols.update(QUANTITIES[cut.quantity][0])
        return sorted(cols)


# ---------------------------------------------------------------------------------------------
# per-jet quantities: name -> (columns read, function of the awkward batch)

def _resx(batch: ak.Array):
    x = batch["aux_genpart_isResX"]
    return ak.firsts(batch["aux_genpart_mass"][x]), ak.firsts(batch["aux_genpart_pid"][x])


def _m_x(batch):
    return ak.to_numpy(ak.fill_none(_resx(batch)[0], 0.0)).astype(np.float64)


def _x_charged(batch):
    pid = np.abs(ak.to_numpy(ak.fill_none(_resx(batch)[1], 0)))
    return np.isin(pid, (24, 37)).astype(np.float64)


def _dr_bb(batch):
    """ΔR between the b and b̄ of the resonance decay (inf unless there is exactly one each)."""
    sel = batch["aux_genpart_isResDecayProd"]
    pid = batch["aux_genpart_pid"][sel]
    eta, phi = batch["aux_genpart_eta"][sel], batch["aux_genpart_phi"][sel]
    out = np.full(len(batch), np.inf)
    b, bbar = pid == 5, pid == -5
    ok = ak.to_numpy((ak.sum(b, axis=1) == 1) & (ak.sum(bbar, axis=1) == 1))
    if ok.any():
        deta = ak.to_numpy(ak.firsts(eta[b]))[ok] - ak.to_numpy(ak.firsts(eta[bbar]))[ok]
        dphi = ak.to_numpy(ak.firsts(phi[b]))[ok] - ak.to_numpy(ak.firsts(phi[bbar]))[ok]
        out[ok] = np.hypot(deta, np.angle(np.exp(1j * dphi)))
    return out


def _column(name):
    return lambda batch: ak.to_numpy(batch[name]).astype(np.float64)


_AUX = ("aux_genpart_isResX", "aux_genpart_mass", "aux_genpart_pid")
QUANTITIES = {
    "m_X": (_AUX, _m_x),
    "x_charged": (_AUX, _x_charged),
    "dr_bb": (("aux_genpart_isResDecayProd", "aux_genpart_pid", "aux_genpart_eta",
               "aux_genpart_phi"), _dr_bb),
    **{c: ((c,), _column(c)) for c in ("truth_mass_ratio", "truth_charge", "truth_parton_pid",
                                       "jet_pt", "jet_sdmass")},
}


# ---------------------------------------------------------------------------------------------
# the tasks

def _higgs(name, labels, lo=100.0, hi=150.0, charged=0.0):
    return ClassDef(name, labels=labels, cuts=(Cut("m_X", lo, hi),
                                               Cut("x_charged", charged, charged + 0.5)))


_QCD = ClassDef("QCD", labels=("QCD_*",))
_TAGGING10 = (
    _QCD,
    _higgs("H->bb", ("X_bb",)),
    _higgs("H->cc", ("X_cc",)),
    _higgs("H->gg", ("X_gg",)),
    ClassDef("H->4q", labels=("X_YY_qqqq", "X_YY_ccqq", "X_YY_ssqq", "X_YY_cccc", "X_YY_ccss",
                              "X_YY_ssss", "X_YY_qqqs", "X_YY_qqqc", "X_YY_qqcs", "X_YY_ccsq",
                              "X_YY_sscq"), cuts=(Cut("m_X", 100.0, 150.0),)),
    ClassDef("H->lvqq", labels=("X_YY_qqev", "X_YY_csev", "X_YY_cqev", "X_YY_sqev",
                                "X_YY_qqmv", "X_YY_csmv", "X_YY_cqmv", "X_YY_sqmv"),
             cuts=(Cut("m_X", 100.0, 150.0),)),
    _higgs("Z->qq", ("X_bb", "X_cc", "X_ss", "X_qq"), 80.0, 100.0),
    _higgs("W->qq", ("X_cs", "X_cq", "X_sq", "X_qq"), 70.0, 90.0, charged=1.0),
    ClassDef("t->bqq", labels=("X_YY_bcs", "X_YY_bcq", "X_YY_bsq"),
             cuts=(Cut("m_X", 150.0, 200.0),)),
    ClassDef("t->blv", labels=("X_YY_bcev", "X_YY_bqev", "X_YY_bcmv", "X_YY_bqmv"),
             cuts=(Cut("m_X", 150.0, 200.0),)),
)
_DR_EDGES = [round(0.1 * i, 1) for i in range(10)] + [np.inf]


def _binary(name, description, sig: ClassDef, bkg: ClassDef) -> Task:
    return Task(name, description, (bkg, sig), signal_class=1)


def _sample(name, sample, *cuts):
    return ClassDef(name, samples=(sample,), cuts=tuple(cuts))


def _ratio(r):
    return Cut("truth_mass_ratio", r - 1e-4, r + 1e-4)


TASKS: dict[str, Task] = {t.name: t for t in [
    Task("tagging10", "10 JetClass-style classes from JetClass-II labels and X mass windows "
         "(res2p, res34p, qcd or published JetClass-II)", _TAGGING10),
    Task("bb-dR", "X->bb jets in 10 bins of dR(b, bbar): 0.1 wide up to 0.9, then > 0.9",
         tuple(ClassDef(f"dR {lo}-{hi:g}" if np.isfinite(hi) else f"dR > {lo}",
                        labels=("X_bb",), cuts=(Cut("dr_bb", lo, hi),))
               for lo, hi in zip(_DR_EDGES[:-1], _DR_EDGES[1:]))),
    _binary("xbb-qcd", "X->bb (any mass) vs QCD, from JetClass-II labels",
            ClassDef("X->bb", labels=("X_bb",)), _QCD),
    _binary("res2p-qcd", "any two-prong resonance (Res2P labels) vs QCD",
            ClassDef("X->2 prongs", labels=("X_??", "X_tauhtau?")), _QCD),
    _binary("wplus-qcd", "W+ (sample wplus) vs QCD (sample qcd)", _sample("W+", "wplus"),
            _sample("QCD", "qcd")),
    _binary("wminus-qcd", "W- (sample wminus) vs QCD", _sample("W-", "wminus"),
            _sample("QCD", "qcd")),
    _binary("wplus-wminus", "W+ vs W-", _sample("W+", "wplus"), _sample("W-", "wminus")),
    _binary("xww-0.6432-qcd", "X->WW at m_W/m_X = 0.6432 vs QCD",
            _sample("X->WW 0.6432", "xww", _ratio(0.6432)), _sample("QCD", "qcd")),
    _binary("xww-0.6432-0.2", "X->WW at m_W/m_X = 0.6432 vs 0.2",
            _sample("X->WW 0.6432", "xww", _ratio(0.6432)), _sample("X->WW 0.2", "xww", _ratio(0.2))),
    _binary("xww-0.8-0.6432", "X->WW at m_W/m_X = 0.8 vs 0.6432",
            _sample("X->WW 0.8", "xww", _ratio(0.8)), _sample("X->WW 0.6432", "xww", _ratio(0.6432))),
    _binary("qg", "quark (sample quark) vs gluon (sample gluon) jets", _sample("quark", "quark"),
            _sample("gluon", "gluon")),
    _binary("xbs", "X(200)->bs (sample xbs; no JetClass-II label) vs every JetClass-II-labelled "
            "jet (res2p, res34p, qcd)", _sample("X(200)->bs", "xbs"),
            ClassDef("JetClass-II", labels=("*",))),
    _binary("tau", "hadronic tau (sample tau) vs QCD", _sample("tau_h", "tau"),
            _sample("QCD", "qcd")),
    # Rieck et al.'s re-simulation study (RS3L): kNN on the representation, per-class recall
    Task("qgtau", "quark vs gluon vs hadronic tau (samples quark, gluon, tau), the three classes "
         "of Rieck et al.'s re-simulation study; its 3:3:1 mix is a property of the data you "
         "give (e.g. files or --max-per-class), not of the task",
         (_sample("quark", "quark"), _sample("gluon", "gluon"), _sample("tau_h", "tau"))),
]}


def get_task(name: str) -> Task:
    """`--task`: a path that exists is a task file (`load_task_file`), else a built-in name."""
    if Path(name).exists():
        if name in TASKS:      # never silently one or the other
            raise ConfigError(f"--task {name} is a built-in task, but a file ./{name} is here "
                              f"too: write --task ./{name} for the file, or run from another "
                              "folder for the built-in task")
        return load_task_file(name)
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"--task {name!r} is not known; choose one of {sorted(TASKS)} "
                          "(jetfm transfer --list-tasks) or give a task file (.yaml)") from None


def cache_key(task: Task) -> str:
    """What the task's jets depend on (embedding cache): a built-in's name, else its classes
    (a task file may reuse a built-in's name with other classes)."""
    return task.name if TASKS.get(task.name) == task else f"file:{task.classes!r}"


# ---------------------------------------------------------------------------------------------
# a user's task: a YAML file in the form of the table above
#   name: xbb-qcd                 (default: the file's stem)
#   description: ...
#   signal_class: 1               (optional: binary tasks' positive class, by index)
#   classes:
#     - {name: QCD, labels: ["QCD_*"]}
#     - name: X->bb
#       labels: [X_bb]            (and/or samples: [...])
#       cuts: [{quantity: m_X, lo: 100, hi: 150}]    (lo inclusive, hi exclusive; either optional)

_TASK_KEYS = ("name", "description", "signal_class", "classes")
_CLASS_KEYS = ("name", "samples", "labels", "cuts")
_CUT_KEYS = ("quantity", "lo", "hi")


def load_task_file(path: str | Path) -> Task:
    doc = load_yaml(path, "--task")

    def fail(key: str, problem: str):
        raise ConfigError(f"--task {path}: {key}: {problem}")

    def mapping(value, key: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            fail(key, f"expected a mapping with keys {', '.join(allowed)}")
        unknown = [str(k) for k in value if k not in allowed]
        if unknown:
            fail(f"{key}.{unknown[0]}" if key else unknown[0],
                 f"unknown key; known: {', '.join(allowed)}")
        return value

    def text(value, key: str) -> str:
        if not isinstance(value, str) or not value:
            fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def strings(value, key: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            fail(key, f"expected a string or a list of strings, got {value!r}")
        return tuple(text(v, f"{key}[{i}]") for i, v in enumerate(items))

    def number(value, key: str, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(key, f"expected a number, got {value!r}")
        return float(value)

    doc = mapping(doc, "", _TASK_KEYS)
    raw = doc.get("classes")
    if not isinstance(raw, list) or len(raw) < 2:
        fail("classes", "expected a list of at least two classes")
    classes = []
    for i, entry in enumerate(raw):
        where = f"classes[{i}]"
        entry = mapping(entry, where, _CLASS_KEYS)
        name = text(entry.get("name"), f"{where}.name")
        if name in [c.name for c in classes]:
            fail(f"{where}.name", f"{name!r} names two classes")
        labels = strings(entry.get("labels", []), f"{where}.labels")
        for j, pattern in enumerate(labels):
            if not any(fnmatch.fnmatchcase(label, pattern) for label in LABEL_NAMES):
                fail(f"{where}.labels[{j}]", f"{pattern!r} matches no JetClass-II label")
        cuts = []
        raw_cuts = entry.get("cuts", [])
        if not isinstance(raw_cuts, list):
            fail(f"{where}.cuts", "expected a list of {quantity, lo, hi}")
        for j, cut in enumerate(raw_cuts):
            key = f"{where}.cuts[{j}]"
            cut = mapping(cut, key, _CUT_KEYS)
            quantity = text(cut.get("quantity"), f"{key}.quantity")
            if quantity not in QUANTITIES:
                fail(f"{key}.quantity", f"{quantity!r} is not known; known: "
                     f"{', '.join(QUANTITIES)}")
            lo, hi = number(cut.get("lo"), f"{key}.lo", -np.inf), number(cut.get("hi"),
                                                                          f"{key}.hi", np.inf)
            if not lo < hi:
                fail(key, f"lo {lo:g} must be below hi {hi:g}")
            cuts.append(Cut(quantity, lo, hi))
        classes.append(ClassDef(name, strings(entry.get("samples", []), f"{where}.samples"),
                                labels, tuple(cuts)))
    signal = doc.get("signal_class")
    if signal is not None and (isinstance(signal, bool) or not isinstance(signal, int)
                               or not 0 <= signal < len(classes)):
        fail("signal_class", f"expected a class index in [0, {len(classes)}), got {signal!r}")
    name = text(doc.get("name", Path(path).stem), "name")
    description = doc.get("description", f"from {path}")
    return Task(name, text(str(description), "description"), tuple(classes), signal)


def _label_mask(labels: np.ndarray, patterns: tuple[str, ...]) -> np.ndarray:
    wanted = [i for i, name in enumerate(LABEL_NAMES) if any(fnmatch.fnmatchcase(name, p)
                                                        for p in patterns)]
    return np.isin(labels, wanted)


def assign_classes(task: Task, batch: ak.Array, path="<batch>") -> np.ndarray:
    """Class index per jet of `batch` (−1: the jet is in no class of the task)."""
    n = len(batch)
    fields = set(ak.fields(batch))
    missing = [c for c in task.columns() if c not in fields]
    if missing:
        raise DataError(f"{path}: task {task.name!r} needs column(s) {missing}"
                        + (" (files from `jetfm generate`; published JetClass-II files have no "
                           "`sample`)" if "sample" in missing else ""))
    cache: dict[str, np.ndarray] = {}
    out = np.full(n, -1, np.int64)
    for k, cls in enumerate(task.classes):
        m = np.ones(n, bool)
        if cls.samples:
            m &= np.isin(ak.to_numpy(batch["sample"]).astype(str), cls.samples)
        if cls.labels:
            m &= _label_mask(ak.to_numpy(batch["jet_label"]), cls.labels)
        for cut in cls.cuts:
            if cut.quantity not in cache:
                cache[cut.quantity] = QUANTITIES[cut.quantity][1](batch)
            v = cache[cut.quantity]
            m &= (v >= cut.lo) & (v < cut.hi)
        clash = m & (out >= 0)
        if clash.any():
            raise ConfigError(f"task {task.name!r}: a jet of {path} is in classes "
                              f"{task.classes[out[clash][0]].name!r} and {cls.name!r}")
        out[m] = k
    return out


def describe_tasks() -> str:
    lines = []
    for t in TASKS.values():
        lines.append(f"{t.name}: {t.description}")
        lines.append("    classes: " + ", ".join(t.class_names))
    return "\n".join(lines)
