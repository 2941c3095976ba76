-- materialized: partition
-- partition_by: month
-- partition_column: month
-- staged: true
-- description: per month and car brand, distinct b2b and b2c customers with a subscription active at any time in the month, and their shares
-- columns: month TEXT NOT NULL, brand TEXT, b2b_customers INTEGER NOT NULL, b2c_customers INTEGER NOT NULL, b2b_share REAL NOT NULL, b2c_share REAL NOT NULL
-- indexes: month
-- tests: unique(month, brand)
-- Without expanding subscriptions into months (10 rows each on a million subscriptions): each
-- customer's active month ranges per brand are merged where they overlap (gaps and islands), each
-- merged range adds +1 at its first month and -1 after its last, and a running sum per brand gives the
-- distinct customers of every month. b2c_share = 1 - b2b_share, so the two always sum to exactly 1.
-- Staged: its SELECT reads every subscription (8-11 s at a million), and held the write lock for all of
-- it; the daily marts of a backfill waited behind it. Computed before the lock, they write meanwhile.
WITH RECURSIVE spans AS (
  SELECT customer_id, brand, customer_type,
         CASE WHEN start_month < :start_month THEN :start_month ELSE start_month END AS s,
         last_month AS e
  FROM {{ ref('subscription_timeline') }}
  WHERE last_month >= :start_month AND customer_type IN ('b2b', 'b2c')
),
ordered AS (
  SELECT spans.*, max(e) OVER (PARTITION BY customer_id, brand ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
  FROM spans
),
islands AS (
  SELECT ordered.*, sum(CASE WHEN prev_e IS NOT NULL AND prev_e >= s THEN 0 ELSE 1 END)
           OVER (PARTITION BY customer_id, brand ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island
  FROM ordered
),
merged AS MATERIALIZED (
  SELECT brand, customer_type, min(s) AS s, max(e) AS e FROM islands GROUP BY customer_id, brand, customer_type, island
),
months(month) AS (
  SELECT :start_month
  UNION ALL
  SELECT {{ add_months_to_month_start('month', 1) }} FROM months WHERE month < (SELECT max(e) FROM merged)
),
events AS (
  SELECT s AS month, brand, CASE WHEN customer_type = 'b2b' THEN 1 ELSE 0 END AS b2b, CASE WHEN customer_type = 'b2c' THEN 1 ELSE 0 END AS b2c FROM merged
  UNION ALL
  SELECT {{ add_months_to_month_start('e', 1) }}, brand, CASE WHEN customer_type = 'b2b' THEN -1 ELSE 0 END, CASE WHEN customer_type = 'b2c' THEN -1 ELSE 0 END FROM merged
  UNION ALL
  -- a zero for every month and brand, so months without a change still get their running value
  SELECT m.month, b.brand, 0, 0 FROM months m CROSS JOIN (SELECT DISTINCT brand FROM merged) b
),
deltas AS (
  SELECT month, brand, sum(b2b) AS b2b, sum(b2c) AS b2c FROM events GROUP BY month, brand
),
running AS (
  SELECT month, brand,
         sum(b2b) OVER (PARTITION BY brand ORDER BY month ROWS UNBOUNDED PRECEDING) AS b2b,
         sum(b2c) OVER (PARTITION BY brand ORDER BY month ROWS UNBOUNDED PRECEDING) AS b2c
  FROM deltas
)
SELECT month, brand, b2b AS b2b_customers, b2c AS b2c_customers,
       round(1.0 * b2b / (b2b + b2c), 6) AS b2b_share,
       round(1.0 - round(1.0 * b2b / (b2b + b2c), 6), 6) AS b2c_share
FROM running
WHERE month >= :start_month AND b2b + b2c > 0
