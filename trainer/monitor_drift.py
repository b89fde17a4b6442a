"""Compares a window of a model version's payload log with its drift reference.

    monitor_drift.py --payloads DIR --model NAME --version V --since-ms MS --until-ms MS
                     --reference drift_reference.json --out OUT_DIR
                     [--threshold 0.1] [--alpha 0.05] [--drift-share 0.5] [--min-rows 200] [--max-rows 5000]

Reads the Parquet files the payload logger wrote under DIR/model=NAME/version=V/date=*/ (only the
date partitions the window touches), keeps the newest --max-rows requests with since <= ts < until,
and writes OUT_DIR/drift.json (the result) and OUT_DIR/drift.html (the report with plots). The
result is also printed as the last line of stdout. Exit 2 on bad arguments or an unreadable reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lifecycle_trainer.drift import DriftSettings, Window, detect_drift, reference_columns, window_columns  # noqa: E402
from lifecycle_trainer.drift_report import render_html  # noqa: E402
from lifecycle_trainer.report import _clean  # noqa: E402

COLUMNS = ["ts", "height", "width", "channels", "pixels", "top_labels", "top_probabilities"]


def _date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).date()


def read_window(root: Path, model: str, version: str, since_ms: int, until_ms: int, max_rows: int) -> Window:
    base = root / f"model={model}" / f"version={version}"
    day, last = _date(since_ms), _date(max(until_ms - 1, since_ms))
    files: list[Path] = []
    while day <= last:
        files += sorted((base / f"date={day.isoformat()}").glob("*.parquet"))
        day += dt.timedelta(days=1)
    tables = [pq.read_table(f, columns=COLUMNS) for f in files]
    if not tables:
        return Window(np.zeros((0, 1, 1, 1), dtype=np.uint8), [], np.zeros(0))
    table = pa.concat_tables(tables)
    # DuckDB writes TIMESTAMP as microseconds: bring any unit to epoch ms.
    ts = pc.cast(pc.cast(table["ts"], pa.timestamp("ms"), safe=False), pa.int64()).to_numpy()
    keep = np.flatnonzero((ts >= since_ms) & (ts < until_ms))
    keep = keep[np.argsort(ts[keep], kind="stable")][-max_rows:]
    table = table.take(pa.array(keep))
    if table.num_rows == 0:
        return Window(np.zeros((0, 1, 1, 1), dtype=np.uint8), [], np.zeros(0))
    h, w, c = (int(table[k][0].as_py()) for k in ("height", "width", "channels"))
    # One version has one input geometry; every row's pixels are h*w*c uint8 as the model saw them.
    images = np.stack([np.frombuffer(b, dtype=np.uint8).reshape(h, w, c) for b in table["pixels"].to_pylist()])
    predicted = [labels[0] for labels in table["top_labels"].to_pylist()]
    confidence = np.asarray([p[0] for p in table["top_probabilities"].to_pylist()], dtype=np.float64)
    return Window(images, predicted, confidence)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--payloads", type=Path, required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--since-ms", type=int, required=True)
    p.add_argument("--until-ms", type=int, required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threshold", type=float, default=0.1)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--drift-share", type=float, default=0.5)
    p.add_argument("--min-rows", type=int, default=200)
    p.add_argument("--max-rows", type=int, default=5000)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        reference = json.loads(args.reference.read_text())
        reference_columns(reference)
    except (OSError, ValueError, KeyError) as err:
        print(f"monitor_drift: unreadable reference {args.reference}: {err}", file=sys.stderr)
        return 2
    window = read_window(args.payloads, args.model, args.version, args.since_ms, args.until_ms, args.max_rows)
    settings = DriftSettings(threshold=args.threshold, alpha=args.alpha, drift_share=args.drift_share, min_rows=args.min_rows)
    result = {
        "model": args.model,
        "version": args.version,
        "window": {
            "since": dt.datetime.fromtimestamp(args.since_ms / 1000, tz=dt.timezone.utc).isoformat(),
            "until": dt.datetime.fromtimestamp(args.until_ms / 1000, tz=dt.timezone.utc).isoformat(),
        },
        **detect_drift(reference, window, settings),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drift.json").write_text(json.dumps(_clean(result), indent=2))
    (args.out / "drift.html").write_text(render_html(result, reference_columns(reference), window_columns(window)))
    print(json.dumps(_clean(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
