// The local status page: polls /status.json every second and fills the tables (textContent only).
const $ = (id) => document.getElementById(id);

function fill(tableId, rows) {
  const body = $(tableId).querySelector('tbody');
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement('tr');
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c === null || c === undefined ? '–' : String(c);
        tr.append(td);
      }
      return tr;
    }),
  );
}

const due = (ms) => (ms === null || ms === undefined ? 'unknown' : new Date(ms).toISOString());

async function refresh() {
  try {
    const res = await fetch('/status.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`status.json: HTTP ${res.status}`);
    const s = await res.json();
    fill(
      'decisions',
      s.decisions.map((d) => [d.decision, d.reason, d.count]),
    );
    $('hit-ratio').textContent = s.cache.ratio === null ? '–' : `${(s.cache.ratio * 100).toFixed(1)} %`;
    $('hits').textContent = String(s.cache.hits);
    $('misses').textContent = String(s.cache.misses);
    fill(
      'latency',
      s.mintLatency.map((l) => [l.backend, l.count, l.p50, l.p95, l.p99]),
    );
    fill(
      'rotation',
      s.rotation.map((r) => [r.secret, r.kind, r.outcome, r.phase, due(r.dueAtMs), r.source]),
    );
    $('updated').textContent = new Date(s.nowMs).toISOString();
    $('error').hidden = true;
  } catch (err) {
    $('error').hidden = false;
    $('error').textContent = `cannot refresh: ${err.message}`;
  }
}

refresh();
setInterval(refresh, 1000);
