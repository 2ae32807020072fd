/**
 * The cost store: one embedded DuckDB database file (`.mcml/cost.duckdb`) holding every
 * imported or pulled charge in one `charges` table, and the `imports` that brought them.
 * Imports replace what they cover (the same file, or the same billing account and billing
 * period), so importing twice never counts twice. Export rows take precedence over API rows
 * for the same cloud and day when both exist.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { McmlError } from '../../core/errors.js';
import type {
  Attribution,
  ChargeRow,
  CostGroupBy,
  DailyCost,
  DateRange,
} from '../../core/cost/types.js';
import { CHARGE_COLUMNS, CLOUD_MACRO, lit } from './sql.js';

/** One import or pull, as `mcml cost sources` lists them. */
export interface ImportRecord {
  importId: number;
  origin: 'export' | 'api';
  source: string;
  focusVersion?: string;
  rows: number;
  importedAt: string;
}

/** What a report asks the store. */
export interface DailyCostQuery {
  range: DateRange;
  by: CostGroupBy;
  attribution: Attribution;
}

const SCHEMA = [
  `CREATE SEQUENCE IF NOT EXISTS import_ids START 1`,
  `CREATE TABLE IF NOT EXISTS imports (
    import_id INTEGER PRIMARY KEY,
    origin VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    scope VARCHAR,
    focus_version VARCHAR,
    rows BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS pulls (
    cloud VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    range_from DATE NOT NULL,
    range_to DATE NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR,
    pulled_at TIMESTAMP NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS charges (${CHARGE_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`,
];

/**
 * The daily rollup: charges summed by every key a report filters or groups on, and by the
 * keys imports replace by (import, billing account, billing period), so replacing rows in
 * `charges` replaces exactly the matching rollup rows. Reports read this (thousands of rows)
 * instead of `charges` (millions). Kept in step with `charges` in the same transactions.
 */
const ROLLUP_KEYS = [
  'import_id',
  'origin',
  'cloud',
  'day',
  'currency',
  'tag_service',
  'tag_target',
  'service_name',
  'sub_account_id',
  'billing_account_id',
  'billing_period_start',
] as const;
const ROLLUP_TABLE = `CREATE TABLE daily_costs (
  import_id INTEGER, origin VARCHAR, cloud VARCHAR, day DATE, currency VARCHAR,
  tag_service VARCHAR, tag_target VARCHAR, service_name VARCHAR, sub_account_id VARCHAR,
  billing_account_id VARCHAR, billing_period_start TIMESTAMP,
  billed DOUBLE, effective DOUBLE, rows BIGINT
)`;

/** The rollup rows of the charges `where` selects. */
function rollupSelect(where: string): string {
  return `SELECT ${ROLLUP_KEYS.join(', ')}, sum(coalesce(billed_cost, 0)), sum(coalesce(effective_cost, 0)), count(*)
    FROM charges WHERE ${where} GROUP BY ALL`;
}

/** The `charges` columns an API pull fills, in the order `apiChargeValues` gives them. */
const API_COLUMNS = [
  'import_id',
  'origin',
  'cloud',
  'day',
  'charge_period_start',
  'charge_period_end',
  'billing_period_start',
  'billing_period_end',
  'billed_cost',
  'effective_cost',
  'provider_name',
  'billing_account_id',
  'sub_account_id',
  'charge_category',
  'currency',
  'service_name',
  'region_id',
  'resource_id',
  'tags',
  'tag_service',
  'tag_target',
  'tag_cloud',
];

/** One pulled charge as the values of `API_COLUMNS`. */
function apiChargeValues(importId: number, r: ChargeRow): DuckDBValue[] {
  return [
    importId,
    'api',
    r.cloud,
    r.chargePeriodStart.slice(0, 10),
    sqlTimestamp(r.chargePeriodStart),
    sqlTimestamp(r.chargePeriodEnd),
    sqlTimestamp(r.billingPeriodStart),
    sqlTimestamp(r.billingPeriodEnd),
    r.billedCost,
    r.effectiveCost,
    r.providerName,
    r.billingAccountId ?? null,
    r.subAccountId ?? null,
    r.chargeCategory,
    r.currency,
    r.serviceName ?? null,
    r.regionId ?? null,
    r.resourceId ?? null,
    r.tags ? JSON.stringify(r.tags) : null,
    tagOf(r, 'mcml-service'),
    tagOf(r, 'mcml-target'),
    tagOf(r, 'mcml-cloud'),
  ];
}

/** A tag's value, under its own key or AWS's `user:` prefixed one. */
function tagOf(r: ChargeRow, key: string): string | null {
  return r.tags?.[key] ?? r.tags?.[`user:${key}`] ?? null;
}

/** An ISO-8601 UTC time as a DuckDB TIMESTAMP literal (no `T`, no zone). */
function sqlTimestamp(iso: string | undefined): string | null {
  return iso === undefined
    ? null
    : iso
        .replace('T', ' ')
        .replace(/Z$/, '')
        .replace(/\+00:00$/, '');
}

/** Creates the rollup on a store that predates it, filled from the charges already there. */
async function ensureRollup(connection: DuckDBConnection): Promise<void> {
  const reader = await connection.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name = 'daily_costs'`,
  );
  const [row] = reader.getRowObjectsJson() as { n: number }[];
  if (row?.n) return;
  await connection.run(ROLLUP_TABLE);
  await connection.run(`INSERT INTO daily_costs ${rollupSelect('TRUE')}`);
}

/** Opens (creating when missing) the store at `path`; `:memory:` for a throwaway one. */
export async function openCostStore(path: string): Promise<CostStore> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  if (path !== ':memory:') await mkdir(dirname(path), { recursive: true });
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path);
  } catch (error) {
    const message = (error as Error).message;
    if (/lock/i.test(message)) {
      throw new McmlError('CONFLICT', `the cost store ${path} is in use by another mcml process`, {
        hint: 'wait for it to finish (an import, or mcml up), then run this again',
      });
    }
    throw new McmlError('UNAVAILABLE', `cannot open the cost store ${path}: ${message}`);
  }
  const connection = await instance.connect();
  // Billing instants are UTC; days are UTC days.
  await connection.run(`SET TimeZone = 'UTC'`);
  for (const statement of SCHEMA) await connection.run(statement);
  await ensureRollup(connection);
  await connection.run(CLOUD_MACRO);
  return new CostStore(instance, connection, path);
}

export class CostStore {
  constructor(
    private readonly instance: DuckDBInstance,
    /** The one connection; imports run on it in transactions. */
    readonly connection: DuckDBConnection,
    readonly path: string,
  ) {}

  /** Runs SQL and returns the rows as plain JSON-able objects. */
  async query<Row = Record<string, unknown>>(
    sql: string,
    values?: DuckDBValue[] | Record<string, DuckDBValue>,
  ): Promise<Row[]> {
    const reader = await this.connection.runAndReadAll(sql, values);
    return reader.getRowObjectsJson() as Row[];
  }

  /** A fresh import id. */
  async nextImportId(): Promise<number> {
    const [row] = await this.query<{ id: number }>(`SELECT nextval('import_ids')::INTEGER AS id`);
    return row!.id;
  }

  /** Runs `work` in one transaction: all of it lands, or none of it. */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.connection.run('BEGIN TRANSACTION');
    try {
      const result = await work();
      await this.connection.run('COMMIT');
      return result;
    } catch (error) {
      await this.connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** Adds an import's rows to the daily rollup (inside the import's transaction). */
  async rollUp(importId: number): Promise<void> {
    await this.connection.run(
      `INSERT INTO daily_costs ${rollupSelect(`import_id = ${Number(importId)}`)}`,
    );
  }

  /** BilledCost per cloud and currency of one import, from the rollup. */
  async importTotals(
    importId: number,
  ): Promise<{ cloud: string; currency: string; billed: number }[]> {
    const rows = await this.query<{ cloud: string; currency: string; billed: number }>(
      `SELECT coalesce(cloud, '(unknown)') AS cloud, coalesce(currency, '(none)') AS currency,
              sum(billed) AS billed
       FROM daily_costs WHERE import_id = ${Number(importId)} GROUP BY ALL ORDER BY 1, 2`,
    );
    return rows.map((b) => ({ ...b, billed: Number(b.billed) }));
  }

  /**
   * After new export imports landed (inside the same transaction): drops older rows of the
   * same files and of the same billing accounts and billing periods, and imports left empty.
   * The rollup says which older imports are touched, so a store with nothing to replace is
   * never scanned.
   */
  async replaceCovered(importIds: number[], sources: string[]): Promise<number> {
    if (importIds.length === 0) return 0;
    const ids = importIds.map(Number).join(', ');
    const sourceList = sources.map(lit).join(', ') || "''";
    const covered = `c.origin = 'export' AND c.import_id NOT IN (${ids})
      AND (c.import_id IN (SELECT import_id FROM imports WHERE origin = 'export' AND source IN (${sourceList}))
        OR EXISTS (SELECT 1 FROM (SELECT DISTINCT billing_account_id, billing_period_start
                                  FROM daily_costs WHERE import_id IN (${ids})) k
                   WHERE k.billing_account_id IS NOT DISTINCT FROM c.billing_account_id
                     AND k.billing_period_start IS NOT DISTINCT FROM c.billing_period_start))`;
    const touched = await this.query<{ import_id: number; n: string | number }>(
      `SELECT import_id, sum(rows) AS n FROM daily_costs c WHERE ${covered} GROUP BY ALL`,
    );
    const replaced = touched.reduce((a, t) => a + Number(t.n), 0);
    if (touched.length > 0) {
      const old = touched.map((t) => Number(t.import_id)).join(', ');
      await this.connection.run(
        `DELETE FROM charges c WHERE c.import_id IN (${old}) AND ${covered}`,
      );
      await this.connection.run(`DELETE FROM daily_costs c WHERE ${covered}`);
    }
    await this.dropEmptyImports();
    return replaced;
  }

  private async dropEmptyImports(): Promise<void> {
    await this.connection.run(
      `DELETE FROM imports WHERE import_id NOT IN (SELECT DISTINCT import_id FROM daily_costs)`,
    );
  }

  /** Records an import. */
  async recordImport(
    record: Omit<ImportRecord, 'importedAt'> & { scope?: string },
    at: Date,
  ): Promise<void> {
    await this.connection.run(
      `INSERT INTO imports VALUES ($1, $2, $3, $4, $5, $6, $7::TIMESTAMP)`,
      [
        record.importId,
        record.origin,
        record.source,
        record.scope ?? null,
        record.focusVersion ?? null,
        record.rows,
        at.toISOString().replace('T', ' ').replace('Z', ''),
      ],
    );
  }

  /**
   * Replaces a cost API's rows for one scope (cloud + account/subscription/table) and range
   * with `rows`, in one transaction.
   */
  async replaceApiRows(
    scope: string,
    range: DateRange,
    rows: readonly ChargeRow[],
    at: Date,
  ): Promise<number> {
    return this.transaction(async () => {
      for (const table of ['charges', 'daily_costs']) {
        await this.connection.run(
          `DELETE FROM ${table} WHERE origin = 'api' AND day BETWEEN $1::DATE AND $2::DATE
             AND import_id IN (SELECT import_id FROM imports WHERE origin = 'api' AND scope = $3)`,
          [range.from, range.to, scope],
        );
      }
      const importId = await this.nextImportId();
      await this.insertApiRows(importId, rows);
      await this.rollUp(importId);
      await this.recordImport(
        { importId, origin: 'api', source: scope, scope, rows: rows.length },
        at,
      );
      await this.dropEmptyImports();
      return rows.length;
    });
  }

  private async insertApiRows(importId: number, rows: readonly ChargeRow[]): Promise<void> {
    const insert = await this.connection.prepare(
      `INSERT INTO charges (${API_COLUMNS.join(', ')}) VALUES (${API_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`,
    );
    for (const r of rows) {
      insert.bind(apiChargeValues(importId, r));
      await insert.run();
    }
  }

  /** Records how a pull of one scope went, for later reports to mark a cloud incomplete. */
  async recordPull(
    pull: { cloud: string; scope: string; range: DateRange; error?: string },
    at: Date,
  ): Promise<void> {
    await this.connection.run(
      `INSERT INTO pulls VALUES ($1, $2, $3::DATE, $4::DATE, $5, $6, $7::TIMESTAMP)`,
      [
        pull.cloud,
        pull.scope,
        pull.range.from,
        pull.range.to,
        pull.error === undefined,
        pull.error ?? null,
        at.toISOString().replace('T', ' ').replace('Z', ''),
      ],
    );
  }

  /**
   * Clouds whose latest pull overlapping `range` failed (and no later pull of the same scope
   * succeeded): their figures are incomplete.
   */
  async failedPulls(range: DateRange): Promise<{ cloud: string; reason: string }[]> {
    return this.query<{ cloud: string; reason: string }>(
      `SELECT cloud, error AS reason FROM (
         SELECT *, row_number() OVER (PARTITION BY scope ORDER BY pulled_at DESC) AS n FROM pulls
         WHERE range_from <= $2::DATE AND range_to >= $1::DATE
       ) WHERE n = 1 AND NOT ok ORDER BY cloud`,
      [range.from, range.to],
    );
  }

  /** Every import and pull, newest first. */
  async imports(): Promise<ImportRecord[]> {
    const rows = await this.query<{
      import_id: number;
      origin: 'export' | 'api';
      source: string;
      focus_version: string | null;
      rows: string | number;
      imported_at: string;
    }>(`SELECT * FROM imports ORDER BY import_id DESC`);
    return rows.map((r) => ({
      importId: r.import_id,
      origin: r.origin,
      source: r.source,
      ...(r.focus_version ? { focusVersion: r.focus_version } : {}),
      rows: Number(r.rows),
      importedAt: r.imported_at,
    }));
  }

  /** Rows in the store, and how many of them carry this service's tag. */
  async counts(service: string): Promise<{ rows: number; tagged: number }> {
    const [row] = await this.query<{ rows: string; tagged: string }>(
      `SELECT coalesce(sum(rows), 0) AS rows, coalesce(sum(rows) FILTER (WHERE tag_service = $1), 0) AS tagged
       FROM daily_costs`,
      [service],
    );
    return { rows: Number(row?.rows ?? 0), tagged: Number(row?.tagged ?? 0) };
  }

  /**
   * Daily billed and effective cost of the attributed rows, by cloud, currency and the
   * report's group key. Export rows win over API rows for the same cloud and day. Reads the
   * daily rollup, not the charges.
   */
  async dailyCosts(q: DailyCostQuery): Promise<DailyCost[]> {
    const { filter, target } = attributionSql(q.attribution);
    const key =
      q.by === 'target' ? target : q.by === 'service' ? `coalesce(service_name, '(none)')` : `''`;
    const rows = await this.query<{
      day: string;
      cloud: string;
      currency: string;
      key: string;
      billed: number;
      effective: number;
    }>(
      `WITH covered AS (
         SELECT DISTINCT cloud, day FROM daily_costs
         WHERE origin = 'export' AND day BETWEEN $1::DATE AND $2::DATE
       )
       SELECT strftime(c.day, '%Y-%m-%d') AS day, coalesce(c.cloud, '(unknown)') AS cloud,
              coalesce(c.currency, '(none)') AS currency, ${key} AS key,
              sum(c.billed) AS billed, sum(c.effective) AS effective
       FROM daily_costs c
       WHERE c.day BETWEEN $1::DATE AND $2::DATE AND ${filter}
         AND (c.origin = 'export' OR NOT EXISTS (SELECT 1 FROM covered k WHERE k.cloud = c.cloud AND k.day = c.day))
       GROUP BY ALL
       ORDER BY 1, 2, 3, 4`,
      [q.range.from, q.range.to],
    );
    return rows.map((r) => ({ ...r, billed: Number(r.billed), effective: Number(r.effective) }));
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** The WHERE clause and target expression of an attribution mode. */
export function attributionSql(a: Attribution): { filter: string; target: string } {
  const account = `lower(regexp_replace(coalesce(c.sub_account_id, c.billing_account_id, ''), '^/subscriptions/', ''))`;
  const entries = Object.entries(a.accounts);
  const byAccount = entries.length
    ? `CASE ${account} ${entries.map(([id, t]) => `WHEN ${lit(id.toLowerCase().replace(/^\/subscriptions\//, ''))} THEN ${lit(t)}`).join(' ')} END`
    : 'NULL';
  switch (a.mode) {
    case 'tags':
      return {
        filter: `c.tag_service = ${lit(a.service)}`,
        target: `coalesce(c.tag_target, '(untagged)')`,
      };
    case 'accounts':
      return {
        filter: entries.length ? `${byAccount} IS NOT NULL` : 'FALSE',
        target: `coalesce(${byAccount}, '(unattributed)')`,
      };
    case 'all':
      return {
        filter: 'TRUE',
        target: `coalesce(c.tag_target, ${byAccount}, '(unattributed)')`,
      };
  }
}
