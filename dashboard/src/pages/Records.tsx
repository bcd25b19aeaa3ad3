import { FormEvent, useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { errorText, rpcGet, rpcPost } from '../api';
import { DataTable, ScrollRegion, show } from '../components/DataTable';
import { Chip, Loaded, num, when } from '../components/Status';
import { can, href, Route } from '../nav';
import { useSession } from '../session';
import { Pager } from './Batches';

interface RecordRow {
  record_id: string;
  batch_id: string;
  row_no: number;
  record_key: string;
  fields: Record<string, unknown>;
  score: number | null;
  risk_band: string | null;
  integrity: 'ok' | 'failed';
  version: number | null;
}

const PAGE = 20;
const col = createColumnHelper<RecordRow>();

export function Records({ route }: { route: Route }) {
  const batch = route.params.get('batch') ?? '';
  const recordId = route.params.get('record');
  const [search, setSearch] = useState('');
  const [band, setBand] = useState('');
  const [order, setOrder] = useState('row_no');
  const [offset, setOffset] = useState(0);
  useEffect(() => setOffset(0), [batch, search, band, order]);

  const q = useQuery({
    queryKey: ['dash_records', batch, search, band, order, offset],
    queryFn: () =>
      rpcGet<{ total: number; items: RecordRow[] }>('dash_records', {
        batch_id: batch,
        search,
        risk_band: band,
        sort: order,
        row_limit: PAGE,
        row_offset: offset,
      }),
  });
  const link = (id: string) => href('records', batch ? { batch, record: id } : { record: id });
  const columns = [
    col.accessor('record_key', {
      header: 'Key',
      cell: (c) => <a href={link(c.row.original.record_id)}>{c.getValue()}</a>,
    }),
    col.accessor('row_no', { header: 'Row' }),
    col.accessor('batch_id', { header: 'Batch', cell: (c) => c.getValue().slice(0, 8) }),
    col.accessor('score', { header: 'Score', cell: (c) => (c.getValue() == null ? '—' : Number(c.getValue()).toFixed(3)) }),
    col.accessor('risk_band', { header: 'Band', cell: (c) => c.getValue() ?? '—' }),
    col.accessor('integrity', {
      header: 'Integrity',
      cell: (c) => (c.getValue() === 'ok' ? <Chip tone="ok">ok</Chip> : <Chip tone="bad">failed</Chip>),
    }),
    col.accessor('version', { header: 'Version', cell: (c) => c.getValue() ?? 1 }),
  ];

  return (
    <section aria-labelledby="h-records">
      <h1 id="h-records">Records{batch ? ' of batch ' + batch.slice(0, 8) : ''}</h1>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Key starts with <input value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <label>
          Risk band{' '}
          <select value={band} onChange={(e) => setBand(e.target.value)}>
            <option value="">any</option>
            <option value="low">low</option>
            <option value="medium">medium</option>
            <option value="high">high</option>
          </select>
        </label>
        <label>
          Order{' '}
          <select value={order} onChange={(e) => setOrder(e.target.value)}>
            <option value="row_no">row</option>
            <option value="-score">score, highest first</option>
            <option value="record_key">key</option>
          </select>
        </label>
        {batch && <a href={href('records')}>all batches</a>}
      </form>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => (
          <>
            <DataTable caption={`${num(q.data!.total)} records`} columns={columns} rows={q.data!.items ?? []} />
            <Pager offset={offset} total={q.data!.total} page={PAGE} onChange={setOffset} />
          </>
        )}
      </Loaded>
      {recordId && <RecordDetail id={recordId} />}
    </section>
  );
}

interface Version {
  version_id: number;
  version_no: number;
  status: string; // current, pending, superseded, rejected
  changed_columns: string[] | null;
  fields: Record<string, unknown>;
  proposed_by: string | null;
  proposed_at: string | null;
  decided_by: string | null;
  decided_at: string | null;
}

function RecordDetail({ id }: { id: string }) {
  const session = useSession();
  const caps = session.capabilities;
  const qc = useQueryClient();
  const rec = useQuery({ queryKey: ['dash_record', id], queryFn: () => rpcGet<RecordRow>('dash_record', { record_id: id }) });
  const canHistory = can(caps, 'records.history');
  const hist = useQuery({
    queryKey: ['dash_record_history', id],
    queryFn: () => rpcGet<{ items: Version[] }>('dash_record_history', { record_id: id }),
    enabled: canHistory,
  });
  const [field, setField] = useState('');
  const [value, setValue] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ['dash_record', id] });
    qc.invalidateQueries({ queryKey: ['dash_record_history', id] });
    qc.invalidateQueries({ queryKey: ['dash_records'] });
  };
  const update = useMutation({
    mutationFn: () => rpcPost<unknown>('dash_record_update', { record_id: id, patch: { [field]: value } }),
    onSuccess: () => {
      setMessage(can(caps, 'records.edit') ? 'Saved as a new version.' : 'Proposal sent for approval.');
      refresh();
    },
    onError: (e) => setMessage(errorText(e)),
  });
  const decide = useMutation({
    mutationFn: (v: { version_id: number; approve: boolean }) => rpcPost<unknown>('dash_record_decide', v),
    onSuccess: (_d, v) => {
      setMessage(v.approve ? 'Version approved.' : 'Version rejected.');
      refresh();
    },
    onError: (e) => setMessage(errorText(e)),
  });
  const editable = can(caps, 'records.edit') || can(caps, 'records.propose');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (field) update.mutate();
  };
  const versions: Version[] = hist.data?.items ?? [];

  return (
    <section className="panel" aria-labelledby="h-record">
      <h2 id="h-record">Record {id}</h2>
      <Loaded isLoading={rec.isLoading} error={rec.error}>
        {() => {
          const r = rec.data!;
          const names = Object.keys(r.fields ?? {});
          return (
            <>
              <dl className="kv wide">
                <div>
                  <dt>Key</dt>
                  <dd>{r.record_key}</dd>
                </div>
                <div>
                  <dt>Integrity</dt>
                  <dd>{r.integrity === 'ok' ? <Chip tone="ok">ok</Chip> : <Chip tone="bad">failed</Chip>}</dd>
                </div>
                <div>
                  <dt>Score / band</dt>
                  <dd>
                    {show(r.score)} / {show(r.risk_band)}
                  </dd>
                </div>
                {names.map((n) => (
                  <div key={n}>
                    <dt>{n}</dt>
                    <dd>{show(r.fields[n])}</dd>
                  </div>
                ))}
              </dl>
              {editable && (
                <form className="edit filters" onSubmit={submit} aria-label="Change a field">
                  <label>
                    Field{' '}
                    <select value={field} onChange={(e) => setField(e.target.value)} required>
                      <option value="">choose…</option>
                      {names.map((n) => (
                        <option key={n} value={n}>
                          {n}
                        </option>
                      ))}
                    </select>
                  </label>
                  <label>
                    New value <input value={value} onChange={(e) => setValue(e.target.value)} />
                  </label>
                  <button type="submit" disabled={update.isPending || !field}>
                    {can(caps, 'records.edit') ? 'Save new version' : 'Propose change'}
                  </button>
                </form>
              )}
            </>
          );
        }}
      </Loaded>
      {message && (
        <p className="notice" role="status">
          {message}
        </p>
      )}
      {canHistory && (
        <Loaded isLoading={hist.isLoading} error={hist.error}>
          {() => (
            <ScrollRegion label="History">
              <table className="grid">
                <caption>History</caption>
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">Status</th>
                    <th scope="col">Proposed by</th>
                    <th scope="col">At</th>
                    <th scope="col">Changed</th>
                    <th scope="col">Decided by</th>
                    {can(caps, 'records.approve') && <th scope="col">Decision</th>}
                  </tr>
                </thead>
                <tbody>
                  {versions.map((v) => (
                    <tr key={v.version_id}>
                      <td>{v.version_no}</td>
                      <td>{v.status}</td>
                      <td>{show(v.proposed_by)}</td>
                      <td>{when(v.proposed_at)}</td>
                      <td>
                        {(v.changed_columns ?? []).map((c) => (
                          <span key={c}>
                            {c} = {show(v.fields?.[c])}{' '}
                          </span>
                        ))}
                      </td>
                      <td>{show(v.decided_by)}</td>
                      {can(caps, 'records.approve') && (
                        <td>
                          {v.status === 'pending' && (
                            <>
                              <button type="button" onClick={() => decide.mutate({ version_id: v.version_id, approve: true })}>
                                Approve
                              </button>{' '}
                              <button type="button" onClick={() => decide.mutate({ version_id: v.version_id, approve: false })}>
                                Reject
                              </button>
                            </>
                          )}
                        </td>
                      )}
                    </tr>
                  ))}
                  {versions.length === 0 && (
                    <tr>
                      <td colSpan={7} className="empty">
                        No versions.
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </ScrollRegion>
          )}
        </Loaded>
      )}
    </section>
  );
}
