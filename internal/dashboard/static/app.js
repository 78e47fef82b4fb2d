// The votestream live dashboard. It opens an EventSource on /events and
// redraws every panel from each "summary" event, without reloading the page.
// Every number is written with textContent, never as HTML.
"use strict";

const numberFormat = new Intl.NumberFormat("en-US");
const formatNumber = (n) => numberFormat.format(n);
const formatPercent = (part, whole) => (whole > 0 ? (100 * part / whole).toFixed(1) + "%" : "–");

// Colors of well-known parties, keyed by upper-case name; other parties get
// a stable color from the palette by a hash of their name.
const partyColors = {
  "DEMOCRAT": "#3b82f6", "DEMOCRATIC": "#3b82f6", "REPUBLICAN": "#ef4444",
  "LABOUR": "#e4003b", "CONSERVATIVE": "#0087dc", "LIBERAL DEMOCRAT": "#faa61a",
  "SCOTTISH NATIONAL PARTY": "#fdf38e", "SNP": "#fdf38e", "REFORM UK": "#12b6cf",
  "GREEN": "#6ab023", "GREEN PARTY": "#6ab023", "PLAID CYMRU": "#005b54",
  "SINN FÉIN": "#326760", "SINN FEIN": "#326760", "DEMOCRATIC UNIONIST PARTY": "#d46a4c",
  "INDEPENDENT": "#9ca3af", "WRITE-IN": "#a78bfa", "LIBERTARIAN": "#fed105",
};
const palette = ["#a78bfa", "#f472b6", "#34d399", "#fb923c", "#22d3ee", "#facc15", "#c084fc", "#4ade80", "#f87171", "#60a5fa"];

function partyColor(party) {
  const known = partyColors[(party || "").toUpperCase()];
  if (known) return known;
  let hash = 0;
  for (const ch of party || "") hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return palette[hash % palette.length];
}

const $ = (id) => document.getElementById(id);

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function chip(color) {
  const span = document.createElement("span");
  span.className = "party-chip";
  span.style.background = color;
  return span;
}

// Chart defaults for a dark page.
Chart.defaults.color = "#8f9ab8";
Chart.defaults.borderColor = "rgba(255,255,255,0.06)";
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.animation.duration = 300;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.plugins.legend.display = false;

const horizontalBars = () => ({
  type: "bar",
  data: { labels: [], datasets: [{ data: [], backgroundColor: [], borderRadius: 4, barPercentage: 0.8 }] },
  options: {
    indexAxis: "y",
    scales: { x: { beginAtZero: true, ticks: { callback: (v) => formatNumber(v) } }, y: { grid: { display: false } } },
    plugins: { tooltip: { callbacks: { label: (ctx) => formatNumber(ctx.parsed.x) + " votes" } } },
  },
});

const charts = {
  candidates: new Chart($("candidate-chart"), horizontalBars()),
  parties: new Chart($("party-chart"), horizontalBars()),
  timeline: new Chart($("timeline-chart"), {
    type: "line",
    data: {
      labels: [],
      datasets: [
        { label: "Cumulative ballots", data: [], borderColor: "#f5c542", backgroundColor: "rgba(245,197,66,0.15)", fill: true, tension: 0.25, pointRadius: 0, yAxisID: "y" },
        { label: "Ballots per quarter hour", data: [], type: "bar", backgroundColor: "rgba(96,165,250,0.45)", yAxisID: "y1" },
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { display: true, labels: { boxWidth: 12 } } },
      scales: {
        x: { ticks: { maxTicksLimit: 12, autoSkip: true } },
        y: { beginAtZero: true, position: "left", ticks: { callback: (v) => formatNumber(v) } },
        y1: { beginAtZero: true, position: "right", grid: { display: false }, ticks: { callback: (v) => formatNumber(v) } },
      },
    },
  }),
  ages: new Chart($("age-chart"), {
    type: "bar",
    data: { labels: [], datasets: [{ data: [], backgroundColor: "#22d3ee", borderRadius: 4 }] },
    options: { scales: { y: { beginAtZero: true, ticks: { callback: (v) => formatNumber(v) } }, x: { grid: { display: false } } } },
  }),
  rejected: new Chart($("rejected-chart"), horizontalBars()),
};

function setBars(chart, labels, values, colors) {
  chart.data.labels = labels;
  chart.data.datasets[0].data = values;
  chart.data.datasets[0].backgroundColor = colors;
  chart.update();
}

// quarterHourLabel turns "2024-11-05T14:15:00.000Z" into "11-05 14:15".
const quarterHourLabel = (start) => start.slice(5, 10) + " " + start.slice(11, 16);

function renderHeader(s) {
  setText("election-title", s.election_id ? s.election_id : "Waiting for results…");
  document.title = (s.election_id ? s.election_id + " · " : "") + "votestream live results";
  setText("updated-at", s.updated_at ? s.updated_at.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "–");

  const select = $("election-select");
  const ids = s.elections || [];
  if (select.options.length !== ids.length || ids.some((id, i) => select.options[i].value !== id)) {
    select.replaceChildren(...ids.map((id) => new Option(id, id)));
  }
  select.value = s.election_id;
  select.disabled = ids.length < 2;
}

function renderKPIs(s) {
  setText("kpi-accepted", formatNumber(s.accepted));
  setText("kpi-received", formatNumber(s.received));
  setText("kpi-regions", formatNumber(s.regions_reporting));

  if (s.leader) {
    setText("kpi-leader-name", s.leader.name + (s.leader_tied ? " (tied)" : ""));
    setText("kpi-leader-party", s.leader.party || "no party");
    setText("kpi-leader-votes", formatNumber(s.leader.votes));
    setText("kpi-leader-share", formatPercent(s.leader.votes, s.accepted));
    $("kpi-leader-swatch").style.background = partyColor(s.leader.party);
  } else {
    setText("kpi-leader-name", "–");
    setText("kpi-leader-party", "–");
    setText("kpi-leader-votes", "0");
    setText("kpi-leader-share", "–");
  }

  if (s.leading_party) {
    setText("kpi-party", s.leading_party.party || "no party");
    setText("kpi-party-votes", formatNumber(s.leading_party.votes));
    setText("kpi-party-won", formatNumber(s.leading_party.regions_won));
  } else {
    setText("kpi-party", "–");
    setText("kpi-party-votes", "0");
    setText("kpi-party-won", "0");
  }

  if (s.registered > 0) {
    setText("kpi-turnout", formatPercent(s.accepted_where_registered, s.registered));
    setText("kpi-turnout-note", formatNumber(s.accepted_where_registered) + " of " + formatNumber(s.registered) + " registered in " +
      formatNumber(s.registration_regions) + " of " + formatNumber(s.regions_reporting) + " regions");
  } else {
    setText("kpi-turnout", "unknown");
    setText("kpi-turnout-note", "registered voters not published");
  }

  setText("kpi-rejected", formatNumber(s.rejected));
  setText("kpi-rejected-share", s.received > 0 ? formatPercent(s.rejected, s.received) + " of ballots received" : "–");
}

function renderAudit(a) {
  const box = $("audit");
  if (!a) {
    box.dataset.state = "unknown";
    setText("audit-text", "unknown");
    setText("audit-detail", "not checked yet");
    return;
  }
  box.dataset.state = a.agree ? "agree" : "disagree";
  setText("audit-text", a.agree ? "agree" : "disagree");
  const counts = "lake " + formatNumber(a.lake_votes) + " · ledger " + formatNumber(a.ledger_votes) +
    (a.agree ? "" : " · " + formatNumber(a.mismatched_rows) + " rows differ");
  setText("audit-detail", a.detail ? counts + " · " + a.detail : counts);
}

function renderCandidates(s) {
  const list = s.candidates || [];
  setBars(charts.candidates, list.map((c) => c.name), list.map((c) => c.votes), list.map((c) => partyColor(c.party)));
  const rows = list.map((c, i) => {
    const tr = document.createElement("tr");
    tr.dataset.candidateId = c.candidate_id;
    if (i === 0 && c.votes > 0) tr.className = "lead";
    const name = cell(c.name, "name");
    name.prepend(chip(partyColor(c.party)));
    tr.append(name, cell(c.party, "party"), cell(formatNumber(c.votes), "num votes"), cell(formatPercent(c.votes, s.accepted), "num share"));
    return tr;
  });
  $("candidate-table").tBodies[0].replaceChildren(...rows);
  const others = $("candidate-others");
  others.hidden = !s.other_candidates.count;
  others.textContent = formatNumber(s.other_candidates.count) + " more candidates with " + formatNumber(s.other_candidates.votes) + " votes";
}

function renderParties(s) {
  const list = s.parties || [];
  setBars(charts.parties, list.map((p) => p.party || "no party"), list.map((p) => p.votes), list.map((p) => partyColor(p.party)));
  const rows = list.map((p, i) => {
    const tr = document.createElement("tr");
    tr.dataset.party = p.party;
    if (i === 0 && p.votes > 0) tr.className = "lead";
    const name = cell(p.party || "no party", "name");
    name.prepend(chip(partyColor(p.party)));
    tr.append(name, cell(formatNumber(p.votes), "num votes"), cell(formatPercent(p.votes, s.accepted), "num share"), cell(formatNumber(p.regions_won), "num won"));
    return tr;
  });
  $("party-table").tBodies[0].replaceChildren(...rows);
  const others = $("party-others");
  others.hidden = !s.other_parties.count;
  others.textContent = formatNumber(s.other_parties.count) + " more parties with " + formatNumber(s.other_parties.votes) + " votes";
}

function renderTimeline(s) {
  const points = s.timeline || [];
  const chart = charts.timeline;
  chart.data.labels = points.map((p) => quarterHourLabel(p.start));
  chart.data.datasets[0].data = points.map((p) => p.cumulative);
  chart.data.datasets[1].data = points.map((p) => p.ballots);
  chart.update();
  const last = points[points.length - 1];
  setText("timeline-last", last ? quarterHourLabel(last.start) + " UTC, " + formatNumber(last.ballots) + " ballots" : "–");
  setText("timeline-total", last ? formatNumber(last.cumulative) : "0");
}

function renderAgeBands(s) {
  const bands = s.age_bands || [];
  charts.ages.data.labels = bands.map((b) => b.name);
  charts.ages.data.datasets[0].data = bands.map((b) => b.count);
  charts.ages.update();
  const total = bands.reduce((sum, b) => sum + b.count, 0);
  const row = (label, values, className) => {
    const tr = document.createElement("tr");
    tr.append(cell(label), ...values.map((v) => cell(v, className)));
    return tr;
  };
  $("age-table").tBodies[0].replaceChildren(
    row("Age", bands.map((b) => b.name), "num"),
    row("Ballots", bands.map((b) => formatNumber(b.count)), "num age-count"),
    row("Share", bands.map((b) => formatPercent(b.count, total)), "num"),
  );
}

function renderRejected(s) {
  const list = s.rejected_by_reason || [];
  setBars(charts.rejected, list.map((r) => r.name.replaceAll("_", " ")), list.map((r) => r.count), list.map(() => "#e5484d"));
  const rows = list.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.reason = r.name;
    tr.append(cell(r.name.replaceAll("_", " "), "name"), cell(formatNumber(r.count), "num count"));
    return tr;
  });
  $("rejected-table").tBodies[0].replaceChildren(...rows);
  $("rejected-none").hidden = list.length > 0;
}

let lastRegions = [];

function renderRegions(regions) {
  lastRegions = regions || [];
  const query = $("region-search").value.trim().toLowerCase();
  const shown = lastRegions.filter((r) => !query ||
    [r.code, r.name, r.leader, r.leader_party].some((field) => (field || "").toLowerCase().includes(query)));
  const rows = shown.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.regionCode = r.code;
    const name = cell(r.name || r.code, "name");
    name.title = r.code;
    const leader = cell(r.leader ? r.leader + " (" + (r.leader_party || "no party") + ")" : "–", "leader");
    if (r.leader) leader.prepend(chip(partyColor(r.leader_party)));
    tr.append(name, leader,
      cell(r.leader ? (r.margin > 0 ? formatNumber(r.margin) : "tied") : "–", "num margin"),
      cell(formatNumber(r.accepted), "num accepted"),
      cell(r.registered >= 0 ? formatPercent(r.accepted, r.registered) : "–", "num turnout"),
      cell(formatNumber(r.rejected), "num rejected"));
    return tr;
  });
  $("region-table").tBodies[0].replaceChildren(...rows);
  setText("region-count", query ? shown.length + " of " + lastRegions.length + " regions" : lastRegions.length + " regions");
}

function render(s) {
  renderHeader(s);
  renderKPIs(s);
  renderAudit(s.audit);
  renderCandidates(s);
  renderParties(s);
  renderTimeline(s);
  renderAgeBands(s);
  renderRejected(s);
  renderRegions(s.regions);
}

function setStatus(state, text) {
  $("status").dataset.state = state;
  setText("status-text", text);
}

let source = null;

// connect opens the event stream for an election, or for the most recently
// updated one when electionID is empty. EventSource reconnects by itself.
function connect(electionID) {
  if (source) source.close();
  const url = "/events" + (electionID ? "?election=" + encodeURIComponent(electionID) : "");
  source = new EventSource(url);
  source.addEventListener("open", () => setStatus("live", "Live"));
  source.addEventListener("error", () => setStatus("reconnecting", "Reconnecting"));
  source.addEventListener("summary", (event) => {
    setStatus("live", "Live");
    render(JSON.parse(event.data));
  });
}

$("region-search").addEventListener("input", () => renderRegions(lastRegions));
$("election-select").addEventListener("change", (event) => {
  const id = event.target.value;
  const url = new URL(window.location.href);
  url.searchParams.set("election", id);
  window.history.replaceState(null, "", url);
  connect(id);
});

connect(new URLSearchParams(window.location.search).get("election") || "");
