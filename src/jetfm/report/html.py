"""The report as one self-contained HTML page (inline CSS, PNGs as base64 data URIs, no script,
no external resource) and as a Markdown summary (tables and headlines, no figures)."""
from __future__ import annotations

import base64
import datetime as _dt
import re
from html import escape

from . import delta_note, fmt, scratch_reference, signal_background
from .output import MARKER
from .plots import probe_caption

__all__ = ["PAGE_CSS", "figure_html", "html_table", "render_html", "render_markdown", "transfer_rows", "pretrain_rows", "eval_rows"]

TRANSFER_HEADERS = ["Run", "Strategy", "Mode", "Labels/class", "Seeds", "Accuracy", "AUC",
                    "Rejection @30%", "Δ accuracy vs baseline"]
UNMEASURABLE = "*"   # marks a rejection of which some seeds had no background jet left
PRETRAIN_HEADERS = ["Run", "Strategy", "Preset", "Last step", "train/loss (last 20)",
                    "val/loss (last)", "probe/acc (last)", "probe/acc (best)"]
EVAL_HEADERS = ["Result", "Strategy", "Jets", "Accuracy", "Macro AUC"]
PRETRAIN_NOTE = ("probe/acc: the online linear probe on the run's own validation jets (see the "
                 "figure); '-': the run logged no such value (yet).")
EVAL_NOTE = ("'-': not defined (a macro AUC needs jets of at least two classes) or not "
             "recorded.")
DISC_NOTE = ("Rejection = 1/ε_B at ε_S = 30 % of each discriminant (its signal labels vs QCD), "
             "measured on the evaluated QCD jets, so capped by their number: no finite value "
             "above about that many can be measured. 'inf': no QCD jet was left at the cut; "
             "'-': not in that evaluation.")

PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f0f0f0}td.text,th.text{text-align:left}
tr.scratch td{background:#fafafa;color:#555}
.gain{color:#1a7f37}.loss{color:#b42318}
.headline{background:#eef6ff;border-left:4px solid #3b82f6;padding:.5em 1em}
figure{margin:1em 0}img{max-width:100%;height:auto}figcaption{font-size:.85em;color:#555}
.note{color:#666;font-size:.85em}code{font-size:.9em}
.warning{background:#fff4e5;border-left:4px solid #d97706;padding:.5em 1em}
"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# --- rows shared by the HTML and the Markdown ---

def _rejection_cell(s, lpc) -> str:
    """Mean ± std of the rejection at ε_S = 30 %, marked where some seeds had no background
    jet of the test set left at that cut (ε_B = 0: beyond what the test set can measure; the
    transfer results hold no value for them and the mean leaves them out)."""
    cell = fmt(*s.get(lpc, "rejection_at_30")[:2], digits=1)
    runs = [r for r in s.result.runs if r["labels_per_class"] == lpc]
    if any(r["roc"] is not None and r["metrics"]["rejection_at_30"] is None for r in runs):
        cell += f" {UNMEASURABLE}"
    return cell


def transfer_rows(series) -> list[tuple[list[str], bool]]:
    """(cells, is_scratch) per (run, strategy, mode, labels-per-class)."""
    rows = []
    for s in series:
        for lpc in s.lpcs():
            acc = s.get(lpc, "accuracy")
            ref = scratch_reference(series, lpc)
            if s.is_scratch:
                delta = "baseline" if ref and ref[2] is s else "-"
            elif ref is None or acc[0] is None:
                delta = "-"
            else:
                delta = f"{100 * (acc[0] - ref[0]):+.1f} pts"
            rows.append(([s.run, s.result.strategy, s.mode_label, str(lpc), str(acc[2]),
                          fmt(*acc[:2]), fmt(*s.get(lpc, "auc")[:2]), _rejection_cell(s, lpc),
                          delta], s.is_scratch))
    return rows


def _signals(series) -> list[str]:
    return list(dict.fromkeys(t for s in series if (t := signal_background(s.result))))


def transfer_notes(series) -> list[str]:
    """The legend of a task's table: what each column, '-' and the marks mean."""
    signals = _signals(series)
    which = f" ({'; '.join(signals)})" if signals else ""
    return [
        "Run: the pre-training run (its folder) whose backbone was transferred; '-': a "
        "baseline, which has none. Values: mean ± std over seeds.",
        f"Rejection = 1/ε_B at ε_S = 30 %{which}. It is measured on the background jets of "
        "the test set, so it is capped by their number: no finite value above about that "
        "many can be measured, and a value near it is a lower bound. '-': no value (no "
        "background jet of the test set was left at the cut in any seed, or the test set "
        f"lacks signal or background jets); '{UNMEASURABLE}': no background jet was left in "
        "some seeds (rejection beyond what the test set measures), which the mean leaves out.",
        delta_note(series) + (" Δ '-' on a baseline row: not the baseline compared against."
                              if any(s.is_scratch for s in series) else ""),
    ]


def _last(points, n: int = 1):
    if not points:
        return "-"
    vals = [v for _, v in points[-n:]]
    return fmt(sum(vals) / len(vals), digits=4)


def pretrain_rows(runs) -> list[list[str]]:
    rows = []
    for r in runs:
        steps = [s for pts in r.curves.values() for s, _ in pts]
        probe = r.curves.get("probe/acc", [])
        rows.append([r.name, r.strategy, str(r.config["train"].get("preset", "-")),
                     str(max(steps)) if steps else "-", _last(r.curves.get("train/loss"), 20),
                     _last(r.curves.get("val/loss")), _last(probe),
                     fmt(max(v for _, v in probe), digits=4) if probe else "-"])
    return rows


def eval_rows(results) -> list[list[str]]:
    def num(v, digits=4):
        return fmt(v if isinstance(v, (int, float)) else None, digits=digits)
    return [[e.name, e.strategy or "-",
             str(e.results.get("n_jets", "-")), num(e.results.get("accuracy")),
             num(e.results.get("auc_macro"))] for e in results]


def _discriminant_rows(results):
    """Rows discriminant, columns one per result: "AUC / 1/εB@30%"."""
    names = list(dict.fromkeys(n for e in results
                               for n in (e.results.get("discriminants") or {})))
    rows = []
    for name in names:
        cells = [name]
        for e in results:
            d = (e.results.get("discriminants") or {}).get(name)
            if not isinstance(d, dict):
                cells.append("-")
                continue
            rej = (d.get("rejection") or {}).get("30")
            rej = rej if isinstance(rej, str) else fmt(rej, digits=1)
            auc = d.get("auc")
            cells.append(f"{fmt(auc if isinstance(auc, (int, float)) else None, digits=4)}"
                         f" / {rej}")
        rows.append(cells)
    return rows


# --- HTML ---

def html_table(headers, rows, text_cols: int = 1, row_classes=None) -> str:
    def cell(tag, i, v):
        cls = ' class="text"' if i < text_cols else ""
        return f"<{tag}{cls}>{escape(str(v))}</{tag}>"
    out = ["<table>", "<thead><tr>" + "".join(cell("th", i, h) for i, h in
                                              enumerate(headers)) + "</tr></thead>", "<tbody>"]
    for k, row in enumerate(rows):
        cls = f' class="{row_classes[k]}"' if row_classes and row_classes[k] else ""
        out.append(f"<tr{cls}>" + "".join(cell("td", i, v) for i, v in enumerate(row))
                   + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def figure_html(png: bytes | None, alt: str, caption: str) -> str:
    if not png:
        return f'<p class="note">{escape(alt)}: nothing to draw.</p>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _group_note(task: str, series) -> str | None:
    """For a task split by test set (groups.py): what this group holds."""
    base = series[0].result.task if series else task
    if task == base:
        return None
    return (f"Only the results of task {base} on this test set ({task[len(base) + 2:-1]}) "
            "are compared here: the task's results use different test jets (see the warnings).")


def render_html(title, inputs, tasks, heads, figures, warnings=()) -> str:
    p = [f"<!DOCTYPE html>\n{MARKER}\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head><body>",
         f"<h1>{escape(title)}</h1>",
         f'<p class="note">Generated {_dt.datetime.now().strftime("%Y-%m-%d %H:%M")} by '
         f"<code>jetfm report</code> from {len(inputs.transfer)} transfer result(s), "
         f"{len(inputs.pretrain)} pre-training run(s), {len(inputs.evaluate)} evaluation(s), "
         f"{len(inputs.anomaly)} anomaly search(es)."
         "</p>", "<nav><ul>"]
    sections = ([("headlines", "Headlines")] if heads else []) + \
        [(f"task-{_slug(t)}", f"Transfer: {t}") for t in tasks] + \
        ([("pretrain", "Pre-training")] if inputs.pretrain else []) + \
        ([("evaluate", "Evaluation")] if inputs.evaluate else []) + \
        ([("anomaly", "Anomaly detection")] if inputs.anomaly else []) + [("inputs", "Inputs")]
    p += [f'<li><a href="#{a}">{escape(n)}</a></li>' for a, n in sections] + ["</ul></nav>"]
    p += [f'<p class="warning">Warning: {escape(w)}.</p>' for w in warnings]
    if heads:
        p.append('<section id="headlines"><h2>Headlines</h2><ul>')
        p += [f'<li class="headline">{escape(h["text"])}</li>' for h in heads]
        p.append("</ul></section>")
    by_task = {h["task"]: h for h in heads}
    for task, series in tasks.items():
        p.append(f'<section id="task-{_slug(task)}"><h2>Transfer: {escape(task)}</h2>')
        if (note := _group_note(task, series)):
            p.append(f'<p class="warning">{escape(note)}</p>')
        if task in by_task:
            p.append(f'<p class="headline">{escape(by_task[task]["text"])}</p>')
        rows = transfer_rows(series)
        p.append(html_table(TRANSFER_HEADERS, [r for r, _ in rows], text_cols=3,
                        row_classes=["scratch" if s else "" for _, s in rows]))
        p += [f'<p class="note">{escape(n)}</p>' for n in transfer_notes(series)]
        skipped = [f"{s.label} at {k.get('labels_per_class')}/class ({k.get('reason', '?')})"
                   for s in series for k in s.result.data.get("skipped") or []
                   if isinstance(k, dict)]
        if skipped:
            p.append(f'<p class="note">Not run: {escape("; ".join(skipped))}.</p>')
        figs = figures["tasks"].get(task, {})
        p.append(figure_html(figs.get("accuracy"), f"{task} accuracy vs labels",
                      "Accuracy vs labelled jets per class; band: mean ± std over seeds."))
        signals = _signals(series)
        which = f" ({'; '.join(signals)})" if signals else ""
        p.append(figure_html(figs.get("roc"), f"{task} ROC",
                      f"ROC{which} at the largest labels per class of each strategy/mode, "
                      "first seed."))
        p.append("</section>")
    if inputs.pretrain:
        p.append('<section id="pretrain"><h2>Pre-training</h2>')
        p.append(html_table(PRETRAIN_HEADERS, pretrain_rows(inputs.pretrain), text_cols=3))
        p.append(figure_html(figures.get("loss"), "pre-training losses",
                      "train/loss (window-averaged) and val/loss per run."))
        p.append(f'<p class="note">{escape(PRETRAIN_NOTE)}</p>')
        if figures.get("probe"):
            p.append(figure_html(figures["probe"], "online probe accuracy",
                          probe_caption(inputs.pretrain)))
        p.append("</section>")
    if inputs.evaluate:
        p.append('<section id="evaluate"><h2>Evaluation</h2>')
        p.append(html_table(EVAL_HEADERS, eval_rows(inputs.evaluate), text_cols=2))
        p.append(f'<p class="note">{escape(EVAL_NOTE)}</p>')
        rows = _discriminant_rows(inputs.evaluate)
        if rows:
            p.append("<h3>Discriminants: AUC / rejection at ε<sub>S</sub> = 30 %</h3>")
            p.append(html_table(["Discriminant"] + [e.name for e in inputs.evaluate], rows))
            p.append(f'<p class="note">{escape(DISC_NOTE)}</p>')
        p.append("</section>")
    if inputs.anomaly:
        p.append('<section id="anomaly"><h2>Anomaly detection</h2>')
        for sec in figures.get("anomaly", []):
            p.append(f"<h3>{escape(sec['title'])}</h3>")
            p.append(html_table(sec["headers"], sec["rows"], text_cols=2))
            p.append(f'<p class="note">{escape(sec["note"])}</p>')
            p += [figure_html(png, name, name) for name, png in sec["figures"]]
        p.append("</section>")
    p.append('<section id="inputs"><h2>Inputs</h2><ul>')
    paths = [r.path for r in inputs.transfer] + [r.path for r in inputs.pretrain] + \
        [r.path for r in inputs.evaluate] + [r.path for r in inputs.anomaly]
    p += [f"<li><code>{escape(str(x))}</code></li>" for x in paths]
    p.append("</ul></section></body></html>\n")
    return "\n".join(p)


# --- Markdown ---

def _md_table(headers, rows) -> str:
    def clean(v):
        return str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(map(clean, headers)) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(map(clean, r)) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(title, inputs, tasks, heads, html_name: str, warnings=()) -> str:
    md = [MARKER, f"# {title}", "", f"Figures: see `{html_name}`. What the columns, '-' and the "
          "marks mean: the notes under each table.", ""]
    if warnings:
        md += ["## Warnings", ""] + [f"- {w}" for w in warnings] + [""]
    if heads:
        md += ["## Headlines", ""] + [f"- {h['text']}" for h in heads] + [""]
    for task, series in tasks.items():
        note = _group_note(task, series)
        md += [f"## Transfer: {task}", ""] + ([note, ""] if note else []) + \
            [_md_table(TRANSFER_HEADERS, [r for r, _ in transfer_rows(series)]), ""]
        md += [f"- {n}" for n in transfer_notes(series)] + [""]
    if inputs.pretrain:
        md += ["## Pre-training", "", _md_table(PRETRAIN_HEADERS, pretrain_rows(inputs.pretrain)),
               "", PRETRAIN_NOTE, ""]
    if inputs.evaluate:
        md += ["## Evaluation", "", _md_table(EVAL_HEADERS, eval_rows(inputs.evaluate)), "",
               EVAL_NOTE, ""]
    if inputs.anomaly:
        from .anomaly import sections
        md += ["## Anomaly detection", ""]
        for sec in sections(inputs.anomaly):
            md += [f"### {sec['title']}", "", _md_table(sec["headers"], sec["rows"]), "",
                   sec["note"], ""]
    return "\n".join(md)
