import { useMemo } from 'react';
import { useQuery } from '@tanstack/react-query';
import { rpcGet } from '../api';
import { LineChart } from '../components/Chart';
import { Chip, Loaded, num, when } from '../components/Status';

interface OverviewData {
  batches_by_status: Record<string, number>;
  ingested_per_day: { day: string; records: number; processed: number }[];
  integrity: { failures: number; checked_at: string | null };
  worker: { state: string; last_run: string | null };
  audit_head: { seq: number; entry_hash: string } | null;
}

export function Overview() {
  const q = useQuery({
    queryKey: ['dash_overview'],
    queryFn: () => rpcGet<OverviewData>('dash_overview'),
    refetchInterval: 30_000,
  });
  return (
    <section aria-labelledby="h-overview">
      <h1 id="h-overview">Overview</h1>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => <OverviewBody d={q.data!} />}
      </Loaded>
    </section>
  );
}

function OverviewBody({ d }: { d: OverviewData }) {
  const days = d.ingested_per_day ?? [];
  // One point per calendar day over at least the last two weeks, 0 on days without batches, so
  // a single busy day still reads as a day on a timeline.
  const { x, series } = useMemo(() => {
    const byDay = new Map(days.map((r) => [r.day.slice(0, 10), r]));
    const DAY = 86400;
    const today = Math.floor(Date.now() / 1000 / DAY) * DAY;
    const first = Math.min(today - 13 * DAY, ...days.map((r) => Date.parse(r.day.slice(0, 10)) / 1000));
    const x: number[] = [];
    for (let t = first; t <= today; t += DAY) x.push(t);
    const at = (t: number) => byDay.get(new Date(t * 1000).toISOString().slice(0, 10));
    return {
      x,
      series: [
        { label: 'ingested', values: x.map((t) => Number(at(t)?.records ?? 0)), color: '#1f5fa8' },
        { label: 'processed', values: x.map((t) => Number(at(t)?.processed ?? 0)), color: '#2b7a3d' },
      ],
    };
  }, [days]);
  const failures = d.integrity?.failures ?? 0;
  return (
    <>
      <div className="cards">
        <div className="card">
          <h2>Batches by status</h2>
          <dl className="kv">
            {Object.entries(d.batches_by_status ?? {}).map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>{num(v)}</dd>
              </div>
            ))}
          </dl>
        </div>
        <div className="card">
          <h2>Integrity</h2>
          <p>
            {failures === 0 ? <Chip tone="ok">no failures</Chip> : <Chip tone="bad">{num(failures)} failures</Chip>}
          </p>
          <p className="muted">checked {when(d.integrity?.checked_at)}</p>
        </div>
        <div className="card">
          <h2>Worker</h2>
          <p>
            <Chip tone={d.worker?.state === 'running' ? 'ok' : 'neutral'}>{d.worker?.state ?? 'unknown'}</Chip>
          </p>
          <p className="muted">last run {when(d.worker?.last_run)}</p>
        </div>
        <div className="card">
          <h2>Audit head</h2>
          <p>
            seq {num(d.audit_head?.seq)}
            <br />
            <code className="hash">{d.audit_head?.entry_hash ?? '—'}</code>
          </p>
        </div>
      </div>
      {days.length > 0 ? (
        <LineChart title="Records ingested and processed per day" x={x} series={series} />
      ) : (
        <p>No records ingested yet.</p>
      )}
    </>
  );
}
