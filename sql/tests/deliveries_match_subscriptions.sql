-- description: for every day the run wrote, deliveries summed over cities = subscriptions (known customer and car) starting that day, counted from the current satellites
WITH mart AS (
  SELECT delivery_date AS day, sum(deliveries_number) AS n FROM {{ ref('cars_deliveries') }}
  WHERE delivery_date >= :start_day GROUP BY delivery_date
), src AS (
  SELECT {{ day('s.start_date') }} AS day, count(*) AS n
  FROM {{ ref('sat_subscription_current') }} s
  JOIN {{ ref('sat_customer_current') }} c ON c.hk_customer = s.hk_customer
  JOIN {{ ref('sat_car_current') }} r ON r.hk_car = s.hk_car
  WHERE {{ day('s.start_date') }} >= :start_day
  GROUP BY {{ day('s.start_date') }}
)
SELECT mart.day, mart.n AS mart_n, src.n AS source_n FROM mart LEFT JOIN src ON src.day = mart.day
WHERE src.n IS NULL OR src.n <> mart.n
UNION ALL
SELECT src.day, NULL, src.n FROM src WHERE NOT EXISTS (SELECT 1 FROM mart WHERE mart.day = src.day)
