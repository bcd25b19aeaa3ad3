import { DragEvent, useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError, errorText } from '../api';
import { href } from '../nav';

// The raw file never goes to the server. With a local agent (sdp-agent serve, 127.0.0.1:8001,
// CORS limited to this origin) the page hands it the raw CSV; the agent tokenizes it and
// uploads the tokens. Without one, the page accepts only an already tokenized file, sent to
// /api/v1/jobs/upload as the client it belongs to (its API key, typed in and held only by this
// page while it is open: the upload path is the clients' surface, where a staff JWT does not
// reach), and the server's PII firewall refuses any raw PII (HTTP 422).
export const AGENT_URL = 'http://127.0.0.1:8001';

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

export function Upload() {
  const [agent, setAgent] = useState<AgentState>('probing');
  const [file, setFile] = useState<File | null>(null);
  const [processing, setProcessing] = useState('risk_scoring');
  const [client, setClient] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [progress, setProgress] = useState<number | null>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string; batch?: string } | null>(null);
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const qc = useQueryClient();

  useEffect(() => {
    let live = true;
    const ctl = new AbortController();
    const t = window.setTimeout(() => ctl.abort(), 2000);
    fetch(AGENT_URL + '/upload', { method: 'GET', mode: 'cors', credentials: 'omit', signal: ctl.signal })
      .then((r) => live && setAgent(r.ok ? 'present' : 'absent'))
      .catch(() => live && setAgent('absent'))
      .finally(() => window.clearTimeout(t));
    return () => {
      live = false;
      ctl.abort();
    };
  }, []);

  const pick = (f: File | null | undefined) => {
    setResult(null);
    setProgress(null);
    setFile(f ?? null);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    pick(e.dataTransfer.files?.[0]);
  };

  const start = async () => {
    if (!file) return;
    setResult(null);
    setProgress(0);
    try {
      const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'X-Processing-Type': processing };
      if (client) headers['X-Client-Id'] = client;
      let r: { status: number; body: unknown };
      if (agent === 'present') {
        r = await send(AGENT_URL + '/upload', file, headers, setProgress);
      } else {
        headers['X-API-Key'] = apiKey;
        r = await send('/api/v1/jobs/upload', file, headers, setProgress);
      }
      const b = (r.body && typeof r.body === 'object' ? r.body : {}) as Record<string, unknown>;
      if (r.status >= 200 && r.status < 300) {
        const batch = String(b.batch_id ?? '');
        setResult({ ok: true, text: `Uploaded: batch ${batch}, ${b.records ?? b.accepted_records ?? '?'} records.`, batch });
        qc.invalidateQueries({ queryKey: ['dash_batches'] });
      } else {
        const err = new ApiError(r.status, String(b.code ?? r.status), String(b.message ?? r.body), b.hint ? String(b.hint) : null);
        setResult({ ok: false, text: `Refused (HTTP ${r.status}): ${errorText(err)}` });
      }
    } catch (e) {
      setResult({ ok: false, text: errorText(e) });
    } finally {
      setProgress(1);
    }
  };

  return (
    <section aria-labelledby="h-upload">
      <h1 id="h-upload">Upload</h1>
      {agent === 'probing' && <p aria-busy="true">Looking for a local agent on {AGENT_URL}…</p>}
      {agent === 'present' && (
        <p className="notice" id="agent-state">
          Local agent found on {AGENT_URL}: drop the raw CSV; the agent tokenizes it on this machine and uploads only tokens.
        </p>
      )}
      {agent === 'absent' && (
        <p className="warn" id="agent-state">
          No local agent reachable on {AGENT_URL}. Only an already tokenized file is accepted here; the server's PII firewall
          refuses a file with raw personal data.
        </p>
      )}
      <div
        className={'drop' + (over ? ' over' : '')}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
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
        <label>
          Client id (optional) <input value={client} onChange={(e) => setClient(e.target.value)} />
        </label>
        {agent === 'absent' && (
          <label>
            Client API key{' '}
            <input type="password" autoComplete="off" value={apiKey} onChange={(e) => setApiKey(e.target.value)} required />
          </label>
        )}
        <button type="submit" disabled={!file || agent === 'probing' || (progress !== null && progress < 1)}>
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
      {result && (
        <p className={result.ok ? 'notice' : 'error'} role={result.ok ? 'status' : 'alert'} id="upload-result">
          {result.text} {result.batch && <a href={href('batches', { batch: result.batch })}>view the batch</a>}
        </p>
      )}
    </section>
  );
}
