"""The numbers of a study's report (`alexnet_tf.report`), from its runs' histories and
times: the statistics and summaries, with no file read or written and nothing drawn.

    run_summary, mean_row   a run's row of the report's tables, and their mean over seeds
    first_crossing          when a curve first comes down to a threshold; epochs_to_error:
                            the epochs to the paper's Fig. 1 threshold of training error
    lr_steps                the learning rates a run trained with, one per change
    learned_nothing         whether a run ended at chance (its differences say nothing)
    curve_band              a metric's mean and min-max band over seeds, per epoch
    differences             each variant minus the baseline: Welch t-interval and verdict
    speedups                Fig. 1's ratio of epochs to the threshold, seed by seed, and the
                            mean ratio's t-interval

Differences are in the final validation top-1 error, variant minus baseline, with Welch's
t-interval over seeds (unequal variances, not paired by seed: the same seed gives two
architectures different initial weights, so runs of one seed share only their data order).
The t quantiles, for Welch's non-integer degrees of freedom too, are `scipy.stats.t`'s.
"""
import math
import statistics
from collections import namedtuple

import numpy as np
from scipy import stats

Difference = namedtuple("Difference", "difference low high df")
SAME, OPPOSITE, INCONCLUSIVE = ("same direction as the paper", "opposite",
                                "inconclusive (interval spans 0)")


# ---------------------------------------------------------------------------- statistics

def _half_width(standard_error, df, level):
    """Half the width of the two-sided t-interval at `level` for an estimate with this
    standard error and `df` degrees of freedom (any real df > 0)."""
    return float(stats.t.ppf(0.5 + level / 2, df)) * standard_error


def welch_interval(a, b, level=0.95):
    """mean(a) - mean(b) and its Welch t-interval: `Difference(difference, low, high, df)`,
    df from the Welch-Satterthwaite formula (not a whole number). With no spread in either
    sample the interval is the difference itself and df is None. Needs 2 values or more in
    each. (`scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval()` gives the
    same numbers but warns of catastrophic cancellation for a side with no spread, seeds
    that ended alike: hence the variances by `statistics`, exact, and scipy's quantile.)"""
    if len(a) < 2 or len(b) < 2:
        raise ValueError("a t-interval needs 2 values or more on each side")
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    difference = statistics.fmean(a) - statistics.fmean(b)
    if va + vb == 0:
        return Difference(difference, difference, difference, None)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = _half_width(math.sqrt(va + vb), df, level)
    return Difference(difference, difference - half, difference + half, df)


def mean_interval(values, level=0.95):
    """The mean of `values` and its one-sample t-interval: `(mean, low, high)`; the
    interval is None with fewer than 2 values."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None, None
    half = _half_width(statistics.stdev(values) / math.sqrt(len(values)), len(values) - 1,
                       level)
    return mean, mean - half, mean + half


def verdict(low, high, paper_top1):
    """The interval [low, high] of a difference against the paper's difference (its sign)."""
    if low <= 0 <= high:
        return INCONCLUSIVE
    if not paper_top1:
        return "no paper direction to compare with"
    return SAME if (low > 0) == (paper_top1 > 0) else OPPOSITE


# ---------------------------------------------------------------------------- curves

def first_crossing(xs, ys, threshold):
    """The first x where the curve (xs, ys) comes down to `threshold`, linearly
    interpolated between the point before and the first point at or below it; None if no
    point is. A curve that starts at or below it gives its first x (nothing is known
    before it)."""
    for i, (x, y) in enumerate(zip(xs, ys)):
        if y <= threshold:
            if i == 0:
                return x
            x0, y0 = xs[i - 1], ys[i - 1]
            return x0 + (y0 - threshold) / (y0 - y) * (x - x0)
    return None


def epochs_to_error(history, threshold, key="top1_error"):
    """Epochs of training until the training error `key` first reaches `threshold` (the
    paper's Fig. 1: 25 % training error), from a run's history (the metric of epoch
    e is taken after e + 1 epochs); None if it never does. Times steps per epoch gives
    steps (`run_summary`, from the history's `step`). Epochs without `key` (a run that
    did not log it) are left out."""
    logged = [h for h in history if key in h]
    return first_crossing([h["epoch"] + 1 for h in logged], [h[key] for h in logged],
                          threshold)


def curve_band(histories, key):
    """Mean, minimum and maximum over runs of metric `key` per epoch (the epochs all runs
    have, and have `key` in: validation may run every few epochs only), with the epoch
    numbers (1 = after the first epoch)."""
    n = min(len(h) for h in histories)
    epochs = [i for i in range(n) if all(key in h[i] for h in histories)]
    values = np.array([[h[i][key] for i in epochs] for h in histories]).reshape(
        len(histories), len(epochs))
    return np.arange(1, n + 1)[epochs], values.mean(0), values.min(0), values.max(0)


# ---------------------------------------------------------------------------- runs

def lr_steps(history):
    """`[(epoch, learning rate)]`: the rate each run trained with from that epoch on
    (counted from 1), one entry per change."""
    steps = []
    for e in history:
        lr = e.get("learning_rate")
        if lr is not None and (not steps or not math.isclose(lr, steps[-1][1], rel_tol=1e-3)):
            steps.append((e["epoch"] + 1, lr))
    return steps


def learned_nothing(history, num_classes):
    """Whether a run ended at chance: its last epoch's training loss within 2 % of
    ln(num_classes), the loss of a net that gives every class the same probability for
    every image (all units dead after a blow-up, say). Its errors then say nothing about
    the variant's effect. A loss far above ln(num_classes) is not this: the net's outputs
    are confident and, often enough, wrong. False when the history has no loss or the
    number of classes is unknown."""
    if not history or "loss" not in history[-1] or not num_classes or num_classes < 2:
        return False
    return abs(history[-1]["loss"] - math.log(num_classes)) <= 0.02 * math.log(num_classes)


def run_summary(history, seconds, median_epoch_seconds, num_classes, threshold,
                key="top1_error"):
    """A finished run's row of the report: from its `history`, its wall time `seconds`
    and median epoch time (`study.wall_seconds` and `study.median_epoch_seconds`), its
    number of classes (None if unknown) and the training-error `threshold` of the history
    key `key`."""
    last = history[-1]
    row = {"epochs": len(history), "seconds": seconds,
           "epochs_to_threshold": epochs_to_error(history, threshold, key),
           "steps_to_threshold": None, "learned_nothing": learned_nothing(history, num_classes)}
    row["median_epoch_seconds"] = median_epoch_seconds
    if row["epochs_to_threshold"] is not None and "step" in last:  # runs since step was logged
        steps_per_epoch = last["step"] / (last["epoch"] + 1)  # every epoch has as many
        row["steps_to_threshold"] = row["epochs_to_threshold"] * steps_per_epoch
    for k in (1, 5):
        values = [e[f"val_top{k}_error"] for e in history if f"val_top{k}_error" in e]
        row[f"final_val_top{k}"] = values[-1] if values else None
        row[f"best_val_top{k}"] = min(values) if values else None
    return row


def mean_or_none(values):
    """The mean of the values that are not None; None if none is."""
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def mean_row(rows):
    """The mean over runs of each number of their rows (`run_summary`): None for a number
    no run has."""
    rows = list(rows)
    return {k: mean_or_none([r[k] for r in rows]) for k in next(iter(rows), {})
            if k != "learned_nothing"}


# ---------------------------------------------------------------------------- variants

def baselines(spec):
    """{variant: the variant it is compared with} from the study's `baseline` (one
    variant for all the others, or a mapping); None without a baseline."""
    baseline = spec["baseline"]
    if baseline is None:
        return None
    if isinstance(baseline, dict):
        return dict(baseline)
    return {v: baseline for v in spec["variants"] if v != baseline}


def differences(spec, results):
    """{variant: {"difference", "low", "high", "df", "n", "paper", "baseline", "verdict"}}
    of each compared variant's final validation top-1 error minus its baseline's
    (`baselines`; None without a baseline); runs that never validated (ended by a rule
    before their first validation epoch) are left out of both sides.
    A finished run of the variant or of the baseline that learned nothing
    (`learned_nothing`) makes the verdict "not comparable", whatever else it would be:
    one dead baseline seed makes every variant's difference meaningless."""
    pairs = baselines(spec)
    if pairs is None:
        return None
    out = {}
    for variant, baseline in pairs.items():
        result = results[variant]
        # runs that never validated (stopped before validation_every's epoch) left out
        base = [r["final_val_top1"] for r in results[baseline]["runs"].values()
                if r["final_val_top1"] is not None]
        finals = [r["final_val_top1"] for r in result["runs"].values()
                  if r["final_val_top1"] is not None]
        paper = spec["paper_effects"].get(variant, {}).get("top1")
        row = {"n": (len(finals), len(base)), "paper": paper, "baseline": baseline}
        stuck = [f"{name}/seed-{seed}" for name in (variant, baseline)
                 for seed, r in results[name]["runs"].items() if r["learned_nothing"]]
        if len(finals) < 2 or len(base) < 2:
            row.update(difference=None, low=None, high=None, df=None,
                       verdict="too few finished seeds (2 per variant needed)")
        else:
            d = welch_interval(finals, base)
            row.update(d._asdict(), verdict=verdict(d.low, d.high, paper))
        if stuck:  # a failure to train, not the variant's effect on the error
            row["verdict"] = f"not comparable: {', '.join(stuck)} learned nothing"
        out[variant] = row
    return out


def speedups(spec, results):
    """Per seed that both `speedup` variants finished: the epochs each took to the
    threshold and their ratio, slow / fast ({seed: (slow, fast, ratio)}, an epoch or the
    ratio None where a run never reached the threshold); and the ratios' mean and 95 %
    t-interval over the seeds where both reached it. None without `speedup`."""
    s = spec.get("speedup")
    if not s:
        return None
    slow, fast = results[s["slow"]]["runs"], results[s["fast"]]["runs"]
    seeds = {}
    for seed in sorted(set(slow) & set(fast)):
        a, b = slow[seed]["epochs_to_threshold"], fast[seed]["epochs_to_threshold"]
        seeds[seed] = (a, b, a / b if a is not None and b is not None else None)
    ratios = [r for _, _, r in seeds.values() if r is not None]
    mean, low, high = mean_interval(ratios) if ratios else (None, None, None)
    # A slow run that never got there bounds its ratio from below (its epochs / the
    # fast run's): left out of the mean, which is then biased low, so they are counted.
    bounds = {seed: results[s["slow"]]["runs"][seed]["epochs"] / b
              for seed, (a, b, _) in seeds.items() if a is None and b is not None}
    return {"seeds": seeds, "mean": mean, "low": low, "high": high, "n": len(ratios),
            "lower_bounds": bounds, "paper": s.get("paper")}
