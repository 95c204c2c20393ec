"""The jobs of a plan that read the pre-training runs: evaluate, export, transfer (a job
entry expands to every task x mode x backbone x representation it names) and anomaly."""
from __future__ import annotations

from dataclasses import dataclass

from ..pretrain.registry import REGISTRY
from .checks import NAME, as_list, fail, command_options, mapping, relative, show, strings

BASELINES = ("random", "scratch")          # transfer backbones that are not runs
# run selectors a transfer job may name: every run, or those whose strategy trains no head
SELECTORS = {"all": lambda strategy: True,
             "self-supervised": lambda strategy: not REGISTRY[strategy].head}
OWN = "own"       # representation: the strategy's own default (registry), cls for baselines
ANOMALY_METHODS = ("cwola", "iad", "autoencoder")


@dataclass(frozen=True)
class Job:
    """An evaluate, export, transfer or anomaly job: what its command needs, and where in the
    plan it comes from (`where`, for error lines)."""
    kind: str
    where: str
    out: str                   # output, relative to the study folder
    run: str | None = None     # evaluate/export: the run; transfer: the backbone
    task: str | None = None
    mode: str | None = None    # transfer mode or anomaly method
    representation: str | None = None
    data: tuple[str, ...] = ()          # data references (NAME or NAME/path/in/it)
    labels: str | None = None           # "10,100,all"
    seeds: int | None = None
    extra: tuple = ()          # anomaly: (flag, values) pairs that hold data or runs
    options: tuple = ()        # (key, value) pairs, passed as --key value



class JobParser:
    """Reads the job entries of a plan against its data (`self.data`) and runs
    (`self.runs`); `self.outs` maps every output to the plan key that writes it."""
    data: dict
    runs: dict
    outs: dict

    @staticmethod
    def _options(entry: dict, where: str) -> tuple:
        return tuple(command_options(entry.get("options"), f"{where}.options").items())

    def _claim(self, out: str, where: str) -> None:
        if out in self.outs:
            fail(where, f"writes {out}, as {self.outs[out]} does; give one another name")
        self.outs[out] = where

    def _run_name(self, value, where: str) -> str:
        if not isinstance(value, str) or value not in self.runs:
            fail(where, f"no pre-training run {show(value)} (runs: "
                 f"{', '.join(self.runs) or 'none'})")
        return value

    def _data_refs(self, value, where: str) -> tuple[str, ...]:
        """NAME, or NAME/path inside that data folder (e.g. one of its files)."""
        refs = strings(value, where)
        for ref in refs:
            if not any(ref == n or ref.startswith(n + "/") for n in self.data) or \
                    ".." in ref.split("/"):
                fail(where, f"{ref!r} is not a data entry nor a path inside one (data: "
                     f"{', '.join(self.data) or 'none'})")
        return tuple(refs)

    def _evaluate(self, entry, where: str) -> list[Job]:
        entry = {"run": entry} if isinstance(entry, str) else entry
        mapping(entry, where, ("run", "out", "data", "options"), ("run",))
        run = self._run_name(entry["run"], f"{where}.run")
        out = relative(entry.get("out", f"eval/{run}"), f"{where}.out")
        self._claim(out, where)
        data = self._data_refs(entry["data"], f"{where}.data") if entry.get("data") else ()
        return [Job("evaluate", where, out, run=run, data=data,
                    options=self._options(entry, where))]

    def _export(self, entry, where: str) -> list[Job]:
        entry = {"run": entry} if isinstance(entry, str) else entry
        mapping(entry, where, ("run", "out", "options"), ("run",))
        run = self._run_name(entry["run"], f"{where}.run")
        out = relative(entry.get("out", f"runs/{run}/model.onnx"), f"{where}.out")
        self._claim(out, where)
        return [Job("export", where, out, run=run,
                    options=self._options(entry, where))]

    def _transfer(self, entry, where: str) -> list[Job]:
        from ..models.heads import REPRESENTATIONS
        from ..transfer.modes import EMBEDDING, MODES, modes_of
        EMBEDDING_MODES = modes_of(EMBEDDING)
        from ..transfer.tasks import TASKS
        mapping(entry, where, ("task", "mode", "backbones", "data", "labels", "seeds",
                               "representation", "suffix", "options"),
                ("task", "backbones", "data"))
        tasks = strings(entry["task"], f"{where}.task")
        for t in tasks:
            if t not in TASKS:
                fail(f"{where}.task", f"unknown task {t!r}; known: {', '.join(TASKS)}")
        modes = strings(entry.get("mode", "linear"), f"{where}.mode")
        for m in modes:
            if m not in MODES:
                fail(f"{where}.mode", f"unknown mode {m!r}; known: {', '.join(MODES)}")
        backbones = self._backbones(entry["backbones"], f"{where}.backbones")
        reps = (strings(entry["representation"], f"{where}.representation")
                if entry.get("representation") is not None else [None])
        for r in reps:
            if r is not None and r not in (*REPRESENTATIONS, OWN):
                fail(f"{where}.representation", f"unknown representation {r!r}; known: "
                     f"{', '.join((*REPRESENTATIONS, OWN))}")
        if reps != [None] and any(m not in EMBEDDING_MODES for m in modes):
            fail(f"{where}.representation", "only the frozen modes "
                 f"({', '.join(EMBEDDING_MODES)}) read a representation")
        suffix = entry.get("suffix")
        if suffix is not None and not (isinstance(suffix, str) and NAME.fullmatch(suffix)):
            fail(f"{where}.suffix", "letters, digits, _ . + -")
        data = self._data_refs(entry["data"], f"{where}.data")
        labels = self._labels(entry.get("labels"), f"{where}.labels")
        seeds = entry.get("seeds")
        if seeds is not None and (not isinstance(seeds, int) or isinstance(seeds, bool)
                                  or seeds < 1):
            fail(f"{where}.seeds", f"expected an integer >= 1, got {show(seeds)}")
        opts = self._options(entry, where)
        jobs = []
        for task in tasks:
            for mode in modes:
                for backbone in backbones:
                    self._pairing(backbone, mode, where)
                    own = (REGISTRY[self.runs[backbone].strategy].representation
                           if backbone in self.runs else "cls")
                    for rep in dict.fromkeys(own if r == OWN else r for r in reps):
                        name = "-".join(p for p in (backbone, mode, rep, suffix) if p)
                        out = f"transfer/{task}/{name}"
                        self._claim(out, where)
                        jobs.append(Job("transfer", where, out, run=backbone, task=task,
                                        mode=mode, representation=rep, data=data,
                                        labels=labels, seeds=seeds, options=opts))
        return jobs

    def _backbones(self, value, where: str) -> list[str]:
        out = []
        for b in strings(value, where):
            if b in SELECTORS:
                out += [n for n, r in self.runs.items() if SELECTORS[b](r.strategy)]
            elif b in BASELINES:
                out.append(b)
            else:
                out.append(self._run_name(b, where))
        if not out:
            fail(where, "selects no backbone (no pre-training run matches)")
        return list(dict.fromkeys(out))

    @staticmethod
    def _pairing(backbone: str, mode: str, where: str) -> None:
        """Ask the mode's record which backbones it takes (a registered mode included)."""
        from ..transfer.modes import RANDOM, RUN, SCRATCH, get_mode, modes_accepting
        kind = {"random": RANDOM, "scratch": SCRATCH}.get(backbone, RUN)
        if kind not in get_mode(mode).backbones:
            fail(where, f"backbone {backbone!r} with mode {mode!r}: this mode takes "
                 f"{', '.join(get_mode(mode).backbones)} backbones; backbone {backbone!r} "
                 f"goes with {', '.join(modes_accepting(kind))}")

    @staticmethod
    def _labels(value, where: str) -> str | None:
        if value is None:
            return None
        items = as_list(value)
        if not items or not all(i == "all" or (isinstance(i, int) and not isinstance(i, bool)
                                                and i >= 1) for i in items):
            fail(where, f"expected jets per class (integers >= 1 or 'all'), got {show(value)}")
        return ",".join(map(str, items))

    def _anomaly(self, entry, where: str) -> list[Job]:
        mapping(entry, where, ("method", "name", "data", "background", "signal", "inputs",
                               "options"), ("method",))
        method = entry["method"]
        if method not in ANOMALY_METHODS:
            fail(f"{where}.method", f"expected one of {', '.join(ANOMALY_METHODS)}, got "
                 f"{show(method)}")
        name = entry.get("name", method)
        if not isinstance(name, str) or not NAME.fullmatch(name):
            fail(f"{where}.name", "letters, digits, _ . + -")
        extra = []
        for key in ("data", "background"):
            if entry.get(key):
                extra.append((key, self._data_refs(entry[key], f"{where}.{key}")))
        signal = entry.get("signal")
        if isinstance(signal, dict):        # autoencoder: signal models by name
            models = []
            for label, ref in signal.items():
                if not isinstance(ref, str):
                    fail(f"{where}.signal.{label}", f"expected one data name, got {show(ref)}")
                models.append(f"{label}={self._data_refs(ref, f'{where}.signal.{label}')[0]}")
            extra.append(("signal", tuple(models)))
        elif signal:
            extra.append(("signal", self._data_refs(signal, f"{where}.signal")))
        if entry.get("inputs"):
            inputs = []
            for item in strings(entry["inputs"], f"{where}.inputs"):
                kind, sep, run = item.partition(":")
                if sep:
                    self._run_name(run, f"{where}.inputs")
                inputs.append(item)
            extra.append(("inputs", tuple(inputs)))
        out = f"anomaly/{name}"
        self._claim(out, where)
        return [Job("anomaly", where, out, mode=method, extra=tuple(extra),
                    options=self._options(entry, where))]


__all__ = ["Job", "JobParser", "BASELINES", "SELECTORS", "OWN"]
