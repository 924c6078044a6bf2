// run.js - the reference point of bench/engine.sh: graphile-worker (the
// version pinned in package.json) running JOBS no-op jobs with CONCURRENCY
// workers on the same PostgreSQL as importq. The jobs are queued first (one
// INSERT through graphile_worker.add_job), then a runner starts and the
// time from its first job start to its last job success is measured, as
// bench/engine.sh measures importq (first started_at to last finished_at).
// Usage: node run.js DATABASE_URL [JOBS] [CONCURRENCY]
// Prints one logfmt line: jobs, concurrency, seconds, jobs_per_s.
"use strict";
const { Logger, run, makeWorkerUtils } = require("graphile-worker");

// Quiet: graphile-worker logs every job start otherwise.
const logger = new Logger(() => () => {});

async function main() {
  const [connectionString, jobsText = "5000", concurrencyText = "8"] = process.argv.slice(2);
  const jobs = Number.parseInt(jobsText, 10);
  const concurrency = Number.parseInt(concurrencyText, 10);
  if (!connectionString || !(jobs > 0) || !(concurrency > 0)) {
    console.error("usage: node run.js DATABASE_URL [JOBS] [CONCURRENCY]");
    process.exit(2);
  }
  const utils = await makeWorkerUtils({ connectionString, logger });
  try {
    await utils.migrate();
    await utils.withPgClient((client) =>
      client.query(
        "SELECT graphile_worker.add_job('noop', json_build_object('i', i)) FROM generate_series(1, $1::integer) AS i",
        [jobs],
      ),
    );
  } finally {
    await utils.release();
  }

  let firstStart = 0;
  let done = 0;
  let finish;
  const allDone = new Promise((resolve) => (finish = resolve));
  const runner = await run({
    connectionString,
    concurrency,
    maxPoolSize: concurrency + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    logger,
    taskList: { noop: async () => {} },
  });
  runner.events.on("job:start", () => {
    if (!firstStart) firstStart = performance.now();
  });
  runner.events.on("job:success", () => {
    done += 1;
    if (done === jobs) finish(performance.now());
  });
  const timeout = setTimeout(() => {
    console.error(`graphile: only ${done} of ${jobs} jobs done after 600 s`);
    process.exit(1);
  }, 600000);
  const lastSuccess = await allDone;
  clearTimeout(timeout);
  await runner.stop();
  const seconds = (lastSuccess - firstStart) / 1000;
  console.log(
    `jobs=${jobs} concurrency=${concurrency} seconds=${seconds.toFixed(3)} jobs_per_s=${(jobs / seconds).toFixed(0)}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
