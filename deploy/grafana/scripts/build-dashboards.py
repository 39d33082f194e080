#!/usr/bin/env python3
"""Writes deploy/grafana/dashboards/*.json (Grafana 10 schema). Edit here, run, commit both.

    python3 deploy/grafana/scripts/build-dashboards.py

Every query here is evaluated against a real Prometheus / InfluxDB in
test/integration/observability/dashboardQueries.test.ts and influxHistory.test.ts.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "dashboards")
PROM = {"type": "prometheus", "uid": "prometheus"}
INFLUX = {"type": "influxdb", "uid": "influxdb"}
SEL = 'pipeline=~"$pipeline"'


class Layout:
    def __init__(self):
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_h = 0

    def pos(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        p = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return p

    def id(self):
        i = self.next_id
        self.next_id += 1
        return i


def prom_target(ref, expr, legend, instant=False, fmt=None):
    t = {"refId": ref, "datasource": PROM, "expr": expr, "legendFormat": legend, "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


def influx_target(ref, query, alias):
    return {"refId": ref, "datasource": INFLUX, "query": query, "rawQuery": True, "resultFormat": "time_series", "alias": alias}


def panel(lay, title, targets, unit="short", w=12, h=8, kind="timeseries", ds=PROM, description="", extra=None):
    p = {
        "id": lay.id(),
        "type": kind,
        "title": title,
        "description": description,
        "datasource": ds,
        "gridPos": lay.pos(w, h),
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}, "tooltip": {"mode": "multi", "sort": "none"}},
    }
    if extra:
        for k, v in extra.items():
            p[k] = v
    return p


def rate(metric, by, extra_sel=""):
    sel = SEL + (", " + extra_sel if extra_sel else "")
    return f"sum by ({by}) (rate({metric}{{{sel}}}[$__rate_interval]))"


def quantile(q, metric, by):
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{SEL}}}[$__rate_interval])))"


def mae(model, by="pipeline", window="$__rate_interval"):
    sel = f'{SEL}, model="{model}"'
    return (
        f"sum by ({by}) (rate(streamcast_forecast_abs_error_total{{{sel}}}[{window}]))"
        f" / sum by ({by}) (rate(streamcast_forecast_scored_total{{{sel}}}[{window}]))"
    )


def pipeline_var():
    return {
        "name": "pipeline",
        "label": "pipeline",
        "type": "query",
        "datasource": PROM,
        "definition": "label_values(streamcast_records_in_total, pipeline)",
        "query": {"query": "label_values(streamcast_records_in_total, pipeline)", "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {},
        "sort": 1,
    }


def scaled_mae(model, by="pipeline", window="$__rate_interval"):
    """Live MASE: each error over its series' scale, so series of different units weigh alike."""
    sel = f'{SEL}, model="{model}"'
    return (
        f"sum by ({by}) (rate(streamcast_forecast_scaled_abs_error_total{{{sel}}}[{window}]))"
        f" / sum by ({by}) (rate(streamcast_forecast_scaled_scored_total{{{sel}}}[{window}]))"
    )


def model_change_annotation():
    """A marker where a pipeline starts serving another model: a promotion here, one adopted from
    another instance, or the model loaded at start. streamcast_model_info has one series per
    serving (version, kind), so a series present now and absent one interval earlier is a change."""
    cur = f"max by (pipeline, version, kind) (streamcast_model_info{{{SEL}}})"
    return {
        "name": "Model changes",
        "datasource": PROM,
        "enable": True,
        "iconColor": "purple",
        "expr": f"{cur} unless max by (pipeline, version, kind) (streamcast_model_info{{{SEL}}} offset $__interval)",
        "step": "$__interval",
        "titleFormat": "model v{{version}} ({{kind}})",
        "textFormat": "{{pipeline}} now serves model v{{version}} ({{kind}})",
        "useValueForTime": False,
    }


def dashboard(uid, title, panels, variables, description):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["streamcast"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 38,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "templating": {"list": variables},
        "annotations": {"list": [model_change_annotation()]},
        "links": [],
        "panels": panels,
    }


def pipeline_health():
    lay = Layout()
    P = []
    P.append(panel(lay, "Throughput in / out", [
        prom_target("A", rate("streamcast_records_in_total", "pipeline"), "{{pipeline}} records in"),
        prom_target("B", rate("streamcast_points_in_total", "pipeline"), "{{pipeline}} valid points"),
        prom_target("C", rate("streamcast_forecasts_out_total", "pipeline"), "{{pipeline}} forecasts out"),
    ], unit="ops", description="Records read, valid points and forecasts emitted per second."))
    P.append(panel(lay, "Consumer lag (Kafka mode)", [
        prom_target("A", f"sum by (pipeline, topic, partition) (streamcast_consumer_lag{{{SEL}}})", "{{pipeline}} {{topic}}[{{partition}}]"),
    ], description="Messages behind the partition high watermark. Only `streamcast run` (Kafka) reports it; empty for demo and replay."))
    P.append(panel(lay, "Event-to-forecast latency p50 / p99", [
        prom_target("A", quantile(0.5, "streamcast_event_to_forecast_latency_seconds", "pipeline"), "{{pipeline}} p50"),
        prom_target("B", quantile(0.99, "streamcast_event_to_forecast_latency_seconds", "pipeline"), "{{pipeline}} p99"),
    ], unit="s"))
    P.append(panel(lay, "Invalid records by reason (dead letters)", [
        prom_target("A", rate("streamcast_invalid_records_total", "pipeline, reason"), "{{pipeline}} {{reason}}"),
    ], unit="ops"))
    P.append(panel(lay, "Late records and gap resets", [
        prom_target("A", rate("streamcast_late_records_total", "pipeline"), "{{pipeline}} late"),
        prom_target("B", rate("streamcast_gap_resets_total", "pipeline"), "{{pipeline}} gap resets"),
    ], unit="ops"))
    P.append(panel(lay, "Imputed steps by strategy", [
        prom_target("A", rate("streamcast_imputed_steps_total", "pipeline, strategy"), "{{pipeline}} {{strategy}}"),
    ], unit="ops"))
    P.append(panel(lay, "Model batch size (p50 / p99 / mean)", [
        prom_target("A", quantile(0.5, "streamcast_model_batch_size", "pipeline, backend"), "{{pipeline}} {{backend}} p50"),
        prom_target("B", quantile(0.99, "streamcast_model_batch_size", "pipeline, backend"), "{{pipeline}} {{backend}} p99"),
        prom_target("C", f"{rate('streamcast_model_batch_size_sum', 'pipeline, backend')} / {rate('streamcast_model_batch_size_count', 'pipeline, backend')}", "{{pipeline}} {{backend}} mean"),
    ]))
    P.append(panel(lay, "Model step duration p99", [
        prom_target("A", quantile(0.99, "streamcast_model_step_duration_seconds", "pipeline, backend"), "{{pipeline}} {{backend}} p99"),
    ], unit="s"))
    P.append(panel(lay, "Serving model (version, kind, backend)", [
        prom_target("A", f"max by (pipeline, version, kind, backend) (streamcast_model_info{{{SEL}}})", "{{pipeline}} v{{version}} {{kind}} on {{backend}}", instant=True, fmt="table"),
    ], kind="table", w=12, h=6, extra={"options": {"showHeader": True}}))
    P.append(panel(lay, "Active series / readiness", [
        prom_target("A", f"sum by (pipeline) (streamcast_active_series{{{SEL}}})", "{{pipeline}} active series"),
        prom_target("B", f"min by (pipeline) (streamcast_ready{{{SEL}}})", "{{pipeline}} ready"),
    ], w=12, h=6))
    P.append(panel(lay, "Training runs by outcome (per hour)", [
        prom_target("A", f"sum by (pipeline, outcome) (increase(streamcast_training_runs_total{{{SEL}}}[1h]))", "{{pipeline}} {{outcome}}"),
    ], w=8, description="Zero until a retrainer runs (Kafka mode with retrain configured)."))
    # Retraining runs weekly or so: a rate over minutes is empty (NaN) between runs, so these read
    # the cumulative histogram, i.e. every run since the process started.
    P.append(panel(lay, "Training duration p90", [
        prom_target("A", f"histogram_quantile(0.9, sum by (le, pipeline) (streamcast_training_duration_seconds_bucket{{{SEL}}}))", "{{pipeline}} p90"),
        prom_target("B", f"sum by (pipeline) (streamcast_training_duration_seconds_sum{{{SEL}}}) / sum by (pipeline) (streamcast_training_duration_seconds_count{{{SEL}}})", "{{pipeline}} mean"),
    ], unit="s", w=8, description="Over every training run since the process started (runs are rare: a rate over minutes would be empty). Empty until the first run."))
    P.append(panel(lay, "State restore / checkpoint duration p99", [
        prom_target("A", quantile(0.99, "streamcast_state_restore_duration_seconds", "pipeline"), "{{pipeline}} restore p99"),
        prom_target("B", quantile(0.99, "streamcast_checkpoint_duration_seconds", "pipeline"), "{{pipeline}} checkpoint p99"),
    ], unit="s", w=8, description="Kafka mode: restore on partition assignment, checkpoint per batch."))
    P.append(panel(lay, "Dropped history points", [
        prom_target("A", rate("streamcast_dropped_history_points_total", "pipeline"), "{{pipeline}}"),
    ], unit="ops", description="History not written to InfluxDB (away or slow) or not kept for retraining. Forecasting is unaffected."))
    P.append(panel(lay, "Scrape targets up", [
        prom_target("A", 'up{job="streamcast"}', "{{instance}}"),
    ]))
    P.append(panel(lay, "Sink errors (Kafka produce, InfluxDB write)", [
        prom_target("A", f"sum by (pipeline, sink) (increase(streamcast_sink_errors_total{{{SEL}}}[$__rate_interval]))", "{{pipeline}} {{sink}}"),
    ], w=12, description="Writes that failed after the client's own retries. kafka: the pipeline stops and restarts from its last checkpoint (nothing lost); influx: history dropped. The logs name the error."))
    # Process metrics carry no pipeline label (one process may run several pipelines).
    P.append(panel(lay, "Process CPU and event-loop lag p99", [
        prom_target("A", 'sum by (instance) (rate(streamcast_process_cpu_seconds_total{job="streamcast"}[$__rate_interval]))', "{{instance}} CPU (cores)"),
        prom_target("B", 'max by (instance) (streamcast_nodejs_eventloop_lag_p99_seconds{job="streamcast"})', "{{instance}} event-loop lag p99 (s)"),
    ], w=12, description="CPU in cores; event-loop lag is how late timers run: above ~0.1 s the forecasting thread is saturated (batches and checkpoints wait)."))
    P.append(panel(lay, "Process memory and GC", [
        prom_target("A", 'max by (instance) (streamcast_process_resident_memory_bytes{job="streamcast"})', "{{instance}} resident"),
        prom_target("B", 'sum by (instance) (streamcast_nodejs_heap_size_used_bytes{job="streamcast"})', "{{instance}} heap used"),
        prom_target("C", 'sum by (instance) (rate(streamcast_nodejs_gc_duration_seconds_sum{job="streamcast"}[$__rate_interval]))', "{{instance}} GC (s/s)"),
    ], unit="bytes", w=12, description="Resident memory and V8 heap in use; GC is the share of time spent collecting (right axis).",
        extra={"fieldConfig": {"defaults": {"unit": "bytes"}, "overrides": [
            {"matcher": {"id": "byRegexp", "options": ".*GC.*"}, "properties": [{"id": "unit", "value": "percentunit"}, {"id": "custom.axisPlacement", "value": "right"}]},
        ]}}))
    return dashboard("streamcast-pipeline-health", "streamcast / pipeline health", P, [pipeline_var()],
                     "Throughput, lag, latency, data quality, model and runtime health of streamcast pipelines.")


def forecasts():
    lay = Layout()
    P = []
    where = '"pipeline" =~ /^$pipeline$/ AND "series" =~ /^$series$/'
    P.append(panel(lay, "Actual vs forecast ($series, h=$h) with 0.1-0.9 band", [
        # Observed values only: an imputed one is the pipeline's own guess, not an actual.
        influx_target("A", f'SELECT mean("value") FROM "actual" WHERE {where} AND "imputed" = false AND $timeFilter GROUP BY time($__interval) fill(none)', "actual"),
        influx_target("B", f'SELECT mean("mean") FROM "forecast" WHERE {where} AND "h" = \'$h\' AND $timeFilter GROUP BY time($__interval), "model" fill(none)', "forecast $tag_model"),
        influx_target("C", f'SELECT mean("q_0_1") FROM "forecast" WHERE {where} AND "h" = \'$h\' AND $timeFilter GROUP BY time($__interval), "model" fill(none)', "lower $tag_model"),
        influx_target("D", f'SELECT mean("q_0_9") FROM "forecast" WHERE {where} AND "h" = \'$h\' AND $timeFilter GROUP BY time($__interval), "model" fill(none)', "upper $tag_model"),
    ], ds=INFLUX, w=24, h=10, description="From InfluxDB history (run with --influx). Forecasts are stored at their target time, so the h-step forecast lines up with the actual it predicted. The band assumes quantiles 0.1 and 0.9 in the spec.",
        # Each model's band fills from its own upper line down to its own lower line.
        extra={"fieldConfig": {"defaults": {"unit": "short"}, "overrides": [
            o for model in ["gru", "baseline"] for o in [
                {"matcher": {"id": "byName", "options": f"upper {model}"}, "properties": [{"id": "custom.fillBelowTo", "value": f"lower {model}"}, {"id": "custom.lineWidth", "value": 0}]},
                {"matcher": {"id": "byName", "options": f"lower {model}"}, "properties": [{"id": "custom.lineWidth", "value": 0}]},
            ]
        ]}}))
    # InfluxDB orders GROUP BY tags as text (h=1, h=10, h=11, h=2, ...): the transformations turn
    # the h tag into a number and sort the bars by it.
    P.append(panel(lay, "Mean absolute error by horizon ($series)", [
        influx_target("A", f'SELECT mean("abs_error") FROM "forecast_error" WHERE {where} AND $timeFilter GROUP BY "h", "model"', "h=$tag_h $tag_model"),
    ], ds=INFLUX, kind="bargauge", w=12, description="From InfluxDB: per-series error of each horizon over the time range, bars in horizon order.",
        extra={
            "transformations": [
                {"id": "labelsToFields", "options": {"mode": "columns"}},
                {"id": "merge", "options": {}},
                {"id": "convertFieldType", "options": {"conversions": [{"targetField": "h", "destinationType": "number"}], "fields": {}}},
                {"id": "sortBy", "options": {"sort": [{"field": "h", "desc": False}]}},
            ],
            "options": {"reduceOptions": {"values": True, "calcs": [], "fields": "/^mean$/"}, "displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True},
            "fieldConfig": {"defaults": {"unit": "short", "displayName": "h=${__data.fields.h} ${__data.fields.model}"}, "overrides": []},
        }))
    P.append(panel(lay, "Live MAE by horizon (all series)", [
        prom_target("A", mae("baseline", "pipeline, model, horizon"), "{{pipeline}} {{model}} h={{horizon}}"),
        prom_target("B", mae("gru", "pipeline, model, horizon"), "{{pipeline}} {{model}} h={{horizon}}"),
    ], w=12, description="Prequential: scored as actuals arrive. The gru series are empty (NaN) until a trained model is promoted."))
    P.append(panel(lay, "Skill: model vs baseline (1 - MAE gru / MAE baseline)", [
        prom_target("A", f"1 - ({mae('gru', window='$__rate_interval')}) / ({mae('baseline', window='$__rate_interval')})", "{{pipeline}} skill"),
    ], unit="percentunit", w=12, description="Above 0: the GRU beats the baseline. Empty until a GRU is promoted and the baseline is scored beside it. Alert StreamcastModelWorseThanBaseline fires below 0 for 30 min (1 h window)."))
    P.append(panel(lay, "Scale-free skill: 1 - MASE gru / MASE baseline (all series)", [
        prom_target("A", f"1 - ({scaled_mae('gru')}) / ({scaled_mae('baseline')})", "{{pipeline}} skill (scale-free)"),
        prom_target("B", scaled_mae("baseline"), "{{pipeline}} live MASE baseline"),
        prom_target("C", scaled_mae("gru"), "{{pipeline}} live MASE gru"),
    ], unit="percentunit", w=12, description="Each absolute error divided by its series' scale (mean absolute change between consecutive observed steps), so a pipeline mixing units (hPa, degrees, km/h) weighs every series alike; the plain skill above is dominated by the series with the largest numbers. MASE below 1: better than repeating the last value.",
        extra={"fieldConfig": {"defaults": {"unit": "percentunit"}, "overrides": [
            {"matcher": {"id": "byRegexp", "options": ".*MASE.*"}, "properties": [{"id": "unit", "value": "none"}, {"id": "custom.axisPlacement", "value": "right"}]},
        ]}}))
    P.append(panel(lay, "Prediction interval coverage", [
        prom_target("A", f"sum by (pipeline, model, interval) (rate(streamcast_interval_coverage_hits_total{{{SEL}}}[$__rate_interval])) / sum by (pipeline, model, interval) (rate(streamcast_interval_coverage_scored_total{{{SEL}}}[$__rate_interval]))", "{{pipeline}} {{model}} {{interval}}"),
    ], unit="percentunit", w=12, description="Share of actuals inside the interval; should be near its nominal width (0.8 for 0.1-0.9)."))
    variables = [
        pipeline_var(),
        {
            "name": "series", "label": "series", "type": "query", "datasource": INFLUX,
            "definition": 'SHOW TAG VALUES FROM "actual" WITH KEY = "series" WHERE "pipeline" =~ /^$pipeline$/',
            "query": 'SHOW TAG VALUES FROM "actual" WITH KEY = "series" WHERE "pipeline" =~ /^$pipeline$/',
            "refresh": 1, "includeAll": False, "multi": False, "current": {}, "sort": 1,
        },
        {
            # Every horizon the pipeline forecasts (1..model.horizon): the live error counters exist
            # for each from the start. sort 3: numerical ascending.
            "name": "h", "label": "horizon", "type": "query", "datasource": PROM,
            "definition": f"label_values(streamcast_forecast_scored_total{{{SEL}}}, horizon)",
            "query": {"query": f"label_values(streamcast_forecast_scored_total{{{SEL}}}, horizon)", "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2, "includeAll": False, "multi": False, "current": {"text": "1", "value": "1"}, "sort": 3,
        },
    ]
    return dashboard("streamcast-forecasts", "streamcast / forecasts", P, variables,
                     "Forecast vs actual with intervals (InfluxDB history) and live accuracy (Prometheus).")


for name, d in [("pipeline-health.json", pipeline_health()), ("forecasts.json", forecasts())]:
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
