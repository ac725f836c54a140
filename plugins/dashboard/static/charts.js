// Sensor charts with uPlot (from npm, pinned by the plugin's package-lock.json): one chart
// group per (node, plugin) the overview names, one plot per metric. A range loads its
// history from /api/series at a resolution that keeps a few hundred points; live readings
// are appended as they arrive, without reloading.
import uPlot from "./uPlot.esm.js";
import { getJSON, seriesUrl } from "./api.js";
import { h, replaceChildren } from "./dom.js";

export const RANGES = [
    { key: "15m", label: "15 min", seconds: 900, resolution: 5 },
    { key: "1h", label: "1 h", seconds: 3600, resolution: 15 },
    { key: "6h", label: "6 h", seconds: 21600, resolution: 60 },
    { key: "24h", label: "24 h", seconds: 86400, resolution: 300 },
    { key: "7d", label: "7 d", seconds: 604800, resolution: 1800 },
];
const COLORS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00"];
const HEIGHT = 150;

/** An axis as wide as its longest label (uPlot's own autosize recipe), so 1,008.25 hPa
 *  is not clipped to "008.25". */
function axisSize(self, values, axisIdx, cycleNum) {
    const axis = self.axes[axisIdx];
    if (cycleNum > 1) return axis._size;
    let size = axis.ticks.size + axis.gap;
    const longest = (values ?? []).reduce((acc, v) => (String(v).length > acc.length ? String(v) : acc), "");
    if (longest) {
        self.ctx.font = axis.font[0];
        size += self.ctx.measureText(longest).width / devicePixelRatio;
    }
    return Math.ceil(size);
}

class Plot {
    constructor(parent, chart, metric, color) {
        this.node = chart.node;
        this.plugin = chart.plugin;
        this.metric = metric.name;
        this.unit = metric.unit;
        this.el = h("div", { class: "plot", dataset: { node: chart.node, plugin: chart.plugin, metric: metric.name, points: "0" } });
        parent.append(this.el);
        this.xs = [];
        this.ys = [];
        this.uplot = new uPlot({
            title: `${metric.name}${metric.unit ? ` (${metric.unit})` : ""}`,
            width: Math.max(200, parent.clientWidth || 300),
            height: HEIGHT,
            legend: { show: false },
            scales: { x: { time: true } },
            series: [{}, { label: metric.name, stroke: color, width: 2, spanGaps: true, points: { show: false } }],
            axes: [{ size: 30 }, { size: axisSize }],
        }, [[], []], this.el);
    }

    matches(node, plugin, metric) {
        return this.node === node && this.plugin === plugin && this.metric === metric;
    }

    setPoints(xs, ys) {
        this.xs = xs;
        this.ys = ys;
        this._draw();
    }

    append(at, value, since) {
        if (this.xs.length && at <= this.xs[this.xs.length - 1]) return; // replayed or late
        this.xs.push(at);
        this.ys.push(value);
        let drop = 0;
        while (drop < this.xs.length && this.xs[drop] < since) drop++;
        if (drop) {
            this.xs.splice(0, drop);
            this.ys.splice(0, drop);
        }
        this._draw();
    }

    _draw() {
        this.uplot.setData([this.xs, this.ys]);
        this.el.dataset.points = String(this.xs.length);
    }

    resize(width) {
        this.uplot.setSize({ width: Math.max(200, width), height: HEIGHT });
    }

    destroy() {
        this.uplot.destroy();
        this.el.remove();
    }
}

export class Charts {
    constructor(root, rangesRoot) {
        this.root = root;
        this.rangesRoot = rangesRoot;
        this.range = RANGES[0];
        this.plots = [];
        this.key = "";
        this.groups = [];
        this.loading = null;
        this.resizer = new ResizeObserver((entries) => {
            for (const entry of entries) {
                for (const plot of this.plots) {
                    if (plot.el.parentElement === entry.target) plot.resize(entry.contentRect.width);
                }
            }
        });
        this._rangeButtons();
    }

    /** Draw the charts the overview names (again only if they changed); resolves when
     *  every plot has its history. */
    setCharts(charts) {
        const key = JSON.stringify(charts.map((c) => [c.node, c.plugin, c.metrics.map((m) => m.name)]));
        if (key === this.key) return this.loading || Promise.resolve();
        this.key = key;
        for (const plot of this.plots) plot.destroy();
        this.plots = [];
        this.resizer.disconnect();
        if (!charts.length) {
            replaceChildren(this.root, h("p", { class: "empty" }, "No sensor plugins report yet."));
            return Promise.resolve();
        }
        const groups = charts.map((chart) => {
            const body = h("div", { class: "plot-body" });
            const group = h("div", { class: "chart-group", dataset: { node: chart.node, plugin: chart.plugin } },
                h("h3", {}, `${chart.plugin.toUpperCase()} · ${chart.node}`), body);
            return { chart, group, body };
        });
        replaceChildren(this.root, groups.map((g) => g.group));
        for (const { chart, body } of groups) {
            chart.metrics.forEach((metric, i) => {
                this.plots.push(new Plot(body, chart, metric, COLORS[i % COLORS.length]));
            });
            this.resizer.observe(body);
        }
        return this.reload();
    }

    reload() {
        const end = Date.now() / 1000 + 1;
        const start = end - this.range.seconds;
        const resolution = this.range.resolution;
        this.loading = Promise.all(this.plots.map(async (plot) => {
            const url = seriesUrl({ node: plot.node, plugin: plot.plugin, metric: plot.metric, start, end, resolution });
            try {
                const series = await getJSON(url);
                plot.setPoints(series.points.map((p) => p.at), series.points.map((p) => p.mean));
            } catch (error) {
                console.warn("series", plot.metric, error);
            }
        }));
        return this.loading;
    }

    /** A `readings` event from the live stream. */
    readings(data) {
        const since = Date.now() / 1000 - this.range.seconds;
        for (const r of data.readings || []) {
            for (const plot of this.plots) {
                if (plot.matches(data.node, data.plugin, r.metric)) plot.append(data.at, r.value, since);
            }
        }
    }

    _rangeButtons() {
        const buttons = RANGES.map((range) => h("button", {
            type: "button", dataset: { range: range.key },
            "aria-pressed": range === this.range ? "true" : "false",
            onclick: () => {
                this.range = range;
                for (const b of buttons) b.setAttribute("aria-pressed", b === buttons[RANGES.indexOf(range)] ? "true" : "false");
                this.reload();
            },
        }, range.label));
        replaceChildren(this.rangesRoot, buttons);
    }
}
