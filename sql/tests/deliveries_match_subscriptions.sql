-- description: for every day the run wrote, deliveries summed over cities = subscriptions with a known customer and car starting that day
WITH mart AS (
  SELECT delivery_date AS day, sum(deliveries_number) AS n FROM {{ ref('cars_deliveries') }}
  WHERE delivery_date >= :start_day GROUP BY delivery_date
), src AS (
  SELECT start_day AS day, count(*) AS n FROM {{ ref('subscription_timeline') }}
  WHERE start_day >= :start_day GROUP BY start_day
)
SELECT mart.day, mart.n AS mart_n, src.n AS source_n FROM mart LEFT JOIN src ON src.day = mart.day
WHERE src.n IS NULL OR src.n <> mart.n
UNION ALL
SELECT src.day, NULL, src.n FROM src WHERE NOT EXISTS (SELECT 1 FROM mart WHERE mart.day = src.day)
