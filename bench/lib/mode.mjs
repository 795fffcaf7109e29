// `npm run bench -- --quick`: two short rounds and smaller fills, so the whole bench runs in under a minute
// (CI runs it, so the bench never rots). Its figures are for checking, not quoting.
export const quick = process.argv.includes('--quick')
