// The dashboard's side of a history file, in its own DuckDB engine (@duckdb/node-api 1.4.2 = duckdb-async 1.4.2).
//
// Each request opens the file as the dashboard's app/api/db.ts does: a new DuckDB instance with no access mode
// (read-write, so an exclusive lock), one connection, the query, the connection closed, the instance never
// closed (left to the garbage collector). --read-only opens with access_mode READ_ONLY and closes the instance,
// as the README suggests the dashboard could.
//
// DUCKDB_NODE_PREFIX names the npm prefix that holds @duckdb/node-api (tests/dashboard.py installs it there).
//
//   node dashboard_reader.mjs queries FILE...         one JSON line per file: both routes' rows, or the error
//   node dashboard_reader.mjs poll FILE [--every MS]  a request every MS (200) until stdin closes, then one
//                                                      JSON line: requests and failures per route
import { createRequire } from 'node:module';
import { join } from 'node:path';

const { DuckDBInstance } = createRequire(join(process.env.DUCKDB_NODE_PREFIX, 'package.json'))('@duckdb/node-api');

// The two routes that show images: the same joins, grouping and order as the dashboard's routes.
const ROUTES = {
  'top-tracks': `
    SELECT p.track_name, p.artist_name, ROUND(SUM(p.ms_played) / 1000.0 / 60.0 / 60.0, 2) AS hours,
           COUNT(*) AS plays, t.spotify_track_uri, t.album_image_url
    FROM plays p LEFT JOIN tracks t ON p.spotify_track_uri = t.spotify_track_uri
    GROUP BY p.track_name, p.artist_name, t.spotify_track_uri, t.album_image_url
    ORDER BY hours DESC LIMIT ?`,
  'top-artists': `
    SELECT p.artist_name, ROUND(SUM(p.ms_played) / 1000.0 / 60.0 / 60.0, 2) AS hours, COUNT(*) AS plays,
           a.spotify_artist_id, a.image_url
    FROM plays p LEFT JOIN artists a ON p.artist_name = a.artist_name
    GROUP BY p.artist_name, a.spotify_artist_id, a.image_url
    ORDER BY hours DESC LIMIT ?`,
};
const LIMIT = 50;

async function request(path, sql, readOnly) {
  const instance = readOnly
    ? await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' })
    : await DuckDBInstance.create(path);
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql, [LIMIT]);
    return reader.getRowObjectsJS();
  } finally {
    connection.closeSync();
    if (readOnly) instance.closeSync();
  }
}

function json(value) {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v));
}

async function queries(paths, readOnly) {
  for (const path of paths) {
    const out = { path, ok: true, error: null };
    try {
      for (const [route, sql] of Object.entries(ROUTES)) out[route] = await request(path, sql, readOnly);
    } catch (error) {
      Object.assign(out, { ok: false, error: String(error.message).split('\n')[0] });
    }
    console.log(json(out));
  }
}

async function poll(path, every, readOnly) {
  let open = true;
  process.stdin.on('end', () => { open = false; });
  process.stdin.on('close', () => { open = false; });
  process.stdin.resume();
  const names = Object.keys(ROUTES);
  const routes = Object.fromEntries(names.map((n) => [n, { requests: 0, failed: 0 }]));
  const errors = [];
  for (let i = 0; open; i += 1) {
    const started = Date.now();
    const name = names[i % names.length];
    routes[name].requests += 1;
    try {
      await request(path, ROUTES[name], readOnly);
    } catch (error) {
      routes[name].failed += 1;
      if (errors.length < 5) errors.push(String(error.message).split('\n')[0]);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, every - (Date.now() - started))));
  }
  const total = (key) => Object.values(routes).reduce((sum, r) => sum + r[key], 0);
  console.log(json({ requests: total('requests'), failed: total('failed'), routes, errors }));
}

const [mode, ...rest] = process.argv.slice(2);
const readOnly = rest.includes('--read-only');
const args = rest.filter((a) => a !== '--read-only');
if (mode === 'queries') {
  await queries(args, readOnly);
} else if (mode === 'poll') {
  const at = args.indexOf('--every');
  const every = at >= 0 ? Number(args[at + 1]) : 200;
  await poll(args[0], every, readOnly);
} else {
  console.error('usage: node dashboard_reader.mjs queries FILE... | poll FILE [--every MS] [--read-only]');
  process.exit(2);
}
