"""Paper-style figures (PNG) from the result tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402


def _save(fig, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ppl_heatmap(relative: pd.DataFrame, title: str, path) -> None:
    """Relative PPL change: rows deactivated language, columns evaluated language."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * relative.shape[1], 0.9 + 0.6 * relative.shape[0]))
    sns.heatmap(relative * 100, annot=True, fmt=".0f", cmap="Reds", vmin=0, cbar_kws={"label": "PPL change (%)"}, ax=ax)
    ax.set_xlabel("evaluated language")
    ax.set_ylabel("deactivated neurons of")
    ax.set_title(title)
    _save(fig, path)


def task_heatmap(change: pd.DataFrame, title: str, path) -> None:
    """Change from normal of each task's metric: rows the conditions, columns the tasks (in points: x 100)."""
    width = 1.6 + 0.62 * max(change.shape[1], 1)
    fig, ax = plt.subplots(figsize=(min(width, 30), 1.2 + 0.45 * max(change.shape[0], 1)))
    values = change.astype(float) * 100
    values.columns = [str(c).removeprefix("langneurons_") for c in values.columns]  # the bundled task: next_word_xx
    bound = max(float(values.abs().max().max()) if values.size else 0.0, 1.0)
    annotate = change.shape[1] <= 24
    sns.heatmap(
        values,
        annot=annotate,
        fmt=".0f",
        cmap="RdBu",
        vmin=-bound,
        vmax=bound,
        cbar_kws={"label": "change from normal (points)"},
        ax=ax,
    )
    ax.set_xlabel("task")
    ax.set_ylabel("condition")
    ax.tick_params(axis="y", labelrotation=0)
    ax.tick_params(axis="x", labelrotation=45)
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    ax.set_title(title)
    _save(fig, path)


def layer_distribution(counts: pd.DataFrame, title: str, path) -> None:
    """Neurons per layer and language, stacked (the paper's U shape)."""
    langs = [c for c in counts.columns if c != "total"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    counts[langs].plot(kind="bar", stacked=True, ax=ax, width=0.85, colormap="tab10")
    ax.set_xlabel("layer")
    ax.set_ylabel("neurons")
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=0)
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left", title="language")
    _save(fig, path)


def overlap_heatmap(shared: pd.DataFrame, jaccard: pd.DataFrame, title: str, path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sns.heatmap(shared, annot=True, fmt="d", cmap="Blues", ax=axes[0], cbar=False)
    axes[0].set_title("shared neurons")
    sns.heatmap(jaccard, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, ax=axes[1], cbar=False)
    axes[1].set_title("Jaccard")
    fig.suptitle(title)
    _save(fig, path)


def ses_plot(curves: dict[str, pd.Series], path) -> None:
    """Layer vs mean cross-lingual sentence embedding similarity, one line per model."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, curve in curves.items():
        ax.plot(curve.index, curve.values, marker="o", markersize=3, label=name)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("mean cosine similarity")
    ax.set_title("Sentence embedding similarity across languages")
    ax.legend()
    _save(fig, path)


def stability_plot(tables: dict[str, pd.DataFrame], title: str, path) -> None:
    """Split-half Jaccard per language and method (left); the data curve of LAPE (or the first method), right."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    halves = pd.concat(
        [t.query("comparison == 'split_half'").assign(method=m.upper()) for m, t in tables.items()], ignore_index=True
    )
    if not halves.empty:
        order = halves["language"].unique()
        halves.pivot(index="language", columns="method", values="jaccard").reindex(order).plot(
            kind="bar", ax=axes[0], width=0.8, rot=0
        )
        axes[0].legend(title="method", fontsize=8, ncol=len(tables), loc="upper center", bbox_to_anchor=(0.5, -0.14))
    axes[0].set_ylim(0, 1.02)
    axes[0].set_xlabel("")
    axes[0].set_ylabel("Jaccard, first vs second half")
    axes[0].set_title("split-half stability")
    method = "lape" if "lape" in tables else next(iter(tables))
    curve = tables[method].query("comparison == 'prefix'")
    for language, rows in curve.groupby("language", sort=False):
        axes[1].plot(rows["tokens"], rows["jaccard"], marker="o", markersize=3, label=language)
    axes[1].set_xlim(left=0)
    axes[1].set_ylim(0, 1.02)
    axes[1].set_xlabel("train tokens counted (prefix)")
    axes[1].set_ylabel("Jaccard with the set from all tokens")
    axes[1].set_title(f"data curve ({method.upper()})")
    if not curve.empty:
        axes[1].legend(fontsize=8, title="language", ncol=2, loc="lower right")
    fig.suptitle(title)
    _save(fig, path)


SWEEP_METRICS = (("success", "in target language"), ("quality", "judge score (1-5)"), ("repetition", "repetition"))
SWEEP_LIMITS = {"success": (-0.03, 1.03), "quality": (0.9, 5.1), "repetition": (-0.03, 1.03)}


def sweep_curves(curves: pd.DataFrame, chosen: pd.DataFrame, modes: list[str], title: str, path) -> None:
    """One kind of steering's sweep: per mode (columns) success, quality and repetition (rows) against the
    strength, one line per target language; dotted, the unsteered answers; ringed, the chosen point."""
    modes = [m for m in modes if m in set(curves["mode"])]
    targets = list(dict.fromkeys(curves["target"]))
    colors = dict(zip(targets, sns.color_palette("tab10", max(len(targets), 1))))
    fig, axes = plt.subplots(
        len(SWEEP_METRICS), len(modes), figsize=(3.4 * len(modes) + 1.4, 7.2), squeeze=False, sharey="row"
    )
    picked = {(r.target, r.mode, float(r.strength)) for r in chosen.itertuples()}
    for col, mode in enumerate(modes):
        for row, (metric, label) in enumerate(SWEEP_METRICS):
            ax = axes[row][col]
            for target in targets:
                rows = curves[(curves["mode"] == mode) & (curves["target"] == target)].sort_values("strength")
                if rows.empty:
                    continue
                ax.plot(rows["strength"], rows[metric], marker="o", markersize=3, color=colors[target], label=target)
                ax.axhline(rows[f"base_{metric}"].iloc[0], color=colors[target], linestyle=":", linewidth=1)
                for strength, value in zip(rows["strength"], rows[metric]):
                    if (target, mode, float(strength)) in picked:
                        ax.plot(strength, value, "o", markersize=10, markerfacecolor="none", color=colors[target])
            ax.set_ylim(*SWEEP_LIMITS[metric])
            if row == 0:
                ax.set_title(mode)
            if row == len(SWEEP_METRICS) - 1:
                ax.set_xlabel("strength")
            if col == 0:
                ax.set_ylabel(label)
    axes[0][-1].legend(fontsize=8, title="target", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(title)
    _save(fig, path)


def deactivation_plot(ppl: pd.DataFrame | None, answers: pd.DataFrame, title: str, path) -> None:
    """The deactivation dose-response: own-language PPL (relative to none off; left) and the share of answers
    still in the language (right) against the share of its neurons switched off, one line per language."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    languages = list(dict.fromkeys([*(ppl["language"] if ppl is not None else []), *answers["language"]]))
    colors = dict(zip(languages, sns.color_palette("tab10", max(len(languages), 1))))
    for lang in languages:
        if ppl is not None:
            rows = ppl[ppl["language"] == lang]
            axes[0].plot(rows["share"], rows["ppl"] / rows["ppl_none"], marker="o", markersize=3, color=colors[lang])
        rows = answers[answers["language"] == lang]
        axes[1].plot(rows["share"], rows["in_language"], marker="o", markersize=3, color=colors[lang], label=lang)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("share of the language's neurons deactivated")
    axes[0].set_ylabel("own-language PPL / PPL with none off")
    axes[0].set_title("own-language perplexity")
    axes[1].set_ylim(-0.03, 1.03)
    axes[1].set_xlabel("share of the language's neurons deactivated")
    axes[1].set_ylabel("answers still in the language")
    axes[1].set_title("answer language")
    axes[1].legend(fontsize=8, title="language", ncol=2)
    fig.suptitle(title)
    _save(fig, path)
