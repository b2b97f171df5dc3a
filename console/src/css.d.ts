/* Stylesheets are bundled by esbuild, not read by TypeScript. */
declare module '*.css';
