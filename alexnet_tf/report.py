"""The report of a study (`alexnet_tf.study`), made from its run folders only:

    WORKDIR/REPORT.md     per variant, a table of its runs (wall time, median epoch time,
                          final and best validation top-1/top-5 error, epochs and steps to
                          the training-error threshold of Fig. 1) and, when the rate
                          changed, its learning-rate steps; each variant's difference to
                          the baseline with a 95 % interval and a verdict against the
                          paper ("not comparable" when a run ended at chance); with
                          `evaluate=True`, the centre and 10-crop errors of every
                          finished model
    WORKDIR/curves.png    training and validation top-1 error per epoch: mean over seeds,
                          min-max band, one line per variant
    WORKDIR/fig1.png      with a study's `speedup`: the paper's Fig. 1, training error of
                          the fast (solid) and slow (dashed) variant, each seed; and in
                          REPORT.md the ratio of their epochs to the threshold, seed by seed
    WORKDIR/conv1-*.png   with `evaluate=True`: each variant's conv1 kernels (Fig. 3)

`copy_results` copies the report, the figures it shows and each run's small JSON files to
a folder to commit (tools/study.py --results).

Here: reading the run folders, the tables and figures, and the copy. The numbers (run
summaries, Welch t-intervals of the differences, verdicts, speed-ups) are
`alexnet_tf.analysis`'s; the runs' times (wall, per epoch) and their format are
`alexnet_tf.study`'s.
"""
import os
import re
import shutil

from alexnet_tf import analysis as A
from alexnet_tf import study as S
from alexnet_tf.config import TRAIN_EVAL_KEY
from alexnet_tf.files import read_json, write_json, write_text
from alexnet_tf.rundir import RunDir


# ---------------------------------------------------------------------------- runs

def _run_summary(directory, threshold, key="top1_error"):
    """One finished run's row of the report (`analysis.run_summary`), from its folder."""
    h = S.history(directory)
    config = RunDir(directory).read_config() or {}
    return A.run_summary(h, S.wall_seconds(directory), S.median_epoch_seconds([h]),
                         config.get("model", {}).get("num_classes"), threshold, key)


def collect(spec, workdir):
    """{variant: {"runs": {seed: row}, "histories": [...], "mean": row}} for the finished
    runs, and the names of the unfinished ones."""
    results, unfinished = {}, []
    for variant in spec["variants"]:
        runs, histories = {}, []
        for seed in spec["seeds"]:
            directory = S.run_directory(workdir, variant, seed)
            if not S.is_finished(directory, spec["epochs"][variant]):
                unfinished.append(f"{variant}/seed-{seed}")
                continue
            runs[seed] = _run_summary(directory, spec["threshold"],
                                      spec.get("threshold_key", "top1_error"))
            histories.append(S.history(directory))
        results[variant] = {"runs": runs, "histories": histories,
                            "mean": A.mean_row(runs.values())}
    return results, unfinished


def evaluate_run(directory, data_path, data_dir=None):
    """Centre and 10-crop top-1/top-5 error of a finished run's Keras model on `data_path`
    (with `data_dir` for tfds data), kept in the run's `RunDir.evaluation` until the model
    or the data changes."""
    model = RunDir(directory).model
    key = {"model_mtime_ns": os.stat(model).st_mtime_ns, "data": data_path,
           "data_dir": data_dir}
    path = RunDir(directory).evaluation
    cached = read_json(path)
    if cached and cached["key"] == key:
        return cached["results"]
    from alexnet_tf.evaluate import evaluate_paths  # TensorFlow: only when evaluating
    results = {"conv1_init_corr": conv1_init_correlation(directory)}
    for crops, ten_crop in (("centre", False), ("10-crop", True)):
        result = evaluate_paths([model], data_path, ten_crop=ten_crop, data_dir=data_dir)
        # top5_error, or top<k>_error with fewer than 5 classes
        results[crops] = {k: float(v) for k, v in result.items() if k.startswith("top")}
    write_json(path, {"key": key, "results": results})
    return results


def conv1_init_correlation(directory):
    """The correlation of a finished run's conv1 kernel (its Keras model) with its kernel
    at step 0 (`RunDir.conv1_init`, `alexnet_tf.probe`): near 1, conv1 has hardly left its random
    start (as in the He + inputs / 64 runs); None for a run that has no initial kernel."""
    from alexnet_tf import classifier, probe  # TensorFlow: only when evaluating
    init = probe.load_conv1_init(directory)
    if init is None:
        return None
    model = classifier.load(RunDir(directory).model)
    return probe.correlation(probe.conv1_kernel(model), init)


def kernels_figure(directory, path):
    """The conv1 kernels of a finished run's Keras model as a PNG (the paper's Fig. 3;
    `visualize.conv1_grid`, each pixel 4x4)."""
    from alexnet_tf import classifier, visualize  # TensorFlow: only when evaluating
    model = classifier.load(RunDir(directory).model)
    visualize.save_png(visualize.conv1_grid(model), path, zoom=4)


def validation_data(spec, directory):
    """What `--evaluate` reads for a run, as `(data path, tfds data_dir or None)`: the
    study's `validation_data`, else the run's own validation data (from its
    saved config; `tfds:NAME:SPLIT` for tfds data, see `data.read_path`)."""
    if spec.get("validation_data"):
        return spec["validation_data"], None
    from alexnet_tf.build import shards_glob  # TensorFlow: only when evaluating
    data = RunDir(directory).read_config()["data"]
    if data["source"] in ("generated", "images"):  # built into the run's folder
        return shards_glob(RunDir(directory).data, "validation"), None
    if data["source"] in ("tfrecord", "folder"):
        return data["validation"], None
    if data["source"] == "tfds":
        return f"tfds:{data['train']}:{data['validation_split']}", data["data_dir"]
    raise S.StudyError(f"{directory}: --evaluate needs the study's validation_data for "
                       f"{data['source']!r} data")


# ---------------------------------------------------------------------------- report

def _progress(spec, workdir, name):
    """"baseline/seed-0", or with epochs done "baseline/seed-0: 31 of 40 epochs, validation
    top-1 25.30 %" (an unfinished run's state, for the report's header)."""
    variant, seed = name.rsplit("/seed-", 1)
    h = S.history(S.run_directory(workdir, variant, int(seed)))
    if not h:
        return name
    val = f", validation top-1 {_pct(h[-1]['val_top1_error'])}" if "val_top1_error" in h[-1] \
        else ""
    return f"{name}: {len(h)} of {spec['epochs'][variant]} epochs{val}"


def _pct(x):
    return "–" if x is None else f"{100 * x:.2f} %"


def _pp(x):
    return "–" if x is None else f"{100 * x:+.2f} pp"


def _time(seconds):
    return "–" if seconds is None else S.duration(seconds)


def curves_figure(spec, results, path):
    """curves.png: training and validation top-1 error per epoch, mean over seeds with a
    min-max band, one line per variant; the threshold of Fig. 1 dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    training = spec.get("threshold_key", "top1_error")
    for ax, key, title in zip(axes, (training, "val_top1_error"),
                              ("training top-1 error", "validation top-1 error")):
        for variant, result in results.items():
            if not result["histories"]:
                continue
            epochs, mean, low, high = A.curve_band(result["histories"], key)
            n = len(result["histories"])
            line, = ax.plot(epochs, mean, marker="o" if len(epochs) < 20 else None,
                            label=f"{variant} ({n} seed{'s' * (n > 1)})")
            ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.2)
        ax.set(title=title, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].axhline(spec["threshold"], color="gray", linestyle="--", linewidth=1,
                    label=f"{100 * spec['threshold']:g} % (Fig. 1)")
    axes[0].set_ylabel("top-1 error (mean over seeds; band: min-max)", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()  # one legend, below the curves
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), frameon=False)
    rows = -(-len(labels) // 4)
    fig.tight_layout(rect=(0, 0.06 * rows, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fig1_figure(spec, results, path):
    """fig1.png: the paper's Fig. 1, training top-1 error against epochs of the
    `speedup` variants, the fast one solid and the slow one dashed, one line per seed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.2))
    key = spec.get("threshold_key", "top1_error")
    for role, style, color in (("fast", "-", "tab:blue"), ("slow", "--", "tab:red")):
        variant = spec["speedup"][role]
        for i, h in enumerate(results[variant]["histories"]):
            h = [e for e in h if key in e]
            ax.plot([e["epoch"] + 1 for e in h], [e[key] for e in h], style,
                    color=color, alpha=0.8, label=variant if i == 0 else None)
    ax.axhline(spec["threshold"], color="gray", linewidth=1)
    ax.set(xlabel="epochs", ylabel="training top-1 error", ylim=(0, 1),
           title=f"Fig. 1: epochs to {100 * spec['threshold']:g} % training error")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _speedup_section(spec, speed):
    s = spec["speedup"]
    threshold = f"{100 * spec['threshold']:g} %"
    lines = ["![Fig. 1](fig1.png)", "",
             f"Epochs of training until the training top-1 error first reaches {threshold} "
             f"(linear interpolation between epochs), `{s['slow']}` against `{s['fast']}`, "
             f"seed by seed; the ratio is slow / fast.", "",
             f"| seed | {s['slow']} | {s['fast']} | ratio |", "| --- | --- | --- | --- |"]
    for seed, (a, b, r) in speed["seeds"].items():
        cells = ["not reached" if v is None else f"{v:.2f}" for v in (a, b)]
        ratio = (f"{r:.2f}x" if r is not None else f"> {speed['lower_bounds'][seed]:.2f}x"
                 if seed in speed["lower_bounds"] else "–")
        lines.append(f"| {seed} | {cells[0]} | {cells[1]} | {ratio} |")
    if speed["mean"] is None:
        lines += ["", "No seed has both runs reaching the threshold: no ratio yet."]
    else:
        ratios = [r for _, _, r in speed["seeds"].values() if r is not None]
        interval = ("" if speed["low"] is None else
                    f", 95 % t-interval [{speed['low']:.2f}x, {speed['high']:.2f}x]")
        lines += ["", f"Mean ratio {speed['mean']:.2f}x over {speed['n']} seeds (range "
                      f"{min(ratios):.2f}x to {max(ratios):.2f}x{interval})"
                      + (f"; the paper: {speed['paper']:g}x." if speed["paper"] else ".")]
    if speed["lower_bounds"]:
        lines += ["", f"Left out of the mean: {len(speed['lower_bounds'])} seed(s) whose "
                      f"`{s['slow']}` run never reached {threshold} (ratio above the bound "
                      f"shown), so the mean understates the speed-up."]
    return lines + [""]


def _variant_table(variant, result, spec, top5):
    overrides = {**spec["overrides"], **spec["variants"][variant]}
    lines = [f"### {variant}", "",
             "Overrides: " + (", ".join(f"`{k}={v!r}`" for k, v in overrides.items())
                              or "none") + ".", ""]
    effect = spec["paper_effects"].get(variant)
    if effect:
        text = f" ({effect['text']})" if effect.get("text") else ""
        lines += [f"Paper: {_pp(effect['top1'])} top-1 error against the baseline{text}.", ""]
    if not result["runs"]:
        return lines + ["No finished run yet.", ""]
    threshold = f"epochs to {100 * spec['threshold']:g} % training top-1"
    head = ["seed", "epochs", "wall time", "median epoch", "final val top-1",
            "best val top-1"]
    head += ["final val top-5", "best val top-5"] * top5 + [threshold]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    reached = [r["epochs_to_threshold"] for r in result["runs"].values()
               if r["epochs_to_threshold"] is not None]
    rows = [(str(seed), r) for seed, r in result["runs"].items()] + [("mean", result["mean"])]
    for name, r in rows:
        cells = [name, f"{r['epochs']:.3g}", _time(r["seconds"]),
                 _time(r["median_epoch_seconds"]), _pct(r["final_val_top1"]),
                 _pct(r["best_val_top1"])]
        cells += [_pct(r["final_val_top5"]), _pct(r["best_val_top5"])] * top5
        if name == "mean":
            steps = r["steps_to_threshold"]
            cells.append(f"{r['epochs_to_threshold']:.2f}" + (
                "" if steps is None else f", {steps:.0f} steps") + f" ({len(reached)} of "
                f"{len(result['runs'])} reached)" if reached else "not reached")
        else:
            t, steps = r["epochs_to_threshold"], r["steps_to_threshold"]
            cells.append("not reached" if t is None else f"{t:.2f}" + (
                "" if steps is None else f" ({steps:.0f} steps)"))
        lines.append("| " + " | ".join(cells) + " |")
    stuck = [str(seed) for seed, r in result["runs"].items() if r["learned_nothing"]]
    if stuck:
        lines += ["", f"Learned nothing (training loss at chance, ln of the number of "
                      f"classes, in the last epoch): seed {', '.join(stuck)}."]
    steps = {seed: A.lr_steps(h) for seed, h in zip(result["runs"], result["histories"])}
    if any(len(s) > 1 for s in steps.values()):
        lines += ["", "Learning rate (epochs counted from 1): " + "; ".join(
            f"seed {seed}: " + ", ".join(f"{lr:.3g} from epoch {epoch}" for epoch, lr in s)
            for seed, s in steps.items()) + "."]
    return lines + [""]


def _differences_table(spec, diffs):
    if diffs is None:
        return ["No variant is named as the baseline in the study: no differences.", ""]
    if not diffs:
        return [f"The study has no variant besides `{spec['baseline']}`: no differences.", ""]
    against = ("its baseline (the table's second column)" if isinstance(spec["baseline"], dict)
               else f"`{spec['baseline']}`")
    lines = [f"Final validation top-1 error, variant minus {against}, mean over "
             f"seeds, with a 95 % Welch t-interval (unequal variances, not paired by seed). "
             f"The verdict compares the interval with the sign of the paper's difference; "
             f"it is \"not comparable\" when a run of either side learned nothing "
             f"(training loss at chance in its last epoch).",
             "", "| variant | baseline | seeds (variant, baseline) | difference | 95 % interval "
             "| df | paper | verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for variant, d in diffs.items():
        effect = spec["paper_effects"].get(variant)
        paper = "–" if not effect else (_pp(effect["top1"]) + (
            f" ({effect['text']})" if effect.get("text") else ""))
        interval = "–" if d["low"] is None else f"[{_pp(d['low'])}, {_pp(d['high'])}]"
        df = "–" if d["df"] is None else f"{d['df']:.1f}"
        lines.append(f"| {variant} | {d['baseline']} | {d['n'][0]}, {d['n'][1]} | "
                     f"{_pp(d['difference'])} | "
                     f"{interval} | {df} | {paper} | {d['verdict']} |")
    return lines + [""]


def probe_summaries(spec, workdir):
    """{variant: {seed: summary}} of the finished and unfinished runs that have a probe.json
    from step 0 on (`alexnet_tf.probe`): `plateau` (the first probed step with loss below ln C - 0.2, None
    if none), `steps` (the last probed step), and, from the first record (step 0) and the
    last, `start` and `end`: {layer: {act_rms, grad_rms, update_ratio, dead, divisor,
    init_corr}} as recorded."""
    from alexnet_tf import probe  # TensorFlow: only for studies that probe
    out = {}
    for variant in spec["variants"]:
        for seed in spec["seeds"]:
            directory = S.run_directory(workdir, variant, seed)
            records = read_json(RunDir(directory).probe)
            if not records:
                continue
            config = RunDir(directory).read_config() or {}
            classes = config.get("model", {}).get("num_classes", 1000)
            if records[0]["step"] != 0:  # the probe was switched on during the run
                continue
            out.setdefault(variant, {})[seed] = {
                "plateau": probe.plateau_steps(records, classes), "steps": records[-1]["step"],
                "start": records[0]["layers"], "end": records[-1]["layers"],
                "records": records}
    return out


def probe_figure(probes, path):
    """probe.png: from each run's probe.json, against the training step: the fixed
    batch's loss, conv1's correlation with its start, lrn1's median divisor / k**beta, and
    conv1's and fc7's update ratio (log scale). One colour per variant, one line per seed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [("loss", lambda r: r["loss"], "loss on the probe batch", False),
              ("conv1 init_corr", lambda r: r["layers"]["conv1"].get("init_corr"),
               "conv1: correlation with its start", False),
              ("lrn1 divisor", lambda r: r["layers"].get("lrn1", {}).get("divisor"),
               "lrn1: median divisor / k**beta", False),
              ("conv1 update", lambda r: r["layers"]["conv1"].get("update_ratio"),
               "conv1: lr x |grad| / |w|", True),
              ("fc7 update", lambda r: r["layers"].get("fc7", {}).get("update_ratio"),
               "fc7: lr x |grad| / |w|", True)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (_, get, title, log) in zip(axes, panels):
        for i, (variant, runs) in enumerate(probes.items()):
            for j, (seed, p) in enumerate(runs.items()):
                points = [(r["step"], get(r)) for r in p["records"] if get(r) is not None]
                if points:
                    ax.plot(*zip(*points), color=colors[i % len(colors)],
                            linestyle=("-", "--", ":")[j % 3], linewidth=1,
                            label=f"{variant}, seed {seed}")
        ax.set(title=title, xlabel="step")
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), frameon=False,
               fontsize=8)
    fig.tight_layout(rect=(0, 0.05 * -(-len(labels) // 5), 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _g(x, digits=2):
    return "–" if x is None else f"{x:.{digits}g}"


def _probe_section(probes):
    layers = [name for name in ("conv1", "lrn1", "conv2", "lrn2", "conv3", "conv4", "conv5",
                                "fc6", "fc7", "fc8")
              if any(name in p["start"] for runs in probes.values() for p in runs.values())]
    lines = ["![probes](probe.png)", "",
             "From each run's probe.json (`alexnet_tf.probe`: one fixed batch of validation "
             "images, centre crop, dropout off, measured every `probe_every_steps` steps). "
             "Plateau: the first probed step whose loss is below ln C - 0.2 (\"not left\" if "
             "none, with the last probed step). At the end: conv1's correlation with its "
             "start (1: never moved), lrn1's and lrn2's median divisor / k**beta over the "
             "non-zero activations (1: a constant factor), and the largest share of dead "
             "ReLU units (0 for every image of the batch) of any layer.", "",
             "| variant | seed | plateau (steps) | conv1 vs start | lrn1 divisor | "
             "lrn2 divisor | dead units (layer) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for variant, runs in probes.items():
        for seed, p in runs.items():
            end = p["end"]
            dead = max(((v.get("dead", 0.0), k) for k, v in end.items()), default=(0, "–"))
            plateau = (str(p["plateau"]) if p["plateau"] is not None
                       else f"not left in {p['steps']}")
            lines.append(f"| {variant} | {seed} | {plateau} | "
                         f"{_g(end['conv1'].get('init_corr'), 3)} | "
                         f"{_g(end.get('lrn1', {}).get('divisor'), 3)} | "
                         f"{_g(end.get('lrn2', {}).get('divisor'), 3)} | "
                         f"{100 * dead[0]:.0f} % ({dead[1]}) |")
    lines += ["", "At step 0 (the initialization), first seed of each variant: the root mean "
                  "square of each layer's output (after its nonlinearity) and of the loss's "
                  "gradient with respect to its kernel.", "",
              "| variant | quantity | " + " | ".join(layers) + " |",
              "| --- | --- |" + " --- |" * len(layers)]
    for variant, runs in probes.items():
        start = next(iter(runs.values()))["start"]
        for key, label in (("act_rms", "output rms"), ("grad_rms", "kernel gradient rms")):
            lines.append(f"| {variant} | {label} | " + " | ".join(
                _g(start.get(name, {}).get(key)) for name in layers) + " |")
    return lines + [""]


def _evaluation_table(evaluation):
    first = next(r for runs in evaluation.values() for r in runs.values())
    k = next(k for k in first["centre"] if k != "top1_error")  # top5, or top<k> below 5 classes
    top_k = k.replace("_error", "").replace("top", "top-")
    lines = ["Each finished run's Keras model on its validation data; mean over seeds. "
             "conv1 vs start: the correlation of its conv1 kernel with the kernel it "
             "started from (1: never moved; – for runs made before it was "
             "saved), per seed.", "",
             f"| variant | seeds | centre top-1 | centre {top_k} | 10-crop top-1 | "
             f"10-crop {top_k} | conv1 vs start |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for variant, runs in evaluation.items():
        cells = [_pct(A.mean_or_none([r[crops][key] for r in runs.values()]))
                 for crops in ("centre", "10-crop") for key in ("top1_error", k)]
        cells.append(", ".join(_g(r.get("conv1_init_corr"), 3) for r in runs.values()))
        lines.append(f"| {variant} | {len(runs)} | " + " | ".join(cells) + " |")
    return lines + [""]


def write_report(workdir, study_file=None, evaluate=False, log=print):
    """Writes WORKDIR/REPORT.md and curves.png from the study's run folders, with the study
    of WORKDIR/study.json, or of `study_file` (checked to match the runs; its paper numbers,
    threshold and seeds are used). With `evaluate`, also the centre and 10-crop errors of
    every finished run (`evaluate_run`). Returns the numbers: {"results", "differences",
    "speedup", "evaluation", "unfinished"}."""
    saved = read_json(os.path.join(workdir, "study.json")) if os.path.isdir(workdir) else None
    if saved is None:
        raise S.StudyError(f"--workdir {workdir} has no study.json: not a study folder")
    spec = saved
    if study_file:
        spec = S.load_study(study_file)
        S.check_runs(S.plan(spec, workdir))
    results, unfinished = collect(spec, workdir)
    diffs = A.differences(spec, results)
    speed = A.speedups(spec, results)
    evaluation, kernels = None, {}
    if evaluate:
        evaluation = {}
        for variant, result in results.items():
            for seed in result["runs"]:
                directory = S.run_directory(workdir, variant, seed)
                log(f"evaluating {variant}/seed-{seed} ...")
                evaluation.setdefault(variant, {})[seed] = evaluate_run(
                    directory, *validation_data(spec, directory))
            if result["runs"]:  # the first finished seed's kernels
                seed = next(iter(result["runs"]))
                kernels[variant] = (seed, f"conv1-{variant}.png")
                kernels_figure(S.run_directory(workdir, variant, seed),
                               os.path.join(workdir, kernels[variant][1]))

    probes = probe_summaries(spec, workdir)
    if probes:
        probe_figure(probes, os.path.join(workdir, "probe.png"))
    curves_figure(spec, results, os.path.join(workdir, "curves.png"))
    if speed is not None:
        fig1_figure(spec, results, os.path.join(workdir, "fig1.png"))
    top5 = any(r["final_val_top5"] is not None for res in results.values()
               for r in res["runs"].values())
    finished = sum(len(r["runs"]) for r in results.values())
    total = len(spec["variants"]) * len(spec["seeds"])
    lines = [f"# Study {os.path.basename(spec['study'])}", ""]
    if spec["description"]:
        lines += [spec["description"], ""]
    lines += [f"Base config `{spec['base']}`, overrides for every variant: "
              + (", ".join(f"`{k}={v!r}`" for k, v in spec["overrides"].items()) or "none")
              + f"; seeds {spec['seeds']}. {finished} of {total} runs finished"
              + (f" (not finished: {', '.join(_progress(spec, workdir, n) for n in unfinished)})"
                 if unfinished else "") + ".", "",
              f"Written by `python tools/study.py --workdir {workdir}"
              f"{f' --study {study_file}' if study_file else ''} --report"
              f"{' --evaluate' if evaluate else ''}` from the run "
              f"folders; re-run it rather than editing this file.", "",
              "## Learning curves", "", "![learning curves](curves.png)", "",
              "Top-1 error per epoch, mean over seeds, band from the lowest to the highest "
              "seed; training error is " + _training_error_text(spec) + " (the dashed line: "
              "the paper's Fig. 1 threshold).", "",
              *_threshold_table(spec, results),
              "## Runs", "",
              "Wall time: all the run's attempts, as the study runner timed them, including "
              "any time the machine was shared or the run paused; median epoch: the median "
              "over epochs of each epoch's time (validation included), less sensitive to "
              "both.", ""]
    for variant, result in results.items():
        lines += _variant_table(variant, result, spec, top5)
    if speed is not None:
        lines += ["## Speed-up to the threshold (Fig. 1)", ""] + _speedup_section(spec, speed)
    if probes:
        lines += ["## Probes: what the layers do", ""] + _probe_section(probes)
    lines += ["## Differences to the baseline", ""] + _differences_table(spec, diffs)
    if evaluation:
        lines += ["## Centre and 10-crop evaluation", ""] + _evaluation_table(evaluation)
    if kernels:
        lines += ["## First-layer kernels (Fig. 3)", "",
                  "conv1's kernels after training, one run per variant, each kernel "
                  "contrast-stretched on its own; with two towers, tower a above tower b.", ""]
        for variant, (seed, name) in kernels.items():
            lines += [f"`{variant}`, seed {seed}:", "", f"![conv1 kernels, {variant}]({name})",
                      ""]
    write_text(os.path.join(workdir, "REPORT.md"), "\n".join(lines) + "\n")
    return {"results": results, "differences": diffs, "speedup": speed,
            "evaluation": evaluation, "unfinished": unfinished, "probes": probes}


RUN_RESULTS = tuple(os.path.basename(f) for f in RunDir("").result_files())


def _results_files(output_dir):
    """The files of a previous `copy_results` in `output_dir` (paths relative to it);
    raises `StudyError` if it holds anything else (it is not a results folder)."""
    found = []
    for root, _, files in os.walk(output_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), output_dir)
            parts = rel.split(os.sep)
            ours = (len(parts) == 1 and (name in ("REPORT.md", "study.json")
                                         or name.endswith(".png"))) or (
                len(parts) == 3 and parts[1].startswith("seed-") and name in RUN_RESULTS)
            if not ours:
                raise S.StudyError(f"--results {output_dir} holds {rel}, which is not part of "
                                   f"a study's results: give a new folder or a previous copy")
            found.append(rel)
    return found


def portable(value, workdir):
    """`value` (JSON) with every absolute path in its strings made machine-independent:
    a path in `workdir` relative to it ("baseline/seed-0/data/validation-*"); a file of
    the project's code that this copy has, here or in a snapshot of it, from its
    `configs/` or `tools/` folder on (`S.project_file`: "configs/classes/a.txt"); one in
    this project or beside it (the shared data, say) relative to the project's root
    ("../shared/data/imagenette2-224/val"); any other, its last component. A string that
    holds a command (paths among words) has each path rewritten alike."""
    workdir = os.path.abspath(workdir)
    root = os.path.dirname(S.CONFIGS)

    def path(p):
        if p == workdir or p.startswith(workdir + os.sep):
            return os.path.relpath(p, workdir)
        code = S.project_file(p)
        if code:  # a file of ours, maybe a snapshot's copy
            return code
        rel = os.path.relpath(p, root)
        return rel if not rel.startswith(os.pardir + os.sep + os.pardir) else \
            os.path.basename(p)

    if isinstance(value, dict):
        return {k: portable(v, workdir) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, workdir) for v in value]
    if isinstance(value, str) and os.sep in value:
        # An absolute path of two parts or more: a "/" that starts a word (not a URL's,
        # not "1/64"), up to white space, quotes or "="; a sentence's end stays outside.
        return re.sub(r"(?<![\w.:/~])/[^\s'\"=,;()/]+/[^\s'\"=,;()]+(?<![.,;:])",
                      lambda m: path(m.group(0)), value)
    return value


def _threshold_table(spec, results):
    """With a `threshold` and several variants, one table of every variant's epochs to
    it (the mean over the seeds that reached it), fastest first: a learning-rate sweep's
    answer at a glance. [] otherwise."""
    if spec.get("threshold") is None or len(results) < 2:
        return []
    key = spec.get("threshold_key", "top1_error")
    rows = []
    for order, (variant, result) in enumerate(results.items()):
        runs = result["runs"].values()
        reached = [r["epochs_to_threshold"] for r in runs
                   if r["epochs_to_threshold"] is not None]
        mean = sum(reached) / len(reached) if reached else None
        lows = [min(e[key] for e in h if key in e) for h in result["histories"]
                if any(key in e for e in h)]
        low = sum(lows) / len(lows) if lows else None
        # fastest first; then those that never reached it, lowest error first; then those
        # with no finished run
        group = 0 if reached else 1 if runs else 2
        rank = mean if group == 0 else low if low is not None else 1.0
        rows.append((group, rank, order, variant, len(reached), len(runs), low))
    lines = [f"## Epochs to {100 * spec['threshold']:g} % training top-1, by variant", "",
             "Fastest first, then the variants that never reached it, by their lowest "
             "training error; means over the finished seeds.", "",
             "| variant | epochs | seeds that reached it | lowest training top-1 |",
             "| --- | --- | --- | --- |"]
    for group, rank, _, variant, n, total, low in sorted(rows):
        lines.append(f"| {variant} | {f'{rank:.2f}' if group == 0 else '–'} | "
                     + (f"{n} of {total} finished" if total else "no finished run")
                     + f" | {_pct(low)} |")
    return lines + [""]


def _training_error_text(spec):
    """What the curves' training error is, by the study's `threshold_key`."""
    key = spec.get("threshold_key", "top1_error")
    if key == "top1_error":
        return ("the running average over each epoch, with the run's augmentation and "
                "dropout in effect, if it has any")
    if key == TRAIN_EVAL_KEY:
        return (f"the net's in inference mode on a fixed sample of training images after "
                f"each epoch (`{key}`)")
    return f"the history's `{key}`"


def copy_results(workdir, output_dir, log=print):
    """Copies a study's report (REPORT.md, the PNG figures it shows, study.json) and each
    run's small files (`RUN_RESULTS`, those that exist) from `workdir` to `output_dir`, in
    the same layout, for committing: no checkpoints, models or data, and in the JSON files
    no absolute path (`portable`). `output_dir` is new or
    a previous copy, whose files are replaced (so none of them goes stale); a folder
    holding anything else is refused. Returns the number of files copied."""
    spec = read_json(os.path.join(workdir, "study.json")) if os.path.isdir(workdir) else None
    if spec is None or not os.path.isfile(os.path.join(workdir, "REPORT.md")):
        raise S.StudyError(f"--workdir {workdir} has no study.json and REPORT.md: write the "
                           f"report first")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise S.StudyError(f"--results {output_dir} is a file, not a folder")
    if os.path.isdir(output_dir) and os.path.samefile(output_dir, workdir):
        raise S.StudyError(f"--results {output_dir} is the study folder itself")
    old = _results_files(output_dir) if os.path.isdir(output_dir) else []
    with open(os.path.join(workdir, "REPORT.md")) as f:  # the figures it shows, no stale ones
        figures = re.findall(r"\]\(([^)/]+\.png)\)", f.read())
    names = ["REPORT.md", "study.json"] + list(dict.fromkeys(figures))
    for variant in spec["variants"]:
        for seed in spec["seeds"]:
            run = S.run_directory("", variant, seed)
            names += [os.path.join(run, n) for n in RUN_RESULTS
                      if os.path.isfile(os.path.join(workdir, run, n))]
    for name in old:
        os.remove(os.path.join(output_dir, name))
    for name in names:
        os.makedirs(os.path.dirname(os.path.join(output_dir, name)), exist_ok=True)
        if name.endswith(".json"):  # no absolute path of this machine in what is committed
            write_json(os.path.join(output_dir, name),
                       portable(read_json(os.path.join(workdir, name)), workdir))
        elif name.endswith(".md"):
            with open(os.path.join(workdir, name), encoding="utf-8") as f:
                write_text(os.path.join(output_dir, name), portable(f.read(), workdir))
        else:
            shutil.copyfile(os.path.join(workdir, name), os.path.join(output_dir, name))
    for root, dirs, _ in os.walk(output_dir, topdown=False):  # folders of removed runs
        for d in dirs:
            if not os.listdir(os.path.join(root, d)):
                os.rmdir(os.path.join(root, d))
    log(f"copied {len(names)} files to {output_dir}" + (
        f" (replacing a previous copy's {len(old)})" if old else ""))
    return len(names)
