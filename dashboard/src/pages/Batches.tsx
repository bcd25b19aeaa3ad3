import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { rpcGet } from '../api';
import { DataTable, JsonTable } from '../components/DataTable';
import { Chip, Loaded, num, when } from '../components/Status';
import { href, Route, can } from '../nav';
import { useSession } from '../session';

export interface Batch {
  batch_id: string;
  client_id: string;
  processing_type: string;
  status: string;
  accepted_records: number | null;
  processed_records: number | null;
  received_bytes: number | null;
  model_version: string | null;
  created_at: string | null;
  received_at: string | null;
  processed_at: string | null;
  error: string | null;
}

interface BatchDetail extends Batch {
  chunks: unknown[] | null;
  columns: unknown[] | null;
  classification: unknown[] | null;
}

const STATUSES = ['', 'UPLOADING', 'RECEIVED', 'PROCESSING', 'PROCESSED', 'FAILED'];
const PAGE = 25;

function statusTone(s: string) {
  return s === 'PROCESSED' ? 'ok' : s === 'FAILED' ? 'bad' : 'neutral';
}

const col = createColumnHelper<Batch>();

export function Batches({ route }: { route: Route }) {
  const selected = route.params.get('batch');
  return selected ? <BatchDetailView id={selected} /> : <BatchList />;
}

function BatchList() {
  const session = useSession();
  const [status, setStatus] = useState('');
  const [client, setClient] = useState('');
  const [offset, setOffset] = useState(0);
  const [auto, setAuto] = useState(true);
  const q = useQuery({
    queryKey: ['dash_batches', status, client, offset],
    queryFn: () =>
      rpcGet<{ total: number; items: Batch[] }>('dash_batches', {
        status,
        client_id: client,
        // row_limit/row_offset: PostgREST keeps limit/offset in a query string for itself.
        row_limit: PAGE,
        row_offset: offset,
      }),
    refetchInterval: auto ? 10_000 : false,
  });
  const columns = [
    col.accessor('batch_id', {
      header: 'Batch',
      cell: (c) => <a href={href('batches', { batch: c.getValue() })}>{c.getValue().slice(0, 8)}</a>,
    }),
    col.accessor('client_id', { header: 'Client' }),
    col.accessor('processing_type', { header: 'Type' }),
    col.accessor('status', { header: 'Status', cell: (c) => <Chip tone={statusTone(c.getValue())}>{c.getValue()}</Chip> }),
    col.accessor('accepted_records', { header: 'Records', cell: (c) => num(c.getValue()) }),
    col.accessor('processed_records', { header: 'Processed', cell: (c) => num(c.getValue()) }),
    col.accessor('received_bytes', { header: 'Bytes', cell: (c) => num(c.getValue()) }),
    col.accessor('model_version', { header: 'Model', cell: (c) => c.getValue() ?? '—' }),
    col.accessor('created_at', { header: 'Created', cell: (c) => when(c.getValue()) }),
    col.accessor('processed_at', { header: 'Processed at', cell: (c) => when(c.getValue()) }),
  ];
  if (can(session.capabilities, 'records.read'))
    columns.push(
      col.display({
        id: 'records',
        header: 'Records',
        cell: (c) => <a href={href('records', { batch: c.row.original.batch_id })}>records</a>,
      }) as any,
    );
  const total = q.data?.total ?? 0;
  return (
    <section aria-labelledby="h-batches">
      <h1 id="h-batches">Batches</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status{' '}
          <select value={status} onChange={(e) => (setStatus(e.target.value), setOffset(0))}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || 'any'}
              </option>
            ))}
          </select>
        </label>
        <label>
          Client <input value={client} onChange={(e) => (setClient(e.target.value), setOffset(0))} />
        </label>
        <label>
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> auto-refresh (10 s)
        </label>
      </form>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => (
          <>
            <DataTable caption={`${num(total)} batches`} columns={columns} rows={q.data!.items ?? []} />
            <Pager offset={offset} total={total} page={PAGE} onChange={setOffset} />
          </>
        )}
      </Loaded>
    </section>
  );
}

export function Pager(props: { offset: number; total: number; page: number; onChange: (o: number) => void }) {
  const { offset, total, page } = props;
  return (
    <nav className="pager" aria-label="Pages of results">
      <button type="button" disabled={offset === 0} onClick={() => props.onChange(Math.max(0, offset - page))}>
        Previous
      </button>
      <span>
        {total === 0 ? 0 : offset + 1}–{Math.min(offset + page, total)} of {num(total)}
      </span>
      <button type="button" disabled={offset + page >= total} onClick={() => props.onChange(offset + page)}>
        Next
      </button>
    </nav>
  );
}

function BatchDetailView({ id }: { id: string }) {
  const q = useQuery({
    queryKey: ['dash_batch', id],
    queryFn: () => rpcGet<BatchDetail>('dash_batch', { batch_id: id }),
    refetchInterval: 10_000,
  });
  return (
    <section aria-labelledby="h-batch">
      <p>
        <a href={href('batches')}>← all batches</a>
      </p>
      <h1 id="h-batch">Batch {id}</h1>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => {
          const b = q.data!;
          return (
            <>
              <dl className="kv wide">
                {(
                  [
                    ['Client', b.client_id],
                    ['Type', b.processing_type],
                    ['Status', b.status],
                    ['Records', num(b.accepted_records)],
                    ['Processed', num(b.processed_records)],
                    ['Bytes', num(b.received_bytes)],
                    ['Model', b.model_version ?? '—'],
                    ['Created', when(b.created_at)],
                    ['Received', when(b.received_at)],
                    ['Processed at', when(b.processed_at)],
                    ['Error', b.error ?? '—'],
                  ] as [string, string][]
                ).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>{v}</dd>
                  </div>
                ))}
              </dl>
              <JsonTable caption="Chunks" rows={b.chunks} />
              <JsonTable caption="Columns" rows={b.columns} />
              <JsonTable caption="Classification" rows={b.classification} />
            </>
          );
        }}
      </Loaded>
    </section>
  );
}
