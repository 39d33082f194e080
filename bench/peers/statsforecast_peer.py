"""A statsforecast peer for `npm run bench -- accuracy`, in the same prequential loop.

Reads the steps streamcast's pipeline produced (resampled, imputed; one row per step in stream
order: series,ts,value,observed) and, at every step t of every series, forecasts h = 1..H from the
values up to t only. Writes the forecasts as float32 little-endian, shape (rows, models, H, 3)
with (mean, q0.1, q0.9) in the last axis, aligned with the input rows (NaN before the first fit),
and prints one JSON object: what was run, fit seconds, refits, origins without a forecast, and a
rough score of its own (the bench re-scores the forecasts with streamcast's own scorer, on
exactly the backtest's cells; use those figures).

Models (both from statsforecast):
  mstl           MSTL (STL per season: one day, and one week when it is at most 500 steps) with
                 AutoETS(model='ZZN') on the seasonally adjusted series, the usual statsforecast
                 recipe for sub-daily data (AutoETS alone does not allow seasons over 24 steps).
  seasonal-naive SeasonalNaive at one day: a sanity check, whose mean must equal streamcast's
                 seasonal-naive-1d on the same cells.

Refitting at every step is far too slow (an MSTL fit takes 0.4–2 s). MSTL is refitted every
`refit` steps (the spec's retrain.every) on the newest `window` steps; between refits the
decomposition is kept (each seasonal component continued by its last season, as MSTL's own
predict does) and the trend model's state is brought up to date at every step with
AutoETS.forward on the newly adjusted values, parameters fixed. Intervals: the trend model's 80 %
interval plus the seasonal part, as MSTL.predict makes them.

  python statsforecast_peer.py --steps steps.csv --out forecasts.f32 --horizon 12 \
      --step-ms 1800000 --warmup 672 --refit 336
"""

import argparse
import json
import math
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

DAY_MS = 86_400_000
MAX_SEASON = 500  # steps; a longer STL period costs 10 s and more per fit


def seasons_for(step_ms: int) -> list[int]:
    out = []
    for span in (DAY_MS, 7 * DAY_MS):
        s = span / step_ms
        if s.is_integer() and 2 <= s <= MAX_SEASON:
            out.append(int(s))
    return out


def day_season(step_ms: int) -> int:
    s = DAY_MS / step_ms
    return int(s) if s.is_integer() and s >= 2 else 1


class MstlPeer:
    """MSTL refitted on a schedule, its trend state moved forward at every step."""

    def __init__(self, seasons: list[int], window: int, horizon: int):
        from statsforecast.models import MSTL, AutoETS

        self.make = lambda: MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")) if seasons else AutoETS(model="ZZN")
        self.seasons = seasons
        self.window = window
        self.H = horizon
        self.model = None
        self.fit_end = -1  # index of the last value the model was fitted on
        self.last_attempt = -1
        self.n0 = 0  # values of `adjusted` from the fit's window; the rest came after it
        self.last_seasons: list[np.ndarray] = []
        self.adjusted: list[float] = []  # seasonally adjusted values: the window, then new ones
        self.fit_seconds = 0.0
        self.refits = 0
        self.failures = 0

    def due(self, t: int, every: int) -> bool:
        return self.model is None and self.last_attempt < 0 or t - self.last_attempt >= every

    def refit(self, y: np.ndarray, t: int) -> None:
        self.last_attempt = t
        lo = max(0, t + 1 - self.window)
        started = time.perf_counter()
        try:
            from statsforecast.models import MSTL

            m = self.make().fit(y[lo : t + 1])
            if isinstance(m, MSTL):
                comps = m.model_.filter(regex="seasonal*")
                # Each seasonal component goes on repeating its last season (MSTL.predict's rule).
                self.last_seasons = [comps[col].to_numpy()[-s:].astype(float) for col, s in zip(comps.columns, sorted(self.seasons))]
                self.adjusted = m.model_[["trend", "remainder"]].sum(axis=1).to_numpy().astype(float).tolist()
            else:
                self.last_seasons = []
                self.adjusted = y[lo : t + 1].astype(float).tolist()
            self.model, self.fit_end, self.n0 = m, t, t + 1 - lo
            self.refits += 1
        except Exception:  # a fit that fails keeps the previous model
            self.failures += 1
        self.fit_seconds += time.perf_counter() - started

    def seasonal(self, j0: int, n: int) -> np.ndarray:
        """The seasonal part at indices fit_end + 1 + j0 ... (n of them)."""
        j = np.arange(j0, j0 + n)
        out = np.zeros(n)
        for last in self.last_seasons:
            out += last[j % len(last)]
        return out

    def forecast(self, y: np.ndarray, t: int) -> np.ndarray | None:
        if self.model is None:
            return None
        k = t - self.fit_end  # steps since the fit
        have = len(self.adjusted) - self.n0  # new values already adjusted
        if k > have:
            new = y[self.fit_end + 1 + have : t + 1] - self.seasonal(have, k - have)
            self.adjusted.extend(new.tolist())
        trend = getattr(self.model, "trend_forecaster", self.model)
        x = np.asarray(self.adjusted[-self.window :])
        try:
            res = trend.forward(y=x, h=self.H, level=[80])
        except Exception:
            return None
        seas = self.seasonal(k, self.H)
        return np.stack([res["mean"] + seas, res["lo-80"] + seas, res["hi-80"] + seas], axis=1)


class SeasonalNaivePeer:
    def __init__(self, season: int, window: int, horizon: int):
        from statsforecast.models import SeasonalNaive

        self.model = SeasonalNaive(season_length=season)
        self.season = season
        self.window = window
        self.H = horizon

    def forecast(self, y: np.ndarray, t: int) -> np.ndarray | None:
        lo = max(0, t + 1 - self.window)
        if t + 1 - lo < self.season + 1:
            return None
        res = self.model.forward(y=y[lo : t + 1], h=self.H, level=[80])
        return np.stack([res["mean"], res["lo-80"], res["hi-80"]], axis=1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--step-ms", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True, help="steps after a series' first step before its first scored origin")
    p.add_argument("--refit", type=int, required=True, help="steps between MSTL refits")
    a = p.parse_args()

    import pandas as pd

    df = pd.read_csv(a.steps, dtype={"series": str})
    H, step = a.horizon, a.step_ms
    seasons = seasons_for(step)
    longest = max(seasons, default=1)
    window = max(4 * longest, 1008)
    sn_season = day_season(step)
    models = ["mstl", "seasonal-naive"]
    out = np.full((len(df), len(models), H, 3), np.nan, dtype=np.float32)
    totals = {"mstl": {"fit_s": 0.0, "forecast_s": 0.0, "refits": 0, "fit_failures": 0, "missing": 0}, "seasonal-naive": {"forecast_s": 0.0, "missing": 0}}
    # A rough score of its own (observed targets, origins after the warm-up); the bench re-scores.
    abs_err = np.zeros((len(models), H))
    covered = np.zeros((len(models), H))
    cells = np.zeros((len(models), H))

    for series, g in df.groupby("series", sort=False):
        rows = g.index.to_numpy()
        ts = g["ts"].to_numpy(np.int64)
        y = g["value"].to_numpy(float)
        obs = g["observed"].to_numpy().astype(bool)
        first_scored = int(np.searchsorted(ts - ts[0], a.warmup * step))
        mstl = MstlPeer(seasons, window, H)
        snaive = SeasonalNaivePeer(sn_season, window, H)
        for t in range(first_scored, len(y)):
            if mstl.due(t, a.refit):
                mstl.refit(y, t)
            for m, peer in enumerate((mstl, snaive)):
                started = time.perf_counter()
                f = peer.forecast(y, t)
                totals[models[m]]["forecast_s"] += time.perf_counter() - started
                if f is None or not np.all(np.isfinite(f[:, 0])):
                    totals[models[m]]["missing"] += 1
                    continue
                out[rows[t], m] = f
                for h in range(1, H + 1):
                    j = t + h
                    # Same grid only: a target across a time jump is not this horizon's.
                    if j < len(y) and obs[j] and ts[j] - ts[t] == h * step:
                        e = y[j] - f[h - 1, 0]
                        abs_err[m, h - 1] += abs(e)
                        covered[m, h - 1] += f[h - 1, 1] <= y[j] <= f[h - 1, 2]
                        cells[m, h - 1] += 1
        totals["mstl"]["fit_s"] += mstl.fit_seconds
        totals["mstl"]["refits"] += mstl.refits
        totals["mstl"]["fit_failures"] += mstl.failures

    out.astype("<f4").tofile(a.out)
    scores = {}
    for m, name in enumerate(models):
        mae = [None if c == 0 else float(e / c) for e, c in zip(abs_err[m], cells[m])]
        cov = [None if c == 0 else float(v / c) for v, c in zip(covered[m], cells[m])]
        vals = [v for v in mae if v is not None]
        scores[name] = {"mae": mae, "maeMean": float(np.mean(vals)) if vals else None, "coverage80": cov, **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in totals[name].items()}}
    json.dump(
        {
            "rows": int(len(df)),
            "series": int(df["series"].nunique()),
            "models": models,
            "mstl": {"seasons": seasons, "trend": "AutoETS(ZZN)", "window": window, "refit_every_steps": a.refit, "between_refits": "AutoETS.forward on the adjusted values (parameters fixed), seasonal part frozen"},
            "seasonal_naive_season": sn_season,
            "scores": scores,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
