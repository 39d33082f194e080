"""A statsforecast peer for the fixed-origin bench (bench/fixedOrigin.ts): each series forecast once,
H steps from the end of its history, the way forecasting competitions score statistical methods.

Reads the long CSV the backtest read (series,ts,value) and a JSON file of the origins the backtest
held each series out at ({"horizon": H, "season": m, "stepMs": step, "origins": {series: origin ms}});
fits each model on the values at or before the origin and writes, per series, that history, the
held-out values (null where absent) and each model's mean and 80 % interval for h = 1..H. The bench scores them with streamcast's own
FixedOriginScorer on the same held-out values (use those figures, not anything printed here).

Models (statsforecast), the usual recipes for hourly data:
  mstl           MSTL with one day and one week as seasons (one week only where the history holds
                 two) and AutoETS(model='ZZN') on the seasonally adjusted series;
  theta          AutoTheta with one day as its season (M4's Theta benchmark, automatic variant);
  seasonal-naive SeasonalNaive at one day: a sanity check, equal to streamcast's seasonal-naive-1d.
A model whose fit fails on a series forecasts that series' last value (counted in "failed").

  python statsforecast_origin.py --input series.csv --origins origins.json --out peer.json
"""

import argparse
import csv
import json
import math
import sys
import time
import warnings
from collections import defaultdict
from datetime import datetime

import numpy as np

warnings.filterwarnings("ignore")


def parse_ts(s: str) -> int:
    s = s.strip()
    if s.isdigit():
        return int(s)
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def finite(xs) -> list[float]:
    return [float(x) if math.isfinite(x) else None for x in xs]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True, action="append")
    p.add_argument("--origins", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()

    from statsforecast.models import MSTL, AutoETS, AutoTheta, SeasonalNaive

    spec = json.load(open(a.origins))
    H = int(spec["horizon"])
    m = int(spec["season"])
    step = int(spec["stepMs"])
    origins: dict[str, int] = spec["origins"]
    rows: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for path in a.input:
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                if r["series"] in origins:
                    rows[r["series"]].append((parse_ts(r["ts"]), float(r["value"])))

    def models_for(n: int):
        seasons = [s for s in (m, 7 * m) if n >= 2 * s]
        return {
            "mstl": lambda: MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")) if seasons else AutoETS(model="ZZN"),
            "theta": lambda: AutoTheta(season_length=m if n >= 2 * m else 1),
            "seasonal-naive": lambda: SeasonalNaive(season_length=m),
        }

    out: dict[str, dict] = {}
    fit_s: dict[str, float] = defaultdict(float)
    failed: dict[str, int] = defaultdict(int)
    started = time.time()
    for i, (sid, origin) in enumerate(origins.items()):
        pts = sorted(rows.get(sid, []))
        hist = np.array([v for ts, v in pts if ts <= origin], dtype=np.float64)
        held = {ts: v for ts, v in pts if ts > origin}
        actuals = [held.get(origin + h * step) for h in range(1, H + 1)]
        entry: dict = {"history": finite(hist), "actuals": actuals, "models": {}}
        out[sid] = entry
        if hist.size < 2:
            continue
        for name, make in models_for(hist.size).items():
            t0 = time.time()
            try:
                res = make().fit(hist).predict(h=H, level=[80])
                mean, lo, hi = res["mean"], res["lo-80"], res["hi-80"]
                if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                    raise ValueError("non-finite forecast")
            except Exception:
                failed[name] += 1
                mean = lo = hi = np.full(H, hist[-1])
            fit_s[name] += time.time() - t0
            entry["models"][name] = {"mean": finite(mean), "lo": finite(np.minimum(lo, mean)), "hi": finite(np.maximum(hi, mean))}
        if (i + 1) % 20 == 0:
            print(f"statsforecast origin peer: {i + 1}/{len(origins)} series, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    with open(a.out, "w") as f:
        json.dump({"series": out}, f)
    print(json.dumps({"series": len(out), "fit_s": {k: round(v, 1) for k, v in fit_s.items()}, "failed": dict(failed), "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
