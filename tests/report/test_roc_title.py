"""A ROC figure reads at a glance: which class is signal stays on the image, and the
random-guess line looks like no arm's curve."""
from __future__ import annotations

import contextlib
import json

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.text import Text

from jetfm.report import build_report, plots

from .test_report import BASE, write_transfer


def test_a_multi_class_roc_title_stays_on_the_figure(tmp_path, monkeypatch):
    # tagging10's note ("... the other 8 classes left out") made one centred title line
    # wider than the figure: "signal: H->bb" was cut off the left edge of the PNG
    real, drawn = plots.png_figure, []

    @contextlib.contextmanager
    def spy(**kw):
        with real(**kw) as (fig, ax, png):
            yield fig, ax, png
        drawn.extend((t, fig) for t in fig.findobj(Text) if "signal: Hbb" in t.get_text())

    monkeypatch.setattr(plots, "png_figure", spy)
    for strategy, mode in [("clip", "linear"), ("scratch", "scratch")]:
        res = write_transfer(tmp_path / "in" / strategy, strategy, mode, task="tagging10")
        data = json.loads(res.read_text())
        data.update(classes=["QCD", "Hbb", *(f"class{i}" for i in range(8))], signal_class=None)
        res.write_text(json.dumps(data))
    build_report([tmp_path / "in"], tmp_path / "r.html")
    assert drawn, "the ROC figure names the signal class"
    for text, fig in drawn:
        box = text.get_window_extent()
        assert 0 <= box.x0 and box.x1 <= fig.bbox.width, (text.get_text(), box, fig.bbox)


def test_random_guess_looks_like_no_curve_of_the_quickstart(tmp_path, monkeypatch):
    # eight arms (six strategies, random features, scratch): scratch took tab10's grey, and
    # its dotted line was the random-guess line's twin
    real, lines = plots.png_figure, []

    @contextlib.contextmanager
    def spy(**kw):
        with real(**kw) as (fig, ax, png):
            yield fig, ax, png
        if any(line.get_label() == "random guess" for line in ax.get_lines()):
            lines.extend(ax.get_lines())

    monkeypatch.setattr(plots, "png_figure", spy)
    arms = [(s, "linear") for s in ("a", "b", "c", "d", "e", "f", "random")] + \
        [("scratch", "scratch")]
    for strategy, mode in arms:
        monkeypatch.setitem(BASE, (strategy, mode), 0.5)
        write_transfer(tmp_path / "in" / strategy, strategy, mode)
    build_report([tmp_path / "in"], tmp_path / "r.html")
    guess = next(line for line in lines if line.get_label() == "random guess")
    colour = np.array(to_rgb(guess.get_color()))
    twins = [line.get_label() for line in lines if line is not guess
             and line.get_linestyle() == guess.get_linestyle()
             and np.abs(np.array(to_rgb(line.get_color())) - colour).max() < 0.2]
    assert not twins, f"drawn like the random-guess line: {twins}"
