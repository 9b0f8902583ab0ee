// nova-novncproxy's web side: noVNC's files (Debian's `novnc` package, /usr/share/novnc: vnc.html,
// vnc_lite.html, vnc_auto.html, app/, core/, vendor/) served as they are, GET and HEAD only,
// nothing outside that folder; without the package a 503 page that names it.
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.ogg': 'audio/ogg',
  '.mp3': 'audio/mpeg',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

export interface WebAnswer {
  status: number;
  headers: Record<string, string | number>;
  /** A file to stream, or a body. */
  file?: string;
  body?: string;
}

const page = (status: number, title: string, text: string): WebAnswer => {
  const body = `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n`;
  return {
    status,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) },
    body,
  };
};

/** The web client of a proxy: a file that shows it is installed, its Debian package, its name. */
export interface WebClient {
  marker: string;
  pkg: string;
  name: string;
}
export const NOVNC: WebClient = { marker: 'vnc_lite.html', pkg: 'novnc', name: 'noVNC' };
/** nova-spicehtml5proxy's client: Debian's `spice-html5` (/usr/share/spice-html5: spice_auto.html, spice.html). */
export const SPICE_HTML5: WebClient = { marker: 'spice_auto.html', pkg: 'spice-html5', name: 'spice-html5' };

/** What to answer a plain HTTP request for `url` under the web client's folder `root`. */
export function webAnswer(root: string, method: string, url: string, client: WebClient = NOVNC): WebAnswer {
  if (method !== 'GET' && method !== 'HEAD') {
    const a = page(405, '405 Method Not Allowed', 'Only GET and HEAD are served here.');
    a.headers.Allow = 'GET, HEAD';
    return a;
  }
  if (!fs.existsSync(path.join(root, client.marker))) {
    return page(
      503,
      '503 Service Unavailable',
      `${client.name} is not installed: install the Debian package <code>${client.pkg}</code> (its files are looked for in ${root}, compute.consoleProxy.${client === NOVNC ? 'web' : 'spiceWeb'}).`,
    );
  }
  let rel: string;
  try {
    rel = decodeURIComponent(url.split('?')[0]!.split('#')[0]!);
  } catch {
    return page(400, '400 Bad Request', 'The path is not valid.');
  }
  if (rel.includes('\0')) return page(400, '400 Bad Request', 'The path is not valid.');
  const base = path.resolve(root);
  const file = path.resolve(base, `.${path.posix.normalize(`/${rel}`)}`);
  if (file !== base && !file.startsWith(base + path.sep)) return page(404, '404 Not Found', 'No such file.');
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return page(404, '404 Not Found', 'No such file.');
  }
  if (!st.isFile()) return page(404, '404 Not Found', 'No such file.');
  return {
    status: 200,
    headers: {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
    },
    file,
  };
}

/** Writes a webAnswer. */
export function sendWeb(res: http.ServerResponse, method: string, a: WebAnswer) {
  res.writeHead(a.status, a.headers);
  if (method === 'HEAD') return res.end();
  if (a.file) {
    fs.createReadStream(a.file)
      .on('error', () => res.destroy())
      .pipe(res);
    return;
  }
  res.end(a.body);
}
