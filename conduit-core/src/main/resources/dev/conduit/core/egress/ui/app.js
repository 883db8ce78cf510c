// conduit egress allowlist page: plain JavaScript against the JSON API (/api/v1), no inline code (CSP
// default-src 'self'). The session cookie is HttpOnly; every POST/DELETE repeats the conduit_csrf cookie in
// the X-CSRF-Token header (double submit). Values from the server are only ever set as text, never as HTML.
'use strict';

(function () {
  const REFRESH_MS = 5000;
  const $ = (id) => document.getElementById(id);
  let currentTab = 'entries';
  let timer = null;
  let searchTimer = null;
  let loading = null;
  let again = false;
  const armed = new Map(); // entry id -> time its delete button was clicked once
  const rendered = new Map(); // table -> the JSON it shows: unchanged data is not redrawn

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function csrfToken() {
    for (const part of document.cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === 'conduit_csrf') {
        return decodeURIComponent(rest.join('='));
      }
    }
    return '';
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (method !== 'GET') {
      headers['X-CSRF-Token'] = csrfToken();
    }
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (response.status === 401 && path !== '/ui/login') {
      showLogin('Your session has ended: sign in again.');
    }
    if (!response.ok) {
      const message = data && typeof data.error === 'string' ? data.error : response.status + ' ' + response.statusText;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  // ---- rendering helpers (text only) ----

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    if (className) {
      e.className = className;
    }
    return e;
  }

  function cell(row, content, className) {
    const td = el('td', undefined, className);
    if (content instanceof Node) {
      td.appendChild(content);
    } else if (content !== undefined && content !== null) {
      td.textContent = String(content);
    }
    row.appendChild(td);
    return td;
  }

  function when(iso) {
    if (!iso) {
      return el('span', '—');
    }
    const d = new Date(iso);
    const span = el('time', isNaN(d) ? iso : d.toLocaleString());
    span.setAttribute('datetime', iso);
    span.title = iso;
    return span;
  }

  function bytes(n) {
    const value = Number(n) || 0;
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    const span = el('span', i === 0 ? value + ' B' : v.toFixed(1) + ' ' + units[i]);
    span.title = value.toLocaleString() + ' bytes';
    span.dataset.bytes = String(value);
    return span;
  }

  function replaceRows(tableId, rows) {
    const tbody = $(tableId).querySelector('tbody');
    tbody.replaceChildren(...rows);
  }

  function setStatus(text, bad) {
    const s = $('status');
    s.textContent = text;
    s.className = bad ? 'no' : '';
  }

  // ---- views ----

  function entryRow(entry) {
    const tr = el('tr');
    tr.dataset.id = entry.id;
    tr.dataset.value = entry.value;
    cell(tr, entry.value, 'value');
    cell(tr, entry.kind, 'kind');
    cell(tr, entry.ports && entry.ports.length ? entry.ports.join(', ') : 'all', 'ports');
    const list = el('ul', undefined, 'addresses');
    for (const a of entry.addresses || []) {
      const li = el('li');
      li.dataset.address = a.address;
      li.appendChild(el('span', a.address, 'address'));
      const state = el('span', a.state, 'state state-' + a.state);
      state.title = a.state === 'grace' && a.graceUntil ? 'kept until ' + a.graceUntil : 'last seen ' + a.lastSeen;
      li.appendChild(state);
      list.appendChild(li);
    }
    cell(tr, list, 'resolved');
    const resolution = el('span');
    if (entry.kind === 'domain' || entry.kind === 'wildcard') {
      resolution.appendChild(entry.lastResolvedAt ? when(entry.lastResolvedAt) : el('span', 'not yet'));
    } else {
      resolution.appendChild(el('span', 'n/a'));
    }
    if (entry.lastError) {
      resolution.appendChild(el('span', entry.lastError, 'lasterror'));
    }
    cell(tr, resolution, 'last-resolution');
    const traffic = el('span');
    traffic.appendChild(bytes(entry.bytes));
    traffic.appendChild(el('span', ' · ' + (Number(entry.packets) || 0).toLocaleString() + ' packets'));
    cell(tr, traffic, 'traffic num');
    const created = el('span');
    created.appendChild(when(entry.createdAt));
    if (entry.createdBy) {
      created.appendChild(el('span', ' by ' + entry.createdBy));
    }
    cell(tr, created, 'created');
    cell(tr, entry.comment || '', 'comment');
    const del = el('button', isArmed(entry.id) ? 'Confirm delete' : 'Delete', 'danger delete');
    del.type = 'button';
    if (entry.nonDeletable) {
      del.disabled = true;
      del.title = 'non-deletable entry';
    } else {
      del.addEventListener('click', () => confirmDelete(del, entry));
    }
    cell(tr, del);
    return tr;
  }

  function isArmed(id) {
    const at = armed.get(id);
    return at !== undefined && Date.now() - at < 5000;
  }

  function confirmDelete(button, entry) {
    if (!isArmed(entry.id)) {
      // a second click within 5 s deletes: no modal dialog, no accidental deletes
      armed.set(entry.id, Date.now());
      button.textContent = 'Confirm delete';
      setTimeout(() => {
        if (!isArmed(entry.id)) {
          armed.delete(entry.id);
          button.textContent = 'Delete';
        }
      }, 5100);
      return;
    }
    armed.delete(entry.id);
    button.disabled = true;
    api('DELETE', '/api/v1/entries/' + encodeURIComponent(entry.id))
      .then(() => {
        setStatus('Deleted ' + entry.value);
        return refresh();
      })
      .catch((e) => {
        button.disabled = false;
        button.textContent = 'Delete';
        setStatus('Cannot delete ' + entry.value + ': ' + e.message, true);
      });
  }

  function changed(table, data) {
    const json = JSON.stringify(data);
    if (rendered.get(table) === json) {
      return false;
    }
    rendered.set(table, json);
    return true;
  }

  function renderEntries(entries) {
    replaceRows('entries', entries.map(entryRow));
    $('entries-empty').hidden = entries.length > 0;
    const byTraffic = entries.slice().sort((a, b) => (Number(b.bytes) || 0) - (Number(a.bytes) || 0));
    replaceRows('traffic-entries', byTraffic.map((e) => {
      const tr = el('tr');
      tr.dataset.value = e.value;
      cell(tr, e.value);
      cell(tr, bytes(e.bytes), 'num bytes');
      cell(tr, (Number(e.packets) || 0).toLocaleString(), 'num');
      return tr;
    }));
  }

  function renderTraffic(addresses) {
    replaceRows('traffic', addresses.map((a) => {
      const tr = el('tr');
      tr.dataset.address = a.address;
      cell(tr, a.address, 'address');
      cell(tr, (a.entries || []).join(', '));
      cell(tr, bytes(a.bytesIn), 'num bytes-in');
      cell(tr, bytes(a.bytesOut), 'num bytes-out');
      cell(tr, (Number(a.packetsIn) || 0).toLocaleString() + ' / ' + (Number(a.packetsOut) || 0).toLocaleString(), 'num');
      cell(tr, a.gateway || '');
      cell(tr, when(a.updatedAt));
      return tr;
    }));
  }

  // Adopt: on the ports the denied flows were seen on (the server adds them up), or on every port when asked.
  function adoptButton(value, port, allPorts) {
    const label = allPorts ? 'Adopt ' + value + ' on every port'
      : 'Adopt ' + value + (port ? ' on the seen port(s)' : '');
    const b = el('button', label, allPorts ? 'adopt-all' : 'adopt');
    b.type = 'button';
    b.dataset.value = value;
    b.addEventListener('click', () => {
      b.disabled = true;
      $('learned-error').textContent = '';
      api('POST', '/api/v1/learned/adopt', allPorts ? { value, allPorts: true } : { value })
        .then(() => {
          b.textContent = 'Adopted ' + value;
          setStatus('Adopted ' + value + (allPorts ? ' on every port' : ''));
          return refresh();
        })
        .catch((e) => {
          b.disabled = false;
          $('learned-error').textContent = value + ': ' + e.message;
        });
    });
    return b;
  }

  function renderLearned(learned) {
    replaceRows('learned', learned.map((l) => {
      const tr = el('tr');
      tr.dataset.destination = l.destination;
      cell(tr, l.destination, 'destination');
      cell(tr, l.port === null || l.port === undefined ? '' : l.port, 'num');
      cell(tr, l.sni || '', 'sni');
      cell(tr, l.host || '', 'host');
      cell(tr, (Number(l.count) || 0).toLocaleString(), 'num');
      cell(tr, when(l.lastSeen));
      cell(tr, l.gateway || '');
      const actions = el('span');
      const name = l.sni || l.host;
      if (name) {
        actions.appendChild(adoptButton(name, l.port, false));
        actions.appendChild(adoptButton(name, l.port, true));
      }
      actions.appendChild(adoptButton(l.destination, l.port, false));
      actions.appendChild(adoptButton(l.destination, l.port, true));
      cell(tr, actions);
      return tr;
    }));
  }

  function renderAudit(audit) {
    replaceRows('audit', audit.map((a) => {
      const tr = el('tr');
      tr.dataset.action = a.action;
      cell(tr, when(a.at));
      cell(tr, a.actor);
      cell(tr, a.action, 'action');
      cell(tr, a.subject, 'subject');
      cell(tr, a.detail || '');
      return tr;
    }));
  }

  function renderGateways(gateways) {
    replaceRows('gateways', gateways.map((g) => {
      const tr = el('tr');
      tr.dataset.name = g.name;
      cell(tr, g.name);
      cell(tr, el('span', g.connected ? 'yes' : 'no', g.connected ? 'yes' : 'no'));
      cell(tr, g.mode);
      cell(tr, g.appliedVersion, 'num');
      cell(tr, when(g.lastSeen));
      return tr;
    }));
  }

  // ---- loading ----

  // one load at a time; a refresh asked for meanwhile (after an add) runs once that load is done
  function refresh() {
    if (loading) {
      again = true;
      return loading;
    }
    loading = load().finally(() => {
      loading = null;
      if (again) {
        again = false;
        refresh().catch(() => {});
      }
    });
    return loading;
  }

  async function load() {
    const q = $('search').value.trim();
    const results = await Promise.allSettled([
      api('GET', '/api/v1/entries' + (q ? '?q=' + encodeURIComponent(q) : '')),
      api('GET', '/api/v1/traffic'),
      api('GET', '/api/v1/learned'),
      api('GET', '/api/v1/audit?limit=100'),
      api('GET', '/api/v1/gateways'),
    ]);
    const [entries, traffic, learned, audit, gateways] = results;
    const show = (result, table, field, render) => {
      if (result.status === 'fulfilled') {
        const rows = (result.value && result.value[field]) || [];
        if (changed(table, rows)) {
          render(rows);
        }
      }
    };
    show(entries, 'entries', 'entries', renderEntries);
    show(traffic, 'traffic', 'addresses', renderTraffic);
    show(learned, 'learned', 'learned', renderLearned);
    show(audit, 'audit', 'audit', renderAudit);
    show(gateways, 'gateways', 'gateways', renderGateways);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      setStatus('Cannot load: ' + failed.reason.message, true);
    } else {
      setStatus('Updated ' + new Date().toLocaleTimeString());
    }
  }

  function startRefreshing() {
    if (timer === null) {
      timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
    }
  }

  function showLogin(message) {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
    }
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('token').focus();
  }

  function showApp() {
    $('login').hidden = true;
    $('app').hidden = false;
    startRefreshing();
    return refresh();
  }

  function selectTab(name) {
    currentTab = name;
    for (const b of document.querySelectorAll('button.tab')) {
      b.setAttribute('aria-selected', String(b.dataset.tab === name));
    }
    for (const p of document.querySelectorAll('section.panel')) {
      p.hidden = p.id !== 'tab-' + name;
    }
  }

  function parsePorts(text) {
    const trimmed = text.trim();
    if (!trimmed) {
      return [];
    }
    return trimmed.split(/[\s,]+/).filter((p) => p).map((p) => {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 1 || n > 65535) {
        throw new Error('ports: ' + p + ' (expected: 1-65535)');
      }
      return n;
    });
  }

  function wire() {
    $('login-form').addEventListener('submit', (event) => {
      event.preventDefault();
      $('login-error').textContent = '';
      $('login-submit').disabled = true;
      api('POST', '/ui/login', { token: $('token').value })
        .then(() => {
          $('token').value = '';
          return showApp();
        })
        .catch((e) => {
          $('login-error').textContent = e.status === 401 || e.status === 403 ? 'Wrong token.' : e.message;
        })
        .finally(() => {
          $('login-submit').disabled = false;
        });
    });

    $('add-form').addEventListener('submit', (event) => {
      event.preventDefault();
      $('add-error').textContent = '';
      $('add-ok').textContent = '';
      let body;
      try {
        body = {
          value: $('add-value').value.trim(),
          ports: parsePorts($('add-ports').value),
          nonDeletable: $('add-nondeletable').checked,
          comment: $('add-comment').value,
        };
      } catch (e) {
        $('add-error').textContent = e.message;
        return;
      }
      $('add-submit').disabled = true;
      api('POST', '/api/v1/entries', body)
        .then((entry) => {
          $('add-ok').textContent = 'Added ' + (entry && entry.value ? entry.value : body.value);
          $('add-form').reset();
          return refresh();
        })
        .catch((e) => {
          $('add-error').textContent = e.message;
        })
        .finally(() => {
          $('add-submit').disabled = false;
        });
    });

    $('search').addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => refresh().catch(() => {}), 200);
    });

    for (const b of document.querySelectorAll('button.tab')) {
      b.addEventListener('click', () => selectTab(b.dataset.tab));
    }
    $('refresh').addEventListener('click', () => refresh().catch(() => {}));
  }

  async function start() {
    wire();
    selectTab(currentTab);
    try {
      await api('GET', '/api/v1/gateways');
      await showApp();
    } catch (e) {
      if (e.status !== 401) {
        showLogin(e.status ? '' : 'Cannot reach the server: ' + e.message);
      }
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    start();
  });
})();
