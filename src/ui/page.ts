// The checkpoint page (`keyed-state ui`): one HTML document with its script,
// like Flink's "Checkpoints" tab. It polls /api/checkpoints every two seconds
// (so it follows a running job), draws duration and size over time with uPlot,
// and shows one snapshot's details from /api/snapshot. Plain DOM code, no
// build step. (The script uses no template literals: this file is one.)
export const CHECKPOINT_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Checkpoints · keyed-state</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>
  :root { --bg: #f5f6f8; --card: #fff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec;
          --ok: #1f9d55; --bad: #d64545; --sp: #7b5cd6; --accent: #2f6fde; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--ink); }
  header { background: #1d2330; color: #fff; padding: 14px 24px; display: flex; align-items: baseline; gap: 16px; }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; }
  header .loc { color: #aab3c5; font-family: ui-monospace, monospace; font-size: 13px; }
  header .live { margin-left: auto; font-size: 12px; color: #aab3c5; }
  header .live::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: var(--ok); margin-right: 6px; }
  main { padding: 20px 24px; display: grid; gap: 16px; }
  .cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; }
  .card, .panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
  .card { padding: 12px 14px; }
  .card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .v { font-size: 22px; font-weight: 600; margin-top: 2px; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .panel { padding: 12px 14px; }
  .panel h2 { font-size: 13px; margin: 0 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; font-weight: 600; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
  tbody tr.row { cursor: pointer; }
  tbody tr.row:hover { background: #f0f4fc; }
  tbody tr.selected { background: #e6eefc; }
  tr.breakdown td { background: #fafbfc; color: var(--muted); font-size: 12px; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
  .badge.completed { background: var(--ok); } .badge.failed { background: var(--bad); } .badge.savepoint { background: var(--sp); }
  .muted { color: var(--muted); }
  .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  .details { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .details table td, .details table th { text-align: left; }
  .problems { color: var(--bad); }
  .empty { padding: 30px; text-align: center; color: var(--muted); }
</style>
</head>
<body>
<header><h1>Checkpoints</h1><span class="loc" id="location"></span><span class="live" id="updated">loading</span></header>
<main>
  <section class="cards" id="cards"></section>
  <section class="charts">
    <div class="panel"><h2>Checkpoint duration</h2><div id="chart-duration"></div></div>
    <div class="panel"><h2>Checkpoint size</h2><div id="chart-size"></div></div>
  </section>
  <section class="panel">
    <h2>History</h2>
    <div class="problems" id="problems"></div>
    <table id="history"><thead><tr>
      <th>ID</th><th>Type</th><th>Status</th><th>Triggered</th><th>Duration</th><th>Sync pause</th><th>Async</th><th>Size</th><th>Incremental</th><th>Instances</th>
    </tr></thead><tbody></tbody></table>
  </section>
  <section class="panel" id="details-panel" hidden>
    <h2 id="details-title">Details</h2>
    <div id="details"></div>
  </section>
</main>
<script src="/assets/uPlot.iife.min.js"></script>
<script>
(function () {
  var state = { rows: [], selected: null, expanded: {}, charts: {}, lastJson: '' };
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) { if (k === 'text') e.textContent = attrs[k]; else if (k === 'cls') e.className = attrs[k]; else e.setAttribute(k, attrs[k]); }
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function bytes(n) {
    if (n === undefined || n === null) return '-';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + u[i];
  }
  function ms(n) {
    if (n === undefined || n === null) return '-';
    return n < 1000 ? n.toFixed(n < 10 ? 1 : 0) + ' ms' : (n / 1000).toFixed(2) + ' s';
  }
  function time(t) { var d = new Date(t); return d.toLocaleDateString() + ' ' + d.toLocaleTimeString(); }
  function range(r) { return r.start + '..' + r.end; }
  // A recorded serializer config as inspect prints it: id@version, and its config when it has one.
  function serializer(c) { return c.id + '@' + c.version + (c.config === undefined ? '' : JSON.stringify(c.config)); }
  function badge(text, cls) { return el('span', { cls: 'badge ' + cls, text: text }); }

  function drawCards(rows) {
    var done = rows.filter(function (r) { return r.status === 'completed'; });
    var failed = rows.filter(function (r) { return r.status === 'failed'; });
    var last = done[done.length - 1];
    var cards = [
      ['Completed', String(done.length)], ['Failed', String(failed.length)],
      ['Latest', last ? (last.type === 'savepoint' ? 'savepoint ' : '#') + last.checkpointId : '-'],
      ['Latest duration', last ? ms(last.durationMs) : '-'], ['Latest size', last ? bytes(last.sizeBytes) : '-'],
    ];
    var box = document.getElementById('cards');
    box.replaceChildren.apply(box, cards.map(function (c) { return el('div', { cls: 'card' }, [el('div', { cls: 'k', text: c[0] }), el('div', { cls: 'v', text: c[1] })]); }));
  }

  function chart(id, series, data, format) {
    var box = document.getElementById(id);
    var width = box.clientWidth || 500;
    if (state.charts[id]) { state.charts[id].setData(data); state.charts[id].setSize({ width: width, height: 220 }); return; }
    var opts = { width: width, height: 220, scales: { x: { time: true } }, legend: { live: false },
      axes: [{}, { size: 80, values: function (u, vals) { return vals.map(format); } }], series: [{}].concat(series) };
    state.charts[id] = new uPlot(opts, data, box);
  }
  function drawCharts(rows) {
    // Checkpoints only: a savepoint is a full copy and would read as a spike or dip.
    var done = rows.filter(function (r) { return r.status === 'completed' && r.type === 'checkpoint'; });
    var x = done.map(function (r) { return r.triggeredAtMs / 1000; });
    chart('chart-duration', [
      { label: 'total', stroke: '#2f6fde', width: 2, points: { show: true } },
      { label: 'sync pause', stroke: '#e08a1e', width: 2, points: { show: true } },
    ], [x, done.map(function (r) { return r.durationMs; }), done.map(function (r) { return r.syncPauseMs || 0; })], ms);
    chart('chart-size', [
      { label: 'full size', stroke: '#1f9d55', width: 2, points: { show: true } },
      { label: 'incremental', stroke: '#7b5cd6', width: 2, points: { show: true } },
    ], [x, done.map(function (r) { return r.sizeBytes; }), done.map(function (r) { return r.incrementalSizeBytes; })], bytes);
  }

  function drawTable(rows) {
    var body = document.querySelector('#history tbody');
    var out = [];
    if (rows.length === 0) out.push(el('tr', {}, [el('td', { colspan: '10', cls: 'empty', text: 'No checkpoints yet' })]));
    rows.slice().reverse().forEach(function (r) {
      var key = r.dir;
      var tr = el('tr', { cls: 'row' + (state.selected === key ? ' selected' : ''), 'data-id': String(r.checkpointId) }, [
        el('td', { text: String(r.checkpointId) }),
        el('td', {}, [r.type === 'savepoint' ? badge('savepoint', 'savepoint') : el('span', { text: 'checkpoint' })]),
        el('td', {}, [badge(r.status, r.status), el('span', { cls: 'muted', text: r.retained ? ' retained' : r.failure ? ' ' + r.failure.code : '' })]),
        el('td', { text: time(r.triggeredAtMs) }),
        el('td', { text: ms(r.durationMs) }),
        el('td', { text: ms(r.syncPauseMs) }),
        el('td', { text: ms(r.asyncDurationMs) }),
        el('td', { text: bytes(r.sizeBytes) }),
        el('td', { text: bytes(r.incrementalSizeBytes) }),
        el('td', { text: r.instances ? String(r.instances.length) : '-' }),
      ]);
      if (r.failure) tr.title = r.failure.message;
      tr.addEventListener('click', function () { select(r); });
      out.push(tr);
      if (state.expanded[key] && r.instances) {
        r.instances.forEach(function (i) {
          out.push(el('tr', { cls: 'breakdown' }, [
            el('td', { text: '' }), el('td', { text: 'instance ' + i.index }), el('td', { text: 'key groups ' + range(i.keyGroupRange) }), el('td', { text: '' }),
            el('td', { text: '' }), el('td', { text: ms(i.syncDurationMs) }), el('td', { text: ms(i.asyncDurationMs) }),
            el('td', { text: bytes(i.sizeBytes) }), el('td', { text: bytes(i.incrementalSizeBytes) }), el('td', { text: '' }),
          ]));
        });
      }
    });
    body.replaceChildren.apply(body, out);
  }

  function select(r) {
    state.expanded[r.dir] = !state.expanded[r.dir];
    state.selected = r.dir;
    drawTable(state.rows);
    var panel = document.getElementById('details-panel');
    var box = document.getElementById('details');
    panel.hidden = false;
    document.getElementById('details-title').textContent = r.type + ' ' + r.checkpointId + ' · ' + r.dir;
    if (!r.retained) {
      box.replaceChildren(el('p', { cls: 'muted', text: r.status === 'failed' ? 'Failed: ' + r.failure.message : 'No longer retained: its _metadata was deleted when newer checkpoints subsumed it.' }));
      return;
    }
    box.replaceChildren(el('p', { cls: 'muted', text: 'loading' }));
    fetch('/api/snapshot?dir=' + encodeURIComponent(r.dir)).then(function (res) { return res.json(); }).then(function (d) {
      if (d.error) { box.replaceChildren(el('p', { cls: 'problems', text: d.error })); return; }
      var states = el('table', {}, [el('thead', {}, [el('tr', {}, ['State', 'Kind', 'Value', 'Namespace', 'TTL'].map(function (h) { return el('th', { text: h }); }))]),
        el('tbody', {}, d.states.map(function (s) { return el('tr', {}, [s.name, s.kind, serializer(s.valueSerializer), serializer(s.namespaceSerializer), s.ttl ? ms(s.ttl.ttlMs) : '-'].map(function (c) { return el('td', { text: c }); })); }))]);
      var inst = el('table', {}, [el('thead', {}, [el('tr', {}, ['Instance', 'Key groups', 'Handle', 'Shared', 'Exclusive', 'Files', 'Operator state'].map(function (h) { return el('th', { text: h }); }))]),
        el('tbody', {}, d.instances.map(function (i) {
          return el('tr', {}, [
            el('td', { text: String(i.index) }), el('td', { text: range(i.keyGroupRange) }), el('td', { text: i.handleType || 'no state' }),
            el('td', { text: bytes(i.sharedBytes) }), el('td', { text: bytes(i.exclusiveBytes) }), el('td', { text: String(i.fileCount) }),
            el('td', { cls: 'mono', text: i.operatorState !== undefined ? JSON.stringify(i.operatorState) : '-' }),
          ]);
        }))]);
      box.replaceChildren(el('div', { cls: 'details' }, [
        el('div', {}, [el('h2', { text: 'States' }), states]),
        el('div', {}, [el('h2', { text: 'Summary' }), el('p', { text: 'parallelism ' + d.parallelism + ' of max ' + d.maxParallelism + ', ' + bytes(d.sizeBytes) + ' (' + bytes(d.incrementalSizeBytes) + ' written for it)' })]),
      ]), el('h2', { text: 'Instances' }), inst);
    });
  }

  function refresh() {
    fetch('/api/checkpoints').then(function (res) { return res.json(); }).then(function (o) {
      document.getElementById('location').textContent = o.location;
      document.getElementById('updated').textContent = 'updated ' + new Date(o.generatedAtMs).toLocaleTimeString();
      document.getElementById('problems').textContent = o.problems.join('; ');
      var json = JSON.stringify(o.rows);
      if (json === state.lastJson) return;
      state.lastJson = json;
      state.rows = o.rows;
      drawCards(o.rows); drawCharts(o.rows); drawTable(o.rows);
      document.body.setAttribute('data-rows', String(o.rows.length));
    }).catch(function (e) { document.getElementById('updated').textContent = 'unreachable: ' + e.message; });
  }
  refresh();
  setInterval(refresh, 2000);
})();
</script>
</body>
</html>
`
