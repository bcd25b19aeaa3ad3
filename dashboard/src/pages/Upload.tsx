import { DragEvent, useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError, errorText } from '../api';
import { href } from '../nav';

// The raw file never goes to the server. With a local agent (`sdp-agent serve --upload-config`,
// 127.0.0.1:8001 unless the user names another address, CORS limited to this origin) the page
// hands it the raw CSV with the agent's key; the agent tokenizes it on this machine, uploads the
// tokens and the page polls its progress. The agent's key is asked once and kept in this tab's
// sessionStorage: it goes only to the agent, never to the server. Without an agent, the page
// accepts only an already tokenized file, sent to /api/v1/jobs/upload as the client it belongs to
// (its API key, typed in and held only by this page while it is open: the upload path is the
// clients' surface, where a staff JWT does not reach), and the server's PII firewall refuses any
// raw PII (HTTP 422). The Content-Security-Policy's connect-src names the agent addresses the page
// may reach (docs/dashboard.md).
export const AGENT_URL = 'http://127.0.0.1:8001';
const AGENT_URL_KEY = 'sdp-agent-url';
const AGENT_KEY_KEY = 'sdp-agent-key';

function stored(name: string): string {
  try {
    return window.sessionStorage.getItem(name) ?? '';
  } catch {
    return '';
  }
}
function store(name: string, value: string) {
  try {
    if (value) window.sessionStorage.setItem(name, value);
    else window.sessionStorage.removeItem(name);
  } catch {
    /* storage disabled: the value lives as long as the page */
  }
}

// The agent's progress answer (GET /upload/{id}).
interface AgentJob {
  upload_id: string;
  state: 'received' | 'tokenizing' | 'uploading' | 'uploaded' | 'failed';
  rows_tokenized: number;
  bytes_total: number;
  bytes_uploaded: number;
  batch_id: string | null;
  records: number;
  error: string | null;
}

type AgentState = 'probing' | 'present' | 'absent';

function send(
  url: string,
  body: Blob,
  headers: Record<string, string>,
  onProgress: (f: number) => void,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', url);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onload = () => {
      let b: unknown = x.responseText;
      try {
        b = JSON.parse(x.responseText);
      } catch {
        /* not JSON: keep the text */
      }
      resolve({ status: x.status, body: b });
    };
    x.onerror = () => reject(new Error('network error'));
    x.send(body);
  });
}

const sleep = (ms: number) => new Promise((r) => window.setTimeout(r, ms));

function problemText(status: number, body: unknown): string {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  return String(b.detail ?? b.message ?? body ?? status);
}

export function Upload() {
  const [agentUrl, setAgentUrl] = useState(() => stored(AGENT_URL_KEY) || AGENT_URL);
  const [agent, setAgent] = useState<AgentState>('probing');
  const [agentKey, setAgentKey] = useState(() => stored(AGENT_KEY_KEY));
  const [keyInput, setKeyInput] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [processing, setProcessing] = useState('risk_scoring');
  const [client, setClient] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [job, setJob] = useState<AgentJob | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string; batch?: string } | null>(null);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const live = useRef(true);
  const qc = useQueryClient();

  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);

  useEffect(() => {
    let on = true;
    setAgent('probing');
    const ctl = new AbortController();
    const t = window.setTimeout(() => ctl.abort(), 2000);
    fetch(agentUrl + '/upload', { method: 'GET', mode: 'cors', credentials: 'omit', signal: ctl.signal })
      .then((r) => on && setAgent(r.ok ? 'present' : 'absent'))
      .catch(() => on && setAgent('absent'))
      .finally(() => window.clearTimeout(t));
    return () => {
      on = false;
      ctl.abort();
    };
  }, [agentUrl]);

  const pick = (f: File | null | undefined) => {
    setResult(null);
    setProgress(null);
    setJob(null);
    setFile(f ?? null);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    pick(e.dataTransfer.files?.[0]);
  };

  const done = (r: { ok: boolean; text: string; batch?: string }) => {
    if (!live.current) return;
    setResult(r);
    setProgress(1);
    if (r.ok) qc.invalidateQueries({ queryKey: ['dash_batches'] });
  };

  // Through the agent: POST the raw CSV (202 with an upload id at once), then poll its progress.
  const viaAgent = async (f: File, key: string) => {
    const headers = { 'Content-Type': 'text/csv', 'X-API-Key': key, 'X-Processing-Type': processing };
    const r = await send(agentUrl + '/upload', f, headers, (x) => setProgress(x * 0.1));
    if (r.status === 401) {
      store(AGENT_KEY_KEY, '');
      setAgentKey('');
      return done({ ok: false, text: 'The local agent refused the key (HTTP 401): enter the agent\'s key again.' });
    }
    if (r.status !== 202) return done({ ok: false, text: `Refused by the local agent (HTTP ${r.status}): ${problemText(r.status, r.body)}` });
    const id = String((r.body as Record<string, unknown>).upload_id ?? '');
    for (let i = 0; live.current && i < 3000; i++) {
      await sleep(300);
      const g = await fetch(agentUrl + '/upload/' + encodeURIComponent(id), {
        headers: { 'X-API-Key': key },
        mode: 'cors',
        credentials: 'omit',
        cache: 'no-store',
      });
      const j = (await g.json()) as AgentJob;
      if (!g.ok) return done({ ok: false, text: `The local agent lost the upload (HTTP ${g.status}): ${problemText(g.status, j)}` });
      if (!live.current) return;
      setJob(j);
      const up = j.bytes_total > 0 ? j.bytes_uploaded / j.bytes_total : 0;
      setProgress(j.state === 'tokenizing' || j.state === 'received' ? 0.1 : 0.2 + 0.8 * up);
      if (j.state === 'uploaded') {
        const batch = j.batch_id ?? '';
        return done({ ok: true, text: `Uploaded: batch ${batch}, ${j.records} records (${j.rows_tokenized} rows tokenized by the local agent).`, batch });
      }
      if (j.state === 'failed') return done({ ok: false, text: `Not uploaded: ${j.error ?? 'the agent failed'}` });
    }
  };

  const start = async () => {
    if (!file) return;
    setResult(null);
    setJob(null);
    setProgress(0);
    try {
      if (agent === 'present') {
        const key = agentKey || keyInput;
        if (!agentKey) {
          store(AGENT_KEY_KEY, keyInput);
          setAgentKey(keyInput);
          setKeyInput('');
        }
        await viaAgent(file, key);
        return;
      }
      const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Processing-Type': processing };
      if (client) headers['X-Client-Id'] = client;
      headers['X-API-Key'] = apiKey;
      const r = await send('/api/v1/jobs/upload', file, headers, setProgress);
      const b = (r.body && typeof r.body === 'object' ? r.body : {}) as Record<string, unknown>;
      if (r.status >= 200 && r.status < 300) {
        const batch = String(b.batch_id ?? '');
        done({ ok: true, text: `Uploaded: batch ${batch}, ${b.records ?? b.accepted_records ?? '?'} records.`, batch });
      } else {
        const err = new ApiError(r.status, String(b.code ?? r.status), String(b.message ?? r.body), b.hint ? String(b.hint) : null);
        done({ ok: false, text: `Refused (HTTP ${r.status}): ${errorText(err)}` });
      }
    } catch (e) {
      done({ ok: false, text: errorText(e) });
    }
  };

  const busy = progress !== null && progress < 1;
  return (
    <section aria-labelledby="h-upload">
      <h1 id="h-upload">Upload</h1>
      {agent === 'probing' && <p aria-busy="true">Looking for a local agent on {agentUrl}…</p>}
      {agent === 'present' && (
        <p className="notice" id="agent-state">
          Local agent found on {agentUrl}: drop the raw CSV; the agent tokenizes it on this machine and uploads only tokens.
        </p>
      )}
      {agent === 'absent' && (
        <p className="warn" id="agent-state">
          No local agent reachable on {agentUrl}. Only an already tokenized file is accepted here; the server's PII firewall
          refuses a file with raw personal data.
        </p>
      )}
      <form
        className="filters noprint"
        onSubmit={(e) => {
          e.preventDefault();
          const v = (new FormData(e.currentTarget).get('agent-url') ?? '').toString().trim().replace(/\/+$/, '');
          store(AGENT_URL_KEY, v === AGENT_URL ? '' : v);
          setAgentUrl(v || AGENT_URL);
        }}
      >
        <label>
          Local agent address <input name="agent-url" defaultValue={agentUrl} key={agentUrl} inputMode="url" />
        </label>
        <button type="submit">Look again</button>
      </form>
      <div
        className={'drop' + (over ? ' over' : '')}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        id="drop-zone"
      >
        <p>{file ? `${file.name} (${file.size.toLocaleString('en-US')} bytes)` : 'Drop a CSV file here, or'}</p>
        <label className="button">
          choose a file
          <input
            ref={input}
            className="sr-only"
            type="file"
            accept=".csv,text/csv,text/plain"
            onChange={(e) => pick(e.target.files?.[0])}
          />
        </label>
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          start();
        }}
      >
        <label>
          Processing type <input value={processing} onChange={(e) => setProcessing(e.target.value)} required />
        </label>
        {agent === 'present' && !agentKey && (
          <label>
            Agent key{' '}
            <input type="password" autoComplete="off" value={keyInput} onChange={(e) => setKeyInput(e.target.value)} required />
          </label>
        )}
        {agent === 'present' && agentKey && (
          <p id="agent-key-state">
            The agent's key is kept for this tab.{' '}
            <button
              type="button"
              onClick={() => {
                store(AGENT_KEY_KEY, '');
                setAgentKey('');
              }}
            >
              Forget the key
            </button>
          </p>
        )}
        {agent === 'absent' && (
          <>
            <label>
              Client id (optional) <input value={client} onChange={(e) => setClient(e.target.value)} />
            </label>
            <label>
              Client API key{' '}
              <input type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} required />
            </label>
          </>
        )}
        <button type="submit" disabled={!file || agent === 'probing' || busy}>
          {agent === 'present' ? 'Tokenize and upload' : 'Upload tokenized file'}
        </button>
      </form>
      {progress !== null && (
        <p>
          <label>
            Progress <progress max={1} value={progress} />
          </label>
        </p>
      )}
      {job && (
        <p id="upload-progress" aria-live="polite">
          Agent: {job.state}; {job.rows_tokenized.toLocaleString('en-US')} rows tokenized;{' '}
          {job.bytes_uploaded.toLocaleString('en-US')} of {job.bytes_total.toLocaleString('en-US')} bytes uploaded
        </p>
      )}
      {result && (
        <p className={result.ok ? 'notice' : 'error'} role={result.ok ? 'status' : 'alert'} id="upload-result">
          {result.text} {result.batch && <a href={href('batches', { batch: result.batch })}>view the batch</a>}
        </p>
      )}
    </section>
  );
}
