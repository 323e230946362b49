// What a user's bundler builds from the package for a page or a Worker: the
// whole of mod.ts, so these tests also prove it loads there. The e2e tests
// bundle this with esbuild at test time.
export * from "../../../mod.ts";
