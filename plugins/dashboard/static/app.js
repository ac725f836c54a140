// The dashboard's entry module: reads the bootstrap JSON the plugin put in index.html,
// draws every view from it, loads the charts' history, then keeps everything current from
// the live stream and /ui/overview.json.
import { OverviewPoller } from "./banner.js";
import { Charts } from "./charts.js";
import { Controls } from "./controls.js";
import { Displays } from "./display.js";
import { LogViewer } from "./logs.js";
import { NodeCards } from "./nodes.js";
import { renderPlugins } from "./plugins.js";
import { LiveStream } from "./stream.js";

const $ = (id) => document.getElementById(id);
const boot = JSON.parse($("bootstrap").textContent);

const cards = new NodeCards($("nodes"));
const charts = new Charts($("charts"), $("ranges"));
const logs = new LogViewer($("log-tabs"), $("log-lines"), $("log-level"));
const displays = new Displays($("displays-section"), $("displays"));
const controls = new Controls({
    root: $("controls"), form: $("login"), tokenInput: $("token"), loginResult: $("login-result"),
    session: $("session"), sessionText: $("session-text"), logout: $("logout"),
});

function show(overview) {
    cards.setNodes(overview.nodes);
    logs.setNodes(overview.nodes);
    displays.setNodes(overview.nodes);
    controls.setOffers(overview.controls);
    renderPlugins($("plugins"), overview.nodes);
    return charts.setCharts(overview.charts);
}

const poller = new OverviewPoller(boot.overview_url, boot.overview_every_s * 1000, $("banner"), show);
const live = $("live");
const stream = new LiveStream("/api/stream", {
    state(name) {
        live.dataset.state = name;
        live.textContent = { live: "live", connecting: "connecting…", down: "offline" }[name];
    },
    readings(data) {
        cards.seen(data.node, data.at);
        charts.readings(data);
    },
    log: (data) => logs.log(data),
    health: (data) => cards.health(data),
    status(data) {
        if (!cards.status(data)) poller.now();
    },
    plugins: () => poller.now(),
    reset() {
        // The hub no longer holds what we missed: refetch everything.
        poller.now();
        charts.reload();
        logs.load();
    },
});

const first = show(boot.overview);
stream.start();
controls.start();
poller.start();
first.then(() => {
    performance.mark("dashboard-ready");
    document.body.dataset.ready = "true";
    displays.start();
});
