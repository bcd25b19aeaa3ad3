import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Served by Caddy under /app/ with a strict CSP (docs/dashboard.md): every script and stylesheet
// is a file of its own (no inline code), and no module-preload polyfill is injected inline.
export default defineConfig({
  base: '/app/',
  plugins: [react()],
  build: {
    outDir: '../build/dashboard',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2020',
    cssCodeSplit: false,
  },
});
