import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { App } from './App';
import { ApiError } from './api';
import './styles.css';

const client = new QueryClient({
  defaultOptions: {
    queries: {
      // A refused or unauthenticated call is an answer, not a glitch: never retry those.
      retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
      refetchOnWindowFocus: false,
      // Every page shows the server's state when it opens (others change it meanwhile: a
      // proposal to approve, a new batch); a page's own auto-refresh does the rest.
      staleTime: 0,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={client}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
