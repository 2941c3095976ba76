-- materialized: partition
-- partition_by: month
-- partition_column: month
-- description: per month and car brand, distinct b2b and b2c customers with a subscription active at any time in the month, and their shares
-- columns: month TEXT NOT NULL, brand TEXT, b2b_customers INTEGER NOT NULL, b2c_customers INTEGER NOT NULL, b2b_share REAL NOT NULL, b2c_share REAL NOT NULL
-- indexes: month
-- tests: unique(month, brand)
-- b2c_share is 1 - b2b_share (both rounded to 6 decimals) so the two always sum to exactly 1.
WITH RECURSIVE months(month) AS (
  SELECT :start_month
  UNION ALL
  SELECT {{ add_months_to_month_start('month', 1) }} FROM months
  WHERE month < (SELECT max(last_month) FROM {{ ref('subscription_timeline') }})
),
counts AS (
  SELECT m.month, t.brand,
         count(DISTINCT CASE WHEN t.customer_type = 'b2b' THEN t.customer_id END) AS b2b,
         count(DISTINCT CASE WHEN t.customer_type = 'b2c' THEN t.customer_id END) AS b2c
  FROM {{ ref('subscription_timeline') }} t
  JOIN months m ON m.month >= t.start_month AND m.month <= t.last_month
  WHERE t.last_month >= :start_month
  GROUP BY m.month, t.brand
)
SELECT month, brand, b2b AS b2b_customers, b2c AS b2c_customers,
       round(1.0 * b2b / (b2b + b2c), 6) AS b2b_share,
       round(1.0 - round(1.0 * b2b / (b2b + b2c), 6), 6) AS b2c_share
FROM counts
WHERE b2b + b2c > 0
