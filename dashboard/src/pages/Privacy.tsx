import { FormEvent, useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { errorText, rpcGet, rpcPost } from '../api';
import { LineChart } from '../components/Chart';
import { DataTable } from '../components/DataTable';
import { Loaded } from '../components/Status';
import { can } from '../nav';
import { useSession } from '../session';

interface Grant {
  grantee: string;
  dataset: string;
  epsilon: number;
  delta: number;
  spent_epsilon: number;
  spent_delta: number;
  remaining_epsilon: number;
}
interface Burn {
  at: string;
  grantee: string;
  dataset: string;
  spent_epsilon: number;
}
interface PrivacyData {
  grants: Grant[];
  burn_down: Burn[];
}
interface DpRow {
  group_key: string | null;
  value: number;
  ci_low: number;
  ci_high: number;
  epsilon_charged: number;
  delta_charged: number;
}

const col = createColumnHelper<Grant>();
const fmt = (v: number | null | undefined, d = 4) => (v == null ? '—' : Number(v).toFixed(d).replace(/\.?0+$/, ''));
const COLORS = ['#1f5fa8', '#b3261e', '#2b7a3d', '#7b4fa0', '#a05a00', '#00707a'];

export function Privacy() {
  const session = useSession();
  const q = useQuery({ queryKey: ['dash_privacy'], queryFn: () => rpcGet<PrivacyData>('dash_privacy') });
  const columns = [
    col.accessor('grantee', { header: 'Analyst or group' }),
    col.accessor('dataset', { header: 'Dataset' }),
    col.accessor('epsilon', { header: 'ε granted', cell: (c) => fmt(c.getValue()) }),
    col.accessor('spent_epsilon', { header: 'ε spent', cell: (c) => fmt(c.getValue()) }),
    col.accessor('remaining_epsilon', {
      header: 'ε remaining',
      cell: (c) => (
        <span className="meter-cell">
          <meter min={0} max={Number(c.row.original.epsilon) || 1} value={Number(c.getValue()) || 0} aria-hidden="true" />{' '}
          {fmt(c.getValue())}
        </span>
      ),
    }),
    col.accessor('delta', { header: 'δ granted', cell: (c) => String(c.getValue() ?? '—') }),
    col.accessor('spent_delta', { header: 'δ spent', cell: (c) => String(c.getValue() ?? '—') }),
  ];
  return (
    <section aria-labelledby="h-privacy">
      <h1 id="h-privacy">Privacy budget</h1>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => (
          <>
            <DataTable caption="Budgets per analyst, group and dataset" columns={columns} rows={q.data!.grants ?? []} />
            <BurnDown burn={q.data!.burn_down ?? []} grants={q.data!.grants ?? []} />
          </>
        )}
      </Loaded>
      {can(session.capabilities, 'dp.query') && <DpForm datasets={Array.from(new Set((q.data?.grants ?? []).map((g) => g.dataset)))} />}
    </section>
  );
}

// Remaining ε of each grantee and dataset after each charge (the grant minus what was spent by
// then); a series without a grant in view plots what was spent.
function BurnDown({ burn, grants }: { burn: Burn[]; grants: Grant[] }) {
  const { x, series } = useMemo(() => {
    const keys = Array.from(new Set(burn.map((b) => b.grantee + ' / ' + b.dataset)));
    const charges = Array.from(new Set(burn.map((b) => Date.parse(b.at) / 1000))).sort((a, b) => a - b);
    // The line starts a minute before the first charge, at the whole budget (nothing spent).
    const times = charges.length ? [charges[0] - 60, ...charges] : [];
    const series = keys.map((k, i) => {
      const last: (number | null)[] = [];
      let cur: number | null = 0;
      const mine = new Map(burn.filter((b) => b.grantee + ' / ' + b.dataset === k).map((b) => [Date.parse(b.at) / 1000, Number(b.spent_epsilon)]));
      for (const t of times) {
        if (mine.has(t)) cur = mine.get(t)!;
        last.push(cur);
      }
      const g = grants.find((g) => g.grantee + ' / ' + g.dataset === k);
      if (!g) return { label: 'ε spent: ' + k, values: last, color: COLORS[i % COLORS.length] };
      const cap = Number(g.epsilon);
      return { label: 'ε remaining: ' + k, values: last.map((v) => (v == null ? cap : cap - v)), color: COLORS[i % COLORS.length] };
    });
    return { x: times, series };
  }, [burn, grants]);
  if (x.length === 0) return <p>No privacy budget spent yet.</p>;
  return <LineChart title="Burn-down: ε remaining over time" x={x} series={series} />;
}

function DpForm({ datasets }: { datasets: string[] }) {
  const qc = useQueryClient();
  const [stat, setStat] = useState('dp_count');
  const [dataset, setDataset] = useState(datasets[0] ?? '');
  const [column, setColumn] = useState('');
  const [lower, setLower] = useState('0');
  const [upper, setUpper] = useState('100');
  const [epsilon, setEpsilon] = useState('0.1');
  const run = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = { dataset: dataset || datasets[0], epsilon: Number(epsilon) };
      if (stat !== 'dp_count') Object.assign(body, { column, lower: Number(lower), upper: Number(upper) });
      return rpcPost<DpRow[]>(stat, body);
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ['dash_privacy'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    run.mutate();
  };
  return (
    <>
      <h2>Run a differentially private statistic</h2>
      <form className="filters" onSubmit={submit} aria-label="Differentially private statistic">
        <label>
          Statistic{' '}
          <select value={stat} onChange={(e) => setStat(e.target.value)}>
            <option value="dp_count">count</option>
            <option value="dp_sum">sum</option>
            <option value="dp_avg">mean</option>
          </select>
        </label>
        <label>
          Dataset{' '}
          <select value={dataset || datasets[0] || ''} onChange={(e) => setDataset(e.target.value)}>
            {datasets.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </label>
        {stat !== 'dp_count' && (
          <>
            <label>
              Column <input value={column} onChange={(e) => setColumn(e.target.value)} required />
            </label>
            <label>
              Lower bound <input type="number" value={lower} onChange={(e) => setLower(e.target.value)} required />
            </label>
            <label>
              Upper bound <input type="number" value={upper} onChange={(e) => setUpper(e.target.value)} required />
            </label>
          </>
        )}
        <label>
          ε <input type="number" step="any" min="0" value={epsilon} onChange={(e) => setEpsilon(e.target.value)} required />
        </label>
        <button type="submit" disabled={run.isPending}>
          Run
        </button>
      </form>
      {run.error && (
        <p className="error" role="alert">
          {errorText(run.error)}
        </p>
      )}
      {run.data && (
        <div id="dp-result" role="status">
          {run.data.map((r, i) => (
            <p key={i} className="dp-answer">
              {r.group_key ? r.group_key + ': ' : ''}value <strong className="dp-value">{fmt(r.value, 2)}</strong>, 95% interval [
              <span className="dp-low">{fmt(r.ci_low, 2)}</span>, <span className="dp-high">{fmt(r.ci_high, 2)}</span>], ε charged{' '}
              {fmt(r.epsilon_charged)}
            </p>
          ))}
        </div>
      )}
    </>
  );
}
