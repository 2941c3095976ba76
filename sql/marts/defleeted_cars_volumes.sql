-- materialized: partition
-- partition_by: day
-- partition_column: day
-- description: cars deregistered per day (UTC day of deregistration_date), planned future ones included
-- columns: day TEXT NOT NULL, cnt INTEGER NOT NULL
-- primary_key: day
SELECT deregistration_day AS day, count(*) AS cnt
FROM {{ ref('car_timeline') }}
WHERE deregistration_day >= :start_day
GROUP BY deregistration_day
