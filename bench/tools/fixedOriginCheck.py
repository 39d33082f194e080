"""Independent check of `backtest --origin end`'s Naive2 and seasonal naive scores.

M4-style Naive2 (statsmodels' seasonal_decompose, the M4 team's seasonality test with its r_1 slip
fixed), seasonal naive, sMAPE and MASE computed from the raw long CSV, compared with the summary's
perSeries figures (hourly data, m = 24, horizon 48; complete series, as the hourly-short set's).

  python bench/tools/fixedOriginCheck.py .cache/hourly-short/hourly-short.csv summary.json
(needs numpy and statsmodels, e.g. /work/main/.cache/peers-venv/bin/python)
"""
import csv, json, collections, sys, numpy as np
from statsmodels.tsa.seasonal import seasonal_decompose
rows=collections.defaultdict(list)
for r in csv.DictReader(open(sys.argv[1])): rows[r['series']].append((r['ts'], float(r['value'])))
s=json.load(open(sys.argv[2])); H=48; m=24
def acf(x,k):
    mu=x.mean(); return float(((x[k:]-mu)*(x[:-k]-mu)).sum()/((x-mu)**2).sum())
def seasonal(x):
    if len(x) <= 3*m: return False
    sq=sum(acf(x,k)**2 for k in range(1,m))
    return abs(acf(x,m)) > 1.645*np.sqrt((1+2*sq)/len(x))
worst=0
for p in s['perSeries']:
    v=np.array([b for a,b in sorted(rows[p['series']])]); hist=v[:-H]; act=v[-H:]
    assert len(hist)==p['historySteps']
    if seasonal(hist):
        si=seasonal_decompose(hist, model='multiplicative', period=m, two_sided=True).seasonal
        n=len(hist); idx=np.array([si[(n+i)%m] for i in range(H)])  # si is periodic from t=0
        f=hist[-1]/si[-1]*idx
    else: f=np.full(H,hist[-1])
    sm=np.mean(200*np.abs(act-f)/(np.abs(act)+np.abs(f)))
    scale=np.mean(np.abs(hist[m:]-hist[:-m])); ma=np.mean(np.abs(act-f))/scale
    d=max(abs(sm-p['models']['naive2']['smape']), abs(ma-p['models']['naive2']['mase']))
    worst=max(worst,d)
    # seasonal naive independently
    sn=np.array([hist[len(hist)-m+(i%m)] for i in range(H)])
    d2=abs(np.mean(200*np.abs(act-sn)/(np.abs(act)+np.abs(sn)))-p['models']['seasonal-naive-1d']['smape'])
    worst=max(worst,d2)
print('max abs difference (sMAPE, MASE of naive2 and seasonal naive) vs streamcast:', worst)
