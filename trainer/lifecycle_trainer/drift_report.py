"""The drift report as a self-contained HTML page: the verdict table and, per feature, the reference
and the live window side by side (histograms for numerical features, class shares for the
predicted class), drawn with matplotlib and embedded as PNG so the file opens anywhere, including
MLflow's artifact viewer."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _plot(result: dict, ref: dict, cur: dict) -> str:
    names = list(result["features"])
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        f = result["features"][name]
        if f["kind"] == "numerical":
            both = np.concatenate([ref[name], cur[name]])
            bins = np.histogram_bin_edges(both, bins=30)
            ax.hist(ref[name], bins=bins, density=True, alpha=0.55, label="reference")
            ax.hist(cur[name], bins=bins, density=True, alpha=0.55, label="live")
        else:
            labels = list(f["reference"])
            x = np.arange(len(labels))
            ax.bar(x - 0.2, [f["reference"][k] for k in labels], width=0.4, label="reference")
            ax.bar(x + 0.2, [f["current"][k] for k in labels], width=0.4, label="live")
            ax.set_xticks(x, labels, rotation=60, fontsize=7)
        ax.set_title(f"{name}: {'DRIFT' if f['drifted'] else 'ok'} ({f['distance']:.3f})", color="crimson" if f["drifted"] else "black")
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(result: dict, ref: dict, cur: dict) -> str:
    esc = html.escape
    title = f"Drift of {result['model']} v{result['version']}: {'DRIFT' if result['drift'] else 'no drift'}"
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(f['distance_name'])}</td><td>{f['distance']:.4f}</td>"
        f"<td>{esc(f['test'])}</td><td>{f['p_value']:.3g}</td><td>{'yes' if f['drifted'] else 'no'}</td></tr>"
        for name, f in result["features"].items()
    )
    s = result["settings"]
    head = (
        f"<h1>{esc(title)}</h1><p>Window {esc(result['window']['since'])} to {esc(result['window']['until'])}: "
        f"{result['rows']} logged requests against {result['reference_rows']} reference rows of the test split. "
        f"A feature drifts when its distance exceeds {s['threshold']} and its test is significant at {s['alpha']}; "
        f"the window drifts when at least {s['drift_share']:.0%} of the features do ({result['drifted_share']:.0%} here).</p>"
    )
    if result["status"] != "ok":
        body = f"<p>Not judged: {esc(result['status'])} (at least {s['min_rows']} rows are needed).</p>"
    else:
        body = (
            "<table border=1 cellpadding=4><tr><th>feature</th><th>distance</th><th>value</th><th>test</th><th>p-value</th><th>drifted</th></tr>"
            f"{rows}</table><img alt='reference and live distributions' src='data:image/png;base64,{_plot(result, ref, cur)}'>"
        )
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title></head><body style='font-family:sans-serif'>{head}{body}</body></html>"
