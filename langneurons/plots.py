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
