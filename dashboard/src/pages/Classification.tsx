import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { rpcGet } from '../api';
import { DataTable, JsonTable } from '../components/DataTable';
import { Chip, Loaded } from '../components/Status';

interface ColumnClass {
  client_id: string;
  column_name: string;
  class: string;
  sensitivity: string;
  source: string;
}
const col = createColumnHelper<ColumnClass>();
const tone = (s: string) => (s === 'high' || s === 'restricted' ? 'bad' : s === 'medium' || s === 'confidential' ? 'warn' : 'neutral');

export function Classification() {
  const q = useQuery({
    queryKey: ['dash_classification'],
    queryFn: () => rpcGet<{ columns: ColumnClass[]; firewall_rejections: unknown[] }>('dash_classification'),
  });
  const columns = [
    col.accessor('client_id', { header: 'Client' }),
    col.accessor('column_name', { header: 'Column' }),
    col.accessor('class', { header: 'Class' }),
    col.accessor('sensitivity', { header: 'Sensitivity', cell: (c) => <Chip tone={tone(String(c.getValue()))}>{String(c.getValue() ?? '—')}</Chip> }),
    col.accessor('source', { header: 'Source' }),
  ];
  return (
    <section aria-labelledby="h-class">
      <h1 id="h-class">Classification</h1>
      <Loaded isLoading={q.isLoading} error={q.error}>
        {() => (
          <>
            <DataTable caption="Columns and their classes" columns={columns} rows={q.data!.columns ?? []} />
            <JsonTable caption="PII firewall rejections" rows={q.data!.firewall_rejections} />
          </>
        )}
      </Loaded>
    </section>
  );
}
