-- materialized: partition
-- partition_by: day
-- partition_column: day
-- description: cars registered per day (UTC day of registration_date)
-- columns: day TEXT NOT NULL, cnt INTEGER NOT NULL
-- primary_key: day
SELECT registration_day AS day, count(*) AS cnt
FROM {{ ref('car_timeline') }}
WHERE registration_day >= :start_day
GROUP BY registration_day
