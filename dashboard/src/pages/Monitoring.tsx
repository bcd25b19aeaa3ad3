import { useQuery } from '@tanstack/react-query';
import { getPath } from '../api';
import { Chip, Loaded } from '../components/Status';

interface PromAnswer {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

// Status chips from Prometheus's HTTP API (Caddy proxies /prometheus/api/v1/query, GET only,
// for signed-in staff). Grafana has the full picture.
const CHECKS: { title: string; query: string; good: (v: number) => boolean }[] = [
  { title: 'Scrape targets up', query: 'up', good: (v) => v === 1 },
  { title: 'Firing alerts', query: 'ALERTS{alertstate="firing"}', good: () => false },
];

export function Monitoring() {
  return (
    <section aria-labelledby="h-monitoring">
      <h1 id="h-monitoring">Monitoring</h1>
      <p>
        <a href="/grafana/" rel="noreferrer">
          Open Grafana
        </a>{' '}
        for the dashboards and history.
      </p>
      {CHECKS.map((c) => (
        <Check key={c.query} {...c} />
      ))}
    </section>
  );
}

function Check(props: { title: string; query: string; good: (v: number) => boolean }) {
  const q = useQuery({
    queryKey: ['prom', props.query],
    queryFn: () => getPath<PromAnswer>('/prometheus/api/v1/query', { query: props.query }),
    refetchInterval: 15_000,
  });
  return (
    <div className="card">
      <h2>{props.title}</h2>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => {
          const rows = q.data?.data?.result ?? [];
          if (rows.length === 0) return <p><Chip tone="ok">none</Chip></p>;
          return (
            <ul className="chips">
              {rows.map((r, i) => {
                const v = Number(r.value?.[1]);
                const name = r.metric.alertname ?? [r.metric.job, r.metric.instance].filter(Boolean).join(' @ ');
                return (
                  <li key={i}>
                    <Chip tone={props.good(v) ? 'ok' : 'bad'}>
                      {name || props.query}: {props.good(v) ? 'up' : r.metric.alertname ? 'firing' : 'down'}
                    </Chip>
                  </li>
                );
              })}
            </ul>
          );
        }}
      </Loaded>
    </div>
  );
}
